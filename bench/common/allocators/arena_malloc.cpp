// arena-malloc: arena as the process malloc (libarena_malloc.so, the drop-in
// library), found next to the driver: build/bin/../lib. Its statistics and
// heap check come from the library's own calls (arena.h: arena_malloc_stats,
// arena_malloc_check), looked up at run time: the driver does not link it.
#include "arena.h"
#include "preloaded.h"

namespace bench {

static bool arena_malloc_footprint(uint64_t *bytes) {
    auto *stats = preloaded_function<int(arena_stats *)>("arena_malloc_stats");
    arena_stats s;
    if (!stats || stats(&s) != 0) return false;
    *bytes = s.mapped_bytes;
    return true;
}

static bool arena_malloc_heap_check(std::string *error) {
    auto *check = preloaded_function<int()>("arena_malloc_check");
    if (!check || check() == 0) return true;
    *error = "arena_malloc_check found a broken invariant (its message is on stderr)";
    return false;
}

BENCH_REGISTER_ALLOCATOR(process_malloc_info(
    "arena-malloc", 20, "", {"{exe}/../lib/libarena_malloc.so"},
    [] { return std::to_string(ARENA_VERSION_MAJOR) + "." + std::to_string(ARENA_VERSION_MINOR); },
    arena_malloc_footprint, arena_malloc_heap_check));

}  // namespace bench
