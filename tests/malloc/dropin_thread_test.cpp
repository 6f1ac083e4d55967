// The drop-in malloc under threads: blocks freed and reallocated by threads
// that did not allocate them, threads that come and go, a producer/consumer
// pair. Contents are verified throughout, and arena_malloc_check holds once
// the threads are done. Runs under ThreadSanitizer in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

#include "../arena/test_util.h"
#include "dropin.h"

namespace {

struct Block {
    void *p;
    size_t size;
    uint32_t tag;
};

// Blocks in transit between threads.
class Pool {
  public:
    void Put(Block b) {
        std::lock_guard<std::mutex> g(lock_);
        blocks_.push_back(b);
    }
    bool Take(std::mt19937 &rng, Block *out) {
        std::lock_guard<std::mutex> g(lock_);
        if (blocks_.empty()) return false;
        size_t i = rng() % blocks_.size();
        *out = blocks_[i];
        blocks_[i] = blocks_.back();
        blocks_.pop_back();
        return true;
    }
    std::vector<Block> Drain() {
        std::lock_guard<std::mutex> g(lock_);
        return std::move(blocks_);
    }

  private:
    std::mutex lock_;
    std::vector<Block> blocks_;
};

size_t RandomSize(std::mt19937 &rng) {
    unsigned r = rng() % 100;
    if (r < 80) return rng() % 300;
    if (r < 98) return rng() % 20000;
    return rng() % (3u << 20);
}

arena_stats ProcessStats() {
    arena_stats s;
    arena_malloc_stats(&s);
    return s;
}

TEST(DropInThreads, CrossThreadFreesAndReallocsKeepContents) {
    arena_stats before = ProcessStats();
    const int kThreads = 8, kSteps = 25000;
    Pool pool;
    std::atomic<int> damaged{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(1000 + t);
            std::vector<Block> mine;
            for (int i = 0; i < kSteps; i++) {
                unsigned op = rng() % 100;
                if (op < 40 || mine.empty()) {
                    size_t n = RandomSize(rng);
                    uint32_t tag = (uint32_t)(t * kSteps + i);
                    void *p = op % 7 == 0 ? arena_test_memalign((size_t)16 << (rng() % 8), n) : arena_test_malloc(n);
                    if (!p) {
                        failed++;
                        continue;
                    }
                    Fill(p, n, tag);
                    (op % 2 ? pool.Put(Block{p, n, tag}) : mine.push_back(Block{p, n, tag}));
                    continue;
                }
                Block b;
                bool foreign = op < 70 && pool.Take(rng, &b);
                if (!foreign) {
                    size_t k = rng() % mine.size();
                    b = mine[k];
                    mine[k] = mine.back();
                    mine.pop_back();
                }
                if (FirstMismatch(b.p, b.size, b.tag) != b.size) damaged++;
                if (op % 3 == 0) {  // realloc, often of a block another thread allocated
                    size_t n = RandomSize(rng) + 1;
                    void *q = arena_test_realloc(b.p, n);
                    if (!q) {
                        failed++;
                        continue;
                    }
                    size_t kept = b.size < n ? b.size : n;
                    if (FirstMismatch(q, kept, b.tag) != kept) damaged++;
                    Fill(q, n, b.tag);
                    mine.push_back(Block{q, n, b.tag});
                } else {
                    arena_test_free(b.p);
                }
            }
            for (Block &b : mine) pool.Put(b);
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(damaged.load(), 0);
    EXPECT_EQ(failed.load(), 0);
    for (Block &b : pool.Drain()) {
        EXPECT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size);
        arena_test_free(b.p);
    }
    EXPECT_EQ(arena_malloc_check(), 0);
    arena_stats after = ProcessStats();
    EXPECT_EQ(after.live_blocks, before.live_blocks);
    EXPECT_EQ(after.live_bytes, before.live_bytes);
}

// The blocks freed here into ended threads' heaps wait on those heaps' remote
// lists until a thread needs a heap: a short-lived thread adopts one, and takes
// in every abandoned heap's remote frees on the way (heaps_adopt), releasing
// the heaps left empty; then a trim cools the heaps kept warm for the next
// threads (heaps_abandon) and releases them too. Measuring after it compares
// like with like, however long the warm period lasted on a loaded machine.
static void ReclaimEndedThreadsHeaps() {
    std::thread([] { arena_test_free(arena_test_malloc(64)); }).join();
    arena_test_malloc_trim(0);
}

// A thread allocates 40 MB and ends; this one frees every block and maps
// nothing new: the ended heap's memory goes back all the same, taken in by the
// free that brings what went to ended heaps to ENDED_RECLAIM_BYTES. It stayed
// mapped (and resident) until some heap mapped a segment or a thread started.
TEST(DropInThreads, AnEndedThreadsMemoryGoesBackOnceOthersFreeIt) {
    const int count = 400;
    const size_t size = 100000;
    std::vector<void *> blocks(count);
    arena_test_free(arena_test_malloc(64));  // this thread's heap first: else it adopts the ended one
    std::thread([&] {
        for (int i = 0; i < count; i++) {
            blocks[i] = arena_test_malloc(size);
            ASSERT_NE(blocks[i], nullptr);
            Fill(blocks[i], size, (uint32_t)i);
        }
    }).join();
    arena_stats held = ProcessStats();
    for (int i = 0; i < count; i++) {
        ASSERT_EQ(FirstMismatch(blocks[i], size, (uint32_t)i), size);
        arena_test_free(blocks[i]);
    }
    arena_stats after = ProcessStats();
    EXPECT_EQ(arena_malloc_check(), 0);
    EXPECT_GE(held.mapped_bytes, (size_t)count * size);
    // What may stay: the last ENDED_RECLAIM_BYTES (4 MiB) freed, and the heap's bookkeeping.
    EXPECT_LE(after.mapped_bytes + count * size - ((size_t)8 << 20), held.mapped_bytes)
        << "mapped " << held.mapped_bytes << " with the blocks, " << after.mapped_bytes << " after their frees";
}

// malloc_usable_size promises bytes the caller may write. A small block's
// record of its unused tail lies in that tail, and only the block's own heap
// may take the tail into the block; for another thread's block the promise is
// the requested size. It once was the whole class size: the caller's writes
// overwrote the record, and realloc then copied a size read from garbage
// (too little, or far past the block) and the statistics went wrong.
TEST(DropInThreads, UsableSizeOfAnotherThreadsBlockCanBeFilledAndKept) {
    for (size_t n : {(size_t)20, (size_t)100, (size_t)1000, (size_t)3000, (size_t)70000, (size_t)3 << 20}) {
        void *p = nullptr;
        std::thread([&] { p = arena_test_malloc(n); }).join();
        ASSERT_NE(p, nullptr);
        arena_stats before = ProcessStats();
        const size_t usable = arena_test_malloc_usable_size(p);
        EXPECT_GE(usable, n);
        Fill(p, usable, 9);
        EXPECT_EQ(arena_malloc_check(), 0) << n;
        void *q = arena_test_realloc(p, 8 << 20);
        ASSERT_NE(q, nullptr);
        EXPECT_EQ(FirstMismatch(q, usable, 9), usable) << "the bytes usable_size promised, moved with the block";
        arena_stats mid = ProcessStats();
        EXPECT_EQ(mid.live_bytes, before.live_bytes - n + (8 << 20)) << n;
        arena_test_free(q);
        EXPECT_EQ(arena_malloc_check(), 0) << n;
    }
}

// A block freed by a thread other than its owner waits in that thread's batch,
// then on the owner's remote list, live for the owner all the while. A second
// free of it by another thread, or by the same one after its batch went to
// the owner, used to link it into a second chain: blocks were lost, and the
// later flush wrote a link into a block the owner had handed out again.
// (Reports come one at a time: each thread reports while the others wait.)
TEST(DropInThreads, ASecondFreeOfABlockOnItsWayToItsOwnerIsReported) {
    std::vector<void *> mine;
    for (int i = 0; i < 8; i++) mine.push_back(arena_test_malloc(48));
    void *elsewhere = nullptr;
    std::thread([&] { elsewhere = arena_test_malloc(48); }).join();
    ErrorLog log;
    std::atomic<int> stage{0};
    auto wait_for = [&](int s) {
        while (stage.load() < s) std::this_thread::yield();
    };
    std::thread a([&] {
        for (void *p : mine) arena_test_free(p);  // into a's batch for this thread
        stage = 1;
        wait_for(2);                              // b frees mine[3] again meanwhile
        arena_test_free(elsewhere);               // another owner: a's batch goes to this thread's heap
        arena_test_free(mine[5]);                 // on this thread's remote list now
    });
    std::thread b([&] {
        wait_for(1);
        arena_test_free(mine[3]);
        stage = 2;
    });
    b.join();
    a.join();
    ASSERT_EQ(log.entries.size(), 2u);
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_DOUBLE_FREE);
    EXPECT_EQ(log.entries[0].p, mine[3]);
    EXPECT_EQ(log.entries[1].kind, ARENA_ERR_DOUBLE_FREE);
    EXPECT_EQ(log.entries[1].p, mine[5]);
    std::vector<void *> again;
    for (int i = 0; i < 64; i++) again.push_back(arena_test_malloc(48));  // takes the batch in
    std::sort(again.begin(), again.end());
    EXPECT_EQ(std::adjacent_find(again.begin(), again.end()), again.end()) << "a block handed out twice";
    for (void *p : again) arena_test_free(p);
    EXPECT_EQ(arena_malloc_check(), 0);
}

