// Internal functions that arena.h does not reach, tested directly: the
// library is linked statically, so its hidden symbols resolve here.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

extern "C" unsigned tlsf_bits_count_portable(uint64_t x);

namespace {

// The touched-page map is counted with popcnt on every CPU these tests run
// on, so the count kept for CPUs without it would otherwise never run.
TEST(TouchedPageCount, PortableCountAgreesWithTheBuiltin) {
    const uint64_t edges[] = {0,
                              ~uint64_t{0},
                              1,
                              uint64_t{1} << 63,
                              ~uint64_t{0} >> 1,
                              ~uint64_t{0} << 1,
                              0x5555555555555555u,
                              0xaaaaaaaaaaaaaaaau,
                              0x00000000ffffffffu,
                              0x8000000000000001u};
    for (uint64_t x : edges) EXPECT_EQ(tlsf_bits_count_portable(x), unsigned(__builtin_popcountll(x))) << std::hex << x;
    // Every run of set bits, as a map word covering a block's pages holds.
    for (unsigned first = 0; first < 64; first++)
        for (unsigned end = first + 1; end <= 64; end++) {
            uint64_t run = (~uint64_t{0} << first) & (~uint64_t{0} >> (64 - end));
            ASSERT_EQ(tlsf_bits_count_portable(run), end - first) << first << " " << end;
        }
    std::mt19937_64 random(42);
    for (int i = 0; i < 100000; i++) {
        uint64_t x = random() & random();  // sparser words too
        if (i & 1) x = random();
        ASSERT_EQ(tlsf_bits_count_portable(x), unsigned(__builtin_popcountll(x))) << std::hex << x;
    }
}

}  // namespace
