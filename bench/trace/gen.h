// gen.h: named synthetic workloads. Same workload, ops, seed and threads give
// the same trace on every machine (integer arithmetic and our own PRNG only).
#pragma once

#include <string>
#include <vector>

#include "trace.h"

namespace trace {

struct Workload {
    const char *name;
    const char *summary;   // one line for `gen --list`
    uint64_t default_ops;  // modest: the default benchmark replays every bundled trace often
    uint64_t min_size;     // every a/c/m/r asks for min_size..max_size bytes (c: N*SIZE)
    uint64_t max_size;
    uint32_t default_threads;
};

const std::vector<Workload> &workloads();
const Workload *find_workload(const std::string &name);

// Fewest ops a workload can have: every one ends with nothing live, so it needs
// at least an allocation and its free.
constexpr uint64_t kMinGenOps = 2;

struct GenOptions {
    uint64_t ops = 0;      // 0: the workload's default; otherwise exactly this many (kMinGenOps or more)
    uint64_t seed = 1;
    uint32_t threads = 0;  // 0: the workload's default (only `threads` uses more than one)
};

// Fills out (name = workload name, path empty). False with error set for an
// unknown workload or an impossible option.
bool generate(const std::string &workload, const GenOptions &options, Trace *out,
              std::string *error);

}  // namespace trace
