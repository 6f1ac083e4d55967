/* fastpath.h: malloc and free of small blocks in a handful of instructions.
 * Everything else (a page with nothing to hand out, another kind of block,
 * misuse) falls through to the general functions of alloc.c. */
#ifndef ARENA_FASTPATH_H
#define ARENA_FASTPATH_H

#include "internal.h"

/* Marks block b of page pg live (taken off the free list) with `size` requested. */
static inline void block_mark_live(heap_t *h, page_t *pg, void *b, size_t size) {
    pg->used++;
    size_t usable = pg->block_size, slack = usable - size;
    /* The record goes into the block's last byte whether it has slack or not
     * (a block just taken holds nothing of its user's yet; 0 there is
     * harmless): a branch on `size != usable` goes wrong on about half the
     * mallocs of a mix of exact and rounded sizes (with free's test of the
     * slack bit, 9 ns a malloc+free pair on this host). A slack of 255 or more
     * comes only from the power-of-two classes of a young heap. */
    size_t slack_seen = slack;
    OPAQUE(slack_seen); /* else GCC branches on `slack != 0` all the same */
    uint64_t bits = LIVE_BIT | (uint64_t)(slack_seen != 0) * SLACK_BIT;
    if (unlikely(slack >= 255)) slack_write(b, usable, slack);
    else ((uint8_t *)b)[usable - 1] = (uint8_t)slack;
    live_ref r = page_live_ref(pg, b, h->classes.live_bit_shift);
    map_store(r.word, map_load(r.word) | bits << (r.shift & 63));
}

/* Pops a block off pg's free list (non-empty) and records `size` as requested. */
static inline void *block_take(heap_t *h, page_t *pg, size_t size) {
    void *b = pg->free;
    pg->free = *(void **)b;
    block_mark_live(h, pg, b, size);
    return b;
}

/* Pushes block p, its live bits already cleared, back on pg's free list. */
static inline void page_block_push(page_t *pg, void *p) {
    *(void **)p = pg->free;
    pg->free = p;
    pg->used--;
}

/* Pushes live block p back on pg's free list. r locates its live bits, already
 * checked to be set in `word`, the value loaded from there. */
static inline void page_block_release(page_t *pg, void *p, live_ref r, uint64_t word) {
    map_store(r.word, word & ~((LIVE_BIT | SLACK_BIT) << (r.shift & 63)));
    page_block_push(pg, p);
}

/* After a block of pg came back (heap h, not in a mode): the page leaves or
 * rejoins its queue when it emptied or was full. An empty page alone in its
 * queue stays (page_free_slow would keep it): a class used one block at a time
 * makes no call. */
static inline void page_block_returned(heap_t *h, page_t *pg) {
    if (unlikely(pg->used == 0 || pg->full))
        if (pg->full || pg->next || pg->prev) page_free_slow(h, pg);
}

/* page_block_release, then page_block_returned. */
static inline void page_block_free(heap_t *h, page_t *pg, void *p, live_ref r, uint64_t word) {
    page_block_release(pg, p, r, word);
    page_block_returned(h, pg);
}

/* h's live bytes grew by `grown` (wrapping: a shrink lowers them); the peak follows. */
static inline void heap_count_live(heap_t *h, size_t grown) {
    size_t live = h->stats.live_bytes + grown;
    COUNTER_SET(h->stats.live_bytes, live);
    if (live > h->stats.peak_live_bytes) COUNTER_SET(h->stats.peak_live_bytes, live);
}

static inline void heap_count_alloc(heap_t *h, size_t size) {
    COUNTER_ADD(h->stats.allocs, 1);
    heap_count_live(h, size);
}

static inline void heap_count_free(heap_t *h, size_t size) {
    COUNTER_ADD(h->stats.frees, 1);
    COUNTER_SET(h->stats.live_bytes, h->stats.live_bytes - size);
}

/* `blocks` blocks (`bytes` requested) of heap `owner` freed by another thread:
 * counted when the owner next collects (heap_collect_remote), so its own
 * counters never go below zero. Release, paired with the collector's acquire:
 * whoever sees the count also sees everything the freeing thread did before
 * it (the push on the remote list), so a heap released as empty has no write
 * to it still in flight. */
