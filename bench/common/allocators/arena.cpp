// arena: the explicit API, default policy (size classes, TLSF, huge mappings).
// Threaded replays use one arena with ARENA_THREAD_SAFE (a heap per thread).
#include "explicit_arena.h"

namespace bench {
BENCH_REGISTER_ALLOCATOR(explicit_arena_info("arena", 10, ARENA_POLICY_DEFAULT, true, false));
}
