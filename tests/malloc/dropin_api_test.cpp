// The drop-in malloc's functions keep glibc's semantics.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "../arena/test_util.h"
#include "dropin.h"

namespace {

arena_stats ProcessStats() {
    arena_stats s;
    EXPECT_EQ(arena_malloc_stats(&s), 0);
    return s;
}

TEST(DropIn, MallocAndFreeFollowC) {
    void *a = arena_test_malloc(0), *b = arena_test_malloc(0);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    arena_test_free(a);
    arena_test_free(b);
    arena_test_free(nullptr);
    for (size_t n : {1, 15, 16, 17, 100, 4096, 70000, 3 << 20}) {
        void *p = arena_test_malloc(n);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << "malloc aligns for any type";
        EXPECT_GE(arena_test_malloc_usable_size(p), n);
        Fill(p, n, 1);
        EXPECT_EQ(FirstMismatch(p, n, 1), n);
        arena_test_free(p);
    }
    EXPECT_EQ(arena_test_malloc_usable_size(nullptr), 0u);
    errno = 0;
    EXPECT_EQ(arena_test_malloc(SIZE_MAX - 10), nullptr);
    EXPECT_EQ(errno, ENOMEM);
}

TEST(DropIn, CallocZeroesAndChecksOverflow) {
    void *dirty = arena_test_malloc(5000);
    memset(dirty, 0xff, 5000);
    arena_test_free(dirty);
    auto *p = static_cast<uint8_t *>(arena_test_calloc(1000, 5));
    ASSERT_NE(p, nullptr);
    for (int i = 0; i < 5000; i++) ASSERT_EQ(p[i], 0);
    arena_test_free(p);
    errno = 0;
    EXPECT_EQ(arena_test_calloc(SIZE_MAX / 2, 4), nullptr);
    EXPECT_EQ(errno, ENOMEM);
}

TEST(DropIn, ReallocAndReallocarray) {
    void *p = arena_test_realloc(nullptr, 10);
    ASSERT_NE(p, nullptr);
    Fill(p, 10, 2);
    p = arena_test_realloc(p, 100000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(FirstMismatch(p, 10, 2), 10u);
    EXPECT_EQ(arena_test_realloc(p, 0), nullptr) << "realloc(p, 0) frees p";
    errno = 0;
    EXPECT_EQ(arena_test_reallocarray(nullptr, SIZE_MAX / 2, 3), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    void *q = arena_test_reallocarray(nullptr, 10, 10);
    ASSERT_NE(q, nullptr);
    EXPECT_GE(arena_test_malloc_usable_size(q), 100u);
    arena_test_cfree(q);
}

// Every alignment from 16 B to 64 KiB at every size, size equal to alignment
// included (a released allocator got that very case wrong).
TEST(DropIn, EveryAlignmentAtEverySize) {
    for (size_t align = 16; align <= 65536; align *= 2) {
        for (size_t n : {(size_t)1, align / 2, align - 1, align, align + 1, 2 * align, (size_t)100, (size_t)5000,
                         (size_t)300000, (size_t)3 << 20}) {
            void *ps[3] = {arena_test_aligned_alloc(align, n), arena_test_memalign(align, n), nullptr};
            ASSERT_EQ(arena_test_posix_memalign(&ps[2], align, n), 0);
            for (void *p : ps) {
                ASSERT_NE(p, nullptr) << "align " << align << " size " << n;
                EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "align " << align << " size " << n;
                EXPECT_GE(arena_test_malloc_usable_size(p), n);
                Fill(p, n, 3);
            }
            for (void *p : ps) {
                EXPECT_EQ(FirstMismatch(p, n, 3), n);
                arena_test_free(p);
            }
        }
    }
}

TEST(DropIn, AlignedFamilyEdges) {
    void *p = reinterpret_cast<void *>(0x1);
    EXPECT_EQ(arena_test_posix_memalign(&p, 24, 10), EINVAL);
    EXPECT_EQ(arena_test_posix_memalign(&p, 4, 10), EINVAL) << "below sizeof(void *)";
    EXPECT_EQ(p, reinterpret_cast<void *>(0x1)) << "untouched on failure";
    void *m = arena_test_memalign(24, 10);  // glibc rounds the alignment up to 32
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m) % 32, 0u);
    arena_test_free(m);
    void *v = arena_test_valloc(10);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v) % 4096, 0u);
    arena_test_free(v);
    void *pv = arena_test_pvalloc(5000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pv) % 4096, 0u);
    EXPECT_GE(arena_test_malloc_usable_size(pv), 8192u) << "pvalloc rounds the size up to pages";
    arena_test_free(pv);
}

