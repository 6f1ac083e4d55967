// arena-malloc: arena as the process malloc (libarena_malloc.so, the drop-in
// library), found next to the driver: build/bin/../lib. It reports no
// footprint through a C call the driver knows of yet.
#include "arena.h"
#include "preloaded.h"

namespace bench {

BENCH_REGISTER_ALLOCATOR(process_malloc_info(
    "arena-malloc", 20, "", {"{exe}/../lib/libarena_malloc.so"},
    [] { return std::to_string(ARENA_VERSION_MAJOR) + "." + std::to_string(ARENA_VERSION_MINOR); },
    nullptr));

}  // namespace bench
