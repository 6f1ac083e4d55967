// micro_benchmarks.cpp: the micro benchmarks, registered for the one
// allocator a bench_micro child measures. Each benchmark makes a fresh
// allocator instance above its timed loop (thread 0 for threaded ones; Google
// Benchmark's loop start is a barrier) and keeps it through Google
// Benchmark's runs of it (the runs that find the iteration count, then the
// timed one), so that the figure is the allocator's steady state as it is
// for a process malloc, warm from everything the child ran before.
#include "micro_benchmarks.h"

#include <benchmark/benchmark.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

namespace micro {

using bench::Allocator;
using bench::AllocatorInfo;
using bench::AllocatorSettings;

namespace {

const AllocatorInfo *g_info = nullptr;
AllocatorSettings g_settings;
std::string g_label;  // of every run
std::unique_ptr<Allocator> g_allocator;  // the instance of the benchmark running now
// Which benchmark g_allocator was made for: its registration and thread
// count. Written by thread 0 alone. Made fresh for each benchmark, and kept
// through its runs: a fresh explicit arena a run spends its first rounds
// learning its purge budget (a loop of 1024 blocks of 4 KiB freed and made
// again faulted every page back in for 5 rounds, 13 ms each, then took 55 us),
// and Google Benchmark's timed run of batch_fifo/4096 at its default
// min_time was 5 iterations: all of them those first rounds, 0.08 Mops/s
// where arena-malloc, the same code warm, gave 15.8. The allocator is only
// destroyed by the next benchmark's thread 0 (or at exit), when no thread of
// this one is left in it: a thread that leaves its loop by `break` skips
// Google Benchmark's stop barrier.
int g_registration = 0;      // of the benchmark running now (register_benchmarks)
int g_made_for = -1;         // registration g_allocator was made for, -1: none
int g_made_for_threads = 0;  // and its thread count
// A run that met an error (a NULL) leaves its instance to be made again.
std::atomic<bool> g_discard{false};

// The time of a threaded benchmark: one interval, from the first thread's
// first iteration to the last thread's end, given to Google Benchmark as the
// threads' manual time (interval_finish). Real time is the average of each
// thread's own clock, which starts when that thread is first scheduled after
// the start barrier: threads that ran one after another (more threads than
// cores, short runs) read as if side by side, and threads_local on one core
// came out 2.2x faster at 4 threads than at 1 (jemalloc, 418 against 192 Mops/s).
struct SharedInterval {
    std::atomic<int64_t> start_ns{INT64_MAX};
    std::atomic<int64_t> end_ns{0};
    std::atomic<int> arrived{0};  // threads past their loop (or that never entered it)
};
SharedInterval g_interval;

int64_t monotonic_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// Moves `bound` to `now` when `beyond(now, bound)`, whatever the other threads store.
template <class Beyond>
void interval_extend(std::atomic<int64_t> &bound, int64_t now, Beyond beyond) {
    int64_t seen = bound.load(std::memory_order_relaxed);
    while (beyond(now, seen) && !bound.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
}

// In a thread's first iteration.
void interval_start() { interval_extend(g_interval.start_ns, monotonic_ns(), std::less<int64_t>()); }

// After a thread's loop. Google Benchmark averages the threads' manual times,
// so the last thread here gives the whole interval once for each thread and
// the others nothing. None waits for the others: a thread that left its loop
// by `break` releases the ones at the stop barrier only when it returns.
void interval_finish(benchmark::State &state) {
    interval_extend(g_interval.end_ns, monotonic_ns(), std::greater<int64_t>());
    if (g_interval.arrived.fetch_add(1, std::memory_order_acq_rel) + 1 < state.threads()) {
        state.SetIterationTime(0.0);
        return;
    }
    const int64_t start = g_interval.start_ns.load(std::memory_order_relaxed);
    const int64_t last = g_interval.end_ns.load(std::memory_order_relaxed);
    state.SetIterationTime(start < last ? static_cast<double>(last - start) * 1e-9 * state.threads() : 0.0);
}

// Above the timed loop: a fresh allocator, thread safe for a benchmark whose
// threads share it (`shared`: at every thread count, so that the 1-thread run
// of a scaling curve measures the allocator its 2- to 4-thread runs do).
bool set_up(benchmark::State &state, bool shared = false) {
    if (state.thread_index() != 0) return true;
    g_interval.start_ns.store(INT64_MAX, std::memory_order_relaxed);
    g_interval.end_ns.store(0, std::memory_order_relaxed);
    g_interval.arrived.store(0, std::memory_order_relaxed);
    if (g_allocator && g_made_for == g_registration && g_made_for_threads == state.threads() &&
        !g_discard.exchange(false, std::memory_order_acq_rel))
        return true;  // this benchmark's, from its run before
    g_allocator.reset();
    g_made_for = g_registration;
    g_made_for_threads = state.threads();
    g_discard.store(false, std::memory_order_relaxed);
    AllocatorSettings settings = g_settings;
    settings.threaded = shared;
    std::string error;
    g_allocator = g_info->create(settings, &error);
    if (!g_allocator) {
        state.SkipWithError(error.c_str());
        g_interval.arrived.fetch_add(1, std::memory_order_release);  // done: the last of the others gives the interval
    }
    return g_allocator != nullptr;
}

void tear_down(benchmark::State &state, uint64_t ops_per_iteration) {
    const int64_t ops = static_cast<int64_t>(state.iterations() * ops_per_iteration);
    state.SetItemsProcessed(ops);
    state.counters["ops"] = benchmark::Counter(static_cast<double>(ops));  // summed over threads
    if (state.thread_index() == 0 && !g_label.empty()) state.SetLabel(g_label);
    if (state.error_occurred()) g_discard.store(true, std::memory_order_release);
}

// False, the benchmark skipped, when the allocator returned NULL: a failed
// call is not a fast one, and was timed as one.
inline bool got(benchmark::State &state, const void *p) {
    if (p) return true;
    state.SkipWithError("the allocator returned NULL");
    return false;
}

// The block is used: its first byte written. False as got().
inline bool used(benchmark::State &state, void *p) {
    if (!got(state, p)) return false;
    *static_cast<volatile char *>(p) = 1;
    benchmark::DoNotOptimize(p);
    return true;
}

// Fills `blocks` with blocks of `size`, each used; false (the benchmark
// skipped) at the first NULL.
bool allocate_all(benchmark::State &state, Allocator &a, std::vector<void *> &blocks, size_t size) {
    for (void *&p : blocks)
        if (!used(state, p = a.malloc(size))) return false;
    return true;
}

void malloc_free(benchmark::State &state, size_t size) {
    if (!set_up(state)) return;
    Allocator &a = *g_allocator;
    for (auto _ : state) {
        void *p = a.malloc(size);
        if (!used(state, p)) break;
        a.free(p, size);
    }
    tear_down(state, 2);
}

// A calloc'd block is used on every OS page: an allocator may zero it by
// handing its pages back to the OS (jemalloc, for 64 KiB: a madvise a call),
// which defers the cost to the faults of the first writes. With its first
// byte alone written, calloc/65536 charged jemalloc one fault of the 16, and
// the allocators that write the zeros all of them.
inline bool used_every_page(benchmark::State &state, void *p, size_t size) {
    if (!used(state, p)) return false;
    auto *bytes = static_cast<volatile char *>(p);
    for (size_t at = 4096; at < size; at += 4096) bytes[at] = 1;
    bytes[size - 1] = 1;
    return true;
}

void calloc_free(benchmark::State &state, size_t size) {
    if (!set_up(state)) return;
    Allocator &a = *g_allocator;
    for (auto _ : state) {
        void *p = a.calloc(1, size);
        if (!used_every_page(state, p, size)) break;
        a.free(p, size);
    }
    tear_down(state, 2);
}

enum class Order { Lifo, Fifo, Random };

// Allocates kBatch blocks, then frees them newest first, oldest first, or in
// a shuffled order fixed before timing.
constexpr size_t kBatch = 1024;

void batch(benchmark::State &state, size_t size, Order order) {
    if (!set_up(state)) return;
    Allocator &a = *g_allocator;
    std::vector<void *> blocks(kBatch);
    std::vector<size_t> free_order(kBatch);
    for (size_t i = 0; i < kBatch; i++) free_order[i] = order == Order::Lifo ? kBatch - 1 - i : i;
    if (order == Order::Random) std::shuffle(free_order.begin(), free_order.end(), std::mt19937_64(42));
    for (auto _ : state) {
        if (!allocate_all(state, a, blocks, size)) break;
        for (size_t i : free_order) a.free(blocks[i], size);
    }
    tear_down(state, 2 * kBatch);
}

// Grows one block from 16 bytes to `limit` by realloc, then frees it.
void realloc_growth(benchmark::State &state, bool geometric, size_t limit) {
    if (!set_up(state)) return;
    Allocator &a = *g_allocator;
    uint64_t steps = 0;
    for (size_t size = 16; size < limit; size = geometric ? size + size / 2 : size + 16) steps++;
    for (auto _ : state) {
        size_t size = 16;
        void *p = a.malloc(size);
        bool ok = used(state, p);
        while (ok && size < limit) {
            const size_t grown = geometric ? size + size / 2 : size + 16;
            p = a.realloc(p, size, grown);
            ok = used(state, p);
            size = grown;
        }
        if (!ok) break;
        a.free(p, size);
    }
    tear_down(state, steps + 2);
}

// Frees a batch of blocks one by one, or all at once with the allocator's reset.
void release(benchmark::State &state, bool reset) {
    if (!set_up(state)) return;
    Allocator &a = *g_allocator;
    constexpr size_t kSize = 64;
    std::vector<void *> blocks(kBatch);
    for (auto _ : state) {
        if (!allocate_all(state, a, blocks, kSize)) break;
        if (reset)
            a.reset();
        else
            for (void *p : blocks) a.free(p, kSize);
    }
    tear_down(state, kBatch + (reset ? 1 : kBatch));
}

// The allocator thread 0 made, for a threaded benchmark: read in the loop,
// after its start barrier. Null (the benchmark skipped) when thread 0 could not
// make it: it skipped the benchmark and returned above its loop, and the other
// threads, which the barrier let go without it, called through a null pointer
// (threads_local) or waited for ever for blocks no producer would make
// (producer_consumer).
Allocator *shared_allocator(benchmark::State &state) {
    Allocator *a = g_allocator.get();
    if (!a) state.SkipWithError("no allocator: thread 0 could not make it");
    return a;
}

// malloc/free pairs on every thread with some work on the block in between.
void threads_local(benchmark::State &state, size_t size) {
    if (!set_up(state, true)) return;
    bool first = true;
    for (auto _ : state) {
        if (first) interval_start(), first = false;
        Allocator *a = shared_allocator(state);
        if (!a) break;
        auto *p = static_cast<unsigned char *>(a->malloc(size));
        if (!got(state, p)) break;
        for (size_t i = 0; i < size; i += 16) p[i] = static_cast<unsigned char>(i);
        benchmark::DoNotOptimize(p);
        a->free(p, size);
    }
    interval_finish(state);
    tear_down(state, 2);
}

// A lock-free single-producer single-consumer ring of pointers.
class PointerRing {
public:
    bool push(void *p) {
        const uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_.load(std::memory_order_acquire) == kSlots) return false;
        slots_[tail % kSlots] = p;
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }
    bool pop(void **p) {
        const uint64_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) return false;
        *p = slots_[head % kSlots];
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

private:
    static constexpr uint64_t kSlots = 1024;
    alignas(64) std::atomic<uint64_t> head_{0};
    alignas(64) std::atomic<uint64_t> tail_{0};
    void *slots_[kSlots];
};

PointerRing g_ring;
// The producer met a NULL and stopped: the consumer, which would wait for
// ever for the blocks still to come, stops once it has freed those handed over.
std::atomic<bool> g_producer_stopped{false};

// Thread 0 allocates and hands blocks over, thread 1 frees them: every free
// is a cross-thread free. Both run the same number of iterations.
void producer_consumer(benchmark::State &state, size_t size) {
    if (!set_up(state, true)) return;
    const bool producer = state.thread_index() == 0;
    if (producer) g_producer_stopped.store(false, std::memory_order_relaxed);  // before the start barrier
    bool first = true;
    for (auto _ : state) {
        if (first) interval_start(), first = false;
        Allocator *a = shared_allocator(state);
        if (!a) break;
        if (producer) {
            void *p = a->malloc(size);
            if (!used(state, p)) {
                g_producer_stopped.store(true, std::memory_order_release);
                break;
            }
            while (!g_ring.push(p)) sched_yield();
        } else {
            void *p;
            bool got;
            while (!(got = g_ring.pop(&p)) && !g_producer_stopped.load(std::memory_order_acquire)) sched_yield();
            if (!got && !(got = g_ring.pop(&p))) {  // the producer stopped: nothing more will come
                state.SkipWithError("the producer stopped");
                break;
            }
            a->free(p, size);
        }
    }
    interval_finish(state);
    tear_down(state, 1);
}

std::string size_name(size_t size) { return std::to_string(size); }

}  // namespace

void register_benchmarks(const AllocatorInfo &info, const AllocatorSettings &settings, const std::string &label) {
    g_info = &info;
    g_settings = settings;
    g_label = label;
    // Each registration gets its number, which set_up reads to tell its runs from another's.
    static int registrations = 0;
    auto numbered = [](auto function) {
        const int number = ++registrations;
        return [number, function](benchmark::State &s) {
            if (s.thread_index() == 0) g_registration = number;
            function(s);
        };
    };
    auto add = [numbered](const std::string &name, auto function) {
        return benchmark::RegisterBenchmark(name.c_str(), numbered(function))->UseRealTime();
    };
    std::vector<size_t> sizes;
    for (size_t size = 8; size <= (1u << 20); size *= 2) sizes.push_back(size);
    for (size_t odd : {24, 40, 100, 200, 1000, 3000, 12345, 100000}) sizes.push_back(odd);
    std::sort(sizes.begin(), sizes.end());
    for (size_t size : sizes)
        add("malloc_free/" + size_name(size), [size](benchmark::State &s) { malloc_free(s, size); });
    for (size_t size : {16, 64, 256, 4096}) {
        add("batch_lifo/" + size_name(size), [size](benchmark::State &s) { batch(s, size, Order::Lifo); });
        add("batch_fifo/" + size_name(size), [size](benchmark::State &s) { batch(s, size, Order::Fifo); });
        add("batch_random/" + size_name(size), [size](benchmark::State &s) { batch(s, size, Order::Random); });
    }
    add("realloc_grow_1.5x/1048576", [](benchmark::State &s) { realloc_growth(s, true, 1u << 20); });
    add("realloc_grow_16B/16384", [](benchmark::State &s) { realloc_growth(s, false, 16384); });
    for (size_t size : {16, 256, 4096, 65536})
        add("calloc/" + size_name(size), [size](benchmark::State &s) { calloc_free(s, size); });
    add("release_free_each/" + size_name(kBatch), [](benchmark::State &s) { release(s, false); });
    // arena_reset against freeing each block: only where there is a reset.
    std::string ignored;
    auto probe = info.create(settings, &ignored);
    if (probe && probe->reset())
        add("release_reset/" + size_name(kBatch), [](benchmark::State &s) { release(s, true); });
    probe.reset();
    if (info.thread_safe) {
        // Timed by one shared interval (interval_finish), not each thread's clock.
        auto threaded = [numbered](const std::string &name, auto function) {
            return benchmark::RegisterBenchmark(name.c_str(), numbered(function))->UseManualTime();
        };
        threaded("threads_local/64", [](benchmark::State &s) { threads_local(s, 64); })->DenseThreadRange(1, 4);
        threaded("producer_consumer/64", [](benchmark::State &s) { producer_consumer(s, 64); })->Threads(2);
    }
}

}  // namespace micro
