// glibc: the C library's malloc, measured as is (nothing preloaded).
#include <gnu/libc-version.h>

#include "preloaded.h"

namespace bench {

// Bytes glibc holds from the OS: the main and thread arenas plus its own mmaps.
static bool glibc_footprint(uint64_t *bytes) {
    struct mallinfo2 info = mallinfo2();
    *bytes = info.arena + info.hblkhd;
    return true;
}

BENCH_REGISTER_ALLOCATOR(process_malloc_info("glibc", 40, "", {},
                                             [] { return std::string(gnu_get_libc_version()); },
                                             glibc_footprint));

}  // namespace bench
