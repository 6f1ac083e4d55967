// bump.h: what the bump reference needs to know about a replay in advance.
#pragma once

#include <cstdint>

namespace bench {

// Bytes the bump allocator takes for one block of `size` bytes at `alignment`
// (0 = malloc's): the sum over a replay's allocations and growing reallocs is
// the reserve it must map before timing.
uint64_t bump_block_bytes(uint64_t size, uint64_t alignment);

// a + b, or UINT64_MAX where that overflows: bump's sizes saturate, standing
// for "more than any machine has" (a valid trace's sizes may add up to 2^64 - 1).
uint64_t bump_add_bytes(uint64_t a, uint64_t b);

}  // namespace bench