// The owner's own second free of a block another thread freed, before the
// block has come back: reported at once (small blocks on the free fast path).
// Before, it went through, and the block was freed again when it arrived.
TEST(DropInThreads, TheOwnersSecondFreeOfABlockOnItsWayBackIsReported) {
    for (size_t n : {(size_t)48, (size_t)3000}) {
        void *p = arena_test_malloc(n), *q = arena_test_malloc(n);
        ErrorLog log;
        std::thread([&] { arena_test_free(p); }).join();
        arena_test_free(p);
        ASSERT_EQ(log.entries.size(), 1u) << n;
        EXPECT_EQ(log.entries[0].kind, ARENA_ERR_DOUBLE_FREE) << n;
        EXPECT_EQ(log.entries[0].p, p) << n;
        arena_test_free(q);  // a block of the owner's that no other thread freed
        EXPECT_EQ(log.entries.size(), 1u) << n << ": " << log.entries.back().message;
        std::vector<void *> again;
        for (int i = 0; i < 64; i++) again.push_back(arena_test_malloc(n));  // takes p back
        std::sort(again.begin(), again.end());
        EXPECT_EQ(std::adjacent_find(again.begin(), again.end()), again.end()) << "a block handed out twice";
        for (void *b : again) arena_test_free(b);
        EXPECT_EQ(log.entries.size(), 1u) << n;
        EXPECT_EQ(arena_malloc_check(), 0) << n;
    }
}

