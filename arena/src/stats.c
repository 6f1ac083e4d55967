/* stats.c: arena_stats for the default policy: counters kept as blocks come and
 * go, and sums over pages and blocks taken when asked. */
#include "internal.h"

#include "fastpath.h"

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Adds h's counters to *out and, when `walk`, the figures that take a walk over
 * its pages and blocks: usable, free, purged bytes and the largest free block.
 * Only a heap that cannot change under the walk may be walked. */
static void heap_stats_add(const heap_t *h, arena_stats *out, bool walk) {
    /* The counters before what other threads freed: the owner's collect moves
     * remote_freed_* into them, and read the other way round a batch collected
     * in between would count twice (heaps_stats_settle). */
    uint64_t allocs = COUNTER_GET(h->stats.allocs), frees = COUNTER_GET(h->stats.frees);
    size_t live_bytes = COUNTER_GET(h->stats.live_bytes);
    /* Blocks freed by other threads and not yet collected by this heap. */
    size_t remote_bytes = atomic_load_explicit(&h->remote_freed_bytes, memory_order_relaxed);
    uint64_t remote_blocks = atomic_load_explicit(&h->remote_freed_blocks, memory_order_relaxed);
    /* ... and those this heap's thread freed, not yet handed to their owner. */
    remote_bytes += atomic_load_explicit(&h->pending_bytes, memory_order_relaxed);
    remote_blocks += atomic_load_explicit(&h->pending_blocks, memory_order_relaxed);
    out->live_bytes += live_bytes - remote_bytes;
    out->live_blocks += (size_t)(allocs - frees - remote_blocks);
    out->peak_live_bytes += heap_peak_reported(h);
    out->allocs += allocs;
    out->frees += frees + remote_blocks;
    out->reallocs += COUNTER_GET(h->stats.reallocs);
    out->regions += COUNTER_GET(h->segment_count);
    if (!walk) return;
    for (const segment_t *s = h->segments[SEG_SMALL]; s; s = s->next) {
        if (s->pages_ready < s->page_count) { /* never set up, never touched */
            size_t never = (size_t)(s->page_count - s->pages_ready) << PAGE_SHIFT;
            out->free_bytes += never;
            out->purged_bytes += never;
            out->largest_free_block = max_size(out->largest_free_block, h->classes.small_max);
        }
        for (uint32_t i = s->first_page; i < s->pages_ready; i++) {
            const page_t *pg = &s->pages[i];
            size_t area = ((pg->start & ~(PAGE_BYTES - 1)) + PAGE_BYTES) - pg->start;
            if (pg->state == PAGE_ACTIVE) {
                out->usable_bytes += (size_t)pg->used * pg->block_size;
                out->free_bytes += (size_t)(pg->reserved - pg->used) * pg->block_size;
                if (pg->used < pg->reserved) out->largest_free_block = max_size(out->largest_free_block, pg->block_size);
                out->purged_bytes += (size_t)__builtin_popcount(pg->purged_os) * OS_PAGE; /* page_shrink */
            } else {
                out->free_bytes += area;
                out->largest_free_block = max_size(out->largest_free_block, h->classes.small_max);
                if (!pg->dirty) out->purged_bytes += area;
            }
        }
    }
    out->free_bytes += h->tlsf.free_bytes + h->tlsf.cache_bytes;
    out->largest_free_block = max_size(out->largest_free_block, tlsf_largest_free(h));
    size_t medium_blocks = 0, medium_requested = 0, medium_usable = 0;
    tlsf_usage(h, &medium_blocks, &medium_requested, &medium_usable, &out->purged_bytes);
    out->usable_bytes += medium_usable;
    for (const segment_t *s = h->segments[SEG_HUGE]; s; s = s->next) out->usable_bytes += s->huge_usable;
    out->free_bytes += h->huge_cache_bytes;
    out->largest_free_block = max_size(out->largest_free_block, huge_largest_cached(h));
}

/* The sums of heaps read while their threads run, made consistent. A batch of
 * blocks that one thread freed of another's heap is counted in its heap's
 * pending_* until the flush adds it to the owner's remote_freed_*, and the
 * heaps are read one after the other: a flush between the two reads counts it
 * in both, so the sums can come out below zero (live_blocks 2^64 - 64). The
 * figures of running heaps lag by the blocks in flight; they never go below
 * zero, nor frees above allocs. Sums of unsigned counters that wrap: their
 * true value is the signed one. */
