// bump.h: what the bump reference needs to know about a replay in advance.
#pragma once

#include <cstdint>

namespace bench {

// Bytes the bump allocator takes for one block of `size` bytes at `alignment`
// (0 = malloc's): the sum over a replay's allocations and growing reallocs is
// the reserve it must map before timing.
uint64_t bump_block_bytes(uint64_t size, uint64_t alignment);

}  // namespace bench
