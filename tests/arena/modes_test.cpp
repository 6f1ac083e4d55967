// The checked mode (ARENA_CHECKED) reports overflows and writes after free;
// the hardened mode (ARENA_SECURE) survives overwritten free-list links, has a
// guard page after every region and hands out blocks in no predictable order.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

arena_t *Create(unsigned flags) {
    arena_config c{};
    c.flags = flags;
    arena_t *a = arena_create(&c);
    EXPECT_NE(a, nullptr);
    return a;
}

const size_t kSizes[] = {1, 24, 100, 4000, 20000, 300000, 20u << 20};  // small, medium, huge

// usable_bytes is "the sum of usable sizes of live blocks": in checked mode a
// block's usable size is what was asked for (the canary is not the caller's),
// in a thread-safe arena too, whose huge blocks its own heap holds.
TEST(CheckedMode, StatsCountTheUsableSizesThatUsableSizeReports) {
    for (unsigned flags : {ARENA_CHECKED, ARENA_CHECKED | ARENA_THREAD_SAFE}) {
        arena_t *a = Create(flags);
        std::vector<void *> blocks;
        size_t usable = 0;
        for (size_t n : kSizes) {
            void *p = arena_malloc(a, n);
            ASSERT_NE(p, nullptr);
            usable += arena_usable_size(a, p);
            blocks.push_back(p);
        }
        arena_stats s = Stats(a);
        EXPECT_EQ(s.usable_bytes, usable) << "flags " << flags;
        EXPECT_EQ(s.live_blocks, blocks.size());
        for (void *p : blocks) arena_free(a, p);
        EXPECT_EQ(Stats(a).usable_bytes, 0u);
        arena_destroy(a);
    }
}

