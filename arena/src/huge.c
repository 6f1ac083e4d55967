/* huge.c: blocks too large for a MEDIUM segment get a mapping of their own,
 * resized with mremap (no copy). A freed mapping waits in the heap's huge
 * cache, still resident, for the next huge block: a fresh mapping costs a page
 * fault per 4 KiB touched, a reused one nothing. The purge budget decides when
 * cached mappings go back to the OS (huge_purge). */
#include "internal.h"

#include <errno.h>

static uint64_t huge_seal_of(const segment_t *s) {
    uint64_t x = (uint64_t)(uintptr_t)s;
    /* The flag as a byte: written over, it may hold no valid bool. */
    const uint64_t cached = *(const unsigned char *)&s->huge_cached;
    const uint64_t fields[] = {s->huge_block, s->huge_requested,  s->huge_usable, s->huge_align,
                               (uintptr_t)s->stats_heap, s->size, s->guard, cached};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        x = (x ^ fields[i]) * UINT64_C(0x9E3779B97F4A7C15);
        x ^= x >> 31;
    }
    return x;
}

void huge_seal(segment_t *s) { s->huge_seal = huge_seal_of(s); }

bool huge_seal_holds(const segment_t *s) { return s->huge_seal == huge_seal_of(s); }

/* Bytes from the segment start to the block: the header, padded to the alignment. */
static size_t huge_offset(const heap_t *h, size_t align) {
    size_t a = align > h->classes.granule ? align : h->classes.granule;
    return align_up(segment_header_size(h->arena, SEG_HUGE, 0), a);
}

static void huge_cache_remove(heap_t *h, segment_t *s) {
    if (s->prev) s->prev->next = s->next;
    else h->huge_cache = s->next;
    if (s->next) s->next->prev = s->prev;
    h->huge_cache_bytes -= s->size;
    h->huge_cache_count--;
}

/* Takes [s + new_size, s + old_size) out of the segment map, before those
 * pages are handed back (the chunk holding s + new_size stays s's). */
static void huge_unmap_tail(segment_t *s, size_t old_size, size_t new_size) {
    uintptr_t from = align_up((uintptr_t)s + new_size, SEGMENT_ALIGN), end = (uintptr_t)s + old_size;
    if (from < end) segmap_remove((const segment_t *)from, end - from);
}

/* Before s shrinks to new_size bytes: a cut through a huge page would leave
 * the small pages past it in use, uncounted (os_purge_splitting says why). */
static void huge_cutting(segment_t *s, size_t new_size) {
    size_t piece_end = align_up(new_size, OS_HUGE_PAGE);
    if (s->huge_pages_given && piece_end != new_size && piece_end <= s->size)
        os_split_huge_pages((uint8_t *)s + new_size, piece_end - new_size);
}

/* A cached mapping for `total` bytes at `map_align`: the smallest that fits,
 * cut down when it is more than twice as large. NULL when none fits. */
static segment_t *huge_cache_take(heap_t *h, size_t total, size_t map_align) {
    segment_t *best = NULL;
    for (segment_t *s = h->huge_cache; s; s = s->next)
        if (s->size >= total && s->huge_align >= map_align && (!best || s->size < best->size)) best = s;
    if (!best) return NULL;
    huge_cache_remove(h, best);
    if (best->size / 2 > total && !best->guard) {
        /* The tail leaves the segment map before the OS takes it back: once
         * unmapped, another thread may map a segment there and register it. */
        huge_unmap_tail(best, best->size, total);
        huge_cutting(best, total);
        if (!os_resize(best, best->size, total)) {
            arena_unmapped(h->arena, best->size - total);
            COUNTER_SET(h->segment_bytes, h->segment_bytes - (best->size - total));
            best->size = total;
        } else {
            segmap_insert(best, best->size); /* its leaves exist: cannot fail */
        }
    }
    best->huge_cached = false;
    best->prev = NULL;
    best->next = h->segments[SEG_HUGE];
    if (best->next) best->next->prev = best;
    h->segments[SEG_HUGE] = best;
    return best;
}

size_t huge_largest_cached(const heap_t *h) {
    size_t best = 0, guard = h->mode & MODE_SECURE ? OS_PAGE : 0, offset = huge_offset(h, 0);
    for (const segment_t *s = h->huge_cache; s; s = s->next)
        if (s->size > guard + offset && s->size - guard - offset > best) best = s->size - guard - offset;
    return best;
}

