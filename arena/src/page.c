/* page.c: small blocks: 16 KiB pages of one size class, carved as they fill,
 * queued per class, handed back to the segment when empty and purged later. */
#include "fastpath.h"

page_t page_empty;

/* ---- queues -------------------------------------------------------------- */

static void queue_push_front(page_queue *q, page_t *pg) {
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first) q->first->prev = pg;
    else q->last = pg;
    q->first = pg;
}

static void queue_push_back(page_queue *q, page_t *pg) {
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last) q->last->next = pg;
    else q->first = pg;
    q->last = pg;
}

static void queue_remove(page_queue *q, page_t *pg) {
    if (pg->prev) pg->prev->next = pg->next;
    else q->first = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    else q->last = pg->prev;
    pg->next = pg->prev = NULL;
}

static void direct_update(heap_t *h, unsigned cls) {
    page_t *first = h->queues[cls].first;
    h->direct[cls] = first && !h->mode ? first : &page_empty; /* a mode keeps the fast path off */
}

/* ---- heap set-up --------------------------------------------------------- */

/* A heap starts on the power-of-two classes, and takes all of them once it
 * holds COARSE_LIVE_MAX (classes_refine). A heap that holds a few blocks of
 * many sizes (a thread that only passes data on) has more classes in use than
 * pages: each class's last page idles between uses and another class takes it
 * (page_steal_idle), to be set up and carved again on the next call. The
 * busier consumer of python-threads did that on one allocation in four: 147.8
 * instructions per op of its own calls replayed alone, 92.9 with power-of-two
 * classes, which also hold less (57 KB resident to 45 KB): fewer classes, fewer
 * pages. What a block wastes to rounding is at most what the heap holds. */
void heap_init(heap_t *h, arena_t *a) {
    h->arena = a;
    sizeclass_init(&h->classes, a->block_size, a->multi_heap ? TRANSIT_MIN_CLASS : 0);
    sizeclass_lookup(&h->classes, true);
    h->coarse_classes = true;
    for (unsigned c = 0; c < CLASS_MAX; c++) h->direct[c] = &page_empty;
    modes_heap_init(h, (a->config.flags & ARENA_CHECKED ? MODE_CHECKED : 0) |
                           (a->config.flags & ARENA_SECURE ? MODE_SECURE : 0));
}

/* ---- free pages ---------------------------------------------------------- */

/* The usable part of page i of small segment s, [*start, *end): past the
 * header, before the guard (MODE_SECURE). */
static void page_bounds(const heap_t *h, const segment_t *s, uint32_t i, uintptr_t *start, uintptr_t *end) {
    size_t header = segment_header_size(h->arena, SEG_SMALL, s->size);
    uintptr_t first = (uintptr_t)s + align_up(header, h->classes.granule > OS_PAGE ? h->classes.granule : OS_PAGE);
    uintptr_t area = (uintptr_t)s + ((size_t)i << PAGE_SHIFT);
    uintptr_t limit = (uintptr_t)s + s->size - s->guard;
    *start = area < first ? first : area;
    *end = area + PAGE_BYTES < limit ? area + PAGE_BYTES : limit;
}

/* The end of page pg's usable part. */
static uintptr_t page_end(const heap_t *h, const page_t *pg) {
    const segment_t *s = page_segment(pg);
    uintptr_t start, end;
    page_bounds(h, s, (uint32_t)((pg->start - (uintptr_t)s) >> PAGE_SHIFT), &start, &end);
    return end;
}

static bool page_usable(const heap_t *h, const segment_t *s, uint32_t i) {
    uintptr_t start, end;
    page_bounds(h, s, i, &start, &end);
    return start + h->classes.small_max <= end;
}

/* Descriptors are set up as pages are first wanted, not all when the segment
 * is mapped: 256 of them are 16 KiB, resident for a heap that may use a few
 * pages (a thread's heap, a short-lived explicit arena). */
void page_segment_added(heap_t *h, segment_t *s) {
    s->first_page = 0;
    while (s->first_page < s->page_count && !page_usable(h, s, s->first_page)) s->first_page++;
    s->pages_ready = s->first_page;
}

/* Sets up the next descriptor of the oldest small segment of h that has one
 * left (as the pages of a new segment used to queue behind the older ones'):
 * a FREE clean page off every list; NULL when no segment has one. */
