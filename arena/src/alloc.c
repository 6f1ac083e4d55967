/* alloc.c: the default policy's front end: which mechanism serves a size, what
 * a pointer is, and the general (not fast) ways of every call.
 *
 * In the process arena of the drop-in malloc every thread has its own heap. A
 * block is only ever changed by the heap that owns its segment: another
 * thread's free pushes it on the owner's remote list (heaps.c), and huge
 * blocks, which any thread may free at once, belong to one shared heap under
 * a lock. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "fastpath.h"

#include <errno.h>
#include <string.h>


/* ---- huge blocks, shared between threads in the process arena ----------- */

static heap_t *huge_owner(heap_t *h) { return h->arena->multi_heap ? &h->arena->heap : h; }

/* Reports wait while the huge lock is held (arena_stats_get takes it): a huge
 * segment_new takes in what ended heaps got (heaps_reclaim), where double
 * frees show, and its own deferral nests inside this one. */
static void huge_lock(heap_t *h) {
    if (h->arena->multi_heap) lock_deferring(&h->arena->huge_lock);
}
static void huge_unlock(heap_t *h) {
    if (h->arena->multi_heap) unlock_reporting(&h->arena->huge_lock);
}

/* ---- routing ------------------------------------------------------------- */

/* Before a heap hands out memory it may not have: takes back the blocks other
 * threads freed into it, counts the frees of its huge blocks they made (which
 * leave nothing on its lists), and hands over the ones it freed into another
 * heap. Ended threads' heaps kept warm past their time go back from here: a
 * slow path is the one every working thread takes now and then. */
static inline void heap_settle_remote(heap_t *h) {
    if (heap_freed_into(h)) heap_collect_remote(h);
    if (atomic_load_explicit(&h->pending_blocks, memory_order_relaxed)) heap_flush_pending(h);
    if (unlikely(atomic_load_explicit(&h->arena->warm_due, memory_order_relaxed))) heaps_warm_expire(h->arena);
}

/* huge_malloc for heap h, which counts the block. */
static void *huge_malloc_counted(heap_t *h, size_t size, size_t align) {
    huge_lock(h);
    void *p = huge_malloc(huge_owner(h), size, align);
    if (p) {
        segment_t *s = segmap_lookup(p);
        s->stats_heap = h;
        huge_seal(s);
    }
    huge_unlock(h);
    return p;
}

/* A block of `size` bytes aligned to `align` (a power of two, >= block_size),
 * its requested size recorded; no stats. NULL with errno = ENOMEM. */
