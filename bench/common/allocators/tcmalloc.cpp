// tcmalloc (gperftools, the minimal library: no profiler), preloaded. Its
// MallocExtension is C++; the C shims of malloc_extension_c.h are used instead.
#include "preloaded.h"

#ifndef BENCH_TCMALLOC_LIBRARY
#define BENCH_TCMALLOC_LIBRARY ""
#endif

namespace bench {

static std::string tcmalloc_version() {
    auto *tc_version = preloaded_function<const char *(int *, int *, const char **)>("tc_version");
    int major = 0, minor = 0;
    const char *patch = nullptr;
    const char *text = tc_version ? tc_version(&major, &minor, &patch) : nullptr;
    return text ? text : "";
}

// Bytes reserved from the OS minus those already handed back (unmapped).
static bool tcmalloc_footprint(uint64_t *bytes) {
    auto *property = preloaded_function<int(const char *, size_t *)>(
        "MallocExtension_GetNumericProperty");
    size_t heap = 0, unmapped = 0;
    if (!property || !property("generic.heap_size", &heap) ||
        !property("tcmalloc.pageheap_unmapped_bytes", &unmapped))
        return false;
    *bytes = heap - unmapped;
    return true;
}

BENCH_REGISTER_ALLOCATOR(process_malloc_info("tcmalloc", 70, "libtcmalloc_minimal.so.4",
                                             {BENCH_TCMALLOC_LIBRARY}, tcmalloc_version,
                                             tcmalloc_footprint));

}  // namespace bench