TEST(DropInThreads, HeapsOfEndedThreadsAreAdoptedNotLeaked) {
    arena_stats first{};
    for (int wave = 0; wave < 40; wave++) {
        Pool pool;
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; t++) {
            threads.emplace_back([&, t] {
                std::mt19937 rng(wave * 10 + t);
                for (int i = 0; i < 2000; i++) {
                    size_t n = RandomSize(rng) % 5000;
                    void *p = arena_test_malloc(n);
                    Fill(p, n, (uint32_t)i);
                    pool.Put(Block{p, n, (uint32_t)i});
                }
            });
        }
        for (auto &th : threads) th.join();
        // The threads are gone; their blocks are freed here, into abandoned heaps.
        for (Block &b : pool.Drain()) {
            ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size);
            arena_test_free(b.p);
        }
        // By the fifth wave every heap the test needs exists; from there on,
        // ended threads' heaps must be reused, not added to.
        if (wave == 4) {
            ReclaimEndedThreadsHeaps();
            first = ProcessStats();
        }
    }
    ReclaimEndedThreadsHeaps();
    arena_stats last = ProcessStats();
    EXPECT_EQ(arena_malloc_check(), 0);
    // Thirty-five more waves of threads reuse those heaps: the trim gives back
    // every ended heap's memory, so what stays mapped is the heaps themselves
    // (a 12 KiB struct each), and a heap made per thread would add 1.6 MiB.
    // Measured without the trim, the figure followed how many heaps were still
    // warm: 16 to 40 MiB in a loaded run, whether or not any heap leaked.
    EXPECT_LE(last.mapped_bytes, first.mapped_bytes + ((size_t)64 << 10))
        << "after the fifth wave: " << first.mapped_bytes << " bytes in " << first.regions << " regions";
    EXPECT_LE(last.regions, first.regions + 2);
}

