// explicit_arena.h: an arena of arena.h as an Allocator, shared by the
// `arena` (default policy) and `seed` (ARENA_POLICY_SEED) registrations.
#pragma once

#include "allocator.h"
#include "arena.h"

namespace bench {

// The AllocatorInfo of an explicit arena with that policy: a fresh arena per
// child (so per replay), the block size, region size and huge-pages threshold
// of the settings, and ARENA_THREAD_SAFE when the replay is threaded (a heap
// per thread for the default policy, one lock for seed).
AllocatorInfo explicit_arena_info(const std::string &name, int order, arena_policy policy,
                                  bool thread_safe, bool budgeted);

}  // namespace bench