// The block lies inside its mapping even when the alignment puts its start
// at a page boundary and it asks for nothing (it once began where its mapping
// ended, and free found another segment, or none, there).
TEST(DropIn, ZeroBytesAtHugeAlignments) {
    for (unsigned shift = 20; shift <= 27; shift++) {
        const size_t align = (size_t)1 << shift;
        void *p = arena_test_aligned_alloc(align, 0);
        ASSERT_NE(p, nullptr) << "align " << align;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
        memset(p, 7, arena_test_malloc_usable_size(p));
        EXPECT_EQ(arena_malloc_check(), 0) << "align " << align;
        arena_test_free(p);
    }
}

// A huge block grows by mremap: in place when it can, else moved. The failed
// attempt in place is no error of the call's, and errno stays as it was.
TEST(DropIn, SuccessfulReallocLeavesErrnoAlone) {
    void *p = arena_test_malloc((size_t)17 << 20);
    ASSERT_NE(p, nullptr);
    void *fence = arena_test_malloc((size_t)17 << 20);  // likely in the way of growth in place
    for (size_t n : {(size_t)35 << 20, (size_t)70 << 20, (size_t)5 << 20, (size_t)100, (size_t)3000}) {
        errno = 4321;
        void *q = arena_test_realloc(p, n);
        ASSERT_NE(q, nullptr) << n;
        EXPECT_EQ(errno, 4321) << "realloc to " << n;
        p = q;
    }
    errno = 4321;
    void *m = arena_test_malloc((size_t)20 << 20);
    EXPECT_EQ(errno, 4321);
    arena_test_free(m);
    arena_test_free(fence);
    arena_test_free(p);
}

