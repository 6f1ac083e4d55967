// Shared helpers of the allocator tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "arena.h"

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

// Fills [p, p+n) with a pattern that depends on `tag`, so blocks cannot pass
// for each other.
inline void Fill(void *p, size_t n, uint32_t tag) {
    auto *b = static_cast<uint8_t *>(p);
    for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(tag * 131u + i * 7u + (i >> 8));
}

// The first offset where [p, p+n) differs from Fill's pattern, or n.
inline size_t FirstMismatch(const void *p, size_t n, uint32_t tag) {
    auto *b = static_cast<const uint8_t *>(p);
    for (size_t i = 0; i < n; i++)
        if (b[i] != static_cast<uint8_t>(tag * 131u + i * 7u + (i >> 8))) return i;
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
