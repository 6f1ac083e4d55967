#include "explicit_arena.h"

#include <cerrno>
#include <cstring>

#include "cli.h"

namespace bench {

class ExplicitArena final : public Allocator {
public:
    ExplicitArena(arena_t *arena, size_t alignment) : arena_(arena), alignment_(alignment) {}
    ~ExplicitArena() override { arena_destroy(arena_); }

    void *malloc(size_t size) override { return arena_malloc(arena_, size); }
    void *calloc(size_t count, size_t size) override { return arena_calloc(arena_, count, size); }
    void *memalign(size_t alignment, size_t size) override {
        return arena_memalign(arena_, alignment, size);
    }
    void *realloc(void *block, size_t, size_t new_size) override {
        return arena_realloc(arena_, block, new_size);
    }
    void free(void *block, size_t) override { arena_free(arena_, block); }
    size_t usable_size(const void *block) override { return arena_usable_size(arena_, block); }
    bool footprint(uint64_t *bytes) override {
        arena_stats stats;
        if (arena_stats_get(arena_, &stats) != 0) return false;
        *bytes = stats.mapped_bytes;
        return true;
    }
    bool reset() override {
        arena_reset(arena_);
        return true;
    }
    bool check_heap(std::string *error) override {
        if (arena_check(arena_) == 0) return true;
        *error = "arena_check found a broken invariant (its message is on stderr)";
        return false;
    }
    size_t block_alignment() const override { return alignment_; }

private:
    arena_t *arena_;
    size_t alignment_;
};

AllocatorInfo explicit_arena_info(const std::string &name, int order, arena_policy policy,
                                  bool thread_safe, bool budgeted) {
    AllocatorInfo info;
    info.name = name;
    info.order = order;
    info.kind = AllocatorKind::Explicit;
    info.thread_safe = thread_safe;
    info.has_block_size = true;
    info.has_huge_pages_from = policy != ARENA_POLICY_SEED;
    info.budgeted = budgeted;
    info.version = [] {
        return std::to_string(ARENA_VERSION_MAJOR) + "." + std::to_string(ARENA_VERSION_MINOR);
    };
    info.create = [policy](const AllocatorSettings &settings, std::string *error) {
        arena_config config{};
        config.block_size = settings.block_size;
        config.region_size = settings.region_size;
        config.huge_pages_from =
            settings.huge_pages_from == kHugePagesNever ? ARENA_HUGE_PAGES_NEVER : settings.huge_pages_from;
        config.policy = policy;
        config.flags = settings.threaded ? ARENA_THREAD_SAFE : 0u;
        arena_t *arena = arena_create(&config);
        if (!arena) {
            *error = std::string("arena_create(block_size ") + std::to_string(settings.block_size) +
                     ", region_size " + std::to_string(settings.region_size) +
                     ", huge_pages_from " + huge_pages_from_text(settings.huge_pages_from) +
                     ") failed: " + std::strerror(errno);
            return std::unique_ptr<Allocator>();
        }
        size_t alignment = settings.block_size ? settings.block_size : 16;  // arena.h: 0 = 16
        return std::unique_ptr<Allocator>(new ExplicitArena(arena, alignment));
    };
    return info;
}

}  // namespace bench
