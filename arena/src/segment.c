/* segment.c: segments, the mappings every block lives in: header layout,
 * mapping, registration in the segment map, and accounting against max_bytes. */
#include "internal.h"

#include <errno.h>

/* A small segment's header: the struct, the page descriptors, their classes
 * (segment_t: page_classes), then the live map. */
static size_t segment_page_classes_offset(size_t page_count) {
    return align_up(sizeof(segment_t) + page_count * sizeof(page_t), 64);
}

static size_t segment_live_map_offset(size_t page_count) {
    return segment_page_classes_offset(page_count) + align_up(page_count, 64);
}

size_t segment_header_size(const arena_t *a, segment_kind kind, size_t size) {
    switch (kind) {
    case SEG_SMALL: {
        size_t pages = size >> PAGE_SHIFT;
        size_t map = pages * LIVE_MAP_WORDS(LIVE_SHIFT(a->block_shift)) * sizeof(uint64_t);
        return align_up(segment_live_map_offset(pages) + map, OS_PAGE);
    }
    case SEG_MEDIUM: {
        size_t map = align_up(size >> a->block_shift, 64) / 8 + 2 * (align_up(size / OS_PAGE, 64) / 8);
        return align_up(segment_live_map_offset(0) + map, OS_PAGE);
    }
    case SEG_SEED: { /* a bit per granule: where a block starts */
        size_t map = align_up(size >> a->block_shift, 64) / 8;
        return align_up(segment_live_map_offset(0) + map, 64);
    }
    default:
        return align_up(sizeof(segment_t), 64);
    }
}

/* True when `size` more bytes on top of `mapped` would pass max_bytes. The cap
 * counts regions; the arena's own mapping is not part of it. */
static bool cap_refuses(const arena_t *a, size_t mapped, size_t size) {
    size_t cap = a->config.max_bytes, next = mapped + size;
    return cap && (next < mapped || next - a->self_size > cap);
}

bool arena_cap_allows(const arena_t *a, size_t size) {
    return !cap_refuses(a, atomic_load_explicit(&a->charged_bytes, memory_order_relaxed), size);
}

bool arena_charge(arena_t *a, size_t size) {
    size_t now = atomic_load_explicit(&a->charged_bytes, memory_order_relaxed);
    size_t next;
    do {
        if (cap_refuses(a, now, size)) return true;
        next = now + size;
    } while (!atomic_compare_exchange_weak(&a->charged_bytes, &now, next));
    return false;
}

void arena_charge_refused(arena_t *a, size_t size) {
    atomic_fetch_sub(&a->charged_bytes, size);
}

void arena_mapped(arena_t *a, size_t size) {
    size_t mapped = atomic_fetch_add(&a->mapped_bytes, size) + size;
    size_t peak = atomic_load_explicit(&a->peak_mapped_bytes, memory_order_relaxed);
    while (mapped > peak && !atomic_compare_exchange_weak(&a->peak_mapped_bytes, &peak, mapped)) {
    }
}

void arena_unmapped(arena_t *a, size_t size) {
    atomic_fetch_sub(&a->mapped_bytes, size);
    atomic_fetch_sub(&a->charged_bytes, size);
}

/* s first on h's list of its kind. */
static void segment_link(heap_t *h, segment_t *s) {
    s->prev = NULL;
    s->next = h->segments[s->kind];
    if (s->next) s->next->prev = s;
    h->segments[s->kind] = s;
}

/* s off h's list of its kind. The forward links change first: the list read
 * through `next` from its head is whole at every step (heap_release_all
 * follows it in a heap whose thread vanished at fork). */
static void segment_unlink(heap_t *h, segment_t *s) {
    if (s->prev) s->prev->next = s->next;
    else h->segments[s->kind] = s->next;
    if (s->next) s->next->prev = s->prev;
}