TEST(CheckedMode, OverflowPastTheRequestedSizeIsReportedAtFree) {
    for (size_t n : kSizes) {
        arena_t *a = Create(ARENA_CHECKED);
        ErrorLog log;
        auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(arena_usable_size(a, p), n) << "the canary is not the caller's";
        memset(p, 1, n);  // the whole block: fine
        arena_free(a, p);
        EXPECT_TRUE(log.entries.empty()) << n;
        p = static_cast<uint8_t *>(arena_malloc(a, n));
        p[n] = 0x55;  // one byte too far
        arena_free(a, p);
        ASSERT_EQ(log.entries.size(), 1u) << n;
        EXPECT_EQ(log.entries[0].kind, ARENA_ERR_OVERFLOW);
        EXPECT_EQ(log.entries[0].p, p);
        EXPECT_NE(log.entries[0].message.find("overflow past the end of block"), std::string::npos);
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

// A checked huge block grows and shrinks in its own mapping (mremap), its
// canary written again past each new size: contents kept, the whole requested
// size usable, one byte more reported at free. Before, every realloc moved it
// by a copy, old and new mapped at once: a buffer grown to 128 MiB in 64 KiB
// steps took 41.5 s under the drop-in; here the peak of mapped bytes shows it.
TEST(CheckedMode, AHugeBlockIsResizedInItsMappingWithItsCanary) {
    const size_t kMiB = (size_t)1 << 20;
    for (bool overflow : {false, true}) {
        arena_t *a = Create(ARENA_CHECKED);
        ErrorLog log;
        size_t n = 32 * kMiB;
        auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
        ASSERT_NE(p, nullptr);
        for (size_t i = 0; i < n; i += 4096) p[i] = (uint8_t)(i >> 12);
        for (; n < 96 * kMiB; n += kMiB) {
            p = static_cast<uint8_t *>(arena_realloc(a, p, n + kMiB));
            ASSERT_NE(p, nullptr) << n;
            for (size_t i = n; i < n + kMiB; i += 4096) p[i] = (uint8_t)(i >> 12);
        }
        for (size_t i = 0; i < n; i += 4096) ASSERT_EQ(p[i], (uint8_t)(i >> 12)) << i;
        EXPECT_LT(Stats(a).peak_mapped_bytes, 120 * kMiB) << "old and new mapped at once: a copy";
        p = static_cast<uint8_t *>(arena_realloc(a, p, n - 3 * kMiB - 5));  // shrinks in place
        ASSERT_NE(p, nullptr);
        n -= 3 * kMiB + 5;
        EXPECT_EQ(arena_usable_size(a, p), n);
        memset(p + n - 4096, 9, 4096);  // up to the last requested byte: fine
        if (overflow) p[n] = 0x55;
        arena_free(a, p);
        ASSERT_EQ(log.entries.size(), overflow ? 1u : 0u) << (log.entries.empty() ? "" : log.entries[0].message);
        if (overflow) {
            EXPECT_EQ(log.entries[0].kind, ARENA_ERR_OVERFLOW);
        }
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

// An overflow within the canary's bytes leaves the heap as it was: a small
// block asked exactly CANARY_BYTES below its class had its slack record (its
// last byte) as the 8th byte past its end; the free reported the overflow,
// then counted a size read from the damaged record, and live_bytes stayed
// wrong (arena_check failed from then on).
TEST(CheckedMode, AnOverflowWithinTheCanaryLeavesTheHeapConsistent) {
    for (size_t n : {(size_t)1, (size_t)8, (size_t)24, (size_t)100, (size_t)1000, (size_t)3000, (size_t)20000}) {
        for (size_t off = 0; off < 8; off++) {
            arena_t *a = Create(ARENA_CHECKED);
            ErrorLog log;
            auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
            ASSERT_NE(p, nullptr);
            p[n + off] ^= 0x55;
            arena_free(a, p);
            ASSERT_EQ(log.entries.size(), 1u) << n << " +" << off;
            EXPECT_EQ(log.entries[0].kind, ARENA_ERR_OVERFLOW);
            EXPECT_EQ(log.entries[0].p, p);
            EXPECT_EQ(Stats(a).live_bytes, 0u) << n << " +" << off;
            EXPECT_EQ(arena_check(a), 0) << n << " +" << off;
            arena_destroy(a);
        }
    }
}

// A medium block's 16-byte header lies just before its payload: requested
// (bytes 16..9 before it), then size and flags (8..1). In the checked mode a
// seal of the header past the block's canary catches an underflow into it, and
// the header is rebuilt from the seal. Before, a write to p[-16] went unseen
// (the free counted a wrong size) and one to p[-1] was reported but left the
// heap broken: arena_check failed from then on.
const size_t kMediumSizes[] = {2000, 3000, 20000, 300000, 3u << 20};

TEST(CheckedMode, AnUnderflowIntoAMediumHeaderIsReportedAndRepairedAtFree) {
    for (size_t n : kMediumSizes) {
        for (int off = 1; off <= 16; off++) {
            for (uint8_t flip : {(uint8_t)0x55, (uint8_t)0x02, (uint8_t)0xff}) {
                arena_t *a = Create(ARENA_CHECKED);
                ErrorLog log;
                auto *before = static_cast<uint8_t *>(arena_malloc(a, n));
                auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
                auto *after = static_cast<uint8_t *>(arena_malloc(a, n));
                ASSERT_NE(after, nullptr);
                p[-off] ^= flip;
                EXPECT_NE(arena_check(a), 0) << "arena_check sees the damage: " << n << " -" << off;
                arena_free(a, p);
                ASSERT_EQ(log.entries.size(), 1u) << n << " -" << off << " ^" << int(flip);
                EXPECT_EQ(log.entries[0].kind, ARENA_ERR_CORRUPTION);
                EXPECT_EQ(log.entries[0].p, p);
                EXPECT_EQ(Stats(a).live_bytes, 2 * n) << n << " -" << off;
                EXPECT_EQ(arena_check(a), 0) << n << " -" << off << " ^" << int(flip);
                arena_free(a, before);
                arena_free(a, after);
                EXPECT_EQ(log.entries.size(), 1u) << n << " -" << off << ": " << log.entries.back().message;
                EXPECT_EQ(Stats(a).live_bytes, 0u);
                EXPECT_EQ(arena_check(a), 0) << n << " -" << off << " ^" << int(flip);
                arena_destroy(a);
            }
        }
    }
}

// The same damage found by usable_size or realloc is reported once, and the
// block keeps its size and contents.
TEST(CheckedMode, AnUnderflowIntoAMediumHeaderIsRepairedByUsableSizeAndRealloc) {
    for (size_t n : kMediumSizes) {
        for (int off : {1, 8, 9, 16}) {
            arena_t *a = Create(ARENA_CHECKED);
            ErrorLog log;
            auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
            auto *q = static_cast<uint8_t *>(arena_malloc(a, n));
            ASSERT_NE(q, nullptr);
            Fill(p, n, 5);
            p[-off] ^= 0x55;
            q[-off] ^= 0x55;
            EXPECT_EQ(arena_usable_size(a, p), n) << n << " -" << off;
            ASSERT_EQ(log.entries.size(), 1u) << n << " -" << off;
            EXPECT_EQ(log.entries[0].kind, ARENA_ERR_CORRUPTION);
            EXPECT_EQ(log.entries[0].p, p);
            auto *r = static_cast<uint8_t *>(arena_realloc(a, q, 2 * n));
            ASSERT_NE(r, nullptr);
            ASSERT_EQ(log.entries.size(), 2u) << n << " -" << off;
            EXPECT_EQ(log.entries[1].kind, ARENA_ERR_CORRUPTION);
            EXPECT_EQ(log.entries[1].p, q);
            EXPECT_EQ(arena_check(a), 0) << n << " -" << off;
            EXPECT_EQ(FirstMismatch(p, n, 5), n);
            arena_free(a, p);
            arena_free(a, r);
            EXPECT_EQ(log.entries.size(), 2u) << n << " -" << off << ": " << log.entries.back().message;
            EXPECT_EQ(Stats(a).live_bytes, 0u);
            EXPECT_EQ(arena_check(a), 0) << n << " -" << off;
            arena_destroy(a);
        }
    }
}

// Damage next to block p found by p's free: a damaged header can make the used
// block q after p look free to p's free, which would coalesce with it, so the
// free verifies q first, reports it and repairs it; and p's seal lies past its
// canary, in its last 16 bytes, where an overflow that skips the canary is an
// overflow. arena_check sees either before the free does.
TEST(CheckedMode, DamageAroundAMediumBlocksEndIsReportedByItsFree) {
    struct Case {
        int at;  // from q
        uint8_t flip;
        arena_error kind;
        bool names_q;
    };
    const Case cases[] = {{-8, 0x01, ARENA_ERR_CORRUPTION, true},   // q's free flag
                          {-27, 0x55, ARENA_ERR_OVERFLOW, false}};  // p's seal, before q's header
    for (const Case &c : cases) {
        for (size_t n : kMediumSizes) {
            arena_t *a = Create(ARENA_CHECKED);
            ErrorLog log;
            auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
            auto *q = static_cast<uint8_t *>(arena_malloc(a, n));
            auto *keep = arena_malloc(a, n);
            ASSERT_NE(keep, nullptr);
            ASSERT_TRUE(q > p && size_t(q - p) < n + 100) << "p and q lie next to each other";
            q[c.at] ^= c.flip;
            EXPECT_NE(arena_check(a), 0) << n << " " << c.at;
            arena_free(a, p);
            ASSERT_EQ(log.entries.size(), 1u) << n << " " << c.at;
            EXPECT_EQ(log.entries[0].kind, c.kind);
            EXPECT_EQ(log.entries[0].p, c.names_q ? q : p);
            EXPECT_EQ(arena_check(a), 0) << n << " " << c.at;
            arena_free(a, q);
            arena_free(a, keep);
            EXPECT_EQ(log.entries.size(), 1u) << n << " " << c.at << ": " << log.entries.back().message;
            EXPECT_EQ(Stats(a).live_bytes, 0u);
            EXPECT_EQ(arena_check(a), 0) << n << " " << c.at;
            arena_destroy(a);
        }
    }
}

// Another thread's usable_size or free verifies a block's header against its
// seal while the owner frees and takes back the blocks around it, changing
// the block's prev-free flag and the footer before it: those are the owner's
// to compare, or a sound header read as damaged and its call was refused.
TEST(CheckedMode, AnotherThreadVerifyingBesideTheOwnersFreesReportsNothing) {
    arena_t *a = Create(ARENA_CHECKED | ARENA_THREAD_SAFE);
    ErrorLog log;
    std::vector<void *> blocks;
    for (int i = 0; i < 32; i++) blocks.push_back(arena_malloc(a, 2000));
    std::atomic<bool> done{false};
    std::thread other([&] {
        while (!done.load())
            for (size_t i = 1; i < blocks.size(); i += 2) EXPECT_EQ(arena_usable_size(a, blocks[i]), 2000u);
        for (size_t i = 1; i < blocks.size(); i += 2) arena_free(a, blocks[i]);
    });
    for (int round = 0; round < 300000 && log.entries.empty(); round++) {
        size_t i = 2 * (round % 16);
        arena_free(a, blocks[i]);
        blocks[i] = arena_malloc(a, 2000);
    }
    done = true;
    other.join();
    EXPECT_TRUE(log.entries.empty()) << log.entries[0].message;
    for (size_t i = 0; i < blocks.size(); i += 2) arena_free(a, blocks[i]);
    EXPECT_EQ(Stats(a).live_bytes, 0u);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// In a mode every free takes the slow path, which reads the mark a block
// carries while another thread's free of it is on its way back to its owner:
// a second free of it, by the owner or by another thread, and a realloc or
// usable_size of it, are double frees. Before, the owner's free went through
// and the block was freed again when it came back (the live bytes went below
// zero, or a block handed out again in between was freed under its user), and
// in the checked mode a 16-byte block's mark read as an overflow.
TEST(Modes, ASecondFreeOfABlockOnItsWayBackIsADoubleFree) {
    for (unsigned mode : {ARENA_CHECKED, ARENA_SECURE, ARENA_CHECKED | ARENA_SECURE}) {
        for (size_t n : {(size_t)8, (size_t)24, (size_t)1000, (size_t)3000}) {
            arena_t *a = Create(mode | ARENA_THREAD_SAFE);
            ErrorLog log;
            auto *keep = static_cast<uint8_t *>(arena_malloc(a, n));
            auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
            ASSERT_NE(p, nullptr);
            std::thread([&] { arena_free(a, p); }).join();
            EXPECT_TRUE(log.entries.empty()) << mode << " " << n << ": " << log.entries[0].message;
            arena_free(a, p);  // the owner frees it again while it waits
            errno = 0;
            EXPECT_EQ(arena_realloc(a, p, 2 * n), nullptr);
            EXPECT_EQ(errno, EINVAL);
            EXPECT_EQ(arena_usable_size(a, p), 0u);
            std::thread([&] { arena_free(a, p); }).join();  // and another thread
            ASSERT_EQ(log.entries.size(), 4u) << mode << " " << n;
            for (auto &e : log.entries) {
                EXPECT_EQ(e.kind, ARENA_ERR_DOUBLE_FREE) << mode << " " << n << ": " << e.message;
                EXPECT_EQ(e.p, p);
            }
            std::vector<uint8_t *> blocks;
            for (int i = 0; i < 100; i++) {
                blocks.push_back(static_cast<uint8_t *>(arena_malloc(a, n)));
                memset(blocks.back(), 1, n);
            }
            for (auto *b : blocks) arena_free(a, b);
            arena_free(a, keep);
            EXPECT_EQ(log.entries.size(), 4u) << mode << " " << n << ": " << log.entries.back().message;
            EXPECT_EQ(Stats(a).live_bytes, 0u) << mode << " " << n;
            EXPECT_EQ(arena_check(a), 0) << mode << " " << n;
            arena_destroy(a);
        }
    }
}

// A write just before a small block lands on the slack record of the block
// before it (its last bytes, past its canary), which gives its requested
// size. Read unchecked, a damaged record gave a size past the block, and the
// free's canary verification read far off it (SIGSEGV), or a size within it,
// counted by the free. Now the record's check byte finds the damage: one
// report naming the block, which stays live; damage to the canary alone is an
// overflow, and the heap stays consistent.
TEST(CheckedMode, AWriteBeforeASmallBlockIsReportedNotFollowed) {
    const size_t sizes[] = {1, 24, 100, 300, 1000};
    for (size_t n : sizes) {
        for (size_t back = 1; back <= 12; back++) {
            for (uint8_t flip : {(uint8_t)0x55, (uint8_t)0xff, (uint8_t)0x01}) {
                arena_t *a = Create(ARENA_CHECKED);
                ErrorLog log;
                auto *x = static_cast<uint8_t *>(arena_malloc(a, n));
                auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
                ASSERT_NE(p, nullptr);
                ASSERT_GT(p, x);
                ASSERT_LE(p - x, 2048) << "blocks of one class are carved one after the other";
                p[-(ptrdiff_t)back] ^= flip;  // into x's canary, check byte or slack record
                arena_free(a, x);
                ASSERT_EQ(log.entries.size(), 1u) << n << " -" << back << " ^" << (int)flip;
                EXPECT_EQ(log.entries[0].p, x);
                arena_error kind = log.entries[0].kind;
                EXPECT_TRUE(kind == ARENA_ERR_CORRUPTION || kind == ARENA_ERR_OVERFLOW) << log.entries[0].message;
                EXPECT_EQ(arena_usable_size(a, p), n);
                arena_free(a, p);
                EXPECT_EQ(log.entries.size(), 1u) << n << " -" << back << ": " << log.entries.back().message;
                if (kind == ARENA_ERR_OVERFLOW) {
                    EXPECT_EQ(Stats(a).live_bytes, 0u);
                    EXPECT_EQ(arena_check(a), 0);
                } else {
                    EXPECT_EQ(Stats(a).live_bytes, n) << "a block whose size is lost stays live";
                    EXPECT_EQ(arena_usable_size(a, x), 0u);
                    EXPECT_EQ(log.entries.size(), 2u);
                    // As arena.h says: from then on arena_check fails on it (it
                    // passed when only the check byte was damaged: the record
                    // itself still read as a slack in range).
                    EXPECT_NE(arena_check(a), 0) << n << " -" << back << " ^" << (int)flip;
                }
                arena_destroy(a);
            }
        }
    }
}

// The check byte is a bijection of each byte of the record for one block, so
// every one-byte damage of a small block's slack record, or of its check
// byte, is found whatever the heap's secret: 255 damages of each of the two
// bytes, for 1-byte records (slack below 255). Hashed with the slack, one
// damage in 256 of the record went unseen, by the heap's random secret
// (this test failed in 5 of 30 runs of the build before).
TEST(CheckedMode, EveryDamageToOneByteOfASizeRecordIsFound) {
    for (size_t n : {(size_t)24, (size_t)300}) {
        for (size_t back = 1; back <= 2; back++) {  // the record, its check byte
            size_t unseen = 0;
            for (unsigned flip = 1; flip <= 255; flip++) {
                arena_t *a = Create(ARENA_CHECKED);
                ErrorLog log;
                auto *x = static_cast<uint8_t *>(arena_malloc(a, n));
                auto *p = static_cast<uint8_t *>(arena_malloc(a, n));
                ASSERT_NE(p, nullptr);
                ASSERT_EQ(arena_usable_size(a, x), n);
                p[-(ptrdiff_t)back] ^= (uint8_t)flip;
                arena_free(a, x);
                if (log.entries.size() != 1u) unseen++;
                arena_destroy(a);
            }
            EXPECT_EQ(unseen, 0u) << n << "-byte blocks, byte -" << back << " of the next";
        }
    }
}

TEST(CheckedMode, OverflowIsReportedWhenTheBlockMoves) {
    arena_t *a = Create(ARENA_CHECKED);
    ErrorLog log;
    auto *p = static_cast<uint8_t *>(arena_malloc(a, 40));
    Fill(p, 40, 7);
    p[45] = 1;
    auto *q = static_cast<uint8_t *>(arena_realloc(a, p, 4000));
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(FirstMismatch(q, 40, 7), 40u);
    ASSERT_EQ(log.entries.size(), 1u);
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_OVERFLOW);
    arena_free(a, q);
    arena_destroy(a);
}

// A huge block grown in place kept no canary past its new size: its free
// reported an overflow nobody made (sqlite3's sorter, doubling a buffer past
// 16 MiB, aborted under ARENA_CHECKED=1).
TEST(CheckedMode, BlocksResizedBetweenEveryKindKeepTheirCanary) {
    const size_t sizes[] = {24, 4000, 300000, 17u << 20, 20000000};
    for (size_t from : sizes) {
        for (size_t to : sizes) {
            arena_t *a = Create(ARENA_CHECKED);
            ErrorLog log;
            auto *p = static_cast<uint8_t *>(arena_malloc(a, from));
            ASSERT_NE(p, nullptr);
            Fill(p, from, 3);
            auto *q = static_cast<uint8_t *>(arena_realloc(a, p, to));
            ASSERT_NE(q, nullptr) << from << " -> " << to;
            EXPECT_EQ(arena_usable_size(a, q), to);
            size_t kept = std::min(from, to);
            EXPECT_EQ(FirstMismatch(q, kept, 3), kept) << from << " -> " << to;
            arena_free(a, q);
            EXPECT_TRUE(log.entries.empty()) << from << " -> " << to << ": " << log.entries[0].message;
            q = static_cast<uint8_t *>(arena_realloc(a, arena_malloc(a, from), to));
            ASSERT_NE(q, nullptr);
            q[to] = 0x55;  // one byte past the new size
            arena_free(a, q);
            ASSERT_EQ(log.entries.size(), 1u) << from << " -> " << to;
            EXPECT_EQ(log.entries[0].kind, ARENA_ERR_OVERFLOW);
            EXPECT_EQ(arena_check(a), 0);
            arena_destroy(a);
        }
    }
}

TEST(CheckedMode, WriteAfterFreeIsReportedWhenTheBlockIsReused) {
    arena_t *a = Create(ARENA_CHECKED);
    ErrorLog log;
    auto *p = static_cast<uint8_t *>(arena_malloc(a, 64));
    arena_free(a, p);
    p[20] = 0x11;  // the program still writes through its stale pointer
    auto *q = static_cast<uint8_t *>(arena_malloc(a, 64));
    EXPECT_EQ(q, p) << "the freed block comes back first";
    ASSERT_EQ(log.entries.size(), 1u);
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_WRITE_AFTER_FREE);
    EXPECT_EQ(log.entries[0].p, p);
    EXPECT_NE(log.entries[0].message.find("write after free to block"), std::string::npos);
    arena_free(a, q);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// A freed block's link is encoded in the checked mode too: zeros written over
// it (node->next = NULL through a stale pointer) once read as the end of the
// list, and the page's other free blocks were silently dropped.
// Since then the list is made anew from the page's live map: the write is
// reported as what it is, and no free block is lost (they were, and
// arena_check failed on the page from then on).
TEST(CheckedMode, ZerosWrittenOverAFreedLinkAreReported) {
    arena_t *a = Create(ARENA_CHECKED);
    std::vector<void *> v;
    for (int i = 0; i < 8; i++) v.push_back(arena_malloc(a, 64));
    void *keep = arena_malloc(a, 64);  // the page stays in use
    for (void *p : v) arena_free(a, p);
    ErrorLog log;
    memset(v.back(), 0, sizeof(void *));  // the newest free block: the list's head
    std::vector<void *> again;
    for (int i = 0; i < 8; i++) {
        again.push_back(arena_malloc(a, 64));
        ASSERT_NE(again.back(), nullptr);
    }
    ASSERT_EQ(log.entries.size(), 1u);
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_WRITE_AFTER_FREE);
    EXPECT_EQ(log.entries[0].p, v.back());
    std::sort(v.begin(), v.end());
    std::sort(again.begin(), again.end());
    EXPECT_EQ(again, v) << "the page's free blocks come back, each once";
    EXPECT_EQ(arena_check(a), 0);
    for (void *p : again) arena_free(a, p);
    arena_free(a, keep);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// arena_check says what it finds on stderr and returns -1; it never calls the
// error handler, which may call arena_check itself (it did through the free
// list's walk: with the default handler arena_check aborted, and a handler
// calling it recursed until the stack ran out).
TEST(CheckedMode, ArenaCheckSaysADamagedLinkWithoutTheErrorHandler) {
    for (unsigned flags : {(unsigned)ARENA_CHECKED, (unsigned)ARENA_SECURE}) {
        arena_t *a = Create(flags);
        void *p = arena_malloc(a, 32);
        void *keep = arena_malloc(a, 32);
        arena_free(a, p);
        ErrorLog log;
        memset(p, 0x5a, sizeof(void *));
        EXPECT_EQ(arena_check(a), -1);
        EXPECT_TRUE(log.entries.empty()) << log.entries[0].message;
        void *q = arena_malloc(a, 32);  // the damage is met, reported, and mended
        ASSERT_EQ(log.entries.size(), 1u);
        EXPECT_EQ(log.entries[0].kind, flags == ARENA_CHECKED ? ARENA_ERR_WRITE_AFTER_FREE : ARENA_ERR_CORRUPTION);
        EXPECT_EQ(arena_check(a), 0);
        arena_free(a, q);
        arena_free(a, keep);
        arena_destroy(a);
    }
}

// A write after free into a block whose page then empties is reported when the
// page leaves its class (to another class or the free pages): carving the page
// anew fills its blocks again and would erase the write.
TEST(CheckedMode, WriteAfterFreeIsReportedWhenItsPageGoesToAnotherClass) {
    arena_t *a = Create(ARENA_CHECKED);
    ErrorLog log;
    auto *p = static_cast<uint8_t *>(arena_malloc(a, 40));
    arena_free(a, p);
    memset(p + 8, 0x41, 24);
    std::vector<void *> others;
    for (int i = 0; i < 200; i++) others.push_back(arena_malloc(a, 100 + 200 * (i % 4)));
    ASSERT_GE(log.entries.size(), 1u) << "the write after free was carved over unseen";
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_WRITE_AFTER_FREE);
    EXPECT_EQ(log.entries[0].p, p);
    for (void *q : others) arena_free(a, q);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

// A free medium block keeps its list links and its size footer in its payload,
// where a write after free lands. In a mode they are verified before they are
// followed; a damaged list cannot be followed safely, so the report ends the
// program whatever the handler does. Before, the links were followed as found:
// an attacker's pair of pointers became a write anywhere, and zeros a crash.
using ModesDeathTest = ::testing::Test;
TEST(ModesDeathTest, OverwrittenMediumLinksAndFootersAreCaught) {
    static uintptr_t target = 0;
    for (unsigned flags : {(unsigned)ARENA_CHECKED, (unsigned)ARENA_SECURE}) {
        arena_t *a = Create(flags);
        const size_t n = 2000;
        auto *first = static_cast<uint8_t *>(arena_malloc(a, n));
        auto *b = static_cast<uint8_t *>(arena_malloc(a, n));
        auto *c = static_cast<uint8_t *>(arena_malloc(a, n));
        ASSERT_NE(c, nullptr);
        ASSERT_TRUE(c > b && c - b < 2100) << "b and c lie next to each other";
        arena_free(a, b);
        uintptr_t forged[2] = {reinterpret_cast<uintptr_t>(&target), reinterpret_cast<uintptr_t>(&target) - 16};
        // The links are not followed: in the child, the handler (abort()
        // follows it) finds the word they point at unwritten.
        EXPECT_DEATH(
            {
                arena_set_error_handler(
                    [](void *, arena_t *, const void *, arena_error, const char *message) {
                        std::fprintf(stderr, "%s; target=%lu.\n", message, static_cast<unsigned long>(target));
                    },
                    nullptr);
                memcpy(b, forged, sizeof forged);  // the links: next and prev
                arena_malloc(a, n);
            },
            "heap corruption.*; target=0\\.");
        EXPECT_DEATH(
            {
                memset(c - 16 - 8, 0x7f, 8);  // b's footer: its last 8 bytes, before c's 16-byte header
                arena_free(a, c);
            },
            "heap corruption");
        arena_free(a, first);
        arena_free(a, c);
        EXPECT_EQ(arena_check(a), 0);
        arena_destroy(a);
    }
}

TEST(SecureMode, AnOverwrittenFreeListLinkIsCaughtNotFollowed) {
    arena_t *a = Create(ARENA_SECURE);
    std::vector<void *> v;
    for (int i = 0; i < 50; i++) v.push_back(arena_malloc(a, 48));
    for (void *p : v) arena_free(a, p);
    // An attacker with a write after free points the link at memory of its choice.
    static char target[4096];
    *static_cast<void **>(v[49]) = target + 64;
    ErrorLog log;
    std::vector<void *> again;
    for (int i = 0; i < 100; i++) {
        void *p = arena_malloc(a, 48);
        ASSERT_NE(p, nullptr);
        EXPECT_FALSE(p >= static_cast<void *>(target) && p < static_cast<void *>(target + sizeof target))
            << "handed out memory the link pointed at";
        again.push_back(p);
    }
    ASSERT_GE(log.entries.size(), 1u);
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_CORRUPTION);
    for (void *p : again) arena_free(a, p);
    EXPECT_EQ(arena_check(a), 0);
    arena_destroy(a);
}

TEST(SecureMode, BlocksOfAPageComeInNoPredictableOrder) {
    arena_t *plain = Create(0), *secure = Create(ARENA_SECURE);
    std::vector<uintptr_t> in_order, shuffled;
    for (int i = 0; i < 200; i++) {
        in_order.push_back(reinterpret_cast<uintptr_t>(arena_malloc(plain, 32)));
        shuffled.push_back(reinterpret_cast<uintptr_t>(arena_malloc(secure, 32)));
    }
    EXPECT_TRUE(std::is_sorted(in_order.begin(), in_order.end()));
    EXPECT_FALSE(std::is_sorted(shuffled.begin(), shuffled.end()));
    std::sort(shuffled.begin(), shuffled.end());
    EXPECT_EQ(std::adjacent_find(shuffled.begin(), shuffled.end()), shuffled.end()) << "a block handed out twice";
    EXPECT_EQ(arena_check(secure), 0);
    arena_destroy(plain);
    arena_destroy(secure);
}

using SecureModeDeathTest = ::testing::Test;
TEST(SecureModeDeathTest, WritingPastTheEndOfARegionFaults) {
    arena_t *a = Create(ARENA_SECURE);
    size_t n = 20u << 20;  // a huge block: its mapping ends with the guard page
    auto *p = static_cast<volatile uint8_t *>(arena_malloc(a, n));
    size_t usable = arena_usable_size(a, (void *)p);
    p[usable - 1] = 1;  // the last usable byte is fine
    EXPECT_DEATH(p[usable + 4095 - ((uintptr_t)(p + usable) & 4095)] = 1, "");
    arena_destroy(a);
}

TEST(Modes, SeedPolicyRefusesThem) {
    arena_config c{};
    c.policy = ARENA_POLICY_SEED;
    c.flags = ARENA_CHECKED;
    errno = 0;
    EXPECT_EQ(arena_create(&c), nullptr);
    EXPECT_EQ(errno, EINVAL);
}

}  // namespace