static page_t *page_setup_next(heap_t *h) {
    segment_t *s = NULL;
    for (segment_t *t = h->segments[SEG_SMALL]; t; t = t->next)
        if (t->pages_ready < t->page_count && page_usable(h, t, t->pages_ready)) s = t;
    if (!s) return NULL;
    uint32_t i = s->pages_ready++;
    page_t *pg = &s->pages[i];
    uintptr_t start, end;
    page_bounds(h, s, i, &start, &end);
    pg->live_map = s->live_map + i * LIVE_MAP_WORDS(h->classes.live_shift);
    pg->state = PAGE_FREE;
    __atomic_store_n(&pg->start, start, __ATOMIC_RELAXED); /* atomic: page_t says why */
    return pg;
}

/* A class keeps its last page when it empties, so that a class used in a loop
 * does not set a page up on every call. Such a page is touched memory no
 * other class can use: before the heap takes a page it has to fault in, it
 * takes one of those instead (gxx-stl at its peak holds 9 of them, 144 KiB).
 * Returns the page, out of its queue and still counted active, or NULL. */
static page_t *page_steal_idle(heap_t *h) {
    for (unsigned c = 0; c < h->classes.count; c++) {
        page_t *pg = h->queues[c].first;
        if (pg && pg->used == 0 && pg->touched_pages && !pg->next) {
            if (h->mode) modes_page_verify(h, pg);
            queue_remove(&h->queues[c], pg);
            direct_update(h, c);
            return pg;
        }
    }
    return NULL;
}

page_t *page_acquire(heap_t *h) {
    page_t *pg = h->free_dirty.first;
    if (!pg && (pg = page_steal_idle(h)) != NULL) return pg;
    if (pg) {
        if (h->mode) modes_page_verify(h, pg); /* its blocks, free since it emptied */
        queue_remove(&h->free_dirty, pg);
        h->dirty_page_bytes -= page_touched_bytes(pg);
    } else if ((pg = h->free_clean.first) != NULL) {
        queue_remove(&h->free_clean, pg);
    } else if ((pg = page_setup_next(h)) == NULL) {
        if (!arena_cap_allows(h->arena, h->arena->region_size)) heap_release_idle(h, SEG_SMALL);
        if (!segment_new(h, SEG_SMALL, h->arena->region_size, SEGMENT_ALIGN, 0)) return NULL;
        pg = page_setup_next(h);
        if (!pg) return NULL; /* a region too small for one page (cannot happen: MIN_REGION) */
    }
    page_segment(pg)->pages_active++;
    pg->dirty = 0;
    return pg;
}

static void page_init_class(heap_t *h, page_t *pg, unsigned cls) {
    segment_t *s = page_segment(pg);
    __atomic_store_n(&s->page_classes[pg - s->pages], (uint8_t)cls, __ATOMIC_RELAXED);
    __atomic_store_n(&pg->block_size, h->classes.size[cls], __ATOMIC_RELAXED); /* atomic: page_t says why */
    pg->class_idx = (uint8_t)cls;
    pg->reserved = (uint32_t)((page_end(h, pg) - pg->start) / pg->block_size);
    __atomic_store_n(&pg->capacity, 0, __ATOMIC_RELAXED);
    pg->used = 0;
    pg->parked = 0;
    pg->purged_os = 0;
    pg->free = NULL;
    pg->full = 0;
    pg->state = PAGE_ACTIVE;
}

/* pg's OS pages from touched_pages up to `pages` are about to be written: the
 * heap learns what that faults in, and which of it a purge handed back. */
static void page_touch(heap_t *h, page_t *pg, uint8_t pages) {
    uint8_t purged_end = pg->purged_pages < pages ? pg->purged_pages : pages;
    if (purged_end > pg->touched_pages) h->faulted_back += (size_t)(purged_end - pg->touched_pages) * OS_PAGE;
    uint8_t fresh_from = pg->purged_pages > pg->touched_pages ? pg->purged_pages : pg->touched_pages;
    if (pages > fresh_from) heap_faulted_fresh(h, (size_t)(pages - fresh_from) * OS_PAGE);
    heap_grew(h, SEG_SMALL, (size_t)(pages - pg->touched_pages) * OS_PAGE);
    pg->touched_pages = pages;
}

/* Carves fresh blocks up to the next OS page boundary (at least one block), so a
 * page only ever touches the memory its blocks need. */