static inline void heap_count_remote_frees(heap_t *owner, size_t bytes, uint64_t blocks) {
    atomic_fetch_add_explicit(&owner->remote_freed_bytes, bytes, memory_order_release);
    atomic_fetch_add_explicit(&owner->remote_freed_blocks, blocks, memory_order_release);
}

/* Other threads have handed blocks to h that it has not taken in, or freed
 * huge blocks h counts (which leave nothing on its lists), not yet counted
 * (heap_collect_remote). */
static inline bool heap_freed_into(heap_t *h) {
    return atomic_load_explicit(&h->remote_batches, memory_order_relaxed) ||
           atomic_load_explicit(&h->remote_free, memory_order_relaxed) ||
           atomic_load_explicit(&h->remote_freed_blocks, memory_order_relaxed);
}

/* A block on its way to its owner (in a batch, or on the owner's remote list)
 * carries a mark in its bytes 8 to 14, where the allocator keeps nothing (a
 * 16-byte block's slack record is its byte 15), written by the thread that
 * freed it and cleared by the owner when it takes the block back. A second
 * free of the block by any other thread finds the mark (heaps.c): linked into
 * a second chain instead, the block crossed the two, blocks were lost, and a
 * later flush wrote its link into a block the owner had handed out again.
 * Every heap other threads may free into has room for it: in those arenas
 * no class is below TRANSIT_MIN_CLASS, 8-byte granules or not (heap_init). */
static inline bool pending_markable(const heap_t *owner) {
    return owner->classes.count == 0 || owner->classes.size[0] >= TRANSIT_MIN_CLASS;
}
static inline uint64_t pending_mark(const heap_t *owner, const void *p) {
    return ((((uintptr_t)p ^ (uintptr_t)owner) * UINT64_C(0x9E3779B97F4A7C15)) >> 8) | 1;
}
#define PENDING_MARK_BYTES ((UINT64_C(1) << 56) - 1) /* bytes 8-14 of the word at byte 8 */
static inline uint64_t pending_word(const void *p) {
    uint64_t word;
    __builtin_memcpy(&word, (const uint8_t *)p + 8, sizeof word);
    return word;
}
/* p's bytes 8-14 hold owner's mark (the caller knows owner's blocks have room). */
static inline bool pending_mark_holds(const heap_t *owner, const void *p) {
    return (pending_word(p) & PENDING_MARK_BYTES) == pending_mark(owner, p);
}
static inline bool pending_marked(const heap_t *owner, const void *p) {
    return pending_markable(owner) && pending_mark_holds(owner, p);
}

/* Blocks on their way to their owner on its remote_free list (the freeing
 * heap had no batch to spare, or the owner's thread had ended) are linked
 * through their first 8 bytes: such a block is TRANSIT_MIN_CLASS bytes at
 * least, so the link leaves its mark (bytes 8-14) and its slack record (its
 * last byte) alone. */
static inline void *transit_next(const void *p) {
    void *next;
    __builtin_memcpy(&next, p, sizeof next);
    return next;
}
static inline void transit_link(void *p, const void *next) { __builtin_memcpy(p, &next, sizeof next); }

/* Live block p of h, freed (or resized) by h's own thread, is on its way back
 * from another thread's free of it: a double free, which the block's arrival
 * would otherwise repeat (live bytes below zero, or a block handed out again
 * in between freed under its user). The block's bytes are read only once
 * another thread has freed a block of h: a heap no other thread frees into
 * pays a load of a flag beside its size classes and a branch. */
static inline bool heap_freed_by_others(const heap_t *h) {
#if defined(__SANITIZE_THREAD__)
    return unlikely(__atomic_load_n(&h->freed_by_others, __ATOMIC_RELAXED));
#else
    return unlikely(h->freed_by_others);
#endif
}
static inline bool heap_block_in_transit(const heap_t *h, const void *p) {
    return heap_freed_by_others(h) && pending_mark_holds(h, p); /* the flag is set only where marks fit */
}

/* A block of small size from its class's current page, counted; NULL when
 * that page has none to hand out. */
static inline void *heap_take_direct(heap_t *h, size_t size) {
    page_t *pg = h->direct[sizeclass_of(&h->classes, size)];
    if (unlikely(pg->free == NULL)) return NULL;
    void *b = block_take(h, pg, size);
    heap_count_alloc(h, size);
    return b;
}

