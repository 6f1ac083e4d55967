// Model-based randomized test: random malloc, calloc, realloc, memalign,
// usable_size and free of sizes from 0 to several MiB against a model of what
// must be live. Every block carries a pattern that is verified before it is
// freed or moved; after every step arena_check must hold and arena_stats must
// agree with the model. One ctest per (policy, block size, seed).
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

using ModelParam = std::tuple<arena_policy, size_t, uint32_t>;  // policy, block size, seed

class ModelTest : public ::testing::TestWithParam<ModelParam> {};

size_t RandomSize(std::mt19937_64 &rng) {
    uint64_t r = rng() % 1000;
    if (r < 700) return rng() % 512;                 // small
    if (r < 940) return 512 + rng() % 40000;         // small and medium
    if (r < 990) return 40000 + rng() % 1000000;     // medium
    return 1000000 + rng() % (6u << 20);             // huge
}

TEST_P(ModelTest, RandomOperationsKeepContentsAndInvariants) {
    auto [policy, block_size, seed] = GetParam();
    arena_config c{};
    c.policy = policy;
    c.block_size = block_size;
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    std::mt19937_64 rng(seed);
    std::vector<Live> live;
    size_t model_bytes = 0, model_peak = 0;
    uint32_t next_tag = 1;
    const int kSteps = 3000;
    const size_t kMaxLive = 300;

    for (int step = 0; step < kSteps; step++) {
        SCOPED_TRACE("step " + std::to_string(step));
        uint64_t op = rng() % 100;
        bool grow = live.size() < kMaxLive && (live.empty() || op < 50);
        if (grow) {
            size_t n = RandomSize(rng);
            uint8_t *p;
            size_t align = block_size;
            if (op < 35) {
                p = static_cast<uint8_t *>(arena_malloc(a, n));
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
            ASSERT_NE(p, nullptr) << "size " << n;
            ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "size " << n << " align " << align;
            Fill(p, n, next_tag);
            live.push_back({p, n, next_tag++});
            model_bytes += n;
        } else {
            size_t i = rng() % live.size();
            Live &b = live[i];
            ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size) << "block of " << b.size << " damaged";
            if (op < 75) {
                size_t n = rng() % 4 == 0 ? b.size + rng() % 64 : RandomSize(rng);
                if (n == 0) n = 1;
                auto *q = static_cast<uint8_t *>(arena_realloc(a, b.p, n));
                ASSERT_NE(q, nullptr);
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
        if (model_bytes > model_peak) model_peak = model_bytes;
        ASSERT_EQ(arena_check(a), 0);
        arena_stats s = Stats(a);
        ASSERT_EQ(s.live_bytes, model_bytes);
        ASSERT_EQ(s.live_blocks, live.size());
        ASSERT_GE(s.peak_live_bytes, model_peak);
        ASSERT_GE(s.usable_bytes, s.live_bytes);
        ASSERT_GE(s.mapped_bytes, s.usable_bytes);
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
    return PolicyName(std::get<0>(info.param)) + "_bs" + std::to_string(std::get<1>(info.param)) + "_seed" +
           std::to_string(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED),
                                            ::testing::Values(8, 16, 32, 64, 256, 4096),
                                            ::testing::Range(1u, 7u)),
                         ModelName);

}  // namespace
