// Shared helpers of the allocator tests.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <pthread.h>
#include <sys/mman.h>

#include "arena.h"
#include "../common/resident.h"

struct ArenaConfigParam {
    arena_policy policy;
    size_t block_size;
};

inline std::string PolicyName(arena_policy p) { return p == ARENA_POLICY_SEED ? "seed" : "default"; }

// gtest prints parameters with this instead of their bytes.
inline void PrintTo(const ArenaConfigParam &c, std::ostream *os) {
    *os << PolicyName(c.policy) << " policy, block size " << c.block_size;
}

inline std::string ConfigName(const ::testing::TestParamInfo<ArenaConfigParam> &info) {
    return PolicyName(info.param.policy) + "_bs" + std::to_string(info.param.block_size);
}

// The byte at offset i of a block filled with `tag`: it depends on the tag,
// so blocks cannot pass for each other, and on i (past 256 too), so bytes
// moved within a block show.
inline uint8_t PatternByte(uint32_t tag, size_t i) { return static_cast<uint8_t>(tag * 131u + i * 7u + (i >> 8)); }

// Fills [p, p+n) with tag's pattern.
inline void Fill(void *p, size_t n, uint32_t tag) {
    auto *b = static_cast<uint8_t *>(p);
    for (size_t i = 0; i < n; i++) b[i] = PatternByte(tag, i);
}

// The first offset where [p, p+n) differs from Fill's pattern, or n.
inline size_t FirstMismatch(const void *p, size_t n, uint32_t tag) {
    auto *b = static_cast<const uint8_t *>(p);
    for (size_t i = 0; i < n; i++)
        if (b[i] != PatternByte(tag, i)) return i;
    return n;
}

// A test fixture with a fresh arena of the parameter's policy and block size.
class ConfiguredArenaTest : public ::testing::TestWithParam<ArenaConfigParam> {
  protected:
    void SetUp() override {
        arena_config c{};
        c.policy = GetParam().policy;
        c.block_size = GetParam().block_size;
        a_ = arena_create(&c);
        ASSERT_NE(a_, nullptr);
    }
    void TearDown() override { arena_destroy(a_); }
    size_t B() const { return GetParam().block_size; }
    arena_t *a_ = nullptr;
};

inline arena_stats Stats(arena_t *a) {
    arena_stats s;
    arena_stats_get(a, &s);
    return s;
}

// Adds the 4 KiB OS pages that [p, p + n) lies on to *into.
inline void AddOSPages(const void *p, size_t n, std::set<uintptr_t> *into) {
    uintptr_t b = reinterpret_cast<uintptr_t>(p);
    for (uintptr_t o = b & ~(uintptr_t)4095; o < b + n; o += 4096) into->insert(o);
}

// Whether the OS page at os_page is resident now, by mincore.
inline bool Resident(uintptr_t os_page) {
    unsigned char v = 0;
    return mincore(reinterpret_cast<void *>(os_page), 4096, &v) == 0 && (v & 1);
}

// How many of `pages` (OS page addresses) are resident, leaving out those in
// *except.
inline size_t ResidentOSPages(const std::set<uintptr_t> &pages, const std::set<uintptr_t> *except = nullptr) {
    size_t n = 0;
    for (uintptr_t o : pages)
        if ((!except || !except->count(o)) && Resident(o)) n++;
    return n;
}

// How many whole OS pages of [p, p + n) are resident now (one mincore call:
// the tests that time memory against the purge delay read many blocks).
inline size_t ResidentWholeOSPages(const void *p, size_t n) {
    uintptr_t b = reinterpret_cast<uintptr_t>(p), begin = (b + 4095) & ~uintptr_t{4095}, end = (b + n) & ~uintptr_t{4095};
    if (end <= begin) return 0;
    std::vector<unsigned char> pages((end - begin) / 4096);
    if (mincore(reinterpret_cast<void *>(begin), end - begin, pages.data()) != 0) return 0;
    size_t count = 0;
    for (unsigned char v : pages) count += v & 1;
    return count;
}

// Resident memory of this process (the sanitizer's shadow aside: resident.h).
inline size_t ResidentBytes() {
    size_t bytes = resident_bytes();
    if (!bytes) ADD_FAILURE() << "cannot read /proc/self/statm";
    return bytes;
}

// Records misuse reports instead of aborting, for the tests that provoke them.
struct ErrorLog {
    struct Entry {
        arena_t *arena;
        const void *p;
        arena_error kind;
        std::string message;
    };
    std::vector<Entry> entries;
    static void Handler(void *ctx, arena_t *a, const void *p, arena_error kind, const char *message) {
        static_cast<ErrorLog *>(ctx)->entries.push_back({a, p, kind, message});
    }
    ErrorLog() { arena_set_error_handler(Handler, this); }
    ~ErrorLog() { arena_set_error_handler(nullptr, nullptr); }
};

// Steps of a test shared by several threads: each waits for a stage, then
// moves the test on to the next one.
struct Stages {
    std::mutex lock;
    std::condition_variable changed;
    int stage = 0;
    void wait_for(int n) {
        std::unique_lock<std::mutex> hold(lock);
        changed.wait(hold, [&] { return stage >= n; });
    }
    void advance() {
        std::lock_guard<std::mutex> hold(lock);
        stage++;
        changed.notify_all();
    }
};

// The program writes into a block it freed, over the mark the block carries on
// its way back to its owner (bytes 8-14): a second free by another thread then
// goes unseen until the owner takes the block in twice.
inline void WipeInTransitMark(void *p) { memset(static_cast<char *>(p) + 8, 0, 7); }

// An arena with a heap per thread (ARENA_THREAD_SAFE), defaults otherwise.
inline arena_t *ThreadSafeArena() {
    arena_config c{};
    c.flags = ARENA_THREAD_SAFE;
    return arena_create(&c);
}

// A pthread key whose destructor hands its value to `release` after every
// other destructor of the thread has run (the allocator's among them, which
// gives the thread's heap back), whatever the order of the keys: set again the
// first time, it runs once more. One at a time.
class LateDestructorFree {
  public:
    explicit LateDestructorFree(void (*release)(void *)) {
        release_ = release;
        EXPECT_EQ(pthread_key_create(&key_, Run), 0);
    }
    ~LateDestructorFree() { pthread_key_delete(key_); }
    LateDestructorFree(const LateDestructorFree &) = delete;
    LateDestructorFree &operator=(const LateDestructorFree &) = delete;
    // The calling thread's block to free so.
    void Set(void *p) { pthread_setspecific(key_, p); }

  private:
    static void Run(void *p) {
        static thread_local bool again;
        if (!again) {
            again = true;
            pthread_setspecific(key_, p);
            return;
        }
        release_(p);
    }
    static inline pthread_key_t key_;
    static inline void (*release_)(void *);
};