static inline void *heap_malloc_fast(heap_t *h, size_t size) {
    if (likely(size <= h->classes.small_max)) {
        void *b = heap_take_direct(h, size);
        if (likely(b != NULL)) return b;
    }
    return heap_malloc(h, size);
}

/* calloc's fast path: a small block of the class's current page, zeroed by a
 * tail call of memset, with no frame of its own; heap_calloc does the rest
 * (overflow, medium and huge blocks, a page to find). Inline in arena_calloc
 * and the drop-in's calloc: through heap_calloc, a small calloc cost about
 * 25 instructions more than a malloc before its memset. */
static inline void *heap_calloc_fast(heap_t *h, size_t n, size_t size) {
    size_t total;
    if (likely(!__builtin_mul_overflow(n, size, &total) && total <= h->classes.small_max)) {
        void *b = heap_take_direct(h, total);
        if (likely(b != NULL)) return __builtin_memset(b, 0, total);
    }
    return heap_calloc(h, n, size);
}

/* ARENA_UNCHECKED (a CMake option, for measuring only): the free fast path
 * trusts its pointer, so the cost of the misuse check can be measured
 * against a build without it. Never for use: a double free corrupts then. */
#ifdef ARENA_UNCHECKED
#define FREE_IS_LIVE(h, p, word, shift) 1
#else
/* p starts a live block: its granule's live bit is set and p is that granule's
 * first byte (an interior pointer shares its granule with the block start). */
#define FREE_IS_LIVE(h, p, word, shift)                                                            \
    ((((word) >> ((shift) & 63)) & LIVE_BIT) && !((uintptr_t)(p) & (h)->classes.granule_mask))
#endif

/* The page of p, in segment s whose small_owner is h, when p is a live block
 * there and not on its way back, with where its live bits are (*r) and the
 * word there (*word); NULL when not (misuse). The live bits come from the
 * segment's map, not through the descriptor, which a pointer into a page
 * never set up does not have: its bits are clear. */
static inline page_t *small_block_live(heap_t *h, segment_t *s, const void *p, live_ref *r, uint64_t *word) {
    *r = segment_live_ref(s, p, h->classes.live_bit_shift);
    *word = map_load(r->word);
    return likely(FREE_IS_LIVE(h, p, *word, r->shift) && !heap_block_in_transit(h, p)) ? segment_page(s, p) : NULL;
}

/* Frees small block p of segment s, whose small_owner is h: the free fast
 * path's own part, which reads no byte of the block but its slack record.
 * Misuse goes to heap_free, which reports it. */
static inline void heap_free_small_owned(heap_t *h, segment_t *s, void *p) {
    live_ref r = segment_live_ref(s, p, h->classes.live_bit_shift);
    unsigned shift = r.shift & 63;
    OPAQUE(shift);
    uint64_t word = map_load(r.word);
    if (unlikely(!FREE_IS_LIVE(h, p, word, shift))) {
        heap_free(h, p); /* misuse: reported there */
        return;
    }
    page_t *pg = segment_page(s, p);
    OPAQUE(pg);
    /* The live bits go first: what locates them dies here. */
    uint64_t bits = word >> shift;
    map_store(r.word, word & ~((LIVE_BIT | SLACK_BIT) << shift));
    /* Not `if (bits & SLACK_BIT)`: under callgrind's branch simulation 46% of
     * sqlite's frees mispredicted it. */
    size_t usable = pg->block_size;
    heap_count_free(h, usable - slack_read_masked(p, usable, (bits & SLACK_BIT) >> 1));
    page_block_push(pg, p);
    page_block_returned(h, pg);
}

static inline void heap_free_fast(heap_t *h, void *p) {
    segment_t *s = segmap_lookup(p);
    if (unlikely(s == NULL)) {
        heap_free(h, p); /* NULL, or not arena's: reported there */
        return;
    }
    if (unlikely(s->small_owner != h)) {
        if (s->kind == SEG_MEDIUM && s->heap == h && !h->mode) tlsf_free_owned(h, s, p);
        else heap_free_at(h, s, p); /* another heap's block, a huge one, or a mode */
        return;
    }
    /* A tail call, not the mark's test in line: that needed two more
     * registers, and every free saved and restored them. */
    if (heap_freed_by_others(h)) {
        heap_free_small_shared(h, s, p);
        return;
    }
    heap_free_small_owned(h, s, p);
}

#endif /* ARENA_FASTPATH_H */