static void page_carve(heap_t *h, page_t *pg) {
    ARENA_ASSERT(pg->capacity < pg->reserved && pg->free == NULL);
    size_t bs = pg->block_size;
    uintptr_t begin = pg->start + (size_t)pg->capacity * bs;
    uintptr_t end = align_up(begin + bs, OS_PAGE);
    size_t count = (end - begin) / bs;
    if (count > pg->reserved - pg->capacity) count = pg->reserved - pg->capacity;
    if (count == 0) count = 1;
    /* Before pg has a free list: heap_grew may shrink sparse pages, and pg
     * has nothing to park yet. */
    uint8_t carved_pages = (uint8_t)((align_up(begin + count * bs, OS_PAGE) - pg->start) / OS_PAGE);
    if (carved_pages > pg->touched_pages) {
        /* The links below write those OS pages: faulted in by one call first,
         * which costs less than the faults (docs/design.md, Faulting in). */
        os_populate((void *)(pg->start + (size_t)pg->touched_pages * OS_PAGE),
                    (size_t)(carved_pages - pg->touched_pages) * OS_PAGE);
        page_touch(h, pg, carved_pages);
    }
    if (h->mode) {
        modes_carve(h, pg, begin, count);
    } else {
        uint8_t *b = (uint8_t *)begin;
        for (size_t i = 0; i + 1 < count; i++, b += bs) *(void **)b = b + bs;
        *(void **)b = NULL;
        pg->free = (void *)begin;
    }
    __atomic_store_n(&pg->capacity, pg->capacity + (uint32_t)count, __ATOMIC_RELAXED);
}

/* ---- shrinking sparse pages ----------------------------------------------
 * A page that held many blocks of its class and now holds few keeps its
 * carved memory resident, and no other class can use it: gxx-stl at its peak
 * holds 225 KiB of whole OS pages inside such pages with no live block on
 * them. When the heap grows, those OS pages go back to the OS: their free
 * blocks leave the free list (parked), to be listed again, and faulted back
 * in, only when the page has nothing else to hand out. */


/* Lists every parked block of pg again (its free list is empty: every carved
 * block that is not live is parked). */
static void page_unpark(heap_t *h, page_t *pg) {
    ARENA_ASSERT(pg->free == NULL && pg->parked > 0);
    if (pg->purged_os) {
        /* The links below write every OS page handed back (each holds the
         * start of a parked block: classes end below an OS page): faulted
         * back in by one call first, which costs less than the faults
         * (docs/design.md, Faulting in). The resident pages between them
         * cost the call a look each. */
        unsigned first = (unsigned)__builtin_ctz(pg->purged_os), last = 31u - (unsigned)__builtin_clz(pg->purged_os);
        os_populate((void *)(pg->start + (size_t)first * OS_PAGE), (size_t)(last - first + 1) * OS_PAGE);
    }
    void *head = NULL;
    for (uint32_t i = pg->capacity; i-- > 0;) {
        void *b = (uint8_t *)pg->start + (size_t)i * pg->block_size;
        if (page_live_bits(pg, b, h->classes.live_bit_shift) & LIVE_BIT) continue;
        *(void **)b = head;
        head = b;
    }
    pg->free = head;
    pg->parked = 0;
    pg->purged_os = 0;
}

/* The bit of each OS page of pg's carved part, and of those a live block lies on. */
static uint32_t page_carved_os(const page_t *pg) {
    return page_os_mask(pg, pg->start, (size_t)pg->capacity * pg->block_size);
}
static uint32_t page_busy_os(const heap_t *h, const page_t *pg, uint32_t carved) {
    unsigned shift = h->classes.live_shift;
    uintptr_t area = pg->start & ~(uintptr_t)(PAGE_BYTES - 1);
    uint32_t busy = 0;
    for (size_t w = 0; w < LIVE_MAP_WORDS(shift) && busy != carved; w++) {
        for (uint64_t bits = map_load(&pg->live_map[w]) & 0x5555555555555555ull; bits; bits &= bits - 1) {
            uintptr_t b = area + ((w * 32 + (size_t)__builtin_ctzll(bits) / 2) << shift);
            busy |= page_os_mask(pg, b, pg->block_size);
        }
    }
    return busy;
}

