// bump: a reference that never reuses memory. Before anything is timed it maps
// and faults in every byte the replay will ask for (AllocatorSettings::
// reserve_bytes, computed from the trace by bump_reserve_bytes), so during the
// replay an allocation is a pointer increment: the least work per call, and
// the memory a program would need without any reuse. Not a speed ceiling:
// memory never reused misses the cache, where an allocator's reused blocks are
// still in it. free does nothing; a growing realloc always moves (and copies).
#include "bump.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "allocator.h"
#include "memory.h"

namespace bench {

static constexpr uint64_t kBumpAlignment = 16;  // what malloc promises on x86-64

// Saturating: a size past what any memory holds comes out as UINT64_MAX, which
// no reserve reaches (a valid trace may ask for 2^64 - 1 bytes).
static uint64_t round_up(uint64_t n, uint64_t to) {
    return n > UINT64_MAX - (to - 1) ? UINT64_MAX : (n + to - 1) / to * to;
}
uint64_t bump_add_bytes(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t bump_block_bytes(uint64_t size, uint64_t alignment) {
    uint64_t bytes = round_up(size ? size : 1, kBumpAlignment);
    return alignment > kBumpAlignment ? bump_add_bytes(bytes, alignment - kBumpAlignment) : bytes;
}

class Bump final : public Allocator {
public:
    Bump(char *base, uint64_t length) : base_(base), length_(length), next_(0) {}
    ~Bump() override { munmap(base_, length_); }

    void *malloc(size_t size) override { return take(bump_block_bytes(size, 0), 0); }
    void *calloc(size_t count, size_t size) override {
        size_t total;
        if (__builtin_mul_overflow(count, size, &total)) {
            errno = ENOMEM;
            return nullptr;
        }
        return take(bump_block_bytes(total, 0), 0);  // fresh pages are zero
    }
    void *memalign(size_t alignment, size_t size) override {
        return take(bump_block_bytes(size, alignment), alignment);
    }
    void *realloc(void *block, size_t old_size, size_t new_size) override {
        if (new_size <= old_size) return block;
        void *moved = take(bump_block_bytes(new_size, 0), 0);
        if (moved) std::memcpy(moved, block, old_size);
        return moved;
    }
    void free(void *, size_t) override {}
    bool footprint(uint64_t *bytes) override {
        *bytes = length_;
        return true;
    }
    size_t block_alignment() const override { return kBumpAlignment; }

private:
    void *take(uint64_t bytes, uint64_t alignment) {
        // bytes <= length_ first: a saturated size must not wrap next_ or the test.
        uint64_t offset = bytes > length_ ? length_ : next_.fetch_add(bytes, std::memory_order_relaxed);
        if (bytes > length_ || offset > length_ - bytes) {
            errno = ENOMEM;
            return nullptr;
        }
        uintptr_t at = reinterpret_cast<uintptr_t>(base_) + offset;
        if (alignment > kBumpAlignment) at = round_up(at, alignment);
        return reinterpret_cast<void *>(at);
    }

    char *base_;
    uint64_t length_;
    std::atomic<uint64_t> next_;  // atomic so that threaded replays may share it
};

static std::unique_ptr<Allocator> create_bump(const AllocatorSettings &settings, std::string *error) {
    uint64_t length = round_up(settings.reserve_bytes ? settings.reserve_bytes : 1, 4096);
    // Not MAP_POPULATE: that would map small pages before the advice below.
    void *base = mmap(nullptr, length, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        *error = "bump: cannot map " + std::to_string(length) + " bytes: " + std::strerror(errno);
        return nullptr;
    }
    // Huge pages where the kernel gives them (transparent_hugepage "madvise" or
    // "always"; the advice fails harmlessly under "never"): a replay that never
    // reuses memory touches a new 4 KiB page every few ops, and on this kind's
    // Firecracker guests those pages cost more than the reused ones of the
    // allocators under test, even written once before: gxx-stl replayed at
    // 3-90 Mops/s from one repetition to the next on small pages, 61-102 on
    // huge ones (arena 46). What bump measures is the replay loop, not the TLB.
    madvise(base, length, MADV_HUGEPAGE);
    prefault_pages(base, length);
    return std::unique_ptr<Allocator>(new Bump(static_cast<char *>(base), length));
}

BENCH_REGISTER_ALLOCATOR([] {
    AllocatorInfo info;
    info.name = "bump";
    info.order = 80;
    info.kind = AllocatorKind::Explicit;
    info.thread_safe = true;
    info.micro = false;  // open-ended loops would need unbounded memory
    info.version = [] { return std::string("reference"); };
    info.create = create_bump;
    return info;
}());

}  // namespace bench
