/* fastpath.h: malloc and free of small blocks in a handful of instructions.
 * Everything else (a page with nothing to hand out, another kind of block,
 * misuse) falls through to the general functions of alloc.c. */
#ifndef ARENA_FASTPATH_H
#define ARENA_FASTPATH_H

#include "internal.h"

/* Pops a block off pg's free list (non-empty) and records `size` as requested. */
static inline void *block_take(heap_t *h, page_t *pg, size_t size) {
    void *b = pg->free;
    pg->free = *(void **)b;
    pg->used++;
    size_t usable = pg->block_size;
    uint64_t bits = LIVE_BIT;
    if (size != usable) {
        slack_write(b, usable, usable - size);
        bits |= SLACK_BIT;
    }
    size_t g = ((uintptr_t)b & (PAGE_BYTES - 1)) >> h->classes.granule_shift;
    pg->live_map[g >> 5] |= bits << ((g & 31) * 2);
    return b;
}

/* Pushes live block p back on pg's free list; returns its requested size.
 * `word` and `shift` locate its live bits, already checked to be set. */
static inline size_t block_give(page_t *pg, void *p, uint64_t *word, unsigned shift) {
    uint64_t bits = *word >> shift;
    size_t requested = pg->block_size;
    if (bits & SLACK_BIT) requested -= slack_read(p, requested);
    *word &= ~((LIVE_BIT | SLACK_BIT) << shift);
    *(void **)p = pg->free;
    pg->free = p;
    pg->used--;
    return requested;
}

static inline void heap_count_alloc(heap_t *h, size_t size) {
    h->stats.allocs++;
    h->stats.live_bytes += size;
    if (h->stats.live_bytes > h->stats.peak_live_bytes) h->stats.peak_live_bytes = h->stats.live_bytes;
}

static inline void heap_count_free(heap_t *h, size_t size) {
    h->stats.frees++;
    h->stats.live_bytes -= size;
}

static inline void *heap_malloc_fast(heap_t *h, size_t size) {
    if (likely(size <= h->classes.small_max)) {
        page_t *pg = h->direct[sizeclass_of(&h->classes, size)];
        if (likely(pg->free != NULL)) {
            void *b = block_take(h, pg, size);
            heap_count_alloc(h, size);
            return b;
        }
    }
    return heap_malloc(h, size);
}

static inline void heap_free_fast(heap_t *h, void *p) {
    segment_t *s = segmap_lookup(p);
    if (likely(s != NULL && s->heap == h && s->kind == SEG_SMALL)) {
        page_t *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT];
        size_t g = ((uintptr_t)p & (PAGE_BYTES - 1)) >> h->classes.granule_shift;
        uint64_t *word = &pg->live_map[g >> 5];
        unsigned shift = (unsigned)(g & 31) * 2;
        if (likely((*word >> shift) & LIVE_BIT)) {
            heap_count_free(h, block_give(pg, p, word, shift));
            if (unlikely(pg->used == 0 || pg->full)) page_free_slow(h, pg);
            return;
        }
    }
    heap_free(h, p);
}

#endif /* ARENA_FASTPATH_H */