/* Hands the OS pages of pg (ACTIVE, not in a mode, carved) on which no block
 * is live back to the OS, through `batch`, parking every listed block that lies
 * partly there: a page handed back is written again only when its blocks are
 * listed again (page_unpark), so purged_os stays true, and the caller flushes
 * the batch before it returns. Returns the bytes handed back. */
static size_t page_shrink(heap_t *h, page_t *pg, os_purge_batch *batch) {
    ARENA_ASSERT(pg->start % OS_PAGE == 0 && pg->capacity > 0);
    uint32_t carved = page_carved_os(pg), busy = page_busy_os(h, pg, carved);
    if (!(carved & ~busy & ~pg->purged_os)) return 0; /* nothing new to hand back */
    size_t bs = pg->block_size;
    uint32_t parked = 0;
    void *head = NULL, **link = &head;
    for (void *b = pg->free; b;) {
        void *next = *(void **)b;
        if (page_os_mask(pg, (uintptr_t)b, bs) & ~busy) {
            parked++;
        } else {
            *link = b;
            link = (void **)b;
        }
        b = next;
    }
    *link = NULL;
    pg->free = head;
    pg->parked = (uint16_t)(pg->parked + parked);
    /* Each run of carved OS pages with no live block: every block there is
     * parked now. */
    uint32_t purge = carved & ~busy & ~pg->purged_os;
    size_t purged = (size_t)__builtin_popcount(purge) * OS_PAGE;
    bool split = purge && segment_purging(page_segment(pg));
    pg->purged_os |= (uint8_t)purge;
    while (purge) {
        unsigned first = (unsigned)__builtin_ctz(purge), n = 0;
        while (purge >> (first + n) & 1) n++;
        os_purge_batch_add(batch, (void *)(pg->start + (size_t)first * OS_PAGE), (size_t)n * OS_PAGE, split);
        purge &= ~(uint32_t)((((uint64_t)1 << n) - 1) << first);
    }
    return purged;
}

void page_shrink_sparse(heap_t *h, size_t fresh) {
    h->grown_since_shrink += fresh;
    size_t every = h->stats.live_bytes >> SHRINK_LIVE_SHIFT;
    if (h->grown_since_shrink < (every > SHRINK_EVERY ? every : SHRINK_EVERY) || h->mode) return;
    h->grown_since_shrink = 0;
    os_purge_batch batch;
    batch.count = 0;
    batch.split = false;
    for (segment_t *s = h->segments[SEG_SMALL]; s; s = s->next) {
        for (uint32_t i = s->first_page; i < s->pages_ready; i++) {
            page_t *pg = &s->pages[i];
            /* Sparse, with something to park (a page being carved has no
             * free list yet). */
            if (pg->state != PAGE_ACTIVE || !pg->free || (size_t)pg->used << SHRINK_SPARSE_SHIFT > pg->capacity) continue;
            page_shrink(h, pg, &batch);
        }
    }
    os_purge_batch_flush(&batch);
}

/* Whether pg's next carve writes an OS page it has not touched since it was
 * last purged (a page reused for another class keeps what it touched). */
static bool page_carve_touches_fresh(const page_t *pg) {
    uintptr_t next_end = pg->start + ((size_t)pg->capacity + 1) * pg->block_size;
    return next_end > pg->start + (size_t)pg->touched_pages * OS_PAGE;
}

/* The page at the back of queue q when it is not the first and holds at least
 * an OS page's worth of free blocks, about what a carve would hand out: taking
 * it costs no more trips to this slow path than carving, and no memory. Pages
 * that were full go to the back when a block comes back; freeing into them
 * is what another thread's frees do. NULL otherwise. */
static page_t *queue_back_with_free(const page_queue *q) {
    page_t *pg = q->last;
    if (pg == q->first) return NULL;
    return (size_t)(pg->capacity - pg->used - pg->parked) * pg->block_size >= OS_PAGE ? pg : NULL;
}

/* Every class from now on: the heap holds enough that a block's rounding
 * would cost more than pages of more classes. Blocks already handed out keep
 * their classes' pages. */
static NOINLINE void classes_refine(heap_t *h) {
    sizeclass_lookup(&h->classes, false);
    h->coarse_classes = false;
}

/* page_malloc_slow's general case: a page to set up, unpark or carve, or
 * several full pages to take out of the queue. */
