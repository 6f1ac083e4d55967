// runner.h: the parent side of "every allocator in a process of its own":
// which allocators can run here, and the child command that runs one of them
// (the driver itself, re-executed with LD_PRELOAD for a process malloc).
#pragma once

#include <string>
#include <vector>

#include "allocator.h"
#include "child.h"

namespace bench {

struct UsableAllocator {
    const AllocatorInfo *info = nullptr;
    std::string library;  // the preloaded library ("" = nothing preloaded)
    std::string version;  // as the allocator reports it in its own process
};

// The allocators of `wanted` (empty: every registered one) that can run here,
// in table order. A preloaded one whose library is missing, or whose probe
// child fails, gets one line on stderr and is left out; entry points it does
// not interpose get one line too. An unknown name is a UsageError.
std::vector<UsableAllocator> find_usable_allocators(const std::vector<std::string> &wanted);

// A child running this driver with `args` under the allocator (LD_PRELOAD
// set, or cleared for glibc and explicit allocators), reporting on fd 3.
ChildSpec child_for(const UsableAllocator &allocator, const std::vector<std::string> &args);

// The child side of the probe: `DRIVER --child-info=NAME` writes version=,
// malloc_from= and not_interposed= (entry points that are not the preloaded
// library's) on the result fd. Returns the exit status.
constexpr const char *kChildInfoFlag = "--child-info";
int child_info_main(const std::string &allocator_name);

}  // namespace bench
