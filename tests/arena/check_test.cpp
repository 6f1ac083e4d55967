// arena_check finds what it promises to: each test breaks one invariant
// through a hook into the library's internals (check_hooks.c), expects the
// check to fail with its message, then puts the invariant back.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "test_util.h"

extern "C" uint64_t check_hook_swap_header_live_word(const void *p, uint64_t value);
extern "C" uint64_t *check_hook_swap_page_live_map(const void *p, uint64_t *map);

namespace {

// arena_check(a) fails, and its line on stderr holds `message`.
void ExpectCheckFails(arena_t *a, const std::string &message) {
    testing::internal::CaptureStderr();
    int result = arena_check(a);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(result, -1);
    EXPECT_NE(err.find(message), std::string::npos) << err;
}

class ArenaCheckTest : public ::testing::Test {
  protected:
    void SetUp() override {
        a_ = arena_create(nullptr);
        ASSERT_NE(a_, nullptr);
        p_ = arena_malloc(a_, 40);
        ASSERT_NE(p_, nullptr);
        ASSERT_EQ(arena_check(a_), 0);
    }
    void TearDown() override {
        EXPECT_EQ(arena_check(a_), 0) << "the invariant was put back";
        arena_free(a_, p_);
        arena_destroy(a_);
    }
    arena_t *a_ = nullptr;
    void *p_ = nullptr;
};

// The free fast path reads the live bits of any address of a small segment
// without a descriptor: those of the pages under the header must stay clear.
TEST_F(ArenaCheckTest, FindsLiveBitsUnderTheSegmentHeader) {
    uint64_t old = check_hook_swap_header_live_word(p_, 1);
    ExpectCheckFails(a_, "live bits of a page under the segment header");
    check_hook_swap_header_live_word(p_, old);
}

// ... and a page's descriptor must point at the page's own slice of the map.
TEST_F(ArenaCheckTest, FindsAPageLiveMapOutsideItsSlice) {
    uint64_t *old = check_hook_swap_page_live_map(p_, nullptr);
    ExpectCheckFails(a_, "page's live map is not its slice of the segment's");
    check_hook_swap_page_live_map(p_, old);
}

}  // namespace