void segment_remember_released(arena_t *a, uintptr_t begin, size_t size) {
    unsigned slot = atomic_fetch_add_explicit(&a->released_next, 1, memory_order_relaxed) % RELEASED_RING;
    atomic_store_explicit(&a->released_end[slot], 0, memory_order_relaxed);
    atomic_store_explicit(&a->released_begin[slot], begin, memory_order_relaxed);
    atomic_store_explicit(&a->released_end[slot], begin + size, memory_order_relaxed);
}

/* Remembers s's range as released and takes it out of the segment map. */
static void segment_forget(heap_t *h, segment_t *s) {
    segment_remember_released(h->arena, (uintptr_t)s, s->size);
    segmap_remove(s, s->size);
}

/* Hands s, forgotten and off every list, back to the OS. */
static void segment_unmap(heap_t *h, segment_t *s) {
    COUNTER_SET(h->segment_count, h->segment_count - 1);
    size_t size = s->size;
    COUNTER_SET(h->segment_bytes, h->segment_bytes - size);
    s->magic = 0;
    os_unmap(s, size);
    arena_unmapped(h->arena, size);
}

/* Transparent huge pages make a fault bring in 2 MiB instead of 4 KiB: on
 * this project's VMs a small page's fault costs 12-15 us, and faults took most
 * of a recorded trace's replay. The price is resident memory: the 2 MiB around
 * the first byte written, so at most 2 MiB unused where a heap's small pages
 * end and as much where its medium blocks do. Only once the heap maps
 * huge_pages_from bytes with the new segment, a small part of them then: the
 * heap's, not the arena's, since each thread heap has such ends of its own
 * (five threads of a process that maps 64 MiB, each with a little, would pay
 * up to 20 MiB). And a medium region only while at least
 * 1/HUGE_PAGES_DENSITY_MIN of the heap's medium segments, the new one
 * counted, is in use (not free TLSF blocks): a heap whose medium mappings are
 * mostly free blocks it never writes (the gap in front of each block of
 * memalign(1 MiB, 100): 2 GiB mapped for 2000 of them) would have each 2 MiB
 * around its scattered writes made resident. Before, 2000 of those took 2222
 * MiB of resident memory under the drop-in, glibc 24 MiB. A segment of
 * huge_pages_from bytes or more asks by itself, but for one mapped for a block
 * smaller than the gap its alignment leaves, a gap of a huge page or more,
 * which goes by the density too (memalign(2 MiB, 14 MiB), a way programs ask
 * for huge pages, still asks): 100 blocks of memalign(16 MiB, 100) held 400 MB
 * resident after their free (two huge pages each, where the purges count the
 * 4 KiB pages written; found by an audit). Small pages are carved 4 KiB at a
 * time, and a huge block is its mapping's one block. The seed policy keeps its
 * 64 KiB regions to itself. */
#define HUGE_PAGES_DENSITY_MIN 8
static bool segment_wants_huge_pages(const heap_t *h, segment_kind kind, size_t size, size_t gap) {
    if (kind == SEG_SEED || size < OS_HUGE_PAGE) return false;
    const size_t from = h->arena->config.huge_pages_from;
    if (size >= from && gap < OS_HUGE_PAGE) return true;
    if (size < from && h->segment_bytes < from - size) return false;
    if (kind != SEG_MEDIUM) return true;
    size_t medium = 0; /* a walk of a list a new segment lengthens: a slow path */
    for (const segment_t *s = h->segments[SEG_MEDIUM]; s; s = s->next) medium += s->size;
    size_t used = medium - h->tlsf.free_bytes;
    return used >= (medium + size) / HUGE_PAGES_DENSITY_MIN;
}

void segment_huge_pages_off(segment_t *s) {
    os_huge_pages(s, s->size, false); /* refused: the kernel has none to give */
    s->os_huge_pages = false;
}

