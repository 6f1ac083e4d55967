/* alloc.c: the default policy's front end: which mechanism serves a size, what
 * a pointer is, and the general (not fast) ways of every call. */
#include "fastpath.h"

#include <errno.h>
#include <string.h>

/* Requests above this fail at once: no mapping could hold them. */
#define ALLOC_MAX ((size_t)PTRDIFF_MAX - ((size_t)1 << 20))

/* ---- routing ------------------------------------------------------------- */

/* A block of `size` bytes aligned to `align` (a power of two, >= block_size),
 * its requested size recorded; no stats. NULL with errno = ENOMEM. */
static void *heap_alloc_raw(heap_t *h, size_t size, size_t align) {
    if (unlikely(size > ALLOC_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    const sizeclass_table *t = &h->classes;
    void *p = NULL;
    if (size <= t->small_max && t->count > 0 && align <= OS_PAGE) {
        /* Blocks of a class whose size is a multiple of the alignment are aligned:
         * pages start on 4 KiB boundaries. Power-of-two classes always qualify. */
        unsigned cls = sizeclass_of(t, size > align ? size : align);
        while (cls < t->count && t->size[cls] % align) cls++;
        if (cls < t->count) {
            page_t *pg = h->direct[cls];
            p = pg->free ? block_take(h, pg, size) : page_malloc_slow(h, size, cls);
            goto done;
        }
    }
    if (size <= h->medium_max && align <= h->medium_max) p = tlsf_malloc(h, size, align);
    else p = huge_malloc(h, size, align);
done:
    if (!p) errno = ENOMEM;
    return p;
}

/* What p is for heap h: 0 when a live block h may free, else the misuse.
 * *owner is set to the arena p belongs to for ARENA_ERR_WRONG_ARENA. */
static arena_error block_classify(const heap_t *h, const segment_t *s, const void *p, arena_t **owner) {
    if (!s) {
        for (unsigned i = 0; i < 8; i++)
            if (h->huge_freed[i] == (uintptr_t)p) return ARENA_ERR_DOUBLE_FREE;
        return ARENA_ERR_INVALID_POINTER;
    }
    if (s->arena != h->arena) {
        *owner = s->arena;
        return ARENA_ERR_WRONG_ARENA;
    }
    switch (s->kind) {
    case SEG_SMALL: {
        const page_t *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT];
        size_t g = ((uintptr_t)p & (PAGE_BYTES - 1)) >> h->classes.granule_shift;
        if (pg->live_map && (pg->live_map[g >> 5] >> ((g & 31) * 2)) & LIVE_BIT) return 0;
        /* A block boundary of the page's (last) class: it was freed already. */
        uintptr_t a = (uintptr_t)p;
        if (pg->block_size && a >= pg->start && (a - pg->start) % pg->block_size == 0 &&
            (a - pg->start) / pg->block_size < pg->capacity)
            return ARENA_ERR_DOUBLE_FREE;
        return ARENA_ERR_INVALID_POINTER;
    }
    case SEG_MEDIUM:
        return tlsf_validate(s, p);
    case SEG_HUGE:
        return (uintptr_t)p == s->huge_block ? 0 : ARENA_ERR_INVALID_POINTER;
    default:
        return ARENA_ERR_INVALID_POINTER;
    }
}

/* Looks p up and reports misuse; the segment of a live block, or NULL. */
static segment_t *block_lookup(heap_t *h, const void *p) {
    segment_t *s = segmap_lookup(p);
    arena_t *owner = NULL;
    arena_error e = block_classify(h, s, p, &owner);
    if (unlikely(e)) {
        error_report(h->arena, p, e, owner);
        return NULL;
    }
    return s;
}

static size_t block_requested(heap_t *h, segment_t *s, const void *p) {
    switch (s->kind) {
    case SEG_SMALL: {
        const page_t *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT];
        size_t g = ((uintptr_t)p & (PAGE_BYTES - 1)) >> h->classes.granule_shift;
        bool slack = (pg->live_map[g >> 5] >> ((g & 31) * 2)) & SLACK_BIT;
        return pg->block_size - (slack ? slack_read(p, pg->block_size) : 0);
    }
    case SEG_MEDIUM: return tlsf_requested(p);
    default: return s->huge_requested;
    }
}

static size_t block_usable(heap_t *h, segment_t *s, const void *p) {
    (void)h;
    switch (s->kind) {
    case SEG_SMALL: return s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT].block_size;
    case SEG_MEDIUM: return tlsf_usable(p);
    default: return s->huge_usable;
    }
}

/* Records `size` as the requested size of live block p. */
static void block_set_requested(heap_t *h, segment_t *s, void *p, size_t size) {
    switch (s->kind) {
    case SEG_SMALL: {
        page_t *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT];
        size_t g = ((uintptr_t)p & (PAGE_BYTES - 1)) >> h->classes.granule_shift;
        unsigned shift = (unsigned)(g & 31) * 2;
        uint64_t *word = &pg->live_map[g >> 5];
        if (size == pg->block_size) {
            *word &= ~(SLACK_BIT << shift);
        } else {
            slack_write(p, pg->block_size, pg->block_size - size);
            *word |= SLACK_BIT << shift;
        }
        break;
    }
    case SEG_MEDIUM: tlsf_set_requested(p, size); break;
    default: s->huge_requested = size; break;
    }
}