static NOINLINE void *page_malloc_search(heap_t *h, size_t size, unsigned cls) {
    if (unlikely(h->coarse_classes) && h->stats.live_bytes >= COARSE_LIVE_MAX) classes_refine(h);
    page_queue *q = &h->queues[cls];
    for (;;) {
        page_t *pg = q->first;
        if (!pg) {
            pg = page_acquire(h);
            if (!pg) return NULL;
            page_init_class(h, pg, cls);
            queue_push_front(q, pg);
            direct_update(h, cls);
        }
        if (!pg->free && pg->parked) page_unpark(h, pg);
        if (pg->capacity < pg->reserved && !pg->free) {
            /* Blocks freed elsewhere in the queue before memory never touched. */
            bool fresh = page_carve_touches_fresh(pg);
            if (fresh && pg->next && pg->next->free) {
                /* The next page has blocks listed: it serves, and this page
                 * goes to the back, to carve once every page ahead of it has
                 * run out. Left second, it would come first again each time
                 * the page ahead ran out, a search each (after random frees
                 * most pages list a block or two: taking the back page
                 * whatever it held, with this one second, cost gen-random 15%
                 * more instructions per op; this, 5%). */
                queue_remove(q, pg);
                queue_push_back(q, pg);
                direct_update(h, cls);
                continue;
            }
            page_t *other = fresh ? queue_back_with_free(q) : NULL;
            if (other) {
                queue_remove(q, other);
                queue_push_front(q, other);
                direct_update(h, cls);
                continue;
            }
            page_carve(h, pg);
        }
        if (pg->free) return h->mode ? modes_block_take(h, pg, size) : block_take(h, pg, size);
        /* Full: out of the queue until a block comes back. */
        queue_remove(q, pg);
        pg->full = 1;
        direct_update(h, cls);
    }
}

/* Most calls: the current page ran out (nothing listed, parked or left to
 * carve) and the next one in the queue has blocks listed. What the search's
 * loop would do, in a function that saves few registers. */
void *page_malloc_slow(heap_t *h, size_t size, unsigned cls) {
    page_queue *q = &h->queues[cls];
    page_t *pg = q->first, *next;
    if (pg && !h->mode && !pg->free && !pg->parked && pg->capacity == pg->reserved &&
        (next = pg->next) != NULL && next->free) {
        /* Full: out of the queue until a block comes back. queue_remove,
         * knowing pg is first and has a next (0.4-0.7 instructions per op
         * fewer on gen-random and gen-tiny than calling it). */
        q->first = next;
        next->prev = NULL;
        pg->next = NULL;
        pg->full = 1;
        h->direct[cls] = next;
        return block_take(h, next, size);
    }
    return page_malloc_search(h, size, cls);
}

/* Whether segment s can go: none of its pages in use or dirty, and it is not
 * the heap's only small segment while `keep_last`. */
static bool page_segment_clean(const heap_t *h, const segment_t *s, bool keep_last) {
    if (s->pages_active || (keep_last && h->segments[SEG_SMALL] == s && !s->next)) return false;
    for (uint32_t i = s->first_page; i < s->pages_ready; i++)
        if (s->pages[i].dirty) return false;
    return true;
}
/* Releases segment s, clean (page_segment_clean): its free pages come off the
 * clean list. */
static void page_segment_release(heap_t *h, segment_t *s) {
    /* What purges handed back is gone with the mapping: new memory the heap
     * faults in later stands in for it. */
    for (uint32_t i = s->first_page; i < s->pages_ready; i++) {
        queue_remove(&h->free_clean, &s->pages[i]);
        h->unmapped_owed += (size_t)s->pages[i].purged_pages * OS_PAGE;
    }
    segment_release(h, s);
}
static void page_segment_release_if_clean(heap_t *h, segment_t *s, bool keep_last) {
    if (page_segment_clean(h, s, keep_last)) page_segment_release(h, s);
}

void page_release_empty_segments(heap_t *h) {
    for (segment_t *s = h->segments[SEG_SMALL], *next; s; s = next) {
        next = s->next;
        page_segment_release_if_clean(h, s, false);
    }
}

/* The bytes of ACTIVE page pg that are resident: what it touched, less the OS
 * pages page_shrink handed back. */
static size_t page_resident_bytes(const page_t *pg) {
    return page_touched_bytes(pg) - (size_t)__builtin_popcount(pg->purged_os) * OS_PAGE;
}

