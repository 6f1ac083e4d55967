// preloaded.h: the process's own malloc as an Allocator. glibc, jemalloc,
// mimalloc, tcmalloc and arena-malloc differ only in which library the parent
// preloads, how they report their version and their footprint.
#pragma once

#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>

#include "allocator.h"

namespace bench {

// A function of the preloaded library, found at run time (it is not linked in).
template <class Function>
Function *preloaded_function(const char *name) {
    return reinterpret_cast<Function *>(dlsym(RTLD_DEFAULT, name));
}

class ProcessMalloc final : public Allocator {
public:
    using FootprintFn = bool (*)(uint64_t *bytes);
    using CheckFn = bool (*)(std::string *error);
    ProcessMalloc(FootprintFn footprint, CheckFn check) : footprint_(footprint), check_(check) {}

    void *malloc(size_t size) override { return ::malloc(size); }
    void *calloc(size_t count, size_t size) override { return ::calloc(count, size); }
    // memalign: a trace's aligned allocation may have any size and any power
    // of two alignment, which aligned_alloc (size a multiple of the alignment)
    // and posix_memalign (alignment >= sizeof(void *)) do not all take.
    void *memalign(size_t alignment, size_t size) override { return ::memalign(alignment, size); }
    void *realloc(void *block, size_t, size_t new_size) override { return ::realloc(block, new_size); }
    void free(void *block, size_t) override { ::free(block); }
    size_t usable_size(const void *block) override {
        return ::malloc_usable_size(const_cast<void *>(block));
    }
    bool footprint(uint64_t *bytes) override { return footprint_ && footprint_(bytes); }
    bool check_heap(std::string *error) override { return !check_ || check_(error); }

private:
    FootprintFn footprint_;
    CheckFn check_;
};

// The AllocatorInfo of a process malloc. `library` is its file name (a Debian
// soname, looked for where the build found it and in the multiarch
// directories); empty for glibc, which needs no preload.
AllocatorInfo process_malloc_info(const std::string &name, int order, const std::string &library,
                                  std::vector<std::string> extra_candidates,
                                  std::function<std::string()> version,
                                  ProcessMalloc::FootprintFn footprint,
                                  ProcessMalloc::CheckFn check = nullptr);

}  // namespace bench