/* Frees live block p of segment s; returns its requested size. No stats. */
static size_t block_free(heap_t *h, segment_t *s, void *p) {
    switch (s->kind) {
    case SEG_SMALL: {
        page_t *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT];
        size_t g = ((uintptr_t)p & (PAGE_BYTES - 1)) >> h->classes.granule_shift;
        size_t requested = block_give(pg, p, &pg->live_map[g >> 5], (unsigned)(g & 31) * 2);
        if (pg->used == 0 || pg->full) page_free_slow(h, pg);
        return requested;
    }
    case SEG_MEDIUM: {
        size_t requested = tlsf_requested(p);
        tlsf_free(h, s, p);
        return requested;
    }
    default: {
        size_t requested = s->huge_requested;
        huge_free(h, s);
        return requested;
    }
    }
}

/* ---- the public calls ---------------------------------------------------- */

void *heap_malloc(heap_t *h, size_t size) {
    void *p = heap_alloc_raw(h, size, h->classes.granule);
    if (p) heap_count_alloc(h, size);
    return p;
}

void *heap_memalign(heap_t *h, size_t align, size_t size) {
    if (!is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    void *p = heap_alloc_raw(h, size, align > h->classes.granule ? align : h->classes.granule);
    if (p) heap_count_alloc(h, size);
    return p;
}

void *heap_calloc(heap_t *h, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = heap_malloc_fast(h, total);
    if (p && !(total > h->medium_max)) memset(p, 0, total); /* huge mappings are fresh */
    return p;
}

void heap_free(heap_t *h, void *p) {
    if (!p) return;
    segment_t *s = block_lookup(h, p);
    if (!s) return;
    heap_count_free(h, block_free(h, s, p));
}

/* Resizes p where it lies when its block allows; true when done. */
static bool block_resize_in_place(heap_t *h, segment_t *s, void *p, size_t size) {
    switch (s->kind) {
    case SEG_SMALL: {
        size_t usable = block_usable(h, s, p);
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

void *heap_realloc(heap_t *h, void *p, size_t size) {
    if (!p) return heap_malloc(h, size);
    if (size == 0) {
        heap_free(h, p);
        return NULL;
    }
    segment_t *s = block_lookup(h, p);
    if (!s) {
        errno = EINVAL;
        return NULL;
    }
    if (unlikely(size > ALLOC_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t old = block_requested(h, s, p);
    void *q = p;
    if (!block_resize_in_place(h, s, p, size)) {
        q = NULL;
        if (s->kind == SEG_HUGE && size > h->medium_max) q = huge_realloc(h, s, size);
        if (!q) {
            q = heap_alloc_raw(h, size, h->classes.granule);
            if (!q) return NULL; /* p untouched and live */
            memcpy(q, p, old < size ? old : size);
            block_free(h, s, p);
        }
    }
    h->stats.reallocs++;
    h->stats.live_bytes += size - old;
    if (h->stats.live_bytes > h->stats.peak_live_bytes) h->stats.peak_live_bytes = h->stats.live_bytes;
    return q;
}

size_t heap_usable_size(heap_t *h, const void *p, bool fold_slack) {
    if (!p) return 0;
    segment_t *s = block_lookup(h, p);
    if (!s) return 0;
    size_t usable = block_usable(h, s, p);
    if (fold_slack) {
        size_t requested = block_requested(h, s, p);
        if (requested != usable) {
            block_set_requested(h, s, (void *)p, usable);
            h->stats.live_bytes += usable - requested;
            if (h->stats.live_bytes > h->stats.peak_live_bytes) h->stats.peak_live_bytes = h->stats.live_bytes;
        }
    }
    return usable;
}

/* ---- purging ------------------------------------------------------------- */

size_t heap_purge_budget(const heap_t *h) {
    size_t share = h->stats.live_bytes >> PURGE_FRACTION_SHIFT;
    return share > PURGE_FLOOR ? share : PURGE_FLOOR;
}

void heap_purge_maybe(heap_t *h) {
    size_t budget = heap_purge_budget(h);
    if (likely(h->dirty_page_bytes + h->tlsf.dirty_bytes <= budget)) return;
    /* Down to half the budget, oldest pages first, then the largest free blocks:
     * the hysteresis keeps a steady churn from purging on every free. */
    size_t keep = budget / 2;
    size_t pages_keep = keep > h->tlsf.dirty_bytes ? keep - h->tlsf.dirty_bytes : 0;
    page_purge(h, pages_keep);
    tlsf_purge(h, keep > h->dirty_page_bytes ? keep - h->dirty_page_bytes : 0);
}

/* ---- whole heap ---------------------------------------------------------- */

void heap_release_all(heap_t *h) {
    for (int kind = SEG_SMALL; kind < SEG_KINDS; kind++)
        while (h->segments[kind]) segment_release(h, h->segments[kind]);
    arena_t *a = h->arena;
    size_t medium_max = h->medium_max;
    heap_stats stats = h->stats;
    heap_init(h, a);
    h->medium_max = medium_max;
    /* Every live block died at once: count them freed. */
    h->stats.allocs = stats.allocs;
    h->stats.frees = stats.allocs;
    h->stats.reallocs = stats.reallocs;
    h->stats.peak_live_bytes = stats.peak_live_bytes;
}
