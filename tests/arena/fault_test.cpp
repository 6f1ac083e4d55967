// Allocation failure is survived: the OS layer is made to refuse every N-th
// mapping while random operations run. Each failed call returns NULL with
// ENOMEM, every live block keeps its contents, arena_check holds after every
// step, and allocation works again once the OS gives memory back.
#include <gtest/gtest.h>

#include <cerrno>
#include <random>
#include <tuple>
#include <vector>

#include "test_util.h"

extern "C" void os_fail_inject(unsigned long after, unsigned long every);  // arena/src/os.c, for tests
extern "C" unsigned long os_fail_refused(void);                            // the same
extern "C" void os_purge_refuse(bool refuse);                              // the same

namespace {

struct Live {
    uint8_t *p;
    size_t size;
    uint32_t tag;
};

using FaultParam = std::tuple<arena_policy, unsigned long>;  // policy, fail every N-th mapping

class FaultTest : public ::testing::TestWithParam<FaultParam> {
  protected:
    void TearDown() override { os_fail_inject(0, 0); }
};

TEST_P(FaultTest, EveryInjectedFailureIsSurvived) {
    auto [policy, every] = GetParam();
    arena_config c{};
    c.policy = policy;
    c.region_size = (size_t)256 << 10;  // small regions: many mappings, many chances to fail
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    os_fail_inject(4, every);  // the first mappings (segment map leaves among them) succeed
    std::mt19937_64 rng(every);
    std::vector<Live> live;
    size_t failures = 0, model_bytes = 0;
    uint32_t tag = 1;
    for (int step = 0; step < 4000; step++) {
        SCOPED_TRACE("step " + std::to_string(step));
        uint64_t r = rng() % 100;
        if (r < 55 || live.empty()) {
            size_t n = r % 10 == 0 ? rng() % (2u << 20) : rng() % 3000;
            errno = 0;
            auto *p = static_cast<uint8_t *>(r % 7 == 0 ? arena_memalign(a, 4096, n) : arena_malloc(a, n));
            if (!p) {
                ASSERT_EQ(errno, ENOMEM);
                failures++;
            } else {
                Fill(p, n, tag);
                live.push_back({p, n, tag++});
                model_bytes += n;
            }
        } else {
            size_t i = rng() % live.size();
            Live &b = live[i];
            ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size);
            if (r < 80) {
                size_t n = 1 + rng() % (r % 5 == 0 ? (3u << 20) : 5000);
                errno = 0;
                auto *q = static_cast<uint8_t *>(arena_realloc(a, b.p, n));
                if (!q) {
                    ASSERT_EQ(errno, ENOMEM);
                    failures++;  // the old block must be untouched and live
                    ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size);
                } else {
                    size_t kept = b.size < n ? b.size : n;
                    ASSERT_EQ(FirstMismatch(q, kept, b.tag), kept);
                    Fill(q, n, b.tag);
                    model_bytes += n - b.size;
                    b.p = q;
                    b.size = n;
                }
            } else {
                arena_free(a, b.p);
                model_bytes -= b.size;
                live[i] = live.back();
                live.pop_back();
            }
        }
        ASSERT_EQ(arena_check(a), 0);
        ASSERT_EQ(Stats(a).live_bytes, model_bytes);
    }
    // A medium segment the OS refuses is asked for again at the least size that
    // holds the block: a refusal reaches the caller only when that one fails
    // too, or a small segment or huge block's mapping is refused. Every second
    // or third mapping refused, some do; every fifth, none may.
    EXPECT_GT(os_fail_refused(), 0u) << "no mapping was refused";
    if (every <= 3) {
        EXPECT_GT(failures, 0u) << "no injected failure reached an allocation";
    }
    os_fail_inject(0, 0);  // memory comes back
    void *p = arena_malloc(a, 5u << 20);
    EXPECT_NE(p, nullptr);
    arena_free(a, p);
    for (Live &b : live) {
        ASSERT_EQ(FirstMismatch(b.p, b.size, b.tag), b.size);
        arena_free(a, b.p);
    }
    EXPECT_EQ(arena_check(a), 0);
    EXPECT_EQ(Stats(a).live_blocks, 0u);
    arena_destroy(a);
    RecordProperty("injected_failures_survived", (int)failures);
}

// The kernel refuses to drop locked memory (mlock, mlockall): what a refused
// purge was to hand back stays written, so it must still count as written,
// and a calloc over it must clear it rather than take it for fresh memory.
TEST(PurgeRefused, CallocStillClearsWhatStayedWritten) {
    arena_t *a = arena_create(nullptr);
    ASSERT_NE(a, nullptr);
    os_purge_refuse(true);
    std::vector<void *> v;
    // A live block between every two freed ones: the freed memory cannot
    // coalesce into an empty segment that would be unmapped instead of purged.
    std::vector<void *> keep;
    for (int i = 0; i < 48; i++) {
        v.push_back(memset(arena_malloc(a, 256 << 10), 0xA5, 256 << 10));
        keep.push_back(arena_malloc(a, 2000));
    }
    for (void *p : v) arena_free(a, p);  // 12 MiB freed: the purge budget is passed
    EXPECT_EQ(arena_check(a), 0);
    std::vector<uint8_t *> z;
    for (int i = 0; i < 48; i++) {
        auto *p = static_cast<uint8_t *>(arena_calloc(a, 1, 200 << 10));
        ASSERT_NE(p, nullptr);
        for (size_t j = 0; j < (200 << 10); j++) ASSERT_EQ(p[j], 0) << "block " << i << " offset " << j;
        z.push_back(p);
    }
    os_purge_refuse(false);
    EXPECT_EQ(arena_check(a), 0);
    for (uint8_t *p : z) arena_free(a, p);
    for (void *p : keep) arena_free(a, p);
    arena_destroy(a);
}

INSTANTIATE_TEST_SUITE_P(EveryNth, FaultTest,
                         ::testing::Combine(::testing::Values(ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED),
                                            ::testing::Values(2ul, 3ul, 5ul, 11ul)),
                         [](const auto &info) {
                             return PolicyName(std::get<0>(info.param)) + "_every" + std::to_string(std::get<1>(info.param));
                         });

}  // namespace