void *huge_malloc(heap_t *h, size_t size, size_t align) {
    size_t offset = huge_offset(h, align);
    size_t total = offset + (size ? size : 1); /* the block lies inside its mapping, not at its end */
    if (total < size || total > SIZE_MAX - OS_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    total = align_up(total, OS_PAGE) + (h->mode & MODE_SECURE ? OS_PAGE : 0); /* the guard page */
    size_t map_align = align > SEGMENT_ALIGN ? align : SEGMENT_ALIGN;
    segment_t *s = huge_cache_take(h, total, map_align);
    if (s) s->huge_fresh = false;
    if (!s) {
        int saved = errno;
        s = segment_new(h, SEG_HUGE, total, map_align, 0);
        if (!s) {
            /* Out of memory: what the cache holds may be what is missing. */
            if (!h->huge_cache) return NULL;
            huge_purge(h, 0, false, 0);
            s = segment_new(h, SEG_HUGE, total, map_align, 0);
            if (!s) return NULL;
            errno = saved; /* a success leaves errno alone, the first refusal's ENOMEM too */
        }
        s->huge_align = s->os_huge_pages && map_align < OS_HUGE_PAGE ? OS_HUGE_PAGE : map_align;
        s->huge_fresh = true;
        heap_faulted_fresh(h, total);
        heap_grew(h, SEG_HUGE, total);
    }
    s->huge_block = (uintptr_t)s + offset;
    s->huge_requested = size;
    s->huge_usable = s->size - s->guard - offset; /* a cached mapping may be a little larger */
    huge_seal(s);
    return (void *)s->huge_block;
}

/* Unmaps a cached mapping (a later free of its block is still named a double
 * free: segment_release_unlinked remembers the range). */
static void huge_unmap(heap_t *h, segment_t *s) {
    h->purged_out += s->size;
    h->unmapped_owed += s->size; /* a new mapping later stands in for this one */
    segment_release_unlinked(h, s);
}

void huge_free(heap_t *h, segment_t *s) {
    if (s->prev) s->prev->next = s->next;
    else h->segments[SEG_HUGE] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->huge_cached = true;
    s->cached_since = purge_clock();
    s->huge_requested = 0;
    huge_seal(s);
    s->prev = NULL;
    s->next = h->huge_cache;
    if (s->next) s->next->prev = s;
    h->huge_cache = s;
    h->huge_cache_bytes += s->size;
    h->huge_cache_count++;
    if (h->huge_cache_count > HUGE_CACHE_MAX) {
        segment_t *oldest = h->huge_cache;
        while (oldest->next) oldest = oldest->next;
        huge_cache_remove(h, oldest);
        huge_unmap(h, oldest);
    }
}

void huge_purge(heap_t *h, size_t keep, bool spare_young, uint32_t now) {
    while (h->huge_cache_bytes > keep) {
        segment_t *oldest = h->huge_cache;
        while (oldest->next) oldest = oldest->next;
        if (spare_young && purge_young(now, oldest->cached_since)) return; /* the rest are younger */
        huge_cache_remove(h, oldest);
        huge_unmap(h, oldest);
    }
}

/* Points the heap's list at a segment that moved from `old` to `s`. */
static void huge_relink(heap_t *h, segment_t *s) {
    if (s->prev) s->prev->next = s;
    else h->segments[SEG_HUGE] = s;
    if (s->next) s->next->prev = s;
}

void *huge_realloc(heap_t *h, segment_t *s, size_t size) {
    size_t offset = s->huge_block - (uintptr_t)s;
    size_t total = offset + (size ? size : 1); /* the block lies inside its mapping, not at its end */
    if (total < size || total > SIZE_MAX - OS_PAGE) return NULL;
    total = align_up(total, OS_PAGE);
    size_t old = s->size;
    if (total > old && arena_charge(h->arena, total - old)) return NULL;
    if (total < old) {
        huge_unmap_tail(s, old, total); /* before the OS may hand the tail to another thread */
        huge_cutting(s, total);
    }
    if (total == old) {
    } else if (!os_resize(s, old, total)) {
        if (total > old && segmap_insert(s, total)) {
            os_resize(s, total, old); /* shrinking in place cannot fail */
            arena_charge_refused(h->arena, total - old);
            return NULL;
        }
    } else {
        if (total < old) segmap_insert(s, old); /* not shrunk after all: its leaves exist */
        /* Move: the kernel remaps the pages onto an aligned place we reserved and
         * registered first, so the block is never unfindable and the old one stays
         * intact on failure. */
        segment_t *dest = total > old ? os_map(total, s->huge_align) : NULL;
        if (!dest || segmap_insert(dest, total)) {
            os_unmap(dest, total);
            if (total > old) arena_charge_refused(h->arena, total - old);
            return NULL;
        }
        /* Out of the map before the move unmaps it (another thread may map
         * there at once); only this thread uses the block meanwhile. */
        segmap_remove(s, old);
        if (os_move(s, old, total, dest)) {
            segmap_insert(s, old); /* its leaves exist: cannot fail */
            segmap_remove(dest, total);
            os_unmap(dest, total);
            arena_charge_refused(h->arena, total - old);
            return NULL;
        }
        /* A free of the old address is a double free, as after a moving copy:
         * it was named an invalid pointer. */
        segment_remember_released(h->arena, (uintptr_t)s, old);
        s = dest;
        huge_relink(h, s);
    }
    if (total < old) arena_unmapped(h->arena, old - total);
    if (total > old) arena_mapped(h->arena, total - old);
    COUNTER_SET(h->segment_bytes, h->segment_bytes - old + total);
    s->size = total;
    s->huge_block = (uintptr_t)s + offset;
    s->huge_requested = size;
    s->huge_usable = total - offset;
    huge_seal(s);
    return (void *)s->huge_block;
}