// Threads one after another, each writing 8 MiB of medium blocks and freeing
// them, and each making one more free after its heap was given back at its
// end: from a key destructor that runs after the drop-in's own. That free
// takes the heap again for the rest of that round of destructors, and the
// next round gives it back as its last thread left it: warm for the next
// thread, which faults in little. Before, that
// call restarted the heap's peak, and every thread faulted in all 2048 OS
// pages again (28.5 MiB kept against 2.0 in review).
TEST(DropInThreads, AFreeAfterAThreadsHeapWasGivenBackKeepsItWarmForTheNext) {
    LateDestructorFree late(arena_test_free);
    const size_t kBlocks = 32, kSize = 256 << 10;
    const long kPages = (long)(kBlocks * kSize / 4096);
    std::vector<long> faults;
    for (int round = 0; round < 8; round++) {
        std::thread([&] {
            struct rusage before, after;
            getrusage(RUSAGE_THREAD, &before);
            std::vector<void *> v;
            for (size_t i = 0; i < kBlocks; i++) v.push_back(memset(arena_test_malloc(kSize), 1, kSize));
            getrusage(RUSAGE_THREAD, &after);
            faults.push_back(after.ru_minflt - before.ru_minflt);
            for (void *p : v) arena_test_free(p);
            late.Set(arena_test_malloc(64));
        }).join();
    }
    // Most rounds: one whose thread started past the warm period (a stalled
    // machine) takes the heap cooled.
    size_t warm_rounds = 0;
    for (size_t r = 1; r < faults.size(); r++) warm_rounds += faults[r] < kPages / 2;
    EXPECT_GE(warm_rounds, (faults.size() - 1) / 2) << "OS pages faulted in by each round's thread, of " << kPages
                                                    << ": " << ::testing::PrintToString(faults);
    EXPECT_EQ(arena_malloc_check(), 0);
}

// Runs in a process of its own (EXPECT_EXIT, threadsafe): `at_run(run, block)`
// from a key destructor of kDestructorThreads threads, one after another, in
// every round of their destructors (run 1 to PTHREAD_DESTRUCTOR_ITERATIONS);
// block is one the thread allocated, its bytes all 7. The drop-in's key is made
// first (by this thread's first call), so its destructor comes before this
// one's in every round: in a process of its own, no key deleted earlier leaves
// an index free below it. at_run returns false when something it checks fails.
// Exits 0 when every run held, the heap had been given back at every run's
// start (the key order above: otherwise the test would test nothing),
// arena_malloc_check holds, no block is left live and no more memory is mapped
// after the last thread than after the first.
constexpr int kDestructorThreads = 8;
[[noreturn]] void ExitAfterDestructorRounds(bool (*at_run)(int run, void *block)) {
    static bool (*run_fn)(int, void *);
    static pthread_key_t key;
    static std::atomic<int> failures{0}, bound_at_start{0};
    run_fn = at_run;
    arena_test_free(arena_test_malloc(64));
    if (pthread_key_create(&key, [](void *p) {
            static thread_local int runs;
            bound_at_start += arena_test_thread_has_heap();
            failures += !run_fn(++runs, p);
            if (runs < PTHREAD_DESTRUCTOR_ITERATIONS) pthread_setspecific(key, p);
        }) != 0)
        _exit(2);
    arena_stats first{};
    size_t live_before = ProcessStats().live_blocks;
    for (int t = 0; t < kDestructorThreads; t++) {
        std::thread([] { pthread_setspecific(key, memset(arena_test_malloc(100), 7, 100)); }).join();
        if (t == 0) first = ProcessStats();
    }
    arena_stats now = ProcessStats();
    fprintf(stderr, "failed checks %d, heap bound at a run's start %d; mapped %zu after the first thread, %zu after %d; live blocks %zu, %zu before\n",
            failures.load(), bound_at_start.load(), first.mapped_bytes, now.mapped_bytes, kDestructorThreads,
            now.live_blocks, live_before);
    bool held = failures == 0 && bound_at_start == 0 && arena_malloc_check() == 0 &&
                now.live_blocks == live_before && now.mapped_bytes <= first.mapped_bytes;
    _exit(held ? 0 : 1);
}