static void *heap_alloc_raw(heap_t *h, size_t size, size_t align) {
    if (unlikely(size > REQUEST_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    heap_settle_remote(h);
    const sizeclass_table *t = &h->classes;
    void *p = NULL;
    if (size <= t->small_max && t->count > 0 && align <= OS_PAGE) {
        /* Blocks of a class whose size is a multiple of the alignment are aligned:
         * pages start on 4 KiB boundaries. Power-of-two classes always qualify. */
        unsigned cls = sizeclass_of(t, size > align ? size : align);
        while (cls < t->count && (t->size[cls] & (align - 1))) cls++;
        if (cls < t->count) {
            page_t *pg = h->direct[cls];
            p = pg->free ? block_take(h, pg, size) : page_malloc_slow(h, size, cls);
            goto done;
        }
    }
    if (size <= h->medium_max && align <= h->medium_max) {
        p = tlsf_malloc(h, size, align);
    } else {
        int saved = errno;
        p = huge_malloc_counted(h, size, align);
        /* Refused by max_bytes, or by the OS (an address-space limit,
         * overcommit off): what h holds idle may be the room. Not when the OS
         * refused a size no mapping can hold: a program that tries a huge size
         * and halves it until served would purge everything at each try (27
         * times the time of 200 rounds of medium blocks with one such try
         * each, in review). The cap's refusal always: the OS may grant what
         * the cap makes room for (overcommit always on). */
        if (!p && (!arena_cap_allows(h->arena, size) || !os_size_unmappable(size)) &&
            heap_release_idle(h, SEG_HUGE)) {
            p = huge_malloc_counted(h, size, align);
            if (p) errno = saved;
        }
    }
done:
    if (!p) errno = ENOMEM;
    return p;
}

/* Live small or medium block p of segment s, for heap h: ARENA_ERR_DOUBLE_FREE
 * when another thread's free of p is still on its way to its owner, which
 * would free it again when it arrives; else 0. In a mode, for every caller;
 * without one, for the owner's own calls (heap_block_in_transit, as on the
 * fast paths): another thread's free finds the mark in heap_pend_remote_free,
 * its realloc in heap_realloc_slow (realloc_of_pending), and its usable_size
 * reads no block bytes, which their user may be writing. */
static arena_error block_classify_pending(const heap_t *h, const segment_t *s, const void *p) {
    bool pending = h->mode ? pending_marked(s->heap, p) : s->heap == h && heap_block_in_transit(h, p);
    return pending ? ARENA_ERR_DOUBLE_FREE : 0;
}

/* Live block p of segment s, which heap h's thread is about to reallocate, is
 * another heap's block that a free is still bringing back to its owner:
 * reported as a double free (a realloc reads the whole block anyway). Before,
 * such a realloc went on: it allocated first, which could take in the ended
 * owner's heap, free p there and unmap p's segment, then copied from p and
 * freed it in whatever was mapped there since
 * (ThreadHeaps.AnotherThreadsReallocOfABlockItFreedIsReported). */
static bool realloc_of_pending(heap_t *h, const segment_t *s, const void *p) {
    if (h->mode || s->heap == h || s->kind == SEG_HUGE || !pending_marked(s->heap, p)) return false;
    error_report(h->arena, p, ARENA_ERR_DOUBLE_FREE, NULL);
    return true;
}

/* A segment header that cannot be arena's as it was written: the segment map
 * is arena's own, but the header lies in the mapping just before a huge
 * block, where the program's underflow lands (it was named "another arena",
 * whose address was the bytes written: 0x5858585858585858). An arena is at
 * the start of its own mapping. */
static bool segment_header_damaged(const segment_t *s) {
    uintptr_t arena = (uintptr_t)s->arena;
    return s->magic != (SEGMENT_MAGIC ^ s->kind) || s->kind >= SEG_KINDS || arena % OS_PAGE != 0 ||
           arena >> SEGMAP_ADDRESS_BITS != 0;
}

/* What p is for heap h: 0 when a live block of h's arena, else the misuse.
 * *owner is set to the arena p belongs to for ARENA_ERR_WRONG_ARENA. The
 * block may be another heap's: its live bits are read with atomic loads. */
static arena_error block_classify(const heap_t *h, const segment_t *s, const void *p, arena_t **owner) {
    if (!s) return arena_recently_released(h->arena, p) ? ARENA_ERR_DOUBLE_FREE : ARENA_ERR_INVALID_POINTER;
    if (s->arena != h->arena) {
        if (segment_header_damaged(s)) return ARENA_ERR_CORRUPTION;
        *owner = s->arena;
        return ARENA_ERR_WRONG_ARENA;
    }
    switch (s->kind) {
    case SEG_SMALL: {
        if ((uintptr_t)p & h->classes.granule_mask) return ARENA_ERR_INVALID_POINTER; /* inside a granule */
        /* The live bits from the segment's map: p's page may be one its
         * owner's thread is setting up right now, descriptor and all. */
        if (segment_live_bits(s, p, h->classes.live_bit_shift) & LIVE_BIT) return block_classify_pending(h, s, p);
        /* A block boundary of the page's (last) class: it was freed already.
         * Another heap's descriptor may change meanwhile (set up, carved):
         * read once each, atomically, it only names the misuse. */
        const page_t *pg = segment_page((segment_t *)s, p);
        uintptr_t a = (uintptr_t)p, start = __atomic_load_n(&pg->start, __ATOMIC_RELAXED);
        uint32_t bs = __atomic_load_n(&pg->block_size, __ATOMIC_RELAXED);
        uint32_t capacity = __atomic_load_n(&pg->capacity, __ATOMIC_RELAXED);
        if (bs && a >= start && (a - start) % bs == 0 && (a - start) / bs < capacity) return ARENA_ERR_DOUBLE_FREE;
        return ARENA_ERR_INVALID_POINTER;
    }
    case SEG_MEDIUM: {
        arena_error e = tlsf_validate(s, p);
        return e ? e : block_classify_pending(h, s, p);
    }
    case SEG_HUGE:
        /* The header lies just before the block, where an underflow lands. */
        if (!huge_seal_holds(s)) return ARENA_ERR_CORRUPTION;
        if ((uintptr_t)p != s->huge_block) return ARENA_ERR_INVALID_POINTER;
        return s->huge_cached ? ARENA_ERR_DOUBLE_FREE : 0;
    default:
        return ARENA_ERR_INVALID_POINTER;
    }
}

static segment_t *checked_rebuild(heap_t *h, segment_t *s, const void *p);

/* Reports misuse of p, whose segment (segmap_lookup) is s; s when p is a live
 * block, or NULL. */
static segment_t *block_check(heap_t *h, segment_t *s, const void *p) {
    arena_t *owner = NULL;
    arena_error e = block_classify(h, s, p, &owner);
    if (unlikely(e)) {
        /* A medium block's header the checked mode seals; a segment's header, none. */
        if (e == ARENA_ERR_CORRUPTION && h->mode & MODE_CHECKED && s->kind == SEG_MEDIUM && s->arena == h->arena)
            return checked_rebuild(h, s, p);
        error_report(h->arena, p, e, owner);
        return NULL;
    }
    return s;
}

/* Looks p up and reports misuse; the segment of a live block, or NULL. */
static segment_t *block_lookup(heap_t *h, const void *p) { return block_check(h, segmap_lookup(p), p); }

size_t block_requested(heap_t *h, segment_t *s, const void *p) {
    switch (s->kind) {
    case SEG_SMALL: {
        const page_t *pg = segment_page(s, p);
        return page_block_requested(pg, p, page_live_bits(pg, p, h->classes.live_bit_shift));
    }
    case SEG_MEDIUM: return tlsf_requested(p);
    default: return s->huge_requested;
    }
}

static size_t block_usable(segment_t *s, const void *p) {
    switch (s->kind) {
    case SEG_SMALL: return segment_page(s, p)->block_size;
    case SEG_MEDIUM: return tlsf_usable(p);
    default: return s->huge_usable;
    }
}

/* Records `size` as the requested size of live block p of heap h. */
static void block_set_requested(heap_t *h, segment_t *s, void *p, size_t size) {
    switch (s->kind) {
    case SEG_SMALL: {
        page_t *pg = segment_page(s, p);
        page_block_set_requested(pg, p, page_live_ref(pg, p, h->classes.live_bit_shift), size);
        break;
    }
    case SEG_MEDIUM: tlsf_set_requested(p, size); break;
    default:
        s->huge_requested = size;
        huge_seal(s);
        break;
    }
}

void block_release(heap_t *h, segment_t *s, void *p) {
    ARENA_ASSERT(s->heap == h);
    switch (s->kind) {
    case SEG_SMALL: {
        page_t *pg = segment_page(s, p);
        live_ref r = page_live_ref(pg, p, h->classes.live_bit_shift);
        if (h->mode) modes_block_release(h, pg, p, r, map_load(r.word));
        else page_block_release(pg, p, r, map_load(r.word));
        if (pg->used == 0 || pg->full) page_free_slow(h, pg);
        break;
    }
    case SEG_MEDIUM: tlsf_free(h, s, p); break;
    default:
        /* huge_free caches the mapping: the purge pass that pages and medium
         * blocks run when they are freed keeps the cache within the budget. */
        huge_free(h, s);
        heap_purge_maybe(h);
        break;
    }
}

/* Frees huge block s of the shared heap (the drop-in, thread-safe arenas), freed
 * by h's thread; no stats; under the huge lock. Its mapping stays in the shared
 * cache only within what h may still keep dirty: the shared heap counts no live
 * bytes of its own, so by its own budget it would keep nothing, and without
 * this it kept up to HUGE_CACHE_MAX freed mappings resident for good. */
static void huge_free_shared(heap_t *h, segment_t *s) {
    heap_t *shared = s->heap;
    huge_free(shared, s);
    size_t budget = heap_purge_budget(h), dirty = heap_dirty_total(h);
    huge_purge(shared, budget > dirty ? budget - dirty : 0, false, 0);
}

/* Frees live block p of another heap: a huge block at once (under the lock),
 * anything else through its owner's remote list. Its free is counted for the
 * heap that allocated it: at once when that is h (a huge block lies in the
 * shared heap, whoever asked for it), else when that heap next settles. */
static NOINLINE void block_free_foreign(heap_t *h, segment_t *s, void *p) {
    if (s->kind == SEG_HUGE) {
        huge_lock(h);
        heap_t *stats = s->stats_heap;
        size_t requested = s->huge_requested;
        /* Counted as another heap's, this heap's own free waited for a
         * collect that only blocks freed into it start: its live bytes grew
         * by every huge block it freed, and its purges kept memory. Counted
         * before the purge that huge_free_shared runs, as heap_free_live. */
        if (stats == h) heap_count_free(h, requested);
        huge_free_shared(h, s);
        huge_unlock(h);
        if (stats != h) heap_count_remote_frees(stats, requested, 1);
        return;
    }
    heap_pend_remote_free(h, s->heap, p, block_requested(h, s, p));
}

/* Frees live block p; no stats. */
static void block_free(heap_t *h, segment_t *s, void *p) {
    if (unlikely(s->heap != h)) block_free_foreign(h, s, p);
    else block_release(h, s, p);
}

/* ---- canaries (MODE_CHECKED) --------------------------------------------- */

/* A small block's slack record (slack_write) takes its last byte, or its last
 * 9 when the slack is 255 or more. */
static size_t slack_record_bytes(size_t slack) { return slack < 255 ? 1 : 9; }

/* MODE_CHECKED: the check byte a small block keeps just before its slack
 * record, from the slack, the block's address and its owner's secret. The
 * record lies past the canary, where a write before the next block lands
 * too: read without a check, a damaged record gave a size past the block,
 * and the canary's verification ran off it (a crash), or a size within it,
 * and the free counted it (live bytes wrong for good). The slack's bytes are
 * xor-ed into the byte, not hashed with the rest: for one block the byte is
 * then a bijection of each byte of the record, so damage to any one byte of
 * the record, or to the check byte, is always found. Hashed, one damaged
 * record in 256 still matched (a test writing 0xff over a 20-byte slack
 * failed 4 times in 300 runs). A 9-byte record whose 255 marker is
 * damaged reads as a 1-byte one, checked against another byte: found in
 * 255 cases out of 256. */
static uint8_t checked_slack_key(const segment_t *s, const void *p, size_t slack) {
    uint64_t folded = slack;
    folded ^= folded >> 32;
    folded ^= folded >> 16;
    folded ^= folded >> 8;
    return (uint8_t)(mix64((uintptr_t)p ^ s->heap->secret) >> 56) ^ (uint8_t)folded;
}
static uint8_t *checked_slack_key_at(void *p, size_t usable, size_t slack) {
    return (uint8_t *)p + usable - slack_record_bytes(slack) - 1;
}

bool checked_slack_sound(const heap_t *h, const segment_t *s, const void *p) {
    const page_t *pg = segment_page((segment_t *)s, p);
    size_t usable = pg->block_size, slack = 0;
    bool sound = page_live_bits(pg, p, h->classes.live_bit_shift) & SLACK_BIT;
    if (sound) slack = slack_read(p, usable);
    return sound && slack >= CANARY_BYTES + 2 && slack <= usable &&
           *checked_slack_key_at((void *)p, usable, slack) == checked_slack_key(s, p, slack);
}

/* checked_slack_sound, a damaged record reported as heap corruption. */
static bool checked_slack_verify(heap_t *h, segment_t *s, const void *p) {
    bool sound = checked_slack_sound(h, s, p);
    if (!sound) error_report(h->arena, p, ARENA_ERR_CORRUPTION, NULL);
    return sound;
}

/* Where the canary after requested bytes of live block p ends: the usable end,
 * less a small block's slack record and its check byte. */
static size_t canary_end(segment_t *s, const void *p, size_t requested) {
    size_t usable = block_usable(s, p);
    if (s->kind == SEG_MEDIUM) return usable - TLSF_SEAL_BYTES; /* the seal ends the block */
    if (s->kind != SEG_SMALL) return usable;
    return usable - slack_record_bytes(usable - requested) - 1;
}

/* A block of `size` bytes with CANARY_BYTES more behind it, the canary written.
 * Two bytes more are asked for a small block's slack record (its last byte)
 * and the record's check byte, so that the canary is never shorter than
 * CANARY_BYTES: asked exactly CANARY_BYTES below its class, a block had its
 * record as the 8th byte past its end, and the free of a block overflowed by
 * 8 bytes, after the report, counted the size read from the damaged record. */
#define CHECKED_PAD_MAX (CANARY_BYTES + 2 + TLSF_SEAL_BYTES) /* what a block that may be a medium one is asked larger */
static void *checked_alloc_raw(heap_t *h, size_t size, size_t align) {
    size_t pad = CANARY_BYTES + 2;
    if (size > REQUEST_MAX - CHECKED_PAD_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    /* A block that may be a medium one has room for the seal of its header
     * past the canary (an aligned small one just a longer canary). */
    if (size + pad > h->classes.small_max || align > h->classes.granule) pad += TLSF_SEAL_BYTES;
    void *p = heap_alloc_raw(h, size + pad, align);
    if (!p) return NULL;
    segment_t *s = segmap_lookup(p);
    block_set_requested(h, s, p, size);
    modes_canary_fill(p, size, canary_end(s, p, size));
    if (s->kind == SEG_MEDIUM) tlsf_seal(s, p);
    if (s->kind == SEG_SMALL) {
        size_t usable = block_usable(s, p);
        *checked_slack_key_at(p, usable, usable - size) = checked_slack_key(s, p, usable - size);
    }
    return p;
}

/* MODE_CHECKED: verifies live medium block p of s against the seal of its
 * header, reports what it finds; false when p's header cannot be used. */
static bool checked_header(heap_t *h, segment_t *s, void *p) {
    bool sound;
    arena_error e = tlsf_seal_verify(h, s, p, &sound);
    if (e) error_report(h->arena, p, e, NULL);
    return sound;
}

/* MODE_CHECKED: live block p of s, whose header block_classify found damaged
 * (a medium one): reported, and rebuilt from its seal where that can be done;
 * s when p can be used on, else NULL. */
static NOINLINE segment_t *checked_rebuild(heap_t *h, segment_t *s, const void *p) {
    bool sound;
    tlsf_seal_verify(h, s, (void *)p, &sound);
    error_report(h->arena, p, ARENA_ERR_CORRUPTION, NULL);
    arena_t *owner = NULL;
    return sound && block_classify(h, s, p, &owner) == 0 ? s : NULL;
}

/* MODE_CHECKED: before live block p of s is freed or moved, a small block's
 * slack record is verified against its check byte, a medium block's header
 * against its seal, then the canary (one report, the first damage found);
 * false, after the report, when p's record or header cannot be used (the
 * block then stays as it is, live). With `retire` (p is about to be freed)
 * a medium block of h's own loses its seal, so that no seal of a freed block
 * is left for tlsf_seal_verify to find, and the block after it, which the
 * free may coalesce with, is verified first. */
static bool checked_verify(heap_t *h, segment_t *s, void *p, bool retire) {
    arena_error e = 0;
    if (s->kind == SEG_SMALL && !checked_slack_verify(h, s, p)) return false;
    if (s->kind == SEG_MEDIUM) {
        bool sound;
        e = tlsf_seal_verify(h, s, p, &sound);
        if (!sound) {
            error_report(h->arena, p, e, NULL);
            return false;
        }
    }
    size_t requested = block_requested(h, s, p);
    if (!e && !modes_canary_intact(p, requested, canary_end(s, p, requested))) e = ARENA_ERR_OVERFLOW;
    if (e) error_report(h->arena, p, e, NULL);
    if (retire && s->kind == SEG_MEDIUM && s->heap == h) {
        void *next = tlsf_next_live(s, p);
        if (next) checked_header(h, s, next);
        tlsf_unseal(p);
    }
    return true;
}

/* heap_alloc_raw, with a canary in MODE_CHECKED. */
static void *heap_alloc(heap_t *h, size_t size, size_t align) {
    return h->mode & MODE_CHECKED ? checked_alloc_raw(h, size, align) : heap_alloc_raw(h, size, align);
}

/* ---- the public calls ---------------------------------------------------- */

void *heap_malloc_general(heap_t *h, size_t size) {
    void *p = heap_alloc(h, size, h->classes.granule);
    if (p) heap_count_alloc(h, size);
    return p;
}

/* p, a block of `size` bytes just taken, counted; or NULL with errno = ENOMEM. */
static inline void *heap_counted(heap_t *h, void *p, size_t size) {
    if (unlikely(!p)) {
        errno = ENOMEM;
        return NULL;
    }
    heap_count_alloc(h, size);
    return p;
}

/* A small block when the class's current page has nothing to hand out: what
 * heap_alloc_raw does for it, without the checks a small size cannot need
 * (too large, aligned above the granule, no classes, a mode). */
static void *heap_malloc_small_slow(heap_t *h, size_t size) {
    heap_settle_remote(h);
    unsigned cls = sizeclass_of(&h->classes, size);
    page_t *pg = h->direct[cls];
    return heap_counted(h, pg->free ? block_take(h, pg, size) : page_malloc_slow(h, size, cls), size);
}

void *heap_malloc_medium_slow(heap_t *h, size_t size) {
    if (h->mode || size > h->medium_max) return heap_malloc_general(h, size);
    heap_settle_remote(h);
    return heap_counted(h, tlsf_malloc(h, size, h->classes.granule), size);
}

void *heap_malloc(heap_t *h, size_t size) {
    if (size > h->classes.small_max) {
        if (h->tlsf.cache_blocks) return tlsf_malloc_cached(h, size); /* never in a mode */
        return heap_malloc_medium_slow(h, size);
    }
    /* malloc(0), and a heap with no classes (small_max 0), go the general way. */
    if (size != 0 && !h->mode) return heap_malloc_small_slow(h, size);
    return heap_malloc_general(h, size);
}

void *heap_memalign(heap_t *h, size_t align, size_t size) {
    if (!is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    void *p = heap_alloc(h, size, align > h->classes.granule ? align : h->classes.granule);
    if (p) heap_count_alloc(h, size);
    return p;
}

/* A medium calloc that the cache did not serve (heap not in a mode), the way
 * heap_malloc_medium_slow goes: TLSF, whose tlsf_calloc clears only what was
 * written. */
static NOINLINE void *heap_calloc_medium_slow(heap_t *h, size_t size) {
    heap_settle_remote(h);
    return heap_counted(h, tlsf_calloc(h, size), size);
}

void *heap_calloc(heap_t *h, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > h->classes.small_max && total <= h->medium_max && !h->mode) {
        void *p = tlsf_calloc_cached(h, total);
        return p ? p : heap_calloc_medium_slow(h, total);
    }
    void *p = heap_malloc_fast(h, total);
    if (p && !(total > h->medium_max && segmap_lookup(p)->huge_fresh)) memset(p, 0, total);
    return p;
}

void heap_free(heap_t *h, void *p) { heap_free_at(h, segmap_lookup(p), p); }

/* Frees p, a live block of segment s (block_check said so), counted. */
static void heap_free_live(heap_t *h, segment_t *s, void *p) {
    if (h->mode & MODE_CHECKED && !checked_verify(h, s, p, true)) return;
    /* A thread-safe arena's huge blocks all lie in its own heap, counted by the
     * heap that asked: freed through the arena's heap, one goes the same way. */
    if (s->heap != h || (s->kind == SEG_HUGE && s->stats_heap != h)) {
        block_free_foreign(h, s, p);
        return;
    }
    /* Counted before the release, whose purge pass then sees the heap as it
     * is after this free, as the small fast path's does: counted after, the
     * last free of a heap (4 huge blocks of 20 MiB) ran its pass with the
     * block still live, so not torn down, and kept them resident for good,
     * no later free running another pass. */
    size_t requested = block_requested(h, s, p);
    heap_count_free(h, requested);
    block_release(h, s, p);
}

void heap_free_general(heap_t *h, segment_t *s, void *p) {
    if (!p) return;
    s = block_check(h, s, p);
    if (s) heap_free_live(h, s, p);
}

/* A live small block of another heap of h's arena, freed by h's thread, joins
 * h's batch for its owner: what heap_free_general does with one, without the
 * general classification. False, nothing done, when p is not such a block:
 * the general path then reports it. The owner wrote the block's live bits
 * and size before the block reached this thread, and changes neither while
 * the block is live. */
static bool small_free_foreign(heap_t *h, segment_t *s, void *p) {
    if (s->arena != h->arena || ((uintptr_t)p & h->classes.granule_mask)) return false;
    /* The bits from the segment's map: the descriptor of a page that holds no
     * live block may be changing in its owner's thread (misuse: reported by
     * the caller); that of a live block's page is set. */
    uint64_t bits = segment_live_bits(s, p, h->classes.live_bit_shift);
    if (!(bits & LIVE_BIT)) return false;
    heap_pend_remote_free(h, s->heap, p, block_requested_of(h->classes.size[segment_page_class(s, p)], p, bits));
    return true;
}

void heap_free_at(heap_t *h, segment_t *s, void *p) {
    if (likely(s != NULL && !h->mode)) { /* a mode checks more, in heap_free_general */
        if (s->kind == SEG_MEDIUM) {
            if (likely(s->heap == h)) {
                tlsf_free_owned(h, s, p);
                return;
            }
        } else if (s->kind == SEG_SMALL && s->heap != h) {
            if (likely(small_free_foreign(h, s, p))) return;
        }
    }
    heap_free_general(h, s, p);
}

void heap_free_small_shared(heap_t *h, segment_t *s, void *p) {
    live_ref r;
    uint64_t word;
    if (unlikely(!small_block_live(h, s, p, &r, &word))) heap_free_at(h, s, p); /* misuse: reported there */
    else heap_free_small_owned(h, s, p);
}

/* Resizes p where it lies when its block allows; true when done. */
static bool block_resize_in_place(heap_t *h, segment_t *s, void *p, size_t size) {
    if (s->heap != h || h->mode & MODE_CHECKED) return false; /* only the owner changes a block;
                                                                  checked blocks move, canary and all */
    switch (s->kind) {
    case SEG_SMALL: {
        size_t usable = block_usable(s, p);
        /* Shrinking below half moves the block, to a smaller class. */
        if (size > usable || (size <= usable / 2 && sizeclass_of(&h->classes, size) != sizeclass_of(&h->classes, usable)))
            return false;
        block_set_requested(h, s, p, size);
        return true;
    }
    case SEG_MEDIUM:
        if (size <= h->classes.small_max && h->classes.count) return false;
        return tlsf_resize_in_place(h, s, p, size);
    default:
        return false;
    }
}

static void heap_count_realloc(heap_t *h, size_t old, size_t size) {
    COUNTER_ADD(h->stats.reallocs, 1);
    heap_count_live(h, size - old);
}

/* Resizes live small block p of h (not in a mode; its bits r, `word` the value
 * there) to a small size: where it lies, or into a block of the new size's
 * page when that has one free. NULL, nothing changed, otherwise. */
static inline void *small_realloc(heap_t *h, page_t *pg, void *p, live_ref r, uint64_t word, size_t size) {
    size_t old = page_block_requested(pg, p, word >> (r.shift & 63));
    size_t usable = pg->block_size;
    unsigned cls = sizeclass_of(&h->classes, size);
    void *q = p;
    if (size <= usable && (size > usable / 2 || cls == pg->class_idx)) {
        page_block_set_requested(pg, p, r, size); /* as block_resize_in_place */
    } else {
        page_t *to = h->direct[cls]; /* another class: never pg, nor pg's live-map words */
        if (!to->free) return NULL;
        q = block_take(h, to, size);
        memcpy(q, p, old < size ? old : size);
        page_block_free(h, pg, p, r, word);
    }
    heap_count_realloc(h, old, size);
    return q;
}

static NOINLINE void *heap_realloc_slow(heap_t *h, void *p, size_t size);

void *heap_realloc(heap_t *h, void *p, size_t size) {
    segment_t *s = segmap_lookup(p);
    /* small_owner: a small block of h, not in a mode; size 0 frees. */
    if (likely(s != NULL && s->small_owner == h && size - 1 < h->classes.small_max)) {
        live_ref r;
        uint64_t word;
        page_t *pg = small_block_live(h, s, p, &r, &word);
        if (likely(pg != NULL)) {
            void *q = small_realloc(h, pg, p, r, word, size);
            if (likely(q != NULL)) return q;
        }
    }
    return heap_realloc_slow(h, p, size);
}

static NOINLINE void *heap_realloc_slow(heap_t *h, void *p, size_t size) {
    if (!p) return heap_malloc(h, size);
    segment_t *s = block_lookup(h, p);
    if (size == 0) {
        /* Misuse sets EINVAL here as at any other size (the lookup reports it). */
        if (!s) errno = EINVAL;
        else heap_free_live(h, s, p);
        return NULL;
    }
    if (!s || realloc_of_pending(h, s, p)) {
        errno = EINVAL;
        return NULL;
    }
    if (unlikely(size > REQUEST_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t old = block_requested(h, s, p);
    if (h->mode & MODE_CHECKED) {
        if (!checked_verify(h, s, p, true)) { /* the move frees p */
            errno = EINVAL;
            return NULL;
        }
        old = block_requested(h, s, p); /* rebuilt, when its header was damaged */
    }
    void *q = p;
    if (!block_resize_in_place(h, s, p, size)) {
        q = NULL;
        /* A huge block is resized by mremap, in the checked mode too, with
         * the room checked_alloc_raw asks for and its canary written again
         * past the new size. Before, a checked huge block moved by a copy at
         * every realloc: a buffer grown to 128 MiB in 64 KiB steps took 41.5 s
         * under the drop-in (0.14 s unchecked). A secure one's guard page
         * still makes it move. */
        size_t pad = h->mode & MODE_CHECKED ? CHECKED_PAD_MAX : 0;
        if (s->kind == SEG_HUGE && size > h->medium_max && !s->guard && size <= REQUEST_MAX - pad) {
            huge_lock(h);
            heap_t *counted_by = s->stats_heap;
            q = huge_realloc(s->heap, s, size + pad);
            segment_t *resized = q ? segmap_lookup(q) : NULL;
            if (q && pad) {
                block_set_requested(h, resized, q, size);
                modes_canary_fill(q, size, canary_end(resized, q, size));
            }
            if (q && counted_by != h) {
                /* The block's counts move to this heap, which counts the change. */
                resized->stats_heap = h;
                huge_seal(resized);
                heap_count_remote_frees(counted_by, old, 1);
                heap_count_alloc(h, old);
            }
            huge_unlock(h);
        }
        if (!q) {
            h->copy_ahead = old < size ? old : size; /* the new block's pages come in for the copy first */
            q = heap_alloc(h, size, h->classes.granule);
            h->copy_ahead = 0;
            if (!q) {
                if (h->mode & MODE_CHECKED && s->kind == SEG_MEDIUM && s->heap == h) tlsf_seal(s, p);
                return NULL; /* p untouched and live */
            }
            memcpy(q, p, old < size ? old : size);
            /* A huge block of the shared heap that this heap counts goes
             * without a count, as its own block would, not as another heap's. */
            bool shared_counted = s->kind == SEG_HUGE && s->heap != h && s->stats_heap == h;
            /* Another heap counts the old block freed: the moved one is ours. */
            if (s->heap != h && !shared_counted) heap_count_alloc(h, old);
            /* Counted before the old block's release, whose purge pass then
             * sees the heap as it is after this realloc (as heap_free_live):
             * a realloc of each of 4 huge blocks of 20 MiB to 100 bytes left
             * 65 MB resident for good. */
            heap_count_realloc(h, old, size);
            if (shared_counted) {
                huge_lock(h);
                huge_free_shared(h, s);
                huge_unlock(h);
            } else {
                block_free(h, s, p); /* s may be unmapped from here on */
            }
            return q;
        }
    }
    heap_count_realloc(h, old, size);
    /* A medium block shrunk where it lies put its tail on the lists: the pass
     * a free runs there, after the count as a free's. Without it, 50 buffers
     * of 4 MB shrunk to 3000 bytes kept 200 MB resident for good while the
     * program went on with small blocks (glibc 1 MB; found by an audit). */
    if (size < old && s->kind == SEG_MEDIUM && heap_dirty_total(h) > PURGE_FLOOR) heap_purge_maybe(h);
    return q;
}

size_t heap_usable_size(heap_t *h, const void *p, bool fold_slack) {
    if (!p) return 0;
    segment_t *s = block_lookup(h, p);
    if (!s) return 0;
    if (h->mode & MODE_CHECKED) { /* the canary is not the caller's */
        if (s->kind == SEG_MEDIUM && !checked_header(h, s, (void *)p)) return 0;
        if (s->kind == SEG_SMALL && !checked_slack_verify(h, s, p)) return 0;
        return block_requested(h, s, p);
    }
    size_t usable = block_usable(s, p);
    /* The block's owner may change its record; a huge block is the shared
     * heap's (under its lock) and counted by the heap that allocated it. */
    bool huge = s->kind == SEG_HUGE;
    if (huge) huge_lock(h);
    if (fold_slack && (huge ? s->stats_heap == h : s->heap == h)) {
        size_t requested = block_requested(h, s, p);
        if (requested != usable) {
            block_set_requested(h, s, (void *)p, usable);
            heap_count_live(h, usable - requested);
        }
    } else if (fold_slack) {
        /* Another heap's block: only its owner may fold the slack, and a small
         * block's slack record lies past the requested bytes, where a caller
         * told it may write would overwrite it. Promise the requested bytes. */
        usable = block_requested(h, s, p);
    }
    if (huge) huge_unlock(h);
    return usable;
}

/* ---- purging ------------------------------------------------------------- */

/* The heap's live bytes are below 1/64 of its peak: it tore down. */
static bool heap_torn_down(const heap_t *h) {
    return h->stats.live_bytes < h->stats.peak_live_bytes >> PURGE_TORN_DOWN_SHIFT;
}

/* The heap wrote again at least half of what its last teardown handed back:
 * its teardowns are followed by rebuilds (a loop that fills a heap and frees
 * it all, a server's request). */
static bool heap_rebuilds(const heap_t *h) {
    return h->teardown_purged && h->refaulted_since_teardown >= h->teardown_purged / 2;
}

/* The feedback's boost, while the heap has not torn down: a heap that falls
 * to a few percent of its peak and climbs back (git's log -p: 37 MiB, 2 MiB,
 * 27 MiB, ...) earns what it faults back in; once its live bytes are below
 * 1/64 of its peak, the budget is back to the floor, as a program that is
 * done with its memory wants (the phased trace's teardown), unless the heap
 * rebuilt after its last teardown: then the boost stays. Without that, a
 * loop that allocates 1024 blocks of 4 KiB and frees them all faulted every
 * page back in on every round (1012 page faults a round, 6.2 us an op in
 * bench_micro's batch_fifo/4096, against tcmalloc's 6 ns). At most what the
 * heap's thread built past the blocks it adopted live (heaps.c,
 * heap_peak_restart): the boost an ended thread earned served a thread that
 * adopted its heap, freed those blocks and went on with little as if it had
 * rebuilt them, and no purge pass ran under that budget again (a review's
 * thread-safe arena kept 70-128 MB resident with nothing live;
 * ThreadHeaps.AThreadThatAdoptsAHeapDoesNotInheritItsPurgeBudget). */
static size_t heap_purge_earned(const heap_t *h) {
    if (heap_torn_down(h) && !heap_rebuilds(h)) return 0;
    size_t built = h->stats.peak_live_bytes - h->inherited_live;
    return h->purge_boost < built ? h->purge_boost : built;
}

/* The budget without the boost: max(PURGE_FLOOR, live / 8). */
static size_t heap_purge_floor(const heap_t *h) {
    size_t share = h->stats.live_bytes >> PURGE_FRACTION_SHIFT;
    return share > PURGE_FLOOR ? share : PURGE_FLOOR;
}

size_t heap_purge_budget(const heap_t *h) { return heap_purge_floor(h) + heap_purge_earned(h); }

/* Purging memory that is wanted back soon after costs a page fault per 4 KiB
 * for nothing. At each purge pass the heap compares, as moving averages over
 * the last passes, what it handed back with what it faulted back in since:
 * when it faults back at least half of what it purges, it is purging what it
 * needs and the budget grows (up to the live bytes); when it faults back
 * little, the boost shrinks. What comes back is counted where the heap writes
 * memory again: an OS page a purge handed back (page.c, tlsf.c), or fresh
 * memory up to what purges unmapped whole (heap_faulted_fresh). Before, it was
 * the thread's minor faults (getrusage), which counted every fault of the
 * thread's life before a heap's first pass, compared a heap's new thread with
 * its old one (wrapping below zero when lower), and counted a growing heap's
 * fresh memory as faulted back: each grew the boost for nothing. */
static void heap_purge_adapt(heap_t *h) {
    size_t faulted_in = h->faulted_back;
    h->faulted_back = 0;
    h->refaulted_since_teardown += faulted_in;
    h->purged_avg += h->purged_out / 8 - h->purged_avg / 8;
    h->faulted_avg += faulted_in / 8 - h->faulted_avg / 8;
    h->purged_out = 0;
    size_t peak = h->stats.peak_live_bytes;
    if (h->purged_avg && h->faulted_avg >= h->purged_avg / 2) {
        size_t boost = 2 * h->purge_boost + PURGE_FLOOR;
        h->purge_boost = boost < peak ? boost : peak;
    } else if (h->faulted_avg < h->purged_avg / 8) {
        h->purge_boost /= 2;
    }
}

/* Hands back dirty memory until at most `keep` bytes stay: cached huge
 * mappings first (one munmap each), then the oldest free pages, then the
 * largest free blocks; with spare_young_mappings, only mappings cached for
 * PURGE_DELAY_TICKS, with spare_young_blocks, only pages and blocks free
 * that long. */
static void heap_purge(heap_t *h, size_t keep, bool spare_young_mappings, bool spare_young_blocks, uint32_t now) {
    size_t others = h->dirty_page_bytes + tlsf_dirty_bytes(&h->tlsf);
    huge_purge(h, keep > others ? keep - others : 0, spare_young_mappings, now);
    others = tlsf_dirty_bytes(&h->tlsf) + h->huge_cache_bytes;
    page_purge(h, keep > others ? keep - others : 0, spare_young_blocks, now);
    others = h->dirty_page_bytes + h->huge_cache_bytes;
    tlsf_purge(h, keep > others ? keep - others : 0, spare_young_blocks, now);
}

/* A purge of `purged` bytes by a heap that tore down: what comes back from
 * here on tells whether this heap rebuilds. A teardown's frees run several
 * passes: while nothing came back since the last, this one adds to it, so a
 * last small purge does not make a few pages written again count as a
 * rebuild. */
static void heap_count_teardown(heap_t *h, size_t purged) {
    if (!purged) return;
    if (h->refaulted_since_teardown) h->teardown_purged = 0;
    h->teardown_purged += purged;
    h->refaulted_since_teardown = 0;
}

/* Free memory that is reused soon should stay resident (handing it back costs
 * a page fault per 4 KiB when it is used again); memory that stays free should
 * go back to the OS. So: up to the budget nothing is purged; above it, what has
 * been free for the purge delay, at most one pass per tick, down to half the
 * budget. Past a hard limit, down to the budget. The limit is the budget plus
 * what the heap held at its peak beyond what it holds now and the budget
 * again, but at most PURGE_TEARDOWN_FACTOR times what it holds: at its peak a
 * heap keeps little (free memory of the wrong kind there only adds to the
 * peak); below it, it keeps the memory it will want back when its live bytes
 * rise again (gen-large dips to a quarter of its peak and back). Until the
 * heap tears down, the limit takes only memory free for the purge delay: near
 * the peak, where it fires, what was freed within the delay is churn the next
 * requests take back (sqlite's trace, at 8.7 MiB live, held 5.8 MiB of such
 * free medium blocks; purging them cost 740 of its 3,400 page faults and
 * lowered no resident peak). The price: a heap that stops at such a moment
 * keeps that memory until a pass past the delay (a page that empties, a
 * medium free to the lists, a huge free; small frees on the fast path and
 * cached medium ones run none), or a trim. Cached
 * huge mappings go whatever their age: one serves only a huge request of
 * about its size, and the free that caches one reaches here with the block
 * still counted live (a 64 MiB block freed with 100 bytes left live stayed
 * resident). A heap that tears down (the teardown cap applies) is back at the
 * budget at once. */
static NOINLINE void heap_purge_over_budget(heap_t *h, size_t budget) {
    uint32_t now = h->clock_now = purge_clock();
    size_t purged_before = h->purged_out;
    if (now != h->purge_last) {
        h->purge_last = now;
        heap_purge_adapt(h);
        purged_before = 0; /* heap_purge_adapt took purged_out in */
        budget = heap_purge_budget(h);
        heap_purge(h, budget / 2, true, true, now);
    }
    size_t live = h->stats.live_bytes, below_peak = h->stats.peak_live_bytes - live;
    size_t keep_for_peak = below_peak + budget, teardown = live * PURGE_TEARDOWN_FACTOR + heap_purge_earned(h);
    bool torn_down = keep_for_peak > teardown;
    if (torn_down) keep_for_peak = teardown;
    if (heap_dirty_total(h) > budget + keep_for_peak) heap_purge(h, budget, false, !torn_down, now);
    if (heap_torn_down(h)) heap_count_teardown(h, h->purged_out - purged_before);
}

/* The check in front, without the slow part's stack frame: every medium free
 * with more than the floor dirty comes here. */
void heap_purge_maybe(heap_t *h) {
    size_t budget = heap_purge_budget(h);
    if (unlikely(heap_dirty_total(h) > budget)) heap_purge_over_budget(h, budget);
}

void heap_purge_all(heap_t *h) { heap_purge(h, 0, false, false, 0); }

void heap_purge_to(heap_t *h, size_t keep) { heap_purge(h, keep, false, false, 0); }

size_t heap_purge_ended(heap_t *h) {
    /* Twice what its thread held at its peak (the next thread's blocks land
     * elsewhere than its own did), not its purge budget: the budget learns
     * from memory purged and written again, and the next thread writes again
     * what a warm heap kept without a fault, so it shrank every other thread.
     * A thread that adopted a warm heap and used little of it (a short one
     * after a pause) passes on no more than the floor. */
    size_t keep = h->stats.peak_live_bytes, purged_before = h->purged_out;
    keep = keep > WARM_KEEP_MAX / 2 ? WARM_KEEP_MAX : 2 * keep;
    if (keep < PURGE_FLOOR) keep = PURGE_FLOOR;
    heap_purge_to(h, keep);
    heap_count_teardown(h, h->purged_out - purged_before);
    /* What it holds free now: blocks still live at its end, freed later by
     * other threads, go back (a thread that ended holding 40 MB kept it
     * resident once another freed it). */
    size_t dirty = heap_dirty_total(h);
    return dirty < keep ? dirty : keep;
}

bool heap_trim(heap_t *h) {
    bool released = page_trim(h) > 0 || heap_dirty_total(h) > 0;
    heap_purge_all(h);
    return released;
}

bool heap_release_idle(heap_t *h, segment_kind kind) {
    size_t mapped = atomic_load_explicit(&h->arena->mapped_bytes, memory_order_relaxed);
    if (kind != SEG_SMALL) page_trim(h); /* a class's last empty page to the free pages */
    tlsf_release_empty_segments(h);
    heap_purge_all(h); /* free pages clean: their segments can go; the huge cache goes */
    heap_t *shared = huge_owner(h);
    if (shared != h) {
        /* A thread heap's huge blocks, and the mappings cached when they were
         * freed, are the arena heap's: before, a cached 17 MiB mapping held
         * the cap from a thread's medium and small blocks (66 of 1 MiB where
         * a single-thread arena fit 80, ArenaMaxBytes.ACachedHugeMappingMakesRoom). */
        huge_lock(h);
        huge_purge(shared, 0, false, 0);
        huge_unlock(h);
    }
    if (kind != SEG_SMALL) page_release_empty_segments(h);
    return atomic_load_explicit(&h->arena->mapped_bytes, memory_order_relaxed) < mapped;
}

/* Dirty free bytes of one kind of memory, and of every kind but one. */
static size_t heap_dirty_of(const heap_t *h, segment_kind kind) {
    return kind == SEG_SMALL ? h->dirty_page_bytes : kind == SEG_MEDIUM ? tlsf_dirty_bytes(&h->tlsf) : h->huge_cache_bytes;
}
static size_t heap_dirty_other(const heap_t *h, segment_kind kind) { return heap_dirty_total(h) - heap_dirty_of(h, kind); }

/* Free pages serve only small blocks, free TLSF blocks only medium ones, the
 * huge cache only huge ones. When one kind grows into fresh memory, what the
 * others have kept resident for the purge delay without using it adds to the
 * footprint and serves nothing (sqlite's trace turns 4 MiB of small blocks
 * into medium ones): as much of it goes back to the OS as the growth touches,
 * down to half the budget floor, in heap_purge's order. Memory freed within
 * the delay stays: it is what comes back at once (sparing it took
 * gen-powerlaw from 1.12x to 1.35x glibc's throughput, sqlite 1.19x to 1.48x,
 * python-json 1.30x to 1.57x: a fault per 4 KiB taken back; docs/design.md). */
void heap_grew(heap_t *h, segment_kind kind, size_t fresh) {
    /* Cached medium blocks serve their own size only: when the heap grows,
     * they go back to the lists, where any medium request can have them. */
    if (h->tlsf.cache_blocks) tlsf_cache_flush(h);
    page_shrink_sparse(h, fresh);
    size_t other = heap_dirty_other(h, kind), reserve = heap_purge_floor(h) / 2;
    if (likely(other <= reserve)) return;
    size_t keep = other - (fresh < other - reserve ? fresh : other - reserve);
    uint32_t now = purge_clock();
    static const segment_kind order[] = {SEG_HUGE, SEG_SMALL, SEG_MEDIUM};
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++) {
        segment_kind k = order[i];
        other = heap_dirty_other(h, kind);
        if (other <= keep) return;
        if (k == kind) continue;
        size_t rest = other - heap_dirty_of(h, k), target = keep > rest ? keep - rest : 0;
        if (k == SEG_HUGE) huge_purge(h, target, true, now);
        else if (k == SEG_SMALL) page_purge(h, target, true, now);
        else tlsf_purge(h, target, true, now);
    }
}

/* ---- whole heap ---------------------------------------------------------- */

void heap_release_all(heap_t *h) {
    /* The huge cache is unlinked by `prev` too, but only the arena's own heap
     * holds huge mappings, and it changes under the huge lock, which fork
     * takes: it is never half-changed in a child. */
    huge_purge(h, 0, false, 0);
    /* Along `next` alone, the list taken whole: in a heap whose thread vanished
     * at fork (arena_reset in the child) a `prev` may be half-changed, and
     * unlinking by it left the head on a segment already unmapped. */
    for (int kind = SEG_SMALL; kind < SEG_KINDS; kind++) {
        segment_t *s = h->segments[kind];
        h->segments[kind] = NULL;
        while (s) {
            segment_t *next = s->next;
            segment_release_unlinked(h, s);
            s = next;
        }
    }
    /* Start over, keeping what the heap is and what it counted, and its own
     * batches: other heaps may hold them still, and give them back (an
     * abandoned heap released while other threads run, heaps_reclaim_locked). */
    heap_t keep;
    memcpy(&keep, h, offsetof(heap_t, batches));
    memset(h, 0, offsetof(heap_t, batches));
    heap_init(h, keep.arena);
    h->filling = keep.filling;
    h->medium_max = keep.medium_max;
    h->next_heap = keep.next_heap;
    h->next_abandoned = keep.next_abandoned;
    h->abandoned = keep.abandoned;
    h->orphaned = keep.orphaned;
    h->stats = keep.stats;
    h->earlier_peak = keep.earlier_peak;
    /* Every live block died at once, those waiting on the remote list too:
     * count them freed. */
    h->stats.frees = keep.stats.allocs;
    h->stats.live_bytes = 0;
}
