// arena_check finds what it promises to: each test breaks one invariant
// through a hook into the library's internals (check_hooks.c), expects the
// check to fail with its message, then puts the invariant back.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include <unistd.h>

#include "test_util.h"

extern "C" uint64_t check_hook_swap_header_live_word(const void *p, uint64_t value);
extern "C" uint64_t *check_hook_swap_page_live_map(const void *p, uint64_t *map);
extern "C" void *check_hook_swap_segment_prev(const void *p, void *prev);
extern "C" void *check_hook_swap_segment_next(const void *p, void *next);
extern "C" void *check_hook_segment_of(const void *p);
extern "C" uint64_t check_hook_swap_unready_live_word(const void *p, uint64_t value);
extern "C" int check_hook_has_unready_page(const void *p);
extern "C" size_t check_hook_swap_seed_size(void *p, size_t size);
extern "C" void *check_hook_swap_seed_next(void *p, void *next);
extern "C" void check_hook_add_page_used(const void *p, int delta);
extern "C" void check_hook_add_live_bytes(arena_t *a, long delta);
extern "C" void check_hook_add_mapped_bytes(arena_t *a, long delta);
extern "C" int check_hook_add_cache_count(arena_t *a, int delta);
extern "C" void *check_hook_swap_abandoned(arena_t *a, void *head);
extern "C" void check_hook_abandon_own_heap(arena_t *a, bool abandoned);
extern "C" void *check_hook_map_neighbour_to_segment(const void *p, bool before, void **old);
extern "C" void check_hook_put_map_entry(void *entry, void *value);
extern "C" bool check_hook_set_idle_batch_in_flight(arena_t *a, bool in_flight);
extern "C" void check_hook_add_remote_freed_blocks(arena_t *a, uint64_t blocks);
extern "C" void check_hook_flip_last_purged_bit(const void *p);
extern "C" bool check_hook_set_orphaned(arena_t *a, bool orphaned);
extern "C" bool check_hook_cycle_own_batches(arena_t *a, bool on);

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
    virtual arena_config Config() { return arena_config{}; }
    void SetUp() override {
        arena_config cfg = Config();
        a_ = arena_create(&cfg);
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

// A seed arena with three blocks carved one after the other.
class SeedCheckTest : public ::testing::Test {
  protected:
    void SetUp() override {
        arena_config c{};
        c.policy = ARENA_POLICY_SEED;
        a_ = arena_create(&c);
        ASSERT_NE(a_, nullptr);
        for (void *&p : p_) ASSERT_NE(p = arena_malloc(a_, 32), nullptr);
        ASSERT_LT(p_[0], p_[1]);
        ASSERT_LT(p_[1], p_[2]);
        ASSERT_EQ(arena_check(a_), 0);
    }
    void TearDown() override {
        EXPECT_EQ(arena_check(a_), 0) << "the invariant was put back";
        arena_destroy(a_);
    }
    arena_t *a_ = nullptr;
    void *p_[3] = {};
};

// A header damaged so that its block takes in the next one (an overflow into
// it, say): still aligned, still inside what was carved, but a free and a
// reuse would hand out memory another block holds.
TEST_F(SeedCheckTest, FindsABlockOverlappingTheNext) {
    size_t grown = static_cast<char *>(p_[2]) - static_cast<char *>(p_[0]);
    size_t old = check_hook_swap_seed_size(p_[0], grown);
    ExpectCheckFails(a_, "seed blocks overlap");
    check_hook_swap_seed_size(p_[0], old);
}

// A freed list cut short: the blocks past the cut are on no list, never
// reused, and no count of live blocks notices.
TEST_F(SeedCheckTest, FindsAFreedBlockOnNoList) {
    arena_free(a_, p_[0]);
    arena_free(a_, p_[1]);  // the freed list: p_[1], p_[0]
    void *old = check_hook_swap_seed_next(p_[1], nullptr);
    ExpectCheckFails(a_, "seed region holds a block on neither list");
    check_hook_swap_seed_next(p_[1], old);
}

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

// A segment's back link mirrors the forward links of its heap's list:
// releasing a segment unlinks it through its back link.
TEST_F(ArenaCheckTest, FindsAWrongSegmentBackLink) {
    void *older = arena_malloc(a_, 20 << 20); // huge: a segment each
    void *newer = arena_malloc(a_, 20 << 20);
    ASSERT_NE(older, nullptr);
    ASSERT_NE(newer, nullptr);
    ASSERT_EQ(check_hook_swap_segment_next(newer, nullptr), check_hook_segment_of(older))
        << "the newer segment heads the list";
    check_hook_swap_segment_next(newer, check_hook_segment_of(older));
    void *old = check_hook_swap_segment_prev(older, nullptr);
    ExpectCheckFails(a_, "segment list back link is wrong");
    check_hook_swap_segment_prev(older, old);
    arena_free(a_, newer);
    arena_free(a_, older);
}

// A cycle in a segment list is reported, not walked forever.
TEST_F(ArenaCheckTest, FindsACycleInASegmentList) {
    void *big = arena_malloc(a_, 20 << 20);
    ASSERT_NE(big, nullptr);
    void *old = check_hook_swap_segment_next(big, check_hook_segment_of(big));
    EXPECT_EXIT(
        {
            alarm(10); // a check that loops dies of SIGALRM
            _exit(arena_check(a_) == -1 ? 0 : 1);
        },
        testing::ExitedWithCode(0), "segment list");
    check_hook_swap_segment_next(big, old);
    arena_free(a_, big);
}

// The live bits of a page not set up yet stay clear: free reads them through
// the segment's map, without a descriptor, and would take the address for a
// live block.
TEST_F(ArenaCheckTest, FindsLiveBitsOfAPageNotSetUp) {
    ASSERT_TRUE(check_hook_has_unready_page(p_));
    uint64_t old = check_hook_swap_unready_live_word(p_, 1);
    ExpectCheckFails(a_, "live bits of a page not set up");
    check_hook_swap_unready_live_word(p_, old);
}

// A page that counts one live block fewer than its live bits hold (a free
// counted twice): its free list is shorter than its count of free blocks.
TEST_F(ArenaCheckTest, FindsAPageUsedCountBelowItsLiveBlocks) {
    check_hook_add_page_used(p_, -1);
    ExpectCheckFails(a_, "page free list shorter than its free blocks");
    check_hook_add_page_used(p_, 1);
}

// The heap's count of live bytes is the sum over its live blocks' sizes.
TEST_F(ArenaCheckTest, FindsLiveBytesThatDisagreeWithTheBlocks) {
    check_hook_add_live_bytes(a_, -8);  // below the truth: above, the peak would be passed (its own check)
    ExpectCheckFails(a_, "live bytes disagree with the blocks found");
    check_hook_add_live_bytes(a_, 8);
}

// Mapped bytes are the sum of the segments' sizes and the arena's own mapping.
TEST_F(ArenaCheckTest, FindsMappedBytesThatDisagreeWithTheSegments) {
    check_hook_add_mapped_bytes(a_, 4096);
    ExpectCheckFails(a_, "mapped bytes disagree with the segments");
    check_hook_add_mapped_bytes(a_, -4096);
}

// A bin of the medium cache counts the blocks it holds: the cap and the
// requests it waits for go by that count.
TEST_F(ArenaCheckTest, FindsAMediumCacheBinCountThatIsWrong) {
    void *kept = arena_malloc(a_, 3000);
    void *cached = arena_malloc(a_, 3000);  // a miss of its bin: the next free of its size waits
    ASSERT_NE(kept, nullptr);
    ASSERT_NE(cached, nullptr);
    arena_free(a_, cached);
    ASSERT_EQ(arena_check(a_), 0);
    int bin = check_hook_add_cache_count(a_, 1);
    ASSERT_GE(bin, 0) << "the freed block went into the cache";
    ExpectCheckFails(a_, "medium cache bin count is wrong");
    check_hook_add_cache_count(a_, -1);
    arena_free(a_, kept);
}

// An entry of the segment map left pointing at a segment from past either
// end (a segment shrunk or released without clearing it) sends a free of the
// memory there to that segment's header.
TEST_F(ArenaCheckTest, FindsAStaleSegmentMapEntryNextToASegment) {
    for (bool before : {false, true}) {
        SCOPED_TRACE(before ? "the chunk before the segment" : "the chunk past its end");
        void *old = nullptr;
        void *entry = check_hook_map_neighbour_to_segment(p_, before, &old);
        if (!entry) continue;  // the segment starts or ends a leaf's 4 GiB: no entry there to spoil
        ExpectCheckFails(a_, "segment map entry next to a segment points at it");
        check_hook_put_map_entry(entry, old);
        EXPECT_EQ(arena_check(a_), 0);
    }
}

// A medium segment that counts no purged page reads its purged map nowhere
// but here: a bit set there would make a later purge's count go wrong.
TEST_F(ArenaCheckTest, FindsAPurgedBitInAMediumSegmentThatCountsNone) {
    void *medium = arena_malloc(a_, 3000);
    ASSERT_NE(medium, nullptr);
    ASSERT_EQ(arena_check(a_), 0);
    check_hook_flip_last_purged_bit(medium);
    ExpectCheckFails(a_, "a medium segment's count of purged pages disagrees with its map");
    check_hook_flip_last_purged_bit(medium);
    arena_free(a_, medium);
}

// The arena's own heap is never freed into by other threads: a count of such
// frees there would never be taken in, and live bytes would stay too high.
TEST_F(ArenaCheckTest, FindsFreesIntoAHeapLeftUncounted) {
    check_hook_add_remote_freed_blocks(a_, 1);
    ExpectCheckFails(a_, "frees into a heap by other threads were left uncounted");
    check_hook_add_remote_freed_blocks(a_, UINT64_MAX);  // back to 0
}

// A thread-safe arena in which this thread has a heap (one block of it).
class ThreadHeapCheckTest : public ArenaCheckTest {
  protected:
    arena_config Config() override {
        arena_config cfg = {};
        cfg.flags = ARENA_THREAD_SAFE;
        return cfg;
    }
};

// The arena's own heap (huge blocks, no thread's small ones) is never
// abandoned: on the list, a thread would adopt it. Counted with the others,
// it made the counts of marked and listed heaps agree (a review's find).
TEST_F(ThreadHeapCheckTest, FindsTheArenasOwnHeapAbandoned) {
    check_hook_abandon_own_heap(a_, true);
    ExpectCheckFails(a_, "the arena's own heap is marked abandoned");
    check_hook_abandon_own_heap(a_, false);
}

// A transit batch marked in flight but on no owner's list would never come
// back to the heap that filled it: that heap would run out of batches.
TEST_F(ThreadHeapCheckTest, FindsABatchInFlightOnNoList) {
    ASSERT_TRUE(check_hook_set_idle_batch_in_flight(a_, true));
    ExpectCheckFails(a_, "a batch in flight is on no remote list");
    check_hook_set_idle_batch_in_flight(a_, false);
}

// After fork, a heap whose thread vanished may hold a batch in flight on no
// list for good (its thread had marked it and not pushed it): not a fault. A
// list of such a heap that loops is, and the walk over it ends.
TEST_F(ThreadHeapCheckTest, ToleratesAnOrphansLostBatchButFindsACycleOnItsList) {
    ASSERT_TRUE(check_hook_set_orphaned(a_, true));
    ASSERT_TRUE(check_hook_set_idle_batch_in_flight(a_, true));
    EXPECT_EQ(arena_check(a_), 0);
    check_hook_set_idle_batch_in_flight(a_, false);
    ASSERT_TRUE(check_hook_cycle_own_batches(a_, true));
    ExpectCheckFails(a_, "a remote list holds a batch not in flight (or cycles)");
    check_hook_cycle_own_batches(a_, false);
    check_hook_set_orphaned(a_, false);
}

// The heap of a thread that ended waits on the arena's abandoned-heap list
// for a thread to adopt it; one marked abandoned but off the list would never
// be adopted or trimmed.
TEST(ArenaCheck, FindsAnAbandonedHeapOffTheList) {
    arena_config cfg = {};
    cfg.flags = ARENA_THREAD_SAFE;
    arena_t *a = arena_create(&cfg);
    ASSERT_NE(a, nullptr);
    void *block = nullptr;
    std::thread([&] { block = arena_malloc(a, 40); }).join();  // its heap abandoned as it ends
    ASSERT_NE(block, nullptr);
    ASSERT_EQ(arena_check(a), 0);
    void *old = check_hook_swap_abandoned(a, nullptr);
    ASSERT_NE(old, nullptr) << "the ended thread's heap is on the list";
    ExpectCheckFails(a, "a heap marked abandoned is not on the abandoned-heap list");
    check_hook_swap_abandoned(a, old);
    EXPECT_EQ(arena_check(a), 0);
    arena_free(a, block);
    arena_destroy(a);
}

// A block this thread freed for another thread's heap waits in its batch with
// a mark that tells its owner it is on its way (the owner's own second free of
// it is reported by that mark); a write after free over the mark is found.
TEST(ArenaCheck, FindsAPendingBlockWithoutItsMark) {
    arena_config cfg = {};
    cfg.flags = ARENA_THREAD_SAFE;
    arena_t *a = arena_create(&cfg);
    ASSERT_NE(a, nullptr);
    void *mine = arena_malloc(a, 40);  // this thread's heap, which holds the batch
    std::atomic<uint8_t *> theirs{nullptr};
    std::atomic<bool> done{false};
    // The owner's thread stays: a block of an ended thread's heap would go to it at once.
    std::thread owner([&] {
        theirs = static_cast<uint8_t *>(arena_malloc(a, 40));
        while (!done) std::this_thread::yield();
    });
    while (!theirs) std::this_thread::yield();
    uint8_t *block = theirs;
    arena_free(a, block);  // waits in this thread's batch for the other thread's heap
    ASSERT_EQ(arena_check(a), 0);
    uint8_t old = block[10];
    block[10] ^= 0x5a;
    ExpectCheckFails(a, "a pending block lacks its in-transit mark");
    block[10] = old;
    EXPECT_EQ(arena_check(a), 0);
    done = true;
    owner.join();
    arena_free(a, mine);
    arena_destroy(a);
}

}  // namespace
