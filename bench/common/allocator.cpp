#include "allocator.h"

#include <algorithm>

namespace bench {

static std::vector<AllocatorInfo> &registry() {
    static std::vector<AllocatorInfo> allocators;  // built before main, read after
    return allocators;
}

bool register_allocator(AllocatorInfo info) {
    auto &all = registry();
    auto place = std::find_if(all.begin(), all.end(), [&](const AllocatorInfo &other) {
        return other.order > info.order;
    });
    all.insert(place, std::move(info));
    return true;
}

const std::vector<AllocatorInfo> &all_allocators() { return registry(); }

const AllocatorInfo *find_allocator(const std::string &name) {
    for (const auto &info : registry())
        if (info.name == name) return &info;
    return nullptr;
}

std::string allocator_names() {
    std::string names;
    for (const auto &info : registry()) names += (names.empty() ? "" : ",") + info.name;
    return names;
}

}  // namespace bench