bool AllBytesAre(const void *p, int value, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (static_cast<const unsigned char *>(p)[i] != value) return false;
    return true;
}

// A key destructor that runs after the drop-in's, in the first round and in
// the last but one, frees a cache of blocks: the first free takes a heap for the thread again,
// and the others run on it, as any call of a running thread does; the next
// round gives it back. Before, every call from the first round on adopted a
// heap and gave it back (78 ns a free in a destructor that frees 100000
// blocks, against 4.7 on a bound heap).
TEST(DropInThreads, ADestructorBeforeTheLastRoundFreesOnTheThreadsHeap) {
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer cannot run a thread's last round of destructors";
#endif
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(ExitAfterDestructorRounds([](int run, void *block) {
                    if (run == PTHREAD_DESTRUCTOR_ITERATIONS - 1) { // its last round before the last
                        bool held = AllBytesAre(block, 7, 100);
                        arena_test_free(block);
                        return held && arena_test_thread_has_heap();
                    }
                    if (run != 1) return true;
                    std::vector<void *> cache;
                    for (int i = 0; i < 1000; i++) cache.push_back(memset(arena_test_malloc(48), 1, 48));
                    bool bound = arena_test_thread_has_heap();
                    for (void *p : cache) {
                        bound &= AllBytesAre(p, 1, 48);
                        arena_test_free(p);
                        bound &= arena_test_thread_has_heap();
                    }
                    return bound;
                }),
                ::testing::ExitedWithCode(0), "");
}

// Calls from the last round, after the drop-in's destructor has run for the
// last time, take a heap each, for that call alone, and give it back when it
// is done: every call that may take one. Bound to the thread, that heap would
// never be given back, nor its segment (a heap lost with every thread).
TEST(DropInThreads, CallsFromTheLastRoundOfDestructorsLeaveNoHeapBehind) {
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer cannot run a thread's last round of destructors";
#endif
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(ExitAfterDestructorRounds([](int run, void *block) {
                    if (run < PTHREAD_DESTRUCTOR_ITERATIONS) return true;
                    bool held = AllBytesAre(block, 7, 100);
                    arena_test_free(block);
                    held &= !arena_test_thread_has_heap();
                    void *p = arena_test_malloc(64);
                    held &= p != nullptr && !arena_test_thread_has_heap();
                    arena_test_free(memset(p, 1, 64));
                    p = arena_test_calloc(4, 16);
                    held &= p != nullptr && AllBytesAre(p, 0, 64) && !arena_test_thread_has_heap();
                    arena_test_free(p);
                    p = arena_test_memalign(256, 300);
                    held &= p != nullptr && (uintptr_t)p % 256 == 0 && !arena_test_thread_has_heap();
                    arena_test_free(p);
                    p = arena_test_realloc(nullptr, 50);
                    p = arena_test_realloc(memset(p, 3, 50), 5000);
                    held &= p != nullptr && AllBytesAre(p, 3, 50) && arena_test_malloc_usable_size(p) >= 5000;
                    arena_test_free(p);
                    return held && !arena_test_thread_has_heap();
                }),
                ::testing::ExitedWithCode(0), "");
}

