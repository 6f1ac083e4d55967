// Unit tests: every function of arena.h and every edge of its contract, for
// both policies and a range of block sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"

namespace {

class ArenaTest : public ConfiguredArenaTest {
  protected:
    void TearDown() override {
        EXPECT_EQ(arena_check(a_), 0);
        ConfiguredArenaTest::TearDown();
    }
};


std::vector<ArenaConfigParam> AllConfigs() {
    std::vector<ArenaConfigParam> v;
    for (arena_policy p : {ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED})
        for (size_t bs : {8, 16, 32, 64, 256, 4096}) v.push_back({p, bs});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Configs, ArenaTest, ::testing::ValuesIn(AllConfigs()), ConfigName);

// Sizes that cross every boundary of the default policy: classes, pages, TLSF, huge.
const size_t kSizes[] = {0,     1,     7,      8,      9,      15,      16,      17,      24,
                         100,   128,   1000,   4095,   4096,   4097,    8191,    8192,    8193,
                         16384, 65536, 100000, 262144, 1 << 20, (1 << 21) + 3, 3 << 20, 9 << 20};

TEST_P(ArenaTest, EveryBlockIsAlignedToBlockSizeAndKeepsItsContents) {
    std::vector<std::pair<void *, size_t>> blocks;
    uint32_t tag = 1;
    for (size_t n : kSizes) {
        void *p = arena_malloc(a_, n);
        ASSERT_NE(p, nullptr) << n;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % B(), 0u) << "size " << n;
        EXPECT_GE(arena_usable_size(a_, p), n);
        Fill(p, n, tag++);
        blocks.push_back({p, n});
    }
    tag = 1;
    for (auto &[p, n] : blocks) EXPECT_EQ(FirstMismatch(p, n, tag++), n);
    EXPECT_EQ(arena_check(a_), 0);
    for (auto &[p, n] : blocks) arena_free(a_, p);
    EXPECT_EQ(Stats(a_).live_blocks, 0u);
}

// A block asked for at its usable size has no slack record, and free must not
// take its last byte (the caller's data) for one, whatever it holds: 255 is
// the mark of a long record. Its neighbour, asked one byte short, has a record.
TEST_P(ArenaTest, AFullBlocksLastByteIsNeverTakenForASlackRecord) {
    for (size_t n = 1; n <= 2048; n += n < 64 ? 1 : 37) {
        void *probe = arena_malloc(a_, n);
        ASSERT_NE(probe, nullptr);
        size_t usable = arena_usable_size(a_, probe);
        arena_free(a_, probe);
        for (int last : {0, 1, 8, 254, 255}) {
            size_t live = Stats(a_).live_bytes;
            for (size_t ask : {usable, usable - 1}) {
                if (ask == 0) continue;
                auto *p = static_cast<uint8_t *>(arena_malloc(a_, ask));
                ASSERT_NE(p, nullptr);
                memset(p, 0xff, ask);
                p[ask - 1] = static_cast<uint8_t>(last);
                EXPECT_EQ(Stats(a_).live_bytes, live + ask) << "size " << ask;
                arena_free(a_, p);
                ASSERT_EQ(Stats(a_).live_bytes, live) << "size " << ask << ", last byte " << last;
            }
        }
    }
}

TEST_P(ArenaTest, MallocZeroReturnsDistinctFreeableBlocks) {
    std::set<void *> seen;
    std::vector<void *> v;
    for (int i = 0; i < 100; i++) {
        void *p = arena_malloc(a_, 0);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(seen.insert(p).second) << "malloc(0) returned a live pointer again";
        v.push_back(p);
    }
    void *c = arena_calloc(a_, 0, 16);
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(seen.count(c));
    arena_free(a_, c);
    for (void *p : v) arena_free(a_, p);
    EXPECT_EQ(Stats(a_).live_blocks, 0u);
}

TEST_P(ArenaTest, CallocZeroesReusedMemory) {
    for (size_t n : {24, 3000, 40000, 1 << 20, 20 << 20}) {
        void *p = arena_malloc(a_, n);
        ASSERT_NE(p, nullptr);
        memset(p, 0xA5, n);
        arena_free(a_, p);
        auto *z = static_cast<uint8_t *>(arena_calloc(a_, n / 8, 8));
        ASSERT_NE(z, nullptr);
        for (size_t i = 0; i < n / 8 * 8; i++) ASSERT_EQ(z[i], 0) << "size " << n << " offset " << i;
        arena_free(a_, z);
    }
}

