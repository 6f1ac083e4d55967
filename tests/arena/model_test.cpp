// Model-based randomized test: random malloc, calloc, realloc (realloc(NULL, n)
// and realloc(p, 0) among them), memalign, usable_size, free and, now and
// then, arena_reset, of sizes from 0 to several MiB against a model of what
// must be live. Every block carries a pattern, verified whole before it is
// freed or moved, and its first and last bytes are verified after every step
// (so a write over a neighbour is caught at the step that made it); after every
// step arena_check must hold and arena_stats must agree with the model. With a
// max_bytes cap, a request may fail: it must return NULL with ENOMEM and
// change nothing. One ctest per (policy, block size, seed, flags, cap).
#include <gtest/gtest.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

#include "test_util.h"

namespace {

struct Live {
    uint8_t *p;
    size_t size;
    uint32_t tag;
};

// policy, block size, seed, flags, max_bytes (0: no cap)
using ModelParam = std::tuple<arena_policy, size_t, uint32_t, unsigned, size_t>;

class ModelTest : public ::testing::TestWithParam<ModelParam> {};

// The pattern's bytes at both ends of a block (16 each at most) are intact.
bool EdgesIntact(const Live &b) {
    const size_t edge = b.size < 16 ? b.size : 16;
    if (FirstMismatch(b.p, edge, b.tag) != edge) return false;
    for (size_t i = b.size - edge; i < b.size; i++)
        if (b.p[i] != PatternByte(b.tag, i)) return false;
    return true;
}

size_t RandomSize(std::mt19937_64 &rng) {
    uint64_t r = rng() % 1000;
    if (r < 700) return rng() % 512;                 // small
    if (r < 940) return 512 + rng() % 40000;         // small and medium
    if (r < 990) return 40000 + rng() % 1000000;     // medium
    return 1000000 + rng() % (6u << 20);             // huge
}

TEST_P(ModelTest, RandomOperationsKeepContentsAndInvariants) {
    auto [policy, block_size, seed, flags, max_bytes] = GetParam();
    arena_config c{};
    c.policy = policy;
    c.block_size = block_size;
    c.flags = flags;
    c.max_bytes = max_bytes;
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    const size_t arena_own = Stats(a).mapped_bytes;  // its own few KiB, outside the cap
    std::mt19937_64 rng(seed);
    std::vector<Live> live;
    size_t model_bytes = 0, model_peak = 0;
    uint32_t next_tag = 1;
    const int kSteps = 3000;
    const size_t kMaxLive = 300;

    // A request the cap refused: NULL with ENOMEM. Without a cap, none may fail.
    auto refused = [&](const void *p, const char *what, size_t n) {
        if (p) return false;
        EXPECT_NE(max_bytes, 0u) << what << " of " << n << " failed with no cap";
        EXPECT_EQ(errno, ENOMEM) << what << " of " << n;
        return true;
    };
    size_t refusals = 0;

    for (int step = 0; step < kSteps; step++) {
        SCOPED_TRACE("step " + std::to_string(step));
        uint64_t op = rng() % 100;
        bool grow = live.size() < kMaxLive && (live.empty() || op < 50);
        if (rng() % 600 == 0) {
            arena_reset(a);  // every block at once; the arena goes on
            live.clear();
            model_bytes = 0;
        } else if (grow) {
            size_t n = RandomSize(rng);
            uint8_t *p;
            size_t align = block_size;
            errno = 0;
            if (op < 32) {
                p = static_cast<uint8_t *>(arena_malloc(a, n));
            } else if (op < 35) {
                p = static_cast<uint8_t *>(arena_realloc(a, nullptr, n));  // as arena_malloc
            } else if (op < 42) {
                size_t count = 1 + rng() % 8;
                n = n / count;
                p = static_cast<uint8_t *>(arena_calloc(a, count, n));
                n *= count;
                if (p) {
                    for (size_t i = 0; i < n; i++) ASSERT_EQ(p[i], 0) << "calloc byte " << i;
                }
            } else {
                align = (size_t)1 << (rng() % 17);
                p = static_cast<uint8_t *>(arena_memalign(a, align, n));
                if (align < block_size) align = block_size;
            }
            if (refused(p, "allocation", n)) {
                refusals++;
            } else {
                ASSERT_NE(p, nullptr) << "size " << n;
                ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "size " << n << " align " << align;
                Fill(p, n, next_tag);
                live.push_back({p, n, next_tag++});
                model_bytes += n;
            }
        } else {
            size_t i = rng() % live.size();
            Live &b = live[i];
            ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size) << "block of " << b.size << " damaged";
            if (op < 52) {
                ASSERT_EQ(arena_realloc(a, b.p, 0), nullptr);  // frees b
                model_bytes -= b.size;
                live[i] = live.back();
                live.pop_back();
            } else if (op < 75) {
                size_t n = rng() % 4 == 0 ? b.size + rng() % 64 : RandomSize(rng);
                if (n == 0) n = 1;
                errno = 0;
                auto *q = static_cast<uint8_t *>(arena_realloc(a, b.p, n));
                if (refused(q, "realloc", n)) {  // b stays live and intact
                    refusals++;
                    ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size) << "a refused realloc damaged its block";
                    goto checks;
                }
                ASSERT_EQ(reinterpret_cast<uintptr_t>(q) % block_size, 0u);
                size_t kept = b.size < n ? b.size : n;
                ASSERT_EQ(FirstMismatch(q, kept, b.tag), kept) << "realloc " << b.size << " -> " << n;
                Fill(q, n, b.tag);
                model_bytes += n - b.size;
                b.p = q;
                b.size = n;
            } else if (op < 80) {
                size_t u = arena_usable_size(a, b.p);
                ASSERT_GE(u, b.size);
                Fill(b.p, u, b.tag);  // the whole usable size belongs to the caller
                model_bytes += u - b.size;
                b.size = u;
            } else {
                arena_free(a, b.p);
                model_bytes -= b.size;
                live[i] = live.back();
                live.pop_back();
            }
        }
    checks:
        if (model_bytes > model_peak) model_peak = model_bytes;
        for (const Live &each : live) ASSERT_TRUE(EdgesIntact(each)) << "block of " << each.size << " damaged";
        ASSERT_EQ(arena_check(a), 0);
        arena_stats s = Stats(a);
        ASSERT_EQ(s.live_bytes, model_bytes);
        ASSERT_EQ(s.live_blocks, live.size());
        ASSERT_GE(s.peak_live_bytes, model_peak);
        ASSERT_GE(s.usable_bytes, s.live_bytes);
        ASSERT_GE(s.mapped_bytes, s.usable_bytes);
        if (max_bytes) {
            ASSERT_LE(s.peak_mapped_bytes, max_bytes + arena_own) << "the cap passed";
        }
    }
    // A cap this test sets must have refused some requests, and let most through.
    if (max_bytes) {
        EXPECT_GT(refusals, 0u);
        EXPECT_LT(refusals, static_cast<size_t>(kSteps / 4));
    }
    for (Live &b : live) {
        ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size);
        arena_free(a, b.p);
    }
    ASSERT_EQ(arena_check(a), 0);
    EXPECT_EQ(Stats(a).live_bytes, 0u);
    arena_destroy(a);
}

