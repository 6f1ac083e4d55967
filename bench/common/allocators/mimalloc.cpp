// mimalloc, preloaded; its footprint is the memory it has committed.
#include "preloaded.h"

#ifndef BENCH_MIMALLOC_LIBRARY
#define BENCH_MIMALLOC_LIBRARY ""
#endif

namespace bench {

static std::string mimalloc_version() {
    auto *mi_version = preloaded_function<int()>("mi_version");
    if (!mi_version) return "";
    int v = mi_version();  // e.g. 209 for 2.0.9
    return std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
}

static bool mimalloc_footprint(uint64_t *bytes) {
    using ProcessInfo = void(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
                             size_t *, size_t *);
    auto *mi_process_info = preloaded_function<ProcessInfo>("mi_process_info");
    if (!mi_process_info) return false;
    size_t elapsed, user, system, rss, peak_rss, commit = 0, peak_commit, faults;
    mi_process_info(&elapsed, &user, &system, &rss, &peak_rss, &commit, &peak_commit, &faults);
    *bytes = commit;
    return true;
}

BENCH_REGISTER_ALLOCATOR(process_malloc_info("mimalloc", 60, "libmimalloc.so.2",
                                             {BENCH_MIMALLOC_LIBRARY}, mimalloc_version,
                                             mimalloc_footprint));

}  // namespace bench
