// allocator.h: the one interface every allocator under test has, and the
// registry that names them. Adding an allocator is one file in allocators/
// that calls BENCH_REGISTER_ALLOCATOR (see arena.cpp for an explicit API,
// glibc.cpp for a process malloc).
//
// Two kinds:
// - explicit: its API is called directly (arena, seed, bump); created in the
//   child process that measures it;
// - preloaded: it is the process's own malloc (glibc, jemalloc, mimalloc,
//   tcmalloc, arena-malloc). The parent re-executes the driver as a child with
//   LD_PRELOAD=<library> (nothing for glibc), and the child calls malloc & co.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bench {

enum class AllocatorKind { Explicit, Preloaded };

// How a child sets an allocator up before anything is timed.
struct AllocatorSettings {
    size_t block_size = 0;      // explicit arenas: granularity and alignment (0 = default)
    size_t region_size = 0;     // explicit arenas: bytes per OS request (0 = policy default)
    size_t huge_pages_from = 0; // explicit arenas: mapped bytes from which regions ask for huge
                                // pages (0 = policy default, kHugePagesNever of cli.h = never)
    bool threaded = false;      // several threads will call it at once
    uint64_t reserve_bytes = 0; // bump: every byte the whole replay will ask for
};

// One allocator instance in one child process. Every call may assume the
// replay's rules: `block` is live and `size`/`old_size` is what the replay last
// asked for it (allocators that know better ignore the size hints).
class Allocator {
public:
    virtual ~Allocator() = default;
    virtual void *malloc(size_t size) = 0;
    virtual void *calloc(size_t count, size_t size) = 0;
    virtual void *memalign(size_t alignment, size_t size) = 0;
    virtual void *realloc(void *block, size_t old_size, size_t new_size) = 0;
    virtual void free(void *block, size_t size) = 0;
    // Bytes usable at block; 0 when the allocator cannot tell.
    virtual size_t usable_size(const void *block) { (void)block; return 0; }
    // The allocator's own account of the memory it holds from the OS.
    virtual bool footprint(uint64_t *bytes) { (void)bytes; return false; }
    // Frees every block at once (arena_reset); false when there is no such call.
    virtual bool reset() { return false; }
    // Walks the heap and verifies its invariants; false with a reason when broken.
    virtual bool check_heap(std::string *error) { (void)error; return true; }
    // The alignment every block has whatever its size (0 = the C rule: up to 16
    // bytes, never more than the block's size rounded down to a power of two).
    virtual size_t block_alignment() const { return 0; }
};

struct AllocatorInfo {
    std::string name;
    int order = 0;                    // place in tables (the order of tools/resultcsv.py)
    AllocatorKind kind = AllocatorKind::Explicit;
    bool thread_safe = false;         // may replay threaded traces
    bool has_block_size = false;      // block_size and region_size mean something
    bool has_huge_pages_from = false; // ... and huge_pages_from (not to seed, which ignores it)
    bool micro = true;                // takes part in bench_micro (open-ended loops)
    // A slow reference (seed): skipped on a trace whose first replay takes
    // longer than the run's budget, so that it cannot dominate a run.
    bool budgeted = false;
    // Preloaded: where its shared library may be, first match wins; "{exe}"
    // stands for the directory of the running driver. Empty: nothing to
    // preload (glibc).
    std::vector<std::string> library_candidates;
    // Runs in the child: the version string ("" when unknown).
    std::function<std::string()> version;
    // Runs in the child: a fresh instance, or nullptr with *error set.
    std::function<std::unique_ptr<Allocator>(const AllocatorSettings &, std::string *error)> create;
};

// Registers an allocator; called from a static object in its file.
bool register_allocator(AllocatorInfo info);

// Every registered allocator, in table order.
const std::vector<AllocatorInfo> &all_allocators();

// The allocator of that name, or nullptr.
const AllocatorInfo *find_allocator(const std::string &name);

// Names of every registered allocator, comma separated (for messages).
std::string allocator_names();

#define BENCH_CONCAT_(a, b) a##b
#define BENCH_CONCAT(a, b) BENCH_CONCAT_(a, b)
// BENCH_REGISTER_ALLOCATOR(expression yielding an AllocatorInfo)
#define BENCH_REGISTER_ALLOCATOR(...) \
    static const bool BENCH_CONCAT(bench_registered_, __LINE__) = ::bench::register_allocator(__VA_ARGS__)

}  // namespace bench