// A request no machine here could back fails at once with ENOMEM, as glibc's
// does, instead of succeeding and leaving the OOM killer to end the program
// when it writes. Only where the kernel refuses such mappings (overcommit
// heuristic or strict: /proc/sys/vm/overcommit_memory 0 or 2).
TEST(DropIn, AnImpossibleSizeFailsWithENOMEM) {
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = -1;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1) mode = -1;
        fclose(f);
    }
    if (mode != 0 && mode != 2) GTEST_SKIP() << "overcommit_memory is " << mode << ": the kernel maps any size";
    const size_t impossible = (size_t)1 << 46;  // 64 TiB
    errno = 0;
    EXPECT_EQ(arena_test_malloc(impossible), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(arena_test_calloc(impossible / 16, 16), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    void *p = arena_test_malloc(100);
    ASSERT_NE(p, nullptr);
    errno = 0;
    EXPECT_EQ(arena_test_realloc(p, impossible), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    arena_test_free(p);
    EXPECT_EQ(arena_malloc_check(), 0);
}

// Huge blocks of every thread share one heap's cache of mappings; a freed
// one stays mapped only within what the freeing thread's heap may keep dirty
// (1/8 of its live bytes, at least 2 MiB), not for good.
TEST(DropIn, AFreedHugeBlockGoesBackToTheOS) {
    const size_t huge = (size_t)96 << 20;
    size_t before = ProcessStats().mapped_bytes;
    void *p = arena_test_malloc(huge);
    ASSERT_NE(p, nullptr);
    memset(p, 1, huge);
    arena_test_free(p);
    EXPECT_LT(ProcessStats().mapped_bytes, before + ((size_t)16 << 20)) << "the freed mapping stayed";
    EXPECT_EQ(arena_malloc_check(), 0);
}

TEST(DropIn, StatsSeeEveryCall) {
    arena_stats before = ProcessStats();
    void *p = arena_test_malloc(100);
    void *q = arena_test_calloc(2, 50);
    p = arena_test_realloc(p, 200);
    arena_stats mid = ProcessStats();
    EXPECT_EQ(mid.allocs, before.allocs + 2);
    EXPECT_EQ(mid.reallocs, before.reallocs + 1);
    EXPECT_EQ(mid.live_bytes, before.live_bytes + 300);
    arena_test_free(p);
    arena_test_free(q);
    EXPECT_EQ(ProcessStats().live_bytes, before.live_bytes);
    EXPECT_EQ(arena_malloc_check(), 0);
}

TEST(DropIn, TrimHandsFreeMemoryBack) {
    // Less than the purge budget: without the trim it would stay resident.
    // purged_bytes is what is purged and still mapped now, not a running sum:
    // a trim that unmaps what earlier tests left purged (a whole run in one
    // process) lowers it, so that goes first.
    arena_test_malloc_trim(0);
    std::vector<void *> v;
    for (int i = 0; i < 3000; i++) v.push_back(memset(arena_test_malloc(200), 1, 200));
    for (void *p : v) arena_test_free(p);
    arena_stats before = ProcessStats();
    arena_test_malloc_trim(0);
    EXPECT_GT(ProcessStats().purged_bytes, before.purged_bytes);
    EXPECT_EQ(arena_malloc_check(), 0);
}

TEST(DropIn, TrimHandsBackEmptyClassPagesAndTheEmptyOSPagesOfSparseOnes) {
    // A class keeps its last page when it empties, and a sparse page its free
    // blocks: malloc_trim hands back the OS pages on which no block is live.
    const size_t size = 208, count = 2000, kept_every = 100;
    std::vector<unsigned char *> v;
    for (size_t i = 0; i < count; i++)
        v.push_back(static_cast<unsigned char *>(memset(arena_test_malloc(size), (int)(i & 0xff), size)));
    void *alone = memset(arena_test_malloc(720), 9, 720);
    std::set<uintptr_t> freed_on, kept_on;
    AddOSPages(alone, 720, &freed_on);
    for (size_t i = 0; i < count; i++) AddOSPages(v[i], size, i % kept_every ? &freed_on : &kept_on);
    arena_test_free(alone);
    for (size_t i = 0; i < count; i++)
        if (i % kept_every) arena_test_free(v[i]);
    EXPECT_EQ(arena_test_malloc_trim(0), 1);
    size_t empty = 0;
    for (uintptr_t o : freed_on) empty += !kept_on.count(o);
    ASSERT_GT(empty, 50u);
    EXPECT_EQ(ResidentOSPages(freed_on, &kept_on), 0u) << "of " << empty << " OS pages with no live block";
    EXPECT_EQ(arena_test_malloc_trim(0), 0) << "nothing left to hand back";
    for (size_t i = 0; i < count; i += kept_every) {
        for (size_t k = 0; k < size; k++) ASSERT_EQ(v[i][k], i & 0xff) << i;
        arena_test_free(v[i]);
    }
    EXPECT_EQ(arena_malloc_check(), 0);
}

// glibc's reporting calls give arena's figures, not glibc's unused heap's.
TEST(DropIn, MallinfoAndFriendsReportArena) {
    EXPECT_EQ(arena_test_mallopt(M_ARENA_MAX, 2), 1) << "a setting is taken (and has no effect)";
    EXPECT_EQ(arena_test_mallopt(M_MXFAST, 161), 0) << "glibc refuses an M_MXFAST above 160";
    EXPECT_EQ(arena_test_mallopt(M_MXFAST, -1), 0) << "and a negative one";
    EXPECT_EQ(arena_test_mallopt(M_MXFAST, 160), 1);
    struct mallinfo2 before = arena_test_mallinfo2();
    std::vector<void *> v;
    for (int i = 0; i < 200; i++) v.push_back(memset(arena_test_malloc(1000), 1, 1000));
    struct mallinfo2 mid = arena_test_mallinfo2();
    EXPECT_GE(mid.uordblks, before.uordblks + 200000);
    EXPECT_EQ(mid.uordblks, ProcessStats().live_bytes);
    EXPECT_GE(mid.arena + mid.hblkhd, mid.uordblks);
    EXPECT_EQ((size_t)arena_test_mallinfo().uordblks, mid.uordblks) << "fits an int here";
    char *text = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    EXPECT_EQ(arena_test_malloc_info(0, f), 0);
    fclose(f);
    ASSERT_NE(text, nullptr);
    EXPECT_NE(strstr(text, "<malloc version="), nullptr) << text;
    free(text);
    EXPECT_EQ(arena_test_malloc_info(1, stdout), EINVAL);
    testing::internal::CaptureStderr();
    arena_test_malloc_stats();
    std::string out = testing::internal::GetCapturedStderr();
    EXPECT_NE(out.find(" allocations, "), std::string::npos) << out;
    for (void *p : v) arena_test_free(p);
    EXPECT_EQ(arena_test_mallinfo2().uordblks, before.uordblks);
}

TEST(DropIn, MisuseIsReported) {
    ErrorLog log;
    void *p = arena_test_malloc(64);
    arena_test_free(p);
    arena_test_free(p);
    int x;
    arena_test_free(&x);
    ASSERT_EQ(log.entries.size(), 2u);
    EXPECT_EQ(log.entries[0].kind, ARENA_ERR_DOUBLE_FREE);
    EXPECT_EQ(log.entries[1].kind, ARENA_ERR_INVALID_POINTER);
    EXPECT_EQ(arena_malloc_check(), 0);
}

}  // namespace
