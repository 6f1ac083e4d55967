#include "preloaded.h"

namespace bench {

AllocatorInfo process_malloc_info(const std::string &name, int order, const std::string &library,
                                  std::vector<std::string> extra_candidates,
                                  std::function<std::string()> version,
                                  ProcessMalloc::FootprintFn footprint, ProcessMalloc::CheckFn check) {
    AllocatorInfo info;
    info.name = name;
    info.order = order;
    info.kind = AllocatorKind::Preloaded;
    info.thread_safe = true;
    info.library_candidates = std::move(extra_candidates);
    if (!library.empty())
        for (const char *dir : {"/usr/lib/x86_64-linux-gnu/", "/lib/x86_64-linux-gnu/",
                                "/usr/lib/aarch64-linux-gnu/", "/usr/local/lib/", "/usr/lib/"})
            info.library_candidates.push_back(dir + library);
    info.version = std::move(version);
    info.create = [footprint, check](const AllocatorSettings &, std::string *) {
        return std::unique_ptr<Allocator>(new ProcessMalloc(footprint, check));
    };
    return info;
}

}  // namespace bench
