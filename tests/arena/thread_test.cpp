// An ARENA_THREAD_SAFE arena shared by several threads, blocks freed by threads
// other than the one that allocated them, contents verified throughout.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

struct Handoff {
    std::mutex lock;
    std::vector<std::pair<void *, std::pair<size_t, uint32_t>>> blocks;
};

class SharedArenaTest : public ::testing::TestWithParam<arena_policy> {};

TEST_P(SharedArenaTest, ThreadsAllocateAndFreeEachOthersBlocks) {
    arena_config c{};
    c.policy = GetParam();
    c.flags = ARENA_THREAD_SAFE;
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    const int kThreads = 4, kSteps = 20000;
    Handoff handoff;
    std::atomic<int> damaged{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(t + 1);
            for (int i = 0; i < kSteps; i++) {
                if (rng() % 2) {
                    size_t n = rng() % 10 == 0 ? rng() % 100000 : rng() % 300;
                    uint32_t tag = (uint32_t)(t * kSteps + i);
                    void *p = arena_malloc(a, n);
                    if (!p) {
                        damaged++;
                        continue;
                    }
                    Fill(p, n, tag);
                    std::lock_guard<std::mutex> g(handoff.lock);
                    handoff.blocks.push_back({p, {n, tag}});
                } else {
                    std::pair<void *, std::pair<size_t, uint32_t>> b{nullptr, {0, 0}};
                    {
                        std::lock_guard<std::mutex> g(handoff.lock);
                        if (handoff.blocks.empty()) continue;
                        size_t k = rng() % handoff.blocks.size();
                        b = handoff.blocks[k];
                        handoff.blocks[k] = handoff.blocks.back();
                        handoff.blocks.pop_back();
                    }
                    if (FirstMismatch(b.first, b.second.first, b.second.second) != b.second.first) damaged++;
                    arena_free(a, b.first);
                }
            }
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(damaged.load(), 0);
    EXPECT_EQ(arena_check(a), 0);
    EXPECT_EQ(Stats(a).live_blocks, handoff.blocks.size());
    for (auto &b : handoff.blocks) arena_free(a, b.first);
    EXPECT_EQ(Stats(a).live_blocks, 0u);
    arena_destroy(a);
}

INSTANTIATE_TEST_SUITE_P(Policies, SharedArenaTest, ::testing::Values(ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED),
                         [](const auto &info) { return PolicyName(info.param); });

}  // namespace
