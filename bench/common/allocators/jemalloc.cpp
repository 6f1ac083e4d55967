// jemalloc, preloaded; its statistics come through mallctl.
#include "preloaded.h"

#ifndef BENCH_JEMALLOC_LIBRARY
#define BENCH_JEMALLOC_LIBRARY ""  // where the build found it (CMake), if it did
#endif

namespace bench {

using Mallctl = int(const char *, void *, size_t *, void *, size_t);

static std::string jemalloc_version() {
    auto *mallctl = preloaded_function<Mallctl>("mallctl");
    const char *version = nullptr;
    size_t length = sizeof version;
    if (!mallctl || mallctl("version", &version, &length, nullptr, 0) != 0 || !version) return "";
    return version;
}

// stats.mapped: bytes in active extents mapped by jemalloc (refreshed by epoch).
static bool jemalloc_footprint(uint64_t *bytes) {
    auto *mallctl = preloaded_function<Mallctl>("mallctl");
    if (!mallctl) return false;
    uint64_t epoch = 1;
    size_t epoch_length = sizeof epoch;
    size_t mapped = 0, length = sizeof mapped;
    if (mallctl("epoch", &epoch, &epoch_length, &epoch, sizeof epoch) != 0 ||
        mallctl("stats.mapped", &mapped, &length, nullptr, 0) != 0)
        return false;
    *bytes = mapped;
    return true;
}

BENCH_REGISTER_ALLOCATOR(process_malloc_info("jemalloc", 50, "libjemalloc.so.2",
                                             {BENCH_JEMALLOC_LIBRARY}, jemalloc_version,
                                             jemalloc_footprint));

}  // namespace bench