TEST_P(ArenaTest, CallocOverflowFailsWithEnomem) {
    errno = 0;
    EXPECT_EQ(arena_calloc(a_, SIZE_MAX / 2, 3), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(arena_calloc(a_, (size_t)1 << 33, (size_t)1 << 33), nullptr);
    EXPECT_EQ(errno, ENOMEM);
}

TEST_P(ArenaTest, HugeRequestsFailWithEnomem) {
    for (size_t n : {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2}) {
        errno = 0;
        EXPECT_EQ(arena_malloc(a_, n), nullptr);
        EXPECT_EQ(errno, ENOMEM);
        errno = 0;
        EXPECT_EQ(arena_memalign(a_, 4096, n), nullptr);
        EXPECT_EQ(errno, ENOMEM);
    }
    void *p = arena_malloc(a_, 10);
    errno = 0;
    EXPECT_EQ(arena_realloc(a_, p, SIZE_MAX - 100), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    arena_free(a_, p);
}

// Past the 47 bits of user address space, under REQUEST_MAX: the arena charges
// the mapping and the OS refuses it. Before, peak_mapped_bytes kept the refused
// size (64 TiB and more) for good.
TEST_P(ArenaTest, AMappingTheOsRefusesLeavesThePeakAsItWas) {
    const size_t beyond = (size_t)1 << 50;
    void *big = arena_malloc(a_, (size_t)32 << 20);
    ASSERT_NE(big, nullptr);
    const arena_stats before = Stats(a_);
    errno = 0;
    EXPECT_EQ(arena_malloc(a_, beyond), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(arena_memalign(a_, (size_t)1 << 21, beyond), nullptr);
    EXPECT_EQ(arena_calloc(a_, 1, beyond), nullptr);
    EXPECT_EQ(arena_realloc(a_, big, beyond), nullptr);  // a huge block's growth too
    const arena_stats after = Stats(a_);
    EXPECT_EQ(after.mapped_bytes, before.mapped_bytes);
    EXPECT_EQ(after.peak_mapped_bytes, before.peak_mapped_bytes);
    EXPECT_EQ(arena_check(a_), 0);
    arena_free(a_, big);
}

TEST_P(ArenaTest, ReallocFollowsCSemantics) {
    void *p = arena_realloc(a_, nullptr, 40);  // realloc(NULL, n) allocates
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(Stats(a_).live_blocks, 1u);
    errno = 0;
    EXPECT_EQ(arena_realloc(a_, p, 0), nullptr);  // realloc(p, 0) frees p
    EXPECT_EQ(Stats(a_).live_blocks, 0u);
    arena_free(a_, nullptr);  // free(NULL) does nothing
    EXPECT_EQ(Stats(a_).frees, 1u);
}

TEST_P(ArenaTest, ReallocKeepsContentsAcrossEverySizeBoundary) {
    size_t n = 5;
    void *p = arena_malloc(a_, n);
    ASSERT_NE(p, nullptr);
    Fill(p, n, 9);
    for (size_t next : {17, 200, 5000, 9000, 70000, 600000, 3000000, 12000000, 4000000, 50000, 3000, 100, 1}) {
        void *q = arena_realloc(a_, p, next);
        ASSERT_NE(q, nullptr) << next;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % B(), 0u);
        size_t kept = n < next ? n : next;
        ASSERT_EQ(FirstMismatch(q, kept, 9), kept) << n << " -> " << next;
        Fill(q, next, 9);
        p = q;
        n = next;
        ASSERT_EQ(arena_check(a_), 0);
        EXPECT_EQ(Stats(a_).live_bytes, n);
    }
    arena_free(a_, p);
}

// Every small size to every other: the block grows or shrinks where it lies
// while its class still fits, else moves; contents, counts and the heap's
// invariants hold either way, and a block shrunk below half its class moves
// to a smaller one.
TEST_P(ArenaTest, ReallocBetweenSmallSizesKeepsContentsAndCounts) {
    const size_t sizes[] = {1, 8, 15, 16, 17, 24, 100, 255, 256, 300, 511, 512, 513, 600, 1000, 1024};
    void *neighbour = arena_malloc(a_, 48);  // the class pages stay in use between rounds
    ASSERT_NE(neighbour, nullptr);
    for (size_t from : sizes) {
        for (size_t to : sizes) {
            arena_stats before = Stats(a_);
            void *p = arena_malloc(a_, from);
            ASSERT_NE(p, nullptr);
            Fill(p, from, 5);
            void *q = arena_realloc(a_, p, to);
            ASSERT_NE(q, nullptr) << from << " -> " << to;
            size_t kept = from < to ? from : to;
            ASSERT_EQ(FirstMismatch(q, kept, 5), kept) << from << " -> " << to;
            arena_stats after = Stats(a_);
            EXPECT_EQ(after.live_bytes, before.live_bytes + to) << from << " -> " << to;
            EXPECT_EQ(after.live_blocks, before.live_blocks + 1) << from << " -> " << to;
            EXPECT_EQ(after.reallocs, before.reallocs + 1);
            ASSERT_EQ(arena_check(a_), 0) << from << " -> " << to;
            Fill(q, to, 6);
            size_t usable = arena_usable_size(a_, q);
            EXPECT_GE(usable, to);
            bool default_policy = GetParam().policy == ARENA_POLICY_DEFAULT;
            if (default_policy && to == from) {
                EXPECT_EQ(q, p) << from << ": the same size stays";
            }
            if (default_policy && B() <= 16 && from >= 64 && to * 4 <= from) {
                EXPECT_LT(usable, from) << from << " -> " << to << ": shrinking to a quarter moves";
            }
            EXPECT_EQ(FirstMismatch(q, to, 6), to);
            arena_free(a_, q);
            ASSERT_EQ(arena_check(a_), 0);
        }
    }
    arena_free(a_, neighbour);
    EXPECT_EQ(Stats(a_).live_bytes, 0u);
}

TEST_P(ArenaTest, MemalignHonoursEveryAlignmentIncludingSizeEqualToAlignment) {
    for (size_t align = 1; align <= ((size_t)1 << 20); align <<= 1) {
        for (size_t n : {(size_t)1, align, align + 1, 3 * align, (size_t)100}) {
            void *p = arena_memalign(a_, align, n);
            ASSERT_NE(p, nullptr) << "align " << align << " size " << n;
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "align " << align << " size " << n;
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % B(), 0u);
            EXPECT_GE(arena_usable_size(a_, p), n);
            Fill(p, n, 3);
            EXPECT_EQ(FirstMismatch(p, n, 3), n);
            arena_free(a_, p);
        }
    }
    EXPECT_EQ(Stats(a_).live_blocks, 0u);
}

TEST_P(ArenaTest, MemalignRejectsAlignmentsThatAreNotPowersOfTwo) {
    for (size_t bad : {(size_t)0, (size_t)3, (size_t)24, (size_t)4097}) {
        errno = 0;
        EXPECT_EQ(arena_memalign(a_, bad, 64), nullptr) << bad;
        EXPECT_EQ(errno, EINVAL);
    }
    EXPECT_EQ(Stats(a_).allocs, 0u);
}

TEST_P(ArenaTest, UsableSizeCoversTheRequestAndMayBeUsedWhole) {
    EXPECT_EQ(arena_usable_size(a_, nullptr), 0u);
    std::vector<void *> v;
    size_t usable_total = 0;
    for (size_t n : kSizes) {
        void *p = arena_malloc(a_, n);
        ASSERT_NE(p, nullptr);
        size_t u = arena_usable_size(a_, p);
        EXPECT_GE(u, n);
        memset(p, 0x5A, u);  // the whole usable size is the caller's
        usable_total += u;
        v.push_back(p);
    }
    EXPECT_EQ(arena_check(a_), 0);
    EXPECT_EQ(Stats(a_).live_bytes, usable_total) << "asked-for usable size counts as live";
    EXPECT_EQ(Stats(a_).usable_bytes, usable_total);
    for (void *p : v) arena_free(a_, p);
}

TEST_P(ArenaTest, StatsCountEveryCall) {
    void *a = arena_malloc(a_, 100);
    void *b = arena_calloc(a_, 10, 10);
    void *c = arena_memalign(a_, 64, 10);
    arena_stats s = Stats(a_);
    EXPECT_EQ(s.allocs, 3u);
    EXPECT_EQ(s.live_blocks, 3u);
    EXPECT_EQ(s.live_bytes, 210u);
    EXPECT_GE(s.usable_bytes, 210u);
    EXPECT_GE(s.mapped_bytes, s.usable_bytes);
    EXPECT_GE(s.regions, 1u);
    a = arena_realloc(a_, a, 300);
    s = Stats(a_);
    EXPECT_EQ(s.reallocs, 1u);
    EXPECT_EQ(s.live_bytes, 410u);
    EXPECT_EQ(s.peak_live_bytes, 410u);
    arena_free(a_, a);
    arena_free(a_, b);
    arena_free(a_, c);
    s = Stats(a_);
    EXPECT_EQ(s.frees, 3u);
    EXPECT_EQ(s.live_blocks, 0u);
    EXPECT_EQ(s.live_bytes, 0u);
    EXPECT_EQ(s.peak_live_bytes, 410u);
    EXPECT_GE(s.peak_mapped_bytes, s.mapped_bytes);
    EXPECT_EQ(arena_stats_get(a_, nullptr), -1);
}

TEST_P(ArenaTest, ResetFreesEverythingAndTheArenaStaysUsable) {
    arena_stats fresh = Stats(a_);
    std::vector<void *> v;
    for (int i = 0; i < 20000; i++) v.push_back(arena_malloc(a_, (size_t)(i % 700) + (i % 97 == 0 ? 200000 : 0)));
    EXPECT_GT(Stats(a_).mapped_bytes, fresh.mapped_bytes);
    arena_reset(a_);
    ASSERT_EQ(arena_check(a_), 0);
    arena_stats s = Stats(a_);
    EXPECT_EQ(s.live_blocks, 0u);
    EXPECT_EQ(s.live_bytes, 0u);
    EXPECT_EQ(s.mapped_bytes, fresh.mapped_bytes) << "memory beyond a fresh arena's goes back to the OS";
    EXPECT_EQ(s.frees, s.allocs);
    void *p = arena_malloc(a_, 77);
    ASSERT_NE(p, nullptr);
    Fill(p, 77, 1);
    EXPECT_EQ(FirstMismatch(p, 77, 1), 77u);
    arena_free(a_, p);
}

// One thread fills the arena to the same live bytes and resets it, again and
// again: the peak is one fill's, in every policy and mode. Before, a
// thread-safe arena added each fill's peak to the ones before (2 MB reported
// after ten fills of 200 KB).
TEST(ArenaStats, PeakLiveBytesAcrossResetsIsTheHighestNotTheirSum) {
    const size_t kBlocks = 200, kSize = 1000;
    for (arena_policy policy : {ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED}) {
        for (unsigned flags : {0u, (unsigned)ARENA_CHECKED, (unsigned)ARENA_THREAD_SAFE,
                               (unsigned)(ARENA_THREAD_SAFE | ARENA_CHECKED)}) {
            if (policy == ARENA_POLICY_SEED && (flags & ARENA_CHECKED)) continue; // the default policy's mode
            SCOPED_TRACE(PolicyName(policy) + " flags " + std::to_string(flags));
            arena_config c{};
            c.policy = policy;
            c.flags = flags;
            arena_t *a = arena_create(&c);
            ASSERT_NE(a, nullptr);
            for (int fill = 0; fill < 10; fill++) {
                for (size_t i = 0; i < kBlocks; i++) ASSERT_NE(arena_malloc(a, kSize), nullptr);
                arena_stats s = Stats(a);
                EXPECT_EQ(s.live_bytes, kBlocks * kSize);
                EXPECT_EQ(s.peak_live_bytes, kBlocks * kSize) << "fill " << fill;
                arena_reset(a);
                EXPECT_EQ(Stats(a).peak_live_bytes, kBlocks * kSize) << "after reset " << fill;
            }
            // A larger fill after them is the new peak.
            void *p = arena_malloc(a, 3 * kBlocks * kSize);
            ASSERT_NE(p, nullptr);
            EXPECT_EQ(Stats(a).peak_live_bytes, 3 * kBlocks * kSize);
            arena_free(a, p);
            EXPECT_EQ(arena_check(a), 0);
            arena_destroy(a);
        }
    }
}

TEST(ArenaCreate, NullConfigMeansEveryDefault) {
    arena_t *a = arena_create(nullptr);
    ASSERT_NE(a, nullptr);
    void *p = arena_malloc(a, 1);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << "default block size is 16";
    arena_free(a, p);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
    arena_destroy(nullptr);
}

TEST(ArenaCreate, BadConfigsFailWithEinval) {
    auto expect_einval = [](arena_config c, const char *what) {
        errno = 0;
        arena_t *a = arena_create(&c);
        EXPECT_EQ(a, nullptr) << what;
        EXPECT_EQ(errno, EINVAL) << what;
        arena_destroy(a);
    };
    expect_einval({4, 0, 0, ARENA_POLICY_DEFAULT, 0, 0}, "block size below 8");
    expect_einval({24, 0, 0, ARENA_POLICY_DEFAULT, 0, 0}, "block size not a power of two");
    expect_einval({(size_t)1 << 17, 0, 0, ARENA_POLICY_DEFAULT, 0, 0}, "block size above 64 KiB");
    expect_einval({16, 100000, 0, ARENA_POLICY_DEFAULT, 0, 0}, "region size not a power of two");
    expect_einval({16, 32768, 0, ARENA_POLICY_SEED, 0, 0}, "region size below 64 KiB");
    expect_einval({16, (size_t)1 << 31, 0, ARENA_POLICY_DEFAULT, 0, 0}, "region size above 1 GiB");
    expect_einval({16, 0, 0, static_cast<arena_policy>(7), 0, 0}, "unknown policy");
    expect_einval({16, 0, 0, ARENA_POLICY_DEFAULT, 0x80, 0}, "unknown flag");
}

TEST(ArenaMaxBytes, CapFailsWithEnomemAndNothingIsLost) {
    for (arena_policy policy : {ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED}) {
        arena_config c{};
        c.policy = policy;
        c.region_size = (size_t)1 << 20;
        c.max_bytes = (size_t)8 << 20;
        arena_t *a = arena_create(&c);
        ASSERT_NE(a, nullptr);
        void *keep = arena_malloc(a, 1000);
        Fill(keep, 1000, 5);
        std::vector<void *> v;
        for (;;) {
            void *p = arena_malloc(a, 50000);
            if (!p) {
                EXPECT_EQ(errno, ENOMEM);
                break;
            }
            v.push_back(p);
            ASSERT_LT(v.size(), 1000u) << "the cap did not hold";
        }
        EXPECT_LE(Stats(a).mapped_bytes, c.max_bytes + ((size_t)64 << 10)) << "only the arena's own mapping is outside the cap";
        errno = 0;
        EXPECT_EQ(arena_realloc(a, keep, 20 << 20), nullptr);  // fails: keep stays
        EXPECT_EQ(errno, ENOMEM);
        EXPECT_EQ(FirstMismatch(keep, 1000, 5), 1000u);
        EXPECT_EQ(arena_check(a), 0);
        for (void *p : v) arena_free(a, p);
        arena_free(a, keep);
        void *again = arena_malloc(a, 50000);  // memory came back: allocation works again
        EXPECT_NE(again, nullptr);
        arena_free(a, again);
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

// A medium block asks for a segment that holds four of its size; under a cap
// that refuses it, the smallest segment that holds the block will do (it
// failed with ENOMEM with the cap nowhere near reached).
TEST(ArenaMaxBytes, AMediumBlockFitsUnderACapSmallerThanFourOfIt) {
    struct Case {
        size_t region, cap, block;
    };
    for (Case k : {Case{0, (size_t)8 << 20, (size_t)3 << 20}, Case{0, (size_t)16 << 20, (size_t)5 << 20},
                   Case{(size_t)64 << 10, (size_t)1 << 20, 300000}}) {
        arena_config c{};
        c.region_size = k.region;
        c.max_bytes = k.cap;
        arena_t *a = arena_create(&c);
        ASSERT_NE(a, nullptr);
        errno = 0;
        void *p = arena_malloc(a, k.block);
        EXPECT_NE(p, nullptr) << k.block << " B under a cap of " << k.cap;
        EXPECT_EQ(errno, 0) << "a success leaves errno alone";
        if (p) Fill(p, k.block, 3);
        EXPECT_LE(Stats(a).mapped_bytes, k.cap + ((size_t)64 << 10));
        EXPECT_EQ(arena_check(a), 0);
        arena_free(a, p);
        arena_destroy(a);
    }
}

// Under max_bytes, memory the arena holds with no live block in it (the last
// segment of each kind, kept for the next blocks; cached huge mappings) must
// not refuse a request the cap has room for once it is given back: each kind
// of block asked for after the others were used and freed, with nothing live.
TEST(ArenaMaxBytes, IdleMemoryGoesBackWhenTheCapNeedsItsRoom) {
    const size_t kCap = (size_t)24 << 20;
    const size_t kHuge = (size_t)20 << 20, kMedium = (size_t)3 << 20;
    struct Step {
        const char *what;
        std::vector<size_t> before; // used and freed first
        size_t size;
    };
    for (unsigned flags : {0u, (unsigned)ARENA_THREAD_SAFE})
        for (const Step &step : {Step{"a huge block after small and medium ones", {100, 100000}, kHuge},
                                 Step{"a medium block after a huge one", {kHuge}, kMedium},
                                 Step{"small blocks after huge and medium ones", {kHuge, 100000}, 64}}) {
            arena_config c{};
            c.flags = flags;
            c.max_bytes = kCap;
            arena_t *a = arena_create(&c);
            ASSERT_NE(a, nullptr);
            for (size_t n : step.before) {
                void *q = arena_malloc(a, n);
                ASSERT_NE(q, nullptr) << step.what;
                arena_free(a, q);
            }
            // A small request needs a 4 MiB segment: fill one, then some of the next.
            size_t count = step.size == 64 ? ((size_t)5 << 20) / 64 : 1;
            std::vector<void *> blocks;
            errno = 0;
            for (size_t i = 0; i < count; i++) {
                void *p = arena_malloc(a, step.size);
                if (!p) {
                    ADD_FAILURE() << step.what << " (block " << i << "), flags " << flags << ", errno " << errno;
                    break;
                }
                blocks.push_back(p);
            }
            if (blocks.size() == count) {
                EXPECT_EQ(errno, 0) << "a success leaves errno alone";
            }
            EXPECT_EQ(arena_check(a), 0);
            for (void *p : blocks) arena_free(a, p);
            arena_destroy(a);
        }
}

// A request that the OS refuses gives the heap's idle memory back and is tried
// again (malloc.real.limits_idle_*), but not one that no mapping can hold: a
// program that tries a huge size and halves it until served purged everything
// at each try (27 times the time, in review).
TEST(ArenaMaxBytes, ARequestNoMappingCanHoldLeavesTheIdleMemoryAlone) {
    arena_t *a = arena_create(nullptr);
    ASSERT_NE(a, nullptr);
    std::vector<void *> blocks;
    for (size_t n = 1000; n <= 200000; n += 3000) blocks.push_back(memset(arena_malloc(a, n), 1, n));
    for (void *p : blocks) arena_free(a, p);
    arena_stats before{}, after{};
    ASSERT_EQ(arena_stats_get(a, &before), 0);
    ASSERT_GT(before.free_bytes, (size_t)4 << 20) << "idle memory to hand back";
    const size_t impossible = (size_t)1 << 46; // 64 TiB: above any machine's memory and swap
    errno = 0;
    void *p = arena_malloc(a, impossible);
    if (p) {
        arena_free(a, p);
        arena_destroy(a);
        GTEST_SKIP() << "the OS mapped 64 TiB (overcommit always on)";
    }
    EXPECT_EQ(errno, ENOMEM);
    ASSERT_EQ(arena_stats_get(a, &after), 0);
    EXPECT_EQ(after.mapped_bytes, before.mapped_bytes);
    EXPECT_EQ(after.purged_bytes, before.purged_bytes);
    EXPECT_EQ(after.free_bytes, before.free_bytes);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// A freed huge mapping kept in the cache (the live bytes make the purge budget
// larger than it) gives way when the cap has no room for a medium or small
// block: in a thread-safe arena it is cached in the arena's heap, not in the
// thread's, and until 2026-12-06 only the thread's heap gave back what it held
// idle (66 blocks of 1 MiB here, against 80 in a single-thread arena).
TEST(ArenaMaxBytes, ACachedHugeMappingMakesRoom) {
    const size_t kMiB = (size_t)1 << 20;
    std::vector<size_t> fitted;
    for (unsigned flags : {0u, (unsigned)ARENA_THREAD_SAFE})
        for (size_t size : {kMiB, (size_t)64}) {
            arena_config c{};
            c.flags = flags;
            c.max_bytes = 256 * kMiB;
            arena_t *a = arena_create(&c);
            ASSERT_NE(a, nullptr);
            void *big = arena_malloc(a, 160 * kMiB);
            void *cached = arena_malloc(a, 17 * kMiB);
            ASSERT_NE(big, nullptr);
            ASSERT_NE(cached, nullptr);
            arena_free(a, cached);
            std::vector<void *> blocks;
            const size_t most = 200 * kMiB / size;
            for (void *p; blocks.size() < most && (p = arena_malloc(a, size)) != nullptr;) blocks.push_back(p);
            fitted.push_back(blocks.size() * size);
            EXPECT_EQ(arena_check(a), 0);
            for (void *p : blocks) arena_free(a, p);
            arena_free(a, big);
            arena_destroy(a);
        }
    ASSERT_EQ(fitted.size(), 4u);
    EXPECT_GE(fitted[0], 78 * kMiB) << "1 MiB blocks, single-thread arena";
    EXPECT_GE(fitted[2], fitted[0]) << "1 MiB blocks, thread-safe arena";
    EXPECT_GE(fitted[1], 78 * kMiB) << "64-byte blocks, single-thread arena";
    EXPECT_GE(fitted[3], fitted[1]) << "64-byte blocks, thread-safe arena";
}

// A huge request the cap refuses until the cached mappings go back succeeds,
// and leaves errno as it was: before, the first refusal's ENOMEM stayed.
TEST(ArenaMaxBytes, AHugeBlockThatFitsOnceTheCacheGoesLeavesErrnoAlone) {
    const size_t kMiB = (size_t)1 << 20;
    for (unsigned flags : {0u, (unsigned)ARENA_THREAD_SAFE}) {
        arena_config c{};
        c.flags = flags;
        c.max_bytes = 200 * kMiB;
        arena_t *a = arena_create(&c);
        ASSERT_NE(a, nullptr);
        void *big = arena_malloc(a, 150 * kMiB);  // live: the purge budget keeps a 17 MiB mapping cached
        void *cached = arena_malloc(a, 17 * kMiB);
        ASSERT_NE(big, nullptr);
        ASSERT_NE(cached, nullptr);
        arena_free(a, cached);
        errno = 0;
        void *p = arena_malloc(a, 40 * kMiB);  // 150 + 17 + 40 MiB passes the cap; 150 + 40 does not
        EXPECT_NE(p, nullptr) << "flags " << flags;
        EXPECT_EQ(errno, 0) << "flags " << flags << ": a success leaves errno alone";
        EXPECT_EQ(arena_check(a), 0);
        arena_free(a, p);
        arena_free(a, big);
        arena_destroy(a);
    }
}

// In a thread-safe arena huge blocks belong to the shared heap and are counted
// by the heap that made them: a realloc that moves one counts one realloc, no
// further allocation or free (it counted an extra pair).
TEST(DefaultPolicy, AHugeBlockMovedByReallocCountsOnce) {
    for (unsigned flags : {0u, (unsigned)ARENA_THREAD_SAFE}) {
        arena_config c{};
        c.flags = flags;
        arena_t *a = arena_create(&c);
        void *p = arena_malloc(a, (size_t)20 << 20);
        ASSERT_NE(p, nullptr);
        void *q = arena_realloc(a, p, (size_t)1 << 20);
        ASSERT_NE(q, nullptr);
        arena_stats s = Stats(a);
        EXPECT_EQ(s.allocs, 1u) << "flags " << flags;
        EXPECT_EQ(s.frees, 0u) << "flags " << flags;
        EXPECT_EQ(s.reallocs, 1u);
        EXPECT_EQ(s.live_bytes, (size_t)1 << 20);
        arena_free(a, q);
        s = Stats(a);
        EXPECT_EQ(s.allocs, 1u);
        EXPECT_EQ(s.frees, 1u);
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

// A huge block's mapping grows and shrinks with mremap: the heap's count of its
// segments' bytes (what the huge-pages threshold is compared with) follows, as
// arena_check verifies (left unchanged by a resize, it failed here).
TEST(DefaultPolicy, HugeMappingsResizedKeepTheHeapsByteCount) {
    arena_t *a = arena_create(nullptr);
    ASSERT_NE(a, nullptr);
    void *p = arena_malloc(a, (size_t)20 << 20);
    ASSERT_NE(p, nullptr);
    p = arena_realloc(a, p, (size_t)48 << 20);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(arena_check(a), 0) << "grown";
    p = arena_realloc(a, p, (size_t)40 << 20);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(arena_check(a), 0) << "shrunk";
    arena_free(a, p);
    EXPECT_EQ(arena_check(a), 0) << "cached";
    void *q = arena_malloc(a, (size_t)17 << 20);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(arena_check(a), 0) << "taken from the cache";
    arena_free(a, q);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// The seed policy as it was: one 64 KiB heap when max_bytes = region_size.
TEST(SeedPolicy, FixedHeapHoldsAtMost64KiBThenReturnsNull) {
    arena_config c{};
    c.policy = ARENA_POLICY_SEED;
    c.region_size = 65536;
    c.max_bytes = 65536;
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    std::vector<void *> v;
    size_t total = 0;
    for (;;) {
        errno = 0;
        void *p = arena_malloc(a, 1000);
        if (!p) break;
        v.push_back(p);
        total += arena_usable_size(a, p);
        ASSERT_LE(total, 65536u);
    }
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_GT(total, 50000u) << "headers cost too much of the 64 KiB";
    EXPECT_EQ(Stats(a).regions, 1u);
    EXPECT_EQ(arena_check(a), 0);
    // Freed blocks are reused, first fit: the freed block comes back for a request it fits.
    void *third = v[3];
    arena_free(a, third);
    void *p = arena_malloc(a, 600);
    EXPECT_EQ(p, third);
    EXPECT_EQ(arena_usable_size(a, p), 1008u) << "no splitting: the whole block is reused";
    EXPECT_EQ(arena_malloc(a, 2000), nullptr) << "no coalescing, no room";
    arena_destroy(a);
}

TEST(SeedPolicy, FirstFitTakesTheFirstFreedBlockThatFits) {
    arena_config c{};
    c.policy = ARENA_POLICY_SEED;
    arena_t *a = arena_create(&c);
    void *small = arena_malloc(a, 64);
    void *big = arena_malloc(a, 512);
    void *mid = arena_malloc(a, 256);
    arena_malloc(a, 16);  // keeps the carving point away
    arena_free(a, small);
    arena_free(a, big);
    arena_free(a, mid);  // the freed list, most recent first: mid(256), big(512), small(64)
    EXPECT_EQ(arena_malloc(a, 300), big);   // mid is too small
    EXPECT_EQ(arena_malloc(a, 200), mid);   // first that fits, not the best
    EXPECT_EQ(arena_malloc(a, 32), small);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

TEST(SeedPolicy, SizesRoundUpToBlockSize) {
    for (size_t bs : {8, 16, 64, 4096}) {
        arena_config c{};
        c.policy = ARENA_POLICY_SEED;
        c.block_size = bs;
        arena_t *a = arena_create(&c);
        for (size_t n : {0, 1, 8, 9, 100, 5000}) {
            void *p = arena_malloc(a, n);
            size_t expect = n ? (n + bs - 1) / bs * bs : bs;
            EXPECT_EQ(arena_usable_size(a, p), expect) << "bs " << bs << " n " << n;
        }
        arena_destroy(a);
    }
}

// Free bytes are memory seed can still hand out: the end of the current
// region. The ends of regions it left behind, and of a region a large block
// had to itself, are never carved again, so a request of the largest free
// block's size must come without a new region, whatever came before.
TEST(SeedPolicy, TheLargestFreeBlockIsServedWithoutANewRegion) {
    for (size_t bs : {8, 16, 4096}) {
        arena_config c{};
        c.policy = ARENA_POLICY_SEED;
        c.block_size = bs;
        arena_t *a = arena_create(&c);
        ASSERT_NE(a, nullptr);
        for (size_t n : {100, 1 << 20, 40000, 40000, 100, 3 << 20}) {
            ASSERT_NE(arena_malloc(a, n), nullptr);
            arena_stats before = Stats(a);
            ASSERT_LE(before.largest_free_block, before.free_bytes);
            if (before.largest_free_block == 0) continue;
            ASSERT_NE(arena_malloc(a, before.largest_free_block), nullptr);
            arena_stats after = Stats(a);
            EXPECT_EQ(after.regions, before.regions) << "bs " << bs << ", after " << n << " bytes: "
                                                     << before.largest_free_block << " free bytes were not free";
            EXPECT_EQ(after.largest_free_block, 0u) << "bs " << bs;
        }
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

TEST(DefaultPolicy, FreedMemoryGoesBackToTheOs) {
    arena_t *a = arena_create(nullptr);
    size_t before = ResidentBytes();
    std::vector<void *> v;
    v.reserve(200000);
    for (int i = 0; i < 200000; i++) {
        size_t n = 16 + (size_t)(i % 40) * 16 + (i % 50 == 0 ? 20000 : 0);
        void *p = arena_malloc(a, n);
        memset(p, 1, n);
        v.push_back(p);
    }
    size_t full = ResidentBytes() - before;
    EXPECT_GT(full, (size_t)100 << 20);
    for (void *p : v) arena_free(a, p);
    size_t empty = ResidentBytes() - before;
    EXPECT_EQ(arena_check(a), 0);
    // What stays resident: the purge budget's floor (8 MiB of free memory kept
    // for reuse), an empty page per class and segment headers, whatever the
    // heap held before.
    EXPECT_LT(empty, (size_t)12 << 20) << "resident after freeing everything, of " << full << " at the peak";
    arena_stats s = Stats(a);
    EXPECT_GT(s.purged_bytes, (size_t)1 << 20);
    EXPECT_LT(s.mapped_bytes, full / 2) << "empty segments are unmapped";
    arena_destroy(a);
}

// A block freed into the medium cache, or a huge mapping kept in the huge
// cache, is free memory a request of its size gets back: largest_free_block
// counts it, as free_bytes does. It was read from the free lists alone (416
// bytes, with a 1.9 MB block cached that the next request took).
TEST(DefaultPolicy, TheLargestFreeBlockCountsTheCaches) {
    for (size_t size : {(size_t)1900000, (size_t)40 << 20}) {
        arena_t *a = arena_create(nullptr);
        ASSERT_NE(a, nullptr);
        std::vector<void *> keep;  // enough live that the huge mapping stays cached
        for (int i = 0; i < 700; i++) keep.push_back(memset(arena_malloc(a, 60000), 1, 60000));
        void *p = arena_malloc(a, size);
        ASSERT_NE(p, nullptr);
        arena_free(a, p);
        void *again = arena_malloc(a, size);  // the cache learns that this size comes back
        ASSERT_NE(again, nullptr);
        arena_free(a, again);
        arena_stats freed = Stats(a);
        EXPECT_GE(freed.largest_free_block, size) << "of " << freed.free_bytes << " free bytes";
        void *back = arena_malloc(a, size);
        EXPECT_EQ(back, again) << size << ": the cached block serves it";
        EXPECT_EQ(Stats(a).mapped_bytes, freed.mapped_bytes);
        arena_free(a, back);
        for (void *q : keep) arena_free(a, q);
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

// A freed huge block's mapping is cached for reuse only within the purge
// budget, as free pages and free medium blocks are: with little else live it
// goes back at once. It once stayed mapped and resident until something else
// ran a purge pass (up to 16 such mappings, of any size). Both ways a huge
// free takes: the heap's own cache, and a thread-safe arena's shared one.
TEST(DefaultPolicy, AFreedHugeBlockGoesBackWhenLittleIsLive) {
    for (unsigned flags : {0u, (unsigned)ARENA_THREAD_SAFE}) {
        arena_config c{};
        c.flags = flags;
        arena_t *a = arena_create(&c);
        ASSERT_NE(a, nullptr);
        void *small = arena_malloc(a, 100);
        const size_t huge = (size_t)64 << 20;
        size_t before = Stats(a).mapped_bytes;
        void *p = arena_malloc(a, huge);
        ASSERT_NE(p, nullptr);
        memset(p, 1, huge);
        EXPECT_GE(Stats(a).mapped_bytes, before + huge);
        arena_free(a, p);
        EXPECT_EQ(arena_check(a), 0);
        EXPECT_LE(Stats(a).mapped_bytes, before) << "flags " << flags << ": the freed mapping stayed";
        // Aligned so that the block starts at a page boundary: with no bytes
        // asked for, it must still lie inside its own mapping.
        void *z = arena_memalign(a, (size_t)32 << 20, 0);
        ASSERT_NE(z, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(z) % ((size_t)32 << 20), 0u);
        EXPECT_EQ(arena_check(a), 0);
        arena_free(a, z);
        arena_free(a, small);
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

// A heap that frees all it holds is back at its purge budget at once. The
// last free's purge pass ran before that free was counted: it saw the heap
// still holding the block, not torn down, kept what lay between it and its
// peak, and no later free ran another pass, so 4 huge blocks of 20 MiB (or 4
// medium ones of 8 MiB) stayed resident through seconds of small pairs.
// A realloc that moves a block to a small one frees it the same way (the
// review of the fix: 65 MB stayed after 4 such reallocs of 20 MiB blocks), and
// one that shrinks a medium block where it lies frees its tail (an audit: 50
// buffers of 4 MB shrunk to 3000 bytes kept 200 MB resident for good).
TEST(DefaultPolicy, AHeapThatFreesEverythingKeepsOnlyItsBudget) {
    for (unsigned flags : {0u, (unsigned)ARENA_CHECKED, (unsigned)ARENA_SECURE, (unsigned)ARENA_THREAD_SAFE}) {
        for (size_t size : {(size_t)20 << 20, (size_t)8 << 20}) {
            for (size_t to : {(size_t)0, (size_t)100, (size_t)3000}) { // 0: freed, else reallocated to it
                arena_config c{};
                c.flags = flags;
                arena_t *a = arena_create(&c);
                ASSERT_NE(a, nullptr);
                void *blocks[4];
                for (void *&p : blocks) {
                    p = arena_malloc(a, size);
                    ASSERT_NE(p, nullptr);
                    memset(p, 1, size);
                }
                bool in_place = true;
                for (void *&p : blocks) {
                    if (to) {
                        void *q = arena_realloc(a, p, to);
                        ASSERT_NE(q, nullptr);
                        in_place = in_place && q == p;
                        p = q;
                    } else {
                        arena_free(a, p);
                    }
                }
                // The default heap shrinks a medium block where it lies (the case the audit found).
                if (to == 3000 && size == ((size_t)8 << 20) && !(flags & ARENA_CHECKED)) {
                    EXPECT_TRUE(in_place) << flags;
                }
                for (int i = 0; i < 1000; i++) arena_free(a, arena_malloc(a, 100));
                arena_stats s = Stats(a);
                EXPECT_EQ(s.live_bytes, 4 * to);
                // The budget's floor (2 MiB) and the heap's own headers.
                EXPECT_LT(s.mapped_bytes - s.purged_bytes, (size_t)3 << 20)
                    << "flags " << flags << ", blocks of " << size << (to ? ", reallocated to " : ", freed") << to
                    << ": mapped " << s.mapped_bytes << ", purged " << s.purged_bytes;
                EXPECT_EQ(arena_check(a), 0);
                if (to)
                    for (void *p : blocks) arena_free(a, p);
                arena_destroy(a);
            }
        }
    }
}

// OS pages of [p, p + n) resident now (test_util.h's mincore count).
size_t ResidentPagesOf(const void *p, size_t n) {
    std::set<uintptr_t> pages;
    AddOSPages(p, n, &pages);
    return ResidentOSPages(pages);
}

// A large calloc of memory never written reads as zero without clearing it:
// the program's pages fault in as it writes them, as with a fresh mapping.
// (Small pages only: the segment for four such blocks passes the huge-pages
// threshold by itself, and with huge pages the header's write faults in the
// 2 MiB around it.)
TEST(DefaultPolicy, CallocOfFreshMemoryLeavesItsPagesUnfaulted) {
    arena_config c{};
    c.huge_pages_from = ARENA_HUGE_PAGES_NEVER;
    arena_t *a = arena_create(&c);
    const size_t n = (size_t)8 << 20;
    auto *p = static_cast<uint8_t *>(arena_calloc(a, 1, n));
    ASSERT_NE(p, nullptr);
    // Its header's page and the page where the free rest of the segment starts.
    EXPECT_LE(ResidentPagesOf(p, n), 4u) << "of " << n / 4096;
    for (size_t i = 0; i < n; i += 4096 - 8) ASSERT_EQ(p[i], 0) << "offset " << i;
    ASSERT_EQ(p[n - 1], 0);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// Memory that was written and freed, then coalesced into a larger free block
// (not kept whole in the medium cache), is cleared by calloc where it was
// written, not skipped as fresh.
TEST(DefaultPolicy, CallocClearsWrittenMemoryOfACoalescedBlock) {
    arena_t *a = arena_create(nullptr);
    std::vector<void *> v;
    for (int i = 0; i < 16; i++) v.push_back(memset(arena_malloc(a, 30000), 0xA5, 30000));
    for (void *p : v) arena_free(a, p);  // the cache keeps 64 KiB at most: the rest coalesces
    const size_t n = 300000;
    auto *z = static_cast<uint8_t *>(arena_calloc(a, 1, n));
    ASSERT_NE(z, nullptr);
    EXPECT_GT(ResidentPagesOf(z, n), n / 4096 / 2) << "the block should lie on the memory written";
    for (size_t i = 0; i < n; i++) ASSERT_EQ(z[i], 0) << "offset " << i;
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// An arena holding one small block makes resident its own struct (12 KiB),
// the page and the header memory that page's descriptor and live map lie in:
// about 25 KiB. Setting up all 256 page descriptors of its segment at once
// made it 37 KiB.
TEST(DefaultPolicy, AnArenaWithOneSmallBlockKeepsLittleResident) {
    const int count = 64;
    std::vector<arena_t *> arenas;
    size_t before = resident_anonymous_bytes();
    ASSERT_GT(before, 0u);
    for (int i = 0; i < count; i++) {
        arenas.push_back(arena_create(nullptr));
        ASSERT_NE(arenas.back(), nullptr);
        ASSERT_NE(arena_malloc(arenas.back(), 32), nullptr);
    }
    size_t per_arena = (resident_anonymous_bytes() - before) / count;
    for (arena_t *a : arenas) {
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
    EXPECT_LE(per_arena, (size_t)32 << 10);
}

// A freed medium block waits whole for the next request of its size; a request
// it cannot hold never gets it, and arena_check accounts for it while it waits.
TEST(DefaultPolicy, FreedMediumBlocksServeTheNextRequestOfTheirSize) {
    for (size_t size : {20000, 2000}) {  // a 20 KiB block, and one of the smallest medium ones
        arena_t *a = arena_create(nullptr);
        // Touched memory to allocate from: growing into fresh memory empties the cache.
        void *warm = arena_malloc(a, 200000);
        memset(warm, 1, 200000);
        arena_free(a, warm);
        void *keep = arena_malloc(a, size);
        void *p = arena_malloc(a, size);
        arena_free(a, p);
        EXPECT_EQ(arena_check(a), 0);
        EXPECT_EQ(Stats(a).live_blocks, 1u);
        void *other = arena_malloc(a, size - size / 10);  // another size: the lists, not the waiting block
        EXPECT_NE(other, p) << size << ": p coalesced with the free space behind it instead of waiting";
        EXPECT_EQ(arena_malloc(a, size), p) << size << ": the same size again: the block just freed";
        arena_free(a, other);
        arena_free(a, p);
        size_t more = size + size / 50;  // the same TLSF list, but more than p holds
        void *larger = arena_malloc(a, more);
        EXPECT_GE(arena_usable_size(a, larger), more);
        memset(larger, 7, more);
        EXPECT_EQ(arena_check(a), 0);
        for (void *q : {keep, larger}) arena_free(a, q);
        EXPECT_EQ(arena_check(a), 0);
        arena_stats s = Stats(a);
        EXPECT_EQ(s.live_bytes, 0u);
        EXPECT_EQ(s.usable_bytes, 0u) << "waiting blocks are not live";
        arena_destroy(a);
    }
}

// A free medium block too large for the cache still serves the next request of
// its size, before the larger free space behind the live blocks does: taking
// that instead touches fresh memory while the freed block stays resident.
TEST(DefaultPolicy, AFreedMediumBlockIsReusedBeforeLargerFreeSpace) {
    arena_t *a = arena_create(nullptr);
    const size_t size = 200000;  // beyond what the cache holds
    std::vector<void *> blocks;
    for (int i = 0; i < 8; i++) blocks.push_back(memset(arena_malloc(a, size), i, size));
    // Between live blocks, so neither coalesces. The cache, empty, takes one
    // of them whatever its size; the other goes to the free lists.
    arena_free(a, blocks[1]);
    arena_free(a, blocks[3]);
    void *first = arena_malloc(a, size), *second = arena_malloc(a, size);
    EXPECT_TRUE((first == blocks[1] && second == blocks[3]) || (first == blocks[3] && second == blocks[1]))
        << "a request of the same size was carved from fresh memory";
    blocks[1] = first;
    blocks[3] = second;
    EXPECT_EQ(arena_check(a), 0);
    for (void *p : blocks) arena_free(a, p);
    arena_destroy(a);
}

// Blocks freed into a page that was full serve the class before its current
// page carves memory it never touched: otherwise both stay resident.
TEST(DefaultPolicy, BlocksFreedIntoAFullPageAreReusedBeforeFreshMemory) {
    arena_t *a = arena_create(nullptr);
    const size_t size = 64;
    std::vector<void *> blocks;
    // Fill the class's first page, and half of a second one.
    uintptr_t first_page = 0;
    size_t in_first = 0, in_second = 0;
    while (in_second == 0 || in_second < in_first / 2) {
        void *p = arena_malloc(a, size);
        ASSERT_NE(p, nullptr);
        memset(p, 1, size);
        uintptr_t page = reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)16383;
        if (!first_page) first_page = page;
        (page == first_page ? in_first : in_second)++;
        blocks.push_back(p);
        ASSERT_LT(blocks.size(), 1000u);
    }
    ASSERT_GT(in_first, 128u);
    // Half of the first page's blocks come back: 8 KiB, two OS pages' worth.
    std::set<void *> freed;
    for (size_t i = 0; i < in_first; i += 2) {
        arena_free(a, blocks[i]);
        freed.insert(blocks[i]);
        blocks[i] = nullptr;
    }
    // The second page hands out what it carved, then the freed blocks.
    size_t reused = 0, asked = freed.size() + 64;
    for (size_t i = 0; i < asked; i++) {
        void *p = arena_malloc(a, size);
        ASSERT_NE(p, nullptr);
        reused += freed.count(p);
        blocks.push_back(p);
    }
    EXPECT_GE(reused, freed.size()) << "fresh memory was carved while freed blocks waited";
    EXPECT_EQ(arena_check(a), 0);
    for (void *p : blocks) arena_free(a, p);
    arena_destroy(a);
}

// So do a few blocks, far less than a carve hands out (random frees leave most
// pages so): the page that would carve goes behind them, and carves once they
// are used up.
TEST(DefaultPolicy, AFewBlocksFreedIntoAFullPageAreReusedBeforeFreshMemory) {
    for (size_t size : {64, 512}) {
        SCOPED_TRACE(size);
        arena_t *a = arena_create(nullptr);
        // Past the power-of-two classes of a young heap (the class's page would change).
        void *ballast = arena_malloc(a, 32768);
        ASSERT_NE(ballast, nullptr);
        // The class's first page full, and a second one carved to the end of an OS page.
        std::vector<void *> blocks;
        uintptr_t first_page = 0;
        size_t per_page = 0;  // blocks of the first page
        for (;;) {
            void *p = arena_malloc(a, size);
            ASSERT_NE(p, nullptr);
            memset(p, 1, size);
            blocks.push_back(p);
            const uintptr_t at = reinterpret_cast<uintptr_t>(p);
            if (!first_page) first_page = at & ~(uintptr_t)16383;
            if ((at & ~(uintptr_t)16383) == first_page) per_page++;
            else if ((at + size) % 4096 == 0) break;
            ASSERT_LT(blocks.size(), 1000u);
        }
        ASSERT_GT(per_page, 2u);
        // Three blocks of the first page come back: under an OS page's worth.
        std::set<void *> freed;
        for (size_t i : {size_t{1}, per_page / 2, per_page - 2}) {
            arena_free(a, blocks[i]);
            freed.insert(blocks[i]);
            blocks[i] = nullptr;
        }
        // The second page has carved all it touched: the freed blocks come
        // next, then its fresh memory.
        std::vector<void *> next;
        for (size_t i = 0; i < freed.size() + 1; i++) {
            next.push_back(arena_malloc(a, size));
            ASSERT_NE(next.back(), nullptr);
        }
        for (size_t i = 0; i < freed.size(); i++)
            EXPECT_EQ(freed.count(next[i]), 1u) << "allocation " << i << " was carved from fresh memory";
        EXPECT_EQ(freed.count(next.back()), 0u);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(next.back()),
                  reinterpret_cast<uintptr_t>(blocks.back()) + size) << "the second page carves on";
        EXPECT_EQ(arena_check(a), 0);
        for (void *p : blocks) arena_free(a, p);
        for (void *p : next) arena_free(a, p);
        arena_free(a, ballast);
        arena_destroy(a);
    }
}

// A page that held many blocks and now holds few gives the OS pages on which
// none is live back to the OS when the heap grows; its free blocks there come
// back (zero-filled memory, faulted in again) once it has nothing else.
TEST(DefaultPolicy, SparsePagesGiveBackTheirEmptyOSPagesWhenTheHeapGrows) {
    arena_t *a = arena_create(nullptr);
    const size_t size = 200, count = 4096, kept_every = 64;
    std::vector<char *> blocks;
    for (size_t i = 0; i < count; i++) {
        blocks.push_back(static_cast<char *>(arena_malloc(a, size)));
        ASSERT_NE(blocks.back(), nullptr);
        memset(blocks.back(), (int)(i & 0xff), size);
    }
    // Every OS page on which a block lay, and those on which one stays live.
    std::set<uintptr_t> os_pages, kept_on;
    for (size_t i = 0; i < count; i++) {
        AddOSPages(blocks[i], size, &os_pages);
        if (i % kept_every == 0) AddOSPages(blocks[i], size, &kept_on);
    }
    for (size_t i = 0; i < count; i++)
        if (i % kept_every) arena_free(a, blocks[i]);
    auto resident = [&](bool on_kept) { return on_kept ? ResidentOSPages(kept_on) : ResidentOSPages(os_pages, &kept_on); };
    size_t empty_before = resident(false);
    ASSERT_GT(empty_before, 50u);
    // The heap grows: 4 MiB of medium blocks, written.
    std::vector<void *> medium;
    for (int i = 0; i < 128; i++) medium.push_back(memset(arena_malloc(a, 32768), 1, 32768));
    EXPECT_LT(resident(false) * 4, empty_before) << "OS pages with no live block stayed resident";
    EXPECT_EQ(resident(true), kept_on.size());
    for (size_t i = 0; i < count; i += kept_every)
        for (size_t k = 0; k < size; k++) ASSERT_EQ((unsigned char)blocks[i][k], i & 0xff) << i;
    ASSERT_EQ(arena_check(a), 0);
    // The class fills again: its parked blocks serve before new pages.
    arena_stats before = Stats(a);
    for (size_t i = 0; i < count; i++) {
        if (i % kept_every == 0) continue;
        blocks[i] = static_cast<char *>(arena_malloc(a, size));
        ASSERT_NE(blocks[i], nullptr);
        memset(blocks[i], (int)(i & 0xff), size);
    }
    EXPECT_EQ(Stats(a).mapped_bytes, before.mapped_bytes);
    ASSERT_EQ(arena_check(a), 0);
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < size; k += 50) ASSERT_EQ((unsigned char)blocks[i][k], i & 0xff) << i;
    for (char *p : blocks) arena_free(a, p);
    for (void *p : medium) arena_free(a, p);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// Random rounds of: fill classes, free most blocks at random (sparse pages),
// grow the heap with other sizes (their OS pages go back, free blocks parked),
// fill again (parked blocks listed again). Every live block keeps its
// contents and the heap its invariants throughout.
TEST(DefaultPolicy, ParkedBlocksComeBackIntactThroughRandomRounds) {
    arena_t *a = arena_create(nullptr);
    std::mt19937 rng(7);
    struct Block {
        char *p;
        size_t n;
        uint32_t tag;
    };
    std::vector<Block> live;
    uint32_t tag = 0;
    auto allocate = [&](size_t n) {
        char *p = static_cast<char *>(arena_malloc(a, n));
        ASSERT_NE(p, nullptr);
        Fill(p, n, ++tag);
        live.push_back({p, n, tag});
    };
    for (int round = 0; round < 12; round++) {
        for (int i = 0; i < 3000; i++) allocate(1 + rng() % 1024);
        for (size_t i = 0; i < live.size();) {
            if (rng() % 8) {
                ASSERT_EQ(FirstMismatch(live[i].p, live[i].n, live[i].tag), live[i].n);
                arena_free(a, live[i].p);
                live[i] = live.back();
                live.pop_back();
            } else {
                i++;
            }
        }
        for (int i = 0; i < 40; i++) allocate(8192 + rng() % 16384);  // fresh memory: a shrink pass
        for (const Block &b : live) ASSERT_EQ(FirstMismatch(b.p, b.n, b.tag), b.n) << "round " << round;
        ASSERT_EQ(arena_check(a), 0) << "round " << round;
    }
    arena_stats st = Stats(a);
    EXPECT_EQ(st.live_blocks, live.size());
    for (const Block &b : live) arena_free(a, b.p);
    EXPECT_EQ(arena_check(a), 0);
    EXPECT_EQ(Stats(a).live_bytes, 0u);
    arena_destroy(a);
}

// A block above 1 KiB is a medium block: its size rounded to 16 plus a
// 16-byte header, packed end to end. In 16 KiB pages of a size class, 15
// blocks of sqlite3's 1032 bytes would fit, 1092 bytes each.
TEST(DefaultPolicy, BlocksAboveOneKiBTakeTheirSizeAndAHeaderWithoutPageTails) {
    arena_t *a = arena_create(nullptr);
    std::vector<char *> blocks;
    for (int i = 0; i < 900; i++) {
        char *p = static_cast<char *>(arena_malloc(a, 1032));
        ASSERT_NE(p, nullptr);
        memset(p, i & 0xff, 1032);
        blocks.push_back(p);
    }
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (char *p : blocks) {
        lo = std::min(lo, (uintptr_t)p);
        hi = std::max(hi, (uintptr_t)p + 1032);
    }
    EXPECT_LT(hi - lo, 900u * 1064u) << "the blocks do not lie end to end";
    EXPECT_EQ(arena_check(a), 0);
    for (char *p : blocks) arena_free(a, p);
    EXPECT_EQ(Stats(a).live_bytes, 0u);
    arena_destroy(a);
}

// A class keeps its emptied last page; another class takes that page before
// faulting in a new one.
TEST(DefaultPolicy, AnIdlePageOfOneClassServesAnotherBeforeAFreshPage) {
    arena_t *a = arena_create(nullptr);
    void *first = arena_malloc(a, 1000);
    memset(first, 1, 1000);
    arena_free(a, first);
    void *other = arena_malloc(a, 48);
    EXPECT_EQ((uintptr_t)other >> 14, (uintptr_t)first >> 14) << "the 16 KiB page of the 1000-byte class";
    memset(other, 2, 48);
    EXPECT_EQ(arena_check(a), 0);
    void *again = arena_malloc(a, 1000);  // its class sets up another page
    EXPECT_NE((uintptr_t)again >> 14, (uintptr_t)first >> 14);
    EXPECT_EQ(arena_check(a), 0);
    arena_free(a, other);
    arena_free(a, again);
    arena_destroy(a);
}

// Once the heap holds a few pages' worth (64 KiB here), every class serves.
TEST(DefaultPolicy, SmallSizesWasteAtMostAnEighth) {
    arena_t *a = arena_create(nullptr);
    std::vector<void *> held;
    for (int i = 0; i < 128; i++) held.push_back(arena_malloc(a, 512));
    for (size_t n = 1; n <= 8192; n++) {
        void *p = arena_malloc(a, n);
        ASSERT_NE(p, nullptr) << n;  // usable_size(NULL) is 0, within any bound
        size_t u = arena_usable_size(a, p);
        EXPECT_GE(u, n) << n;
        EXPECT_LE(u, n <= 256 ? n + 15 : n + n / 8 + 15) << n;
        arena_free(a, p);
    }
    for (void *p : held) arena_free(a, p);
    arena_destroy(a);
}

// A heap that holds little uses the power-of-two classes only: fewer classes
// in use, so fewer pages, and none set up again and again for a class whose
// only page another class took. Medium sizes keep their own rounding.
TEST(DefaultPolicy, AHeapHoldingLittleRoundsSmallSizesToPowersOfTwo) {
    arena_t *a = arena_create(nullptr);
    for (size_t n = 1; n <= 2048; n++) {
        void *p = arena_malloc(a, n);
        ASSERT_NE(p, nullptr) << n;
        size_t pow2 = 16;
        while (pow2 < n) pow2 *= 2;
        if (n <= 1024) EXPECT_EQ(arena_usable_size(a, p), pow2) << n;
        else EXPECT_LE(arena_usable_size(a, p), n + 15) << n;
        arena_free(a, p);
    }
    ASSERT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// The same after arena_reset: the heap holds nothing again.
TEST(DefaultPolicy, ResetGoesBackToPowerOfTwoClasses) {
    arena_t *a = arena_create(nullptr);
    for (int i = 0; i < 128; i++) ASSERT_NE(arena_malloc(a, 512), nullptr);
    void *fine = arena_malloc(a, 48);
    EXPECT_EQ(arena_usable_size(a, fine), 48u);
    arena_reset(a);
    void *coarse = arena_malloc(a, 48);
    EXPECT_EQ(arena_usable_size(a, coarse), 64u);
    ASSERT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

}  // namespace
