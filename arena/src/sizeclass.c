/* sizeclass.c: the size classes of small blocks.
 *
 * Sizes are counted in granules of block_size bytes. Classes 1..16 granules are
 * spaced by one granule; above that, 8 classes per doubling, so a block wastes
 * at most 1/8 of its size (glibc pays a header of 8 bytes and rounds to 16).
 * From CLASS_HEADED_FROM every power of two also has a class one granule
 * above it: a power-of-two payload behind a small header is a common request
 * (a 256- or 512-byte payload behind a few bytes), and it would waste 1/9.
 * A table maps any small size to its class with one load, by 8-byte units.
 * A heap that holds little maps sizes to the power-of-two classes alone
 * (sizeclass_lookup; page.c says why). A heap other threads may free into
 * has no class below TRANSIT_MIN_CLASS, whatever its granule (heap_init).
 */
#include "internal.h"

/* Granules of class c. */
static size_t class_granules(unsigned c) {
    if (c < CLASS_LINEAR) return c + 1;
    unsigned step = c - CLASS_LINEAR;
    unsigned exponent = CLASS_PER_DOUBLING_LOG2 + 1 + (step >> CLASS_PER_DOUBLING_LOG2);
    size_t mantissa = ((size_t)1 << CLASS_PER_DOUBLING_LOG2) + (step & ((1u << CLASS_PER_DOUBLING_LOG2) - 1));
    return (mantissa + 1) << (exponent - CLASS_PER_DOUBLING_LOG2);
}

void sizeclass_init(sizeclass_table *t, size_t block_size, size_t min_class) {
    t->granule = block_size;
    t->granule_mask = block_size - 1;
    t->granule_shift = log2_floor(block_size);
    t->live_shift = LIVE_SHIFT(t->granule_shift);
    t->live_bit_shift = t->live_shift - 1;
    /* Blocks of a class fit several to a page; with a large block_size that may
     * leave no class at all, and every size is a medium block. */
    size_t limit = block_size > SMALL_MAX ? block_size : SMALL_MAX;
    if (limit > PAGE_BYTES / 4) limit = 0;
    unsigned n = 0;
    for (unsigned c = 0; n < CLASS_MAX && class_granules(c) * block_size <= limit; c++) {
        size_t size = class_granules(c) * block_size;
        if (size < min_class) continue;
        /* A power of two from CLASS_HEADED_FROM, and one granule above it. */
        size_t last = n ? t->size[n - 1] : 0;
        if (is_pow2(last) && last >= CLASS_HEADED_FROM && last + block_size < size && n + 1 < CLASS_MAX)
            t->size[n++] = (uint16_t)(last + block_size);
        t->size[n++] = (uint16_t)size;
    }
    t->count = n;
    t->small_max = n ? t->size[n - 1] : 0;
    sizeclass_lookup(t, false);
}

void sizeclass_lookup(sizeclass_table *t, bool pow2_only) {
    unsigned c = 0;
    for (size_t u = 0; u <= t->small_max / MIN_BLOCK_SIZE; u++) {
        while (c < t->count && t->size[c] < u * MIN_BLOCK_SIZE) c++;
        unsigned p = c;
        while (pow2_only && p < t->count && !is_pow2(t->size[p])) p++;
        t->of_units[u] = (uint8_t)(p < t->count ? p : c); /* no power of two above: the class itself */
    }
}
