// seed: the explicit API with ARENA_POLICY_SEED, the original design (first fit
// over a freed list, no coalescing, 64 KiB regions): the baseline of progress.
// Not thread safe by design, so it replays no threaded trace. First fit walks
// a list that grows with the heap, so it is slow on big traces: the run's
// budget skips it where its first replay takes too long.
#include "explicit_arena.h"

namespace bench {
BENCH_REGISTER_ALLOCATOR(explicit_arena_info("seed", 30, ARENA_POLICY_SEED, false, true));
}