// A double free from the last round, whose error handler allocates (a log
// line, as a program's handler may): the handler's calls run on the heap the
// reported call took, and that call gives it back. Before, the handler's
// malloc took a second heap over the first, which was never given back: a
// heap and its segment lost with every thread (4.2 MB a thread in review).
// (The recovery of late heaps, heaps_recover_late, would now give such a
// heap back after its thread is gone, too.)
TEST(DropInThreads, AnErrorHandlerThatAllocatesDuringALastRoundCallLeavesNoHeapBehind) {
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer cannot run a thread's last round of destructors";
#endif
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    static std::atomic<int> reports{0};
    EXPECT_EXIT(
        {
            arena_set_error_handler(
                [](void *, arena_t *, const void *, arena_error, const char *) {
                    void *line = arena_test_malloc(80);
                    if (line) memset(line, 'x', 80);
                    arena_test_free(line);
                    reports++;
                },
                nullptr);
            ExitAfterDestructorRounds([](int run, void *block) {
                if (run < PTHREAD_DESTRUCTOR_ITERATIONS) return true;
                arena_test_free(block);
                int before = reports;
                arena_test_free(block); // reported
                return reports == before + 1 && !arena_test_thread_has_heap();
            });
        },
        ::testing::ExitedWithCode(0), "");
}

TEST(DropInThreads, ProducerConsumerWithChecksum) {
    const size_t kBlocks = 300000, kRing = 1024;
    std::vector<std::atomic<void *>> ring(kRing);
    for (auto &slot : ring) slot.store(nullptr);
    std::atomic<uint64_t> produced_sum{0}, consumed_sum{0};
    std::thread producer([&] {
        uint64_t sum = 0;
        for (size_t i = 0; i < kBlocks; i++) {
            size_t n = 16 + i % 240;
            auto *p = static_cast<uint8_t *>(arena_test_malloc(n));
            for (size_t k = 0; k < n; k++) p[k] = (uint8_t)(i + k);
            sum += p[n - 1] + n;
            auto &slot = ring[i % kRing];
            while (slot.load(std::memory_order_acquire) != nullptr) std::this_thread::yield();
            slot.store(p, std::memory_order_release);
        }
        produced_sum = sum;
    });
    std::thread consumer([&] {
        uint64_t sum = 0;
        for (size_t i = 0; i < kBlocks; i++) {
            auto &slot = ring[i % kRing];
            void *p;
            while ((p = slot.load(std::memory_order_acquire)) == nullptr) std::this_thread::yield();
            slot.store(nullptr, std::memory_order_release);
            size_t n = 16 + i % 240;
            sum += static_cast<uint8_t *>(p)[n - 1] + n;
            arena_test_free(p);
        }
        consumed_sum = sum;
    });
    producer.join();
    consumer.join();
    EXPECT_EQ(produced_sum.load(), consumed_sum.load());
    EXPECT_EQ(arena_malloc_check(), 0);
}

// One thread asks for more than the address space (the arena charges it, the
// OS refuses it) while another maps and unmaps segments: the peak is of bytes
// really mapped, so the refused request never enters it, whichever thread's
// mapping raised the peak meanwhile.
TEST(DropInThreads, ARefusedMappingNeverEntersThePeakWhileOtherThreadsMap) {
    const size_t beyond = (size_t)1 << 50;
    std::atomic<bool> stop{false};
    std::atomic<long> refused{0};
    std::thread asker([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            if (!arena_test_malloc(beyond)) refused.fetch_add(1, std::memory_order_relaxed);
        }
    });
    std::thread mapper([&] {
        struct StopAtEnd {
            std::atomic<bool> &stop;
            ~StopAtEnd() { stop.store(true); }  // an ASSERT's return too: the asker ends
        } at_end{stop};
        // Held, so that the segment below is never the heap's only medium one:
        // trim unmaps it (an only one it keeps and purges), and each round maps.
        void *kept = arena_test_malloc((size_t)1 << 20);
        ASSERT_NE(kept, nullptr);
        auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
        while (std::chrono::steady_clock::now() < end) {
            void *p = arena_test_malloc((size_t)8 << 20);  // a medium segment of its own
            ASSERT_NE(p, nullptr);
            Fill(p, 64, 7);
            arena_test_free(p);
            arena_test_malloc_trim(0);  // and back to the OS
        }
        arena_test_free(kept);
    });
    mapper.join();
    asker.join();
    EXPECT_GT(refused.load(), 0);
    arena_stats s = ProcessStats();
    EXPECT_LT(s.peak_mapped_bytes, beyond / 2) << refused.load() << " refused";
    EXPECT_EQ(arena_malloc_check(), 0);
}

}  // namespace