static void heaps_stats_settle(arena_stats *out) {
    if ((int64_t)out->live_bytes < 0) out->live_bytes = 0;
    if ((int64_t)out->live_blocks < 0) out->live_blocks = 0;
    if (out->frees > out->allocs) out->frees = out->allocs;
    if (out->live_blocks > out->allocs - out->frees) out->live_blocks = (size_t)(out->allocs - out->frees);
}

void heaps_stats(arena_t *a, heap_t *mine, arena_stats *out) {
    if (!a->multi_heap) {
        heap_stats_add(&a->heap, out, true);
    } else {
        mutex_lock(&a->huge_lock); /* a->heap holds the huge blocks of every thread */
        heap_stats_add(&a->heap, out, true);
        mutex_unlock(&a->huge_lock);
        /* Other threads go on allocating without a lock: a walk over their pages
         * could follow a half-written header, so their heaps add their counters
         * only, read as they stand. The calling thread's heap and those of ended
         * threads (abandoned, changed only under a->lock) are walked. A heap left
         * by a thread that vanished at fork may be half-changed: counters only. */
        /* Blocks of ended threads' heaps freed since those ended wait, on
         * their remote lists or in this thread's batch, for a heap to adopt
         * them: still live in the walk, which counted their usable bytes for
         * good (arena_stats.usable_bytes stayed at a thread's worth with every
         * block freed). This thread's batch goes to its owner, and the ended
         * heaps take in what they were handed, under the lock that keeps
         * them (a double free found there is reported once it is let go). */
        if (mine) heap_flush_pending(mine);
        lock_deferring(&a->lock);
        for (heap_t *h = a->abandoned; h; h = h->next_abandoned) heaps_take_in_ended(h); /* trimmed by the next reclaim */
        for (const heap_t *h = a->heaps; h; h = h->next_heap)
            heap_stats_add(h, out, h == mine || (h->abandoned && !h->orphaned));
        unlock_reporting(&a->lock);
        heaps_stats_settle(out);
        if (out->peak_live_bytes < a->peak_before_reset) out->peak_live_bytes = a->peak_before_reset;
    }
    /* A checked block is usable up to its requested size (arena_usable_size),
     * the canary and slack behind it not the caller's: live bytes are the sum. */
    if (a->heap.mode & MODE_CHECKED) out->usable_bytes = out->live_bytes;
}

/* ---- walking the live blocks ------------------------------------------------ */

static void heap_foreach_live(const heap_t *h, block_fn fn, void *ctx) {
    unsigned shift = h->classes.live_shift;
    for (const segment_t *s = h->segments[SEG_SMALL]; s; s = s->next) {
        for (uint32_t i = s->first_page; i < s->pages_ready; i++) {
            const page_t *pg = &s->pages[i];
            if (pg->state != PAGE_ACTIVE) continue;
            uintptr_t area = pg->start & ~(PAGE_BYTES - 1);
            for (size_t w = 0; w < LIVE_MAP_WORDS(shift); w++) {
                uint64_t word = map_load(&pg->live_map[w]);
                for (uint64_t bits = word & 0x5555555555555555ull; bits; bits &= bits - 1) {
                    unsigned bit = (unsigned)__builtin_ctzll(bits);
                    void *p = (void *)(area + ((w * 32 + bit / 2) << shift));
                    fn(ctx, p, page_block_requested(pg, p, word >> bit));
                }
            }
        }
    }
    tlsf_foreach_used(h, fn, ctx);
    for (const segment_t *s = h->segments[SEG_HUGE]; s; s = s->next) fn(ctx, (void *)s->huge_block, s->huge_requested);
}

void heaps_foreach_live(arena_t *a, block_fn fn, void *ctx) {
    heap_foreach_live(&a->heap, fn, ctx);
    if (a->multi_heap)
        for (const heap_t *h = a->heaps; h; h = h->next_heap) heap_foreach_live(h, fn, ctx);
}

bool heaps_live(arena_t *a, const void *p, size_t *requested) {
    segment_t *s = segmap_lookup(p);
    if (!s || s->arena != a) return false;
    switch (s->kind) {
    case SEG_SMALL: {
        page_t *pg = segment_page(s, p);
        if (((uintptr_t)p & (a->block_size - 1)) || !pg->live_map) return false;
        uint64_t bits = page_live_bits(pg, p, s->heap->classes.live_bit_shift);
        if (!(bits & LIVE_BIT)) return false;
        *requested = page_block_requested(pg, p, bits);
        return true;
    }
    case SEG_MEDIUM:
        if (tlsf_validate(s, p)) return false;
        *requested = tlsf_requested(p);
        return true;
    case SEG_HUGE:
        if ((uintptr_t)p != s->huge_block || s->huge_cached) return false;
        *requested = s->huge_requested;
        return true;
    default:
        return false;
    }
}