std::string ModelName(const ::testing::TestParamInfo<ModelParam> &info) {
    unsigned flags = std::get<3>(info.param);
    size_t cap = std::get<4>(info.param);
    return PolicyName(std::get<0>(info.param)) + (flags & ARENA_THREAD_SAFE ? "_threadsafe" : "") +
           (flags & ARENA_CHECKED ? "_checked" : "") + (flags & ARENA_SECURE ? "_secure" : "") + "_bs" +
           std::to_string(std::get<1>(info.param)) + (cap ? "_cap" + std::to_string(cap >> 20) + "m" : "") +
           "_seed" + std::to_string(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED),
                                            ::testing::Values(8, 16, 32, 64, 256, 4096),
                                            ::testing::Range(1u, 7u), ::testing::Values(0u),
                                            ::testing::Values(size_t{0})),
                         ModelName);

// The checked and hardened modes change how the slow paths keep blocks: the
// same model must hold through them.
INSTANTIATE_TEST_SUITE_P(Modes, ModelTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_DEFAULT), ::testing::Values(8, 16, 4096),
                                            ::testing::Range(1u, 4u),
                                            ::testing::Values(ARENA_CHECKED, ARENA_SECURE, ARENA_CHECKED | ARENA_SECURE),
                                            ::testing::Values(size_t{0})),
                         ModelName);

// A thread-safe arena used by one thread goes through its thread heap and the
// lock; the model holds there too, in the plain and checked modes.
INSTANTIATE_TEST_SUITE_P(ThreadSafe, ModelTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_DEFAULT), ::testing::Values(16),
                                            ::testing::Range(1u, 4u),
                                            ::testing::Values(ARENA_THREAD_SAFE, ARENA_THREAD_SAFE | ARENA_CHECKED),
                                            ::testing::Values(size_t{0})),
                         ModelName);
INSTANTIATE_TEST_SUITE_P(ThreadSafeSeed, ModelTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_SEED), ::testing::Values(16),
                                            ::testing::Range(1u, 4u), ::testing::Values(ARENA_THREAD_SAFE),
                                            ::testing::Values(size_t{0})),
                         ModelName);

// Under a max_bytes cap some requests fail: NULL with ENOMEM, nothing changed,
// a refused realloc's block still live and whole, the cap never passed.
INSTANTIATE_TEST_SUITE_P(Capped, ModelTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED),
                                            ::testing::Values(16), ::testing::Range(1u, 4u), ::testing::Values(0u),
                                            ::testing::Values(size_t{16} << 20)),
                         ModelName);

}  // namespace