segment_t *segment_new(heap_t *h, segment_kind kind, size_t size, size_t align, size_t gap) {
    arena_t *a = h->arena;
    /* Before asking the OS for more, take back what ended threads' heaps got.
     * A huge segment comes here under the huge lock: heaps_reclaim only tries
     * the arena's lock, and takes no huge lock (ended heaps hold no huge block);
     * its reports wait for huge_unlock (alloc.c). */
    if (a->multi_heap && __atomic_load_n(&a->abandoned, __ATOMIC_RELAXED)) heaps_reclaim(a, false);
    ARENA_ASSERT(size % SEGMENT_ALIGN == 0 || kind == SEG_HUGE);
    if (arena_charge(a, size)) {
        errno = ENOMEM;
        return NULL;
    }
    bool huge_pages = segment_wants_huge_pages(h, kind, size, gap);
    if (align < SEGMENT_ALIGN) align = SEGMENT_ALIGN;
    if (huge_pages && align < OS_HUGE_PAGE) align = OS_HUGE_PAGE; /* else its ends would not be */
    segment_t *s = os_map(size, align);
    if (!s) {
        arena_charge_refused(a, size);
        errno = ENOMEM;
        return NULL;
    }
    /* Before the header below is written: that first fault decides the page size. */
    huge_pages = huge_pages && os_huge_pages(s, size, true);
    arena_mapped(a, size);
    s->magic = SEGMENT_MAGIC ^ (uint32_t)kind;
    s->kind = kind;
    s->arena = a;
    s->heap = h;
    s->small_owner = kind == SEG_SMALL && !h->mode ? h : NULL;
    s->size = size;
    s->guard = 0;
    s->os_huge_pages = s->huge_pages_given = huge_pages;
    if (h->mode & MODE_SECURE && modes_guard(s)) {
        os_unmap(s, size);
        arena_unmapped(a, size);
        errno = ENOMEM;
        return NULL;
    }
    /* On the heap's list before in the segment map, as segment_release takes
     * it out of the map before off the list: a thread that vanishes at fork
     * in between leaves a segment that heap_release_all finds on the list,
     * never one registered (a block lookup would reach its heap) and lost. */
    segment_link(h, s);
    COUNTER_ADD(h->segment_count, 1);
    COUNTER_ADD(h->segment_bytes, size);
    if (segmap_insert(s, size)) {
        segment_unlink(h, s);
        segment_unmap(h, s);
        errno = ENOMEM;
        return NULL;
    }
    switch (kind) {
    case SEG_SMALL:
        s->page_count = (uint32_t)(size >> PAGE_SHIFT);
        s->page_classes = (uint8_t *)s + segment_page_classes_offset(s->page_count);
        s->live_map = (uint64_t *)((uint8_t *)s + segment_live_map_offset(s->page_count));
        page_segment_added(h, s);
        break;
    case SEG_MEDIUM:
        /* The touched bits first: with them, the segment struct and the live
         * bits of its first half MiB of blocks share one OS page. */
        s->touched_map = (uint64_t *)((uint8_t *)s + segment_live_map_offset(0));
        s->live_map = s->touched_map + align_up(size / OS_PAGE, 64) / 64;
        /* Last: written by purges only. */
        s->purged_map = s->live_map + align_up(size >> a->block_shift, 64) / 64;
        tlsf_segment_added(h, s);
        break;
    case SEG_SEED:
        s->live_map = (uint64_t *)((uint8_t *)s + segment_live_map_offset(0));
        break;
    default:
        break;
    }
    return s;
}

void segment_release(heap_t *h, segment_t *s) {
    segment_forget(h, s); /* out of the map first: segment_new says why */
    segment_unlink(h, s);
    segment_unmap(h, s);
}

bool arena_recently_released(const arena_t *a, const void *p) {
    uintptr_t x = (uintptr_t)p;
    for (unsigned i = 0; i < RELEASED_RING; i++)
        if (x >= atomic_load_explicit(&a->released_begin[i], memory_order_relaxed) &&
            x < atomic_load_explicit(&a->released_end[i], memory_order_relaxed))
            return true;
    return false;
}

void segment_release_unlinked(heap_t *h, segment_t *s) {
    segment_forget(h, s);
    segment_unmap(h, s);
}