/* pg's touched OS pages were handed back. */
static void page_purged(page_t *pg) {
    if (pg->purged_pages < pg->touched_pages) pg->purged_pages = pg->touched_pages;
    pg->touched_pages = 0;
}

/* Returns an empty page to the free pages, dirty: it goes back to the OS when
 * the purge budget says so (page_purge), and its segment with it. A free page
 * does not keep which OS pages page_shrink handed back: one that did goes
 * back whole now (a page sparse enough to shrink, then emptied, is not
 * wanted soon). */
static NOINLINE void page_release(heap_t *h, page_t *pg) {
    segment_t *s = page_segment(pg);
    if (pg->purged_os) {
        /* No split here: page_shrink's purge of some of these OS pages split
         * the huge page they lie in, and their region is advised
         * MADV_NOHUGEPAGE since (segment_purging), so none formed again. */
        h->purged_out += page_resident_bytes(pg);
        os_purge((void *)pg->start, page_touched_bytes(pg));
        page_purged(pg);
    }
    pg->state = PAGE_FREE;
    pg->dirty = pg->touched_pages > 0;
    if (pg->dirty) {
        pg->dirty_since = (uint16_t)heap_clock_read(h);
        queue_push_front(&h->free_dirty, pg);
        h->dirty_page_bytes += page_touched_bytes(pg);
    } else {
        queue_push_front(&h->free_clean, pg);
    }
    s->pages_active--;
    if (!pg->dirty) page_segment_release_if_clean(h, s, true);
    heap_purge_maybe(h);
}

void page_free_slow(heap_t *h, page_t *pg) {
    unsigned cls = pg->class_idx;
    page_queue *q = &h->queues[cls];
    if (pg->full) {
        /* Behind the current page: fuller pages fill first, emptier ones drain. */
        pg->full = 0;
        queue_push_back(q, pg);
        direct_update(h, cls);
    }
    if (pg->used == 0 && q->first != q->last) {
        queue_remove(q, pg);
        direct_update(h, cls);
        page_release(h, pg);
    }
}

size_t page_trim(heap_t *h) {
    size_t released = 0;
    os_purge_batch batch;
    batch.count = 0;
    batch.split = false;
    for (unsigned c = 0; c < h->classes.count; c++) {
        page_queue *q = &h->queues[c];
        for (page_t *pg = q->first, *next; pg; pg = next) {
            next = pg->next;
            if (pg->used == 0) {
                released += page_resident_bytes(pg);
                queue_remove(q, pg);
                page_release(h, pg);
            } else if (pg->free && !h->mode) {
                released += page_shrink(h, pg, &batch);
            }
        }
        direct_update(h, c);
    }
    /* What page_release purged in between went on its own: a page shrunk here
     * keeps a live block, so its segment stays mapped until this flush. */
    os_purge_batch_flush(&batch);
    return released;
}

void page_purge(heap_t *h, size_t keep, bool spare_young, uint32_t now) {
    /* The pages go back in batches (os_purge_batch): one pass hands back
     * dozens of scattered free pages, each its own madvise before. A segment
     * is unmapped only once its pages left the batch (flushed, or taken out
     * unadvised): another thread may map the range again at once. Whether
     * the kernel dropped them is not asked: a small page is carved again from
     * its first byte whatever it holds. */
    os_purge_batch batch;
    batch.count = 0;
    batch.split = false;
    while (h->dirty_page_bytes > keep) {
        page_t *pg = h->free_dirty.last; /* the oldest */
        ARENA_ASSERT(pg && pg->dirty);
        if (spare_young && (uint16_t)(now - pg->dirty_since) < PURGE_DELAY_TICKS) break; /* the rest are younger */
        if (h->mode) modes_page_verify(h, pg);
        queue_remove(&h->free_dirty, pg);
        h->dirty_page_bytes -= page_touched_bytes(pg);
        h->purged_out += page_touched_bytes(pg);
        segment_t *s = page_segment(pg);
        os_purge_batch_add(&batch, (void *)pg->start, page_touched_bytes(pg), segment_purging(s));
        page_purged(pg);
        pg->dirty = 0;
        queue_push_back(&h->free_clean, pg);
        if (page_segment_clean(h, s, true)) {
            /* The unmap hands these pages back: advising them first would be
             * two calls for nothing. */
            os_purge_batch_drop(&batch, s, s->size);
            page_segment_release(h, s);
        }
    }
    os_purge_batch_flush(&batch);
}
