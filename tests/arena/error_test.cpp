// Misuse: double free, foreign and interior pointers, the wrong arena. Each is
// reported through the error handler, the call is ignored, and the arena stays
// consistent; the default handler prints one line and aborts.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <unistd.h>

#include "test_util.h"

namespace {

int a_global_variable;

class MisuseTest : public ConfiguredArenaTest {
  protected:

    // p is reported as `kind` by free, realloc (to a size, to one no mapping
    // could hold, and to 0, which would free it) and usable_size, and nothing
    // changes.
    void ExpectMisuse(void *p, arena_error kind, arena_t *owner = nullptr) {
        arena_stats before = Stats(a_);
        {
            ErrorLog log;
            arena_free(a_, p);
            errno = 0;
            EXPECT_EQ(arena_realloc(a_, p, 100), nullptr);
            EXPECT_EQ(errno, EINVAL);
            errno = 0;
            EXPECT_EQ(arena_realloc(a_, p, SIZE_MAX), nullptr);
            EXPECT_EQ(errno, EINVAL) << "misuse whatever the size: the seed policy said ENOMEM, unreported";
            errno = 0;
            EXPECT_EQ(arena_realloc(a_, p, 0), nullptr);
            EXPECT_EQ(errno, EINVAL) << "realloc(p, 0) of a bad p sets errno as at any other size";
            EXPECT_EQ(arena_usable_size(a_, p), 0u);
            ASSERT_EQ(log.entries.size(), 5u);
            for (auto &e : log.entries) {
                EXPECT_EQ(e.kind, kind) << e.message;
                EXPECT_EQ(e.p, p);
                EXPECT_EQ(e.arena, a_);
                char ptr[32];
                snprintf(ptr, sizeof ptr, "%p", p);
                EXPECT_NE(e.message.find(ptr), std::string::npos) << "message names the pointer: " << e.message;
                EXPECT_EQ(e.message.rfind("arena: ", 0), 0u) << e.message;
                if (owner) {
                    snprintf(ptr, sizeof ptr, "%p", static_cast<void *>(owner));
                    EXPECT_NE(e.message.find(ptr), std::string::npos) << "message names the owner: " << e.message;
                }
            }
        }
        arena_stats after = Stats(a_);
        EXPECT_EQ(after.live_blocks, before.live_blocks);
        EXPECT_EQ(after.live_bytes, before.live_bytes);
        EXPECT_EQ(after.frees, before.frees);
        EXPECT_EQ(arena_check(a_), 0);
    }
};

INSTANTIATE_TEST_SUITE_P(Configs, MisuseTest,
                         ::testing::Values(ArenaConfigParam{ARENA_POLICY_DEFAULT, 16}, ArenaConfigParam{ARENA_POLICY_DEFAULT, 8},
                                           ArenaConfigParam{ARENA_POLICY_DEFAULT, 4096}, ArenaConfigParam{ARENA_POLICY_SEED, 16},
                                           ArenaConfigParam{ARENA_POLICY_SEED, 64}),
                         ConfigName);

const size_t kKindSizes[] = {24, 3000, 20000, 300000, 5 << 20};  // small, medium and huge

TEST_P(MisuseTest, DoubleFreeOfEveryKindOfBlock) {
    void *keep = arena_malloc(a_, 40);  // the class stays in use
    for (size_t n : kKindSizes) {
        void *p = arena_malloc(a_, n);
        void *neighbour = arena_malloc(a_, n);
        Fill(neighbour, n, 2);
        arena_free(a_, p);
        ExpectMisuse(p, ARENA_ERR_DOUBLE_FREE);
        EXPECT_EQ(FirstMismatch(neighbour, n, 2), n) << "a neighbour was touched";
        arena_free(a_, neighbour);
    }
    arena_free(a_, keep);
}

TEST_P(MisuseTest, DoubleFreeOfAPagesLastBlock) {
    void *p = arena_malloc(a_, 100);
    arena_free(a_, p);
    ExpectMisuse(p, ARENA_ERR_DOUBLE_FREE);
}

TEST_P(MisuseTest, PointersArenaNeverReturned) {
    int on_stack = 0;
    ExpectMisuse(&on_stack, ARENA_ERR_INVALID_POINTER);
    ExpectMisuse(&a_global_variable, ARENA_ERR_INVALID_POINTER);
    void *from_libc = malloc(64);
    ExpectMisuse(from_libc, ARENA_ERR_INVALID_POINTER);
    free(from_libc);
    ExpectMisuse(reinterpret_cast<void *>(0x10), ARENA_ERR_INVALID_POINTER);
    ExpectMisuse(reinterpret_cast<void *>(~(uintptr_t)0 & ~(uintptr_t)4095), ARENA_ERR_INVALID_POINTER);
}

// Pointers into arena's own memory where no block was ever handed out: the
// pages of a region not used yet (whose descriptors are not set up) and the
// header in front of the first page.
TEST_P(MisuseTest, PointersWhereNoBlockWasEverHandedOut) {
    auto *p = static_cast<uint8_t *>(arena_malloc(a_, 32));
    ASSERT_NE(p, nullptr);
    for (size_t ahead : {(size_t)64 << 10, (size_t)1 << 20, (size_t)3 << 20})
        ExpectMisuse(p + ahead, ARENA_ERR_INVALID_POINTER);
    for (size_t behind : {(size_t)4 << 10, (size_t)16 << 10, (size_t)32 << 10, (size_t)64 << 10})
        ExpectMisuse(p - behind, ARENA_ERR_INVALID_POINTER);
    arena_free(a_, p);
}

TEST_P(MisuseTest, InteriorPointersOfEveryKindOfBlock) {
    for (size_t n : kKindSizes) {
        auto *p = static_cast<uint8_t *>(arena_malloc(a_, n));
        Fill(p, n, 4);
        ExpectMisuse(p + B(), ARENA_ERR_INVALID_POINTER);
        ExpectMisuse(p + n / 2 / B() * B() + B(),
                     ARENA_ERR_INVALID_POINTER);
        EXPECT_EQ(FirstMismatch(p, n, 4), n);
        arena_free(a_, p);
    }
}

// Every offset inside a block, at each power of two and then every 512 bytes
// (the live map's unit for block sizes above 512): never taken for a block.
TEST_P(MisuseTest, InteriorPointersAtEveryUnitOfTheLiveMap) {
    for (size_t n : {(size_t)24, (size_t)1000, (size_t)3000}) {
        auto *p = static_cast<uint8_t *>(arena_malloc(a_, n));
        ASSERT_NE(p, nullptr);
        size_t usable = arena_usable_size(a_, p);
        for (size_t off = 8; off < usable; off = off < 512 ? off * 2 : off + 512)
            ExpectMisuse(p + off, ARENA_ERR_INVALID_POINTER);
        arena_free(a_, p);
    }
}

TEST_P(MisuseTest, FreeIntoTheWrongArena) {
    arena_t *other = arena_create(nullptr);
    for (size_t n : kKindSizes) {
        void *p = arena_malloc(other, n);
        ExpectMisuse(p, ARENA_ERR_WRONG_ARENA, other);
        // Inside another arena's block is still that arena's memory.
        ExpectMisuse(static_cast<char *>(p) + B(), ARENA_ERR_WRONG_ARENA, other);
        arena_free(other, p);  // still live in its own arena
    }
    EXPECT_EQ(Stats(other).live_blocks, 0u);
    EXPECT_EQ(arena_check(other), 0);
    arena_destroy(other);
}

// A segment that goes back to the OS inside the free of its last block (a page
// emptied after page_shrink handed most of it back is released whole, and with
// it a segment with nothing else in use): a second free of that block is a
// double free, found from the recently released ranges, and nothing reads the
// unmapped header. Anything that remembers a segment across frees must forget
// it there.
TEST(MisuseAfterRelease, FreeOfABlockWhoseSegmentWentBack) {
    arena_config c{};
    c.region_size = 64 << 10;  // a small segment of four 16 KiB page areas, its header in the first
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    std::vector<void *> first_segment;
    void *last = nullptr;
    while (!last) {  // 64-byte blocks until one lands in a second segment
        void *p = arena_malloc(a, 64);
        ASSERT_NE(p, nullptr);
        if (Stats(a).regions == 2) last = p;
        else first_segment.push_back(p);
    }
    // The rest of last's page (16 KiB aligned; the segment's header may lie in
    // front of last), and no block beyond it.
    uintptr_t at = reinterpret_cast<uintptr_t>(last), page_end = (at | ((16u << 10) - 1)) + 1;
    std::vector<void *> same_page;
    for (size_t i = 1; i < (page_end - at) / 64; i++) {
        same_page.push_back(arena_malloc(a, 64));
        ASSERT_LT(reinterpret_cast<uintptr_t>(same_page.back()), page_end);
    }
    for (void *p : same_page) arena_free(a, p);  // last alone on its page: sparse
    void *huge = arena_malloc(a, 24 << 20);  // fresh memory: sparse pages shrink
    ASSERT_NE(huge, nullptr);
    arena_free(a, first_segment[0]);  // a page of the class with room: last's page may go
    size_t mapped = Stats(a).mapped_bytes;
    arena_free(a, last);
    ASSERT_EQ(mapped - Stats(a).mapped_bytes, c.region_size) << "last's segment should have gone back to the OS";
    {
        ErrorLog log;
        arena_free(a, last);
        ASSERT_EQ(log.entries.size(), 1u);
        EXPECT_EQ(log.entries[0].kind, ARENA_ERR_DOUBLE_FREE);
    }
    EXPECT_EQ(arena_check(a), 0);
    arena_free(a, huge);
    for (size_t i = 1; i < first_segment.size(); i++) arena_free(a, first_segment[i]);
    EXPECT_EQ(Stats(a).live_blocks, 0u);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// A huge block that realloc moves with mremap leaves its old address behind as
// released: a free there is a double free, as after a move by a copy. Before,
// it was named an invalid pointer.
TEST(MisuseAfterRelease, FreeOfAHugeBlocksAddressBeforeAMremapMove) {
    arena_t *a = arena_create(nullptr);
    ASSERT_NE(a, nullptr);
    void *p = arena_malloc(a, (size_t)20 << 20), *moved_from = nullptr;
    ASSERT_NE(p, nullptr);
    // Blocks mapped after p may lie right behind it and make the growth move.
    std::vector<void *> behind;
    for (size_t size = (size_t)24 << 20; size <= ((size_t)1 << 30) && !moved_from; size *= 2) {
        behind.push_back(arena_malloc(a, (size_t)20 << 20));
        void *q = arena_realloc(a, p, size);
        ASSERT_NE(q, nullptr) << size;
        if (q != p) moved_from = p;
        p = q;
    }
    if (!moved_from) GTEST_SKIP() << "the kernel grew every mapping in place";
    {
        ErrorLog log;
        arena_free(a, moved_from);
        ASSERT_EQ(log.entries.size(), 1u);
        EXPECT_EQ(log.entries[0].kind, ARENA_ERR_DOUBLE_FREE) << log.entries[0].message;
    }
    EXPECT_EQ(arena_check(a), 0);
    arena_free(a, p);
    for (void *b : behind) arena_free(a, b);
    EXPECT_EQ(Stats(a).live_blocks, 0u);
    arena_destroy(a);
}

// The default policy promises no overrun detection, but a medium block's
// overrun into its live neighbour's header must not take the arena's other
// calls down with it: the stats walk looped for ever on a size of 0 (9-10
// bytes past) or read past the segment (13-16), and a neighbour's requested
// size overwritten (2-8) went through its free unchecked, wrapping live_bytes
// to 2^64 - 4 MB. Now the stats return, arena_check names the damage, and the
// neighbour's free is reported and leaves the counts alone.
TEST(MisuseOverrun, AMediumBlocksOverrunLeavesTheOtherCallsWorking) {
    for (size_t past : {2, 4, 8, 9, 10, 12, 13, 16}) {
        arena_t *a = arena_create(nullptr);
        ASSERT_NE(a, nullptr);
        void *before = arena_malloc(a, 5000), *p = arena_malloc(a, 4096);
        void *next = arena_malloc(a, 5000), *after = arena_malloc(a, 5000);
        memset(static_cast<char *>(p) + 4096, 0x41, past);
        ErrorLog log;
        EXPECT_EQ(arena_check(a), -1) << past << " bytes past";
        arena_stats s = Stats(a);
        EXPECT_EQ(s.live_bytes, 19096u);
        size_t reported = log.entries.size();
        arena_free(a, next);
        ASSERT_EQ(log.entries.size(), reported + 1) << past << " bytes past: the free is reported";
        EXPECT_EQ(log.entries.back().kind, ARENA_ERR_CORRUPTION) << log.entries.back().message;
        EXPECT_EQ(Stats(a).live_bytes, 19096u) << past << " bytes past: the reported free changes nothing";
        arena_free(a, before);
        arena_free(a, after);
        EXPECT_EQ(Stats(a).live_bytes, 9096u);
        arena_destroy(a);
    }
}

TEST(MisuseNames, EveryKindHasAName) {
    EXPECT_STREQ(arena_error_name(ARENA_ERR_DOUBLE_FREE), "double free");
    EXPECT_STREQ(arena_error_name(ARENA_ERR_INVALID_POINTER), "invalid pointer");
    EXPECT_STREQ(arena_error_name(ARENA_ERR_WRONG_ARENA), "wrong arena");
    EXPECT_STREQ(arena_error_name(ARENA_ERR_CORRUPTION), "heap corruption");
}

TEST(MisuseHandler, SetReturnsThePreviousHandler) {
    EXPECT_EQ(arena_set_error_handler(ErrorLog::Handler, nullptr), nullptr);
    EXPECT_EQ(arena_set_error_handler(nullptr, nullptr), &ErrorLog::Handler);
}

// A handler that looks at the arena it is told about (its statistics, a
// check) on every kind of call that reports misuse, in a thread-safe arena of
// each policy. Run in a child with an alarm: a handler called under the arena's
// lock would wait for itself forever.
class HandlerCallsIntoTheArenaTest : public ::testing::TestWithParam<arena_policy> {};
INSTANTIATE_TEST_SUITE_P(Policies, HandlerCallsIntoTheArenaTest,
                         ::testing::Values(ARENA_POLICY_DEFAULT, ARENA_POLICY_SEED),
                         [](const ::testing::TestParamInfo<arena_policy> &info) { return PolicyName(info.param); });

struct InspectingHandler {
    int reports = 0;
    static void Handler(void *ctx, arena_t *a, const void *, arena_error, const char *) {
        arena_stats st;
        if (arena_stats_get(a, &st) == 0 && arena_check(a) == 0) static_cast<InspectingHandler *>(ctx)->reports++;
    }
};

TEST_P(HandlerCallsIntoTheArenaTest, TheHandlerMayCallTheArenasFunctions) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            alarm(5);
            arena_config c{};
            c.policy = GetParam();
            c.flags = ARENA_THREAD_SAFE;
            arena_t *a = arena_create(&c);
            InspectingHandler inspect;
            arena_set_error_handler(InspectingHandler::Handler, &inspect);
            void *p = arena_malloc(a, 100);
            arena_free(a, p);
            arena_free(a, p);                           // double free
            arena_realloc(a, &a_global_variable, 10);   // invalid pointer
            arena_usable_size(a, &a_global_variable);   // invalid pointer
            arena_set_error_handler(nullptr, nullptr);
            arena_destroy(a);
            exit(inspect.reports == 3 ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

// A handler's own calls may set errno; the call that reported keeps the
// caller's: free leaves errno alone (POSIX), and a failing call sets it after
// its report.
struct ErrnoSettingHandler {
    static void Handler(void *, arena_t *, const void *, arena_error, const char *) { errno = EDOM; }
};

TEST_P(HandlerCallsIntoTheArenaTest, TheHandlersErrnoDoesNotReachTheCaller) {
    arena_config c{};
    c.policy = GetParam();
    arena_t *a = arena_create(&c);
    ASSERT_NE(a, nullptr);
    arena_set_error_handler(ErrnoSettingHandler::Handler, nullptr);
    void *p = arena_malloc(a, 100);
    arena_free(a, p);
    errno = 0;
    arena_free(a, p);  // double free, reported
    EXPECT_EQ(errno, 0) << "free changed errno";
    errno = 0;
    arena_usable_size(a, &a_global_variable);  // invalid pointer, reported
    EXPECT_EQ(errno, 0);
    arena_set_error_handler(nullptr, nullptr);
    arena_destroy(a);
}

// The default handler: one line on stderr, then abort.
using MisuseDeathTest = MisuseTest;
INSTANTIATE_TEST_SUITE_P(Configs, MisuseDeathTest,
                         ::testing::Values(ArenaConfigParam{ARENA_POLICY_DEFAULT, 16}, ArenaConfigParam{ARENA_POLICY_SEED, 16}),
                         ConfigName);

TEST_P(MisuseDeathTest, DoubleFreeAborts) {
    for (size_t n : kKindSizes) {
        EXPECT_DEATH(
            {
                void *p = arena_malloc(a_, n);
                arena_free(a_, p);
                arena_free(a_, p);
            },
            "^arena: double free of 0x[0-9a-f]+ in arena 0x[0-9a-f]+\n$")
            << n;
    }
}

TEST_P(MisuseDeathTest, InvalidPointerAborts) {
    int x;
    EXPECT_DEATH(arena_free(a_, &x), "^arena: invalid pointer 0x[0-9a-f]+ \\(not a block of arena 0x[0-9a-f]+\\)\n$");
}

TEST_P(MisuseDeathTest, WrongArenaAborts) {
    EXPECT_DEATH(
        {
            arena_t *other = arena_create(nullptr);
            arena_free(a_, arena_malloc(other, 10));
        },
        "^arena: pointer 0x[0-9a-f]+ given to arena 0x[0-9a-f]+ but it belongs to arena 0x[0-9a-f]+\n$");
}

// An underflow of a huge block writes over its mapping's header: reported as
// the damage it is. It was "belongs to arena 0x5858585858585858" (the bytes
// written, read as the header's arena), or "invalid pointer" where only the
// block's address in the header was hit (found in review).
TEST(MisuseDeath, DamageBeforeAHugeBlockIsCorruptionNotAnotherArena) {
    for (int flags : {0, (int)ARENA_CHECKED, (int)ARENA_SECURE})
        for (size_t damage : {64, 96, 104, 128, 256}) {
            EXPECT_DEATH(
                {
                    arena_config c{};
                    c.flags = (unsigned)flags;
                    arena_t *a = arena_create(&c);
                    auto *p = static_cast<unsigned char *>(arena_malloc(a, (size_t)20 << 20));
                    memset(p - damage, 'X', damage);
                    arena_free(a, p);
                },
                "^arena: heap corruption near 0x[0-9a-f]+ in arena 0x[0-9a-f]+\n$")
                << damage << " bytes, flags " << flags;
        }
}

}  // namespace
