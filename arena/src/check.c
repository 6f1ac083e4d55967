/* check.c: arena_check for the default policy: walks every segment, page and
 * block and verifies the invariants written beside each struct in internal.h. */
#include "fastpath.h"

typedef struct check_totals {
    size_t live_blocks, live_bytes, usable, mapped;
    size_t active_pages, free_pages, queued_pages;
} check_totals;

static int check_segment_header(const heap_t *h, const segment_t *s, segment_kind kind) {
    CHECK_INVARIANT(s->magic == (SEGMENT_MAGIC ^ (uint32_t)kind) && s->kind == (uint32_t)kind, "segment header damaged", s);
    CHECK_INVARIANT(s->heap == h && s->arena == h->arena, "segment owned by another heap", s);
    CHECK_INVARIANT(s->small_owner == (kind == SEG_SMALL && !h->mode ? h : NULL), "segment's small owner is wrong", s);
    CHECK_INVARIANT(segmap_lookup(s) == s && segmap_lookup((const uint8_t *)s + s->size - 1) == s,
          "segment map does not point at the segment", s);
    for (size_t off = 0; off < s->size; off += SEGMENT_ALIGN)
        CHECK_INVARIANT(segmap_lookup((const uint8_t *)s + off) == s, "segment map entry inside a segment is wrong", (uintptr_t)s + off);
    /* Nothing else maps here: an entry left past either end (a huge block
     * shrunk in place, a segment released and its address taken again)
     * would send a free of the memory there to this segment. */
    CHECK_INVARIANT(segmap_lookup((const void *)align_up((uintptr_t)s + s->size, SEGMENT_ALIGN)) != s &&
                        segmap_lookup((const uint8_t *)s - 1) != s,
          "segment map entry next to a segment points at it", s);
    CHECK_INVARIANT(!s->huge_pages_given || (kind != SEG_SEED && s->size >= OS_HUGE_PAGE && (uintptr_t)s % OS_HUGE_PAGE == 0),
          "huge pages asked for a segment that is too small or misaligned", s);
    CHECK_INVARIANT(!s->os_huge_pages || (s->huge_pages_given && (kind != SEG_MEDIUM || s->purged_pages == 0)),
          "huge pages still asked for a segment that was purged", s);
    return 0;
}

/* Invariants of one ACTIVE page (see page_t). */
static int check_active_page(const heap_t *h, const page_t *pg, check_totals *t) {
    size_t bs = pg->block_size;
    CHECK_INVARIANT(pg->reserved > 0 && bs > 0, "active page without blocks", pg->start);
    CHECK_INVARIANT(pg->class_idx < h->classes.count && h->classes.size[pg->class_idx] == bs, "page's class does not match its block size", pg->start);
    CHECK_INVARIANT(pg->used + pg->parked <= pg->capacity && pg->capacity <= pg->reserved, "page counts out of order (used + parked <= capacity <= reserved)", pg->start);
    CHECK_INVARIANT(!pg->parked || (!pg->full && !h->mode), "a full page, or a page in a mode, has parked blocks", pg->start);
    CHECK_INVARIANT(pg->start + (size_t)pg->reserved * bs <= (pg->start & ~(PAGE_BYTES - 1)) + PAGE_BYTES, "page's blocks overflow its area", pg->start);
    uintptr_t area = pg->start & ~(PAGE_BYTES - 1);
    unsigned shift = h->classes.live_shift;
    /* The free list: inside the carved part, on block boundaries, not live. */
    size_t listed = 0;
    /* In a mode the links are decoded but not followed blindly: the invariant
     * below stops at a damaged one (modes_list_next would report it to the
     * error handler, which may itself call arena_check). */
    for (uint8_t *b = pg->free; b; b = h->mode ? modes_list_peek(h, b) : *(uint8_t **)b) {
        uintptr_t a = (uintptr_t)b;
        CHECK_INVARIANT(++listed <= pg->capacity - pg->used - pg->parked, "page free list longer than its free blocks (cycle or leak)", pg->start);
        CHECK_INVARIANT(a >= pg->start && (a - pg->start) % bs == 0 && (a - pg->start) / bs < pg->capacity,
              "page free list entry is not a carved block of the page", a);
        CHECK_INVARIANT(!(page_live_bits(pg, b, h->classes.live_bit_shift) & LIVE_BIT), "block on a free list is marked live", a);
        CHECK_INVARIANT(h->mode || !(pg->purged_os & page_os_mask(pg, a, bs)), "a listed block lies on an OS page handed back", a);
    }
    CHECK_INVARIANT(h->mode || !pg->purged_os || pg->parked, "OS pages handed back without a parked block on them", pg->start);
    CHECK_INVARIANT(listed == pg->capacity - pg->used - pg->parked, "page free list shorter than its free blocks", pg->start);
    /* Live bits: exactly `used`, each at a carved block start. */
    size_t live = 0;
    for (size_t w = 0; w < LIVE_MAP_WORDS(shift); w++) {
        uint64_t word = map_load(&pg->live_map[w]);
        CHECK_INVARIANT(!((word >> 1) & ~word & 0x5555555555555555ull), "slack bit without a live bit", area + (w * 32 << shift));
        for (uint64_t bits = word & 0x5555555555555555ull; bits; bits &= bits - 1) {
            size_t g = w * 32 + (size_t)__builtin_ctzll(bits) / 2;
            uintptr_t a = area + (g << shift);
            CHECK_INVARIANT(a >= pg->start && (a - pg->start) % bs == 0 && (a - pg->start) / bs < pg->capacity,
                  "live bit set where no carved block starts", a);
            size_t requested = bs;
            if ((word >> ((g & 31) * 2)) & SLACK_BIT) {
                size_t slack = slack_read((const void *)a, bs);
                CHECK_INVARIANT(slack > 0 && slack <= bs, "block's recorded slack is out of range", a);
                requested -= slack;
            }
            CHECK_INVARIANT(h->mode || !(pg->purged_os & page_os_mask(pg, a, bs)), "a live block lies on an OS page handed back", a);
            /* The free that found the record damaged kept the block live:
             * its check byte alone damaged, the range test above passed it.
             * Not a block on its way back from another thread's free: its
             * in-transit mark (bytes 8-14) covers a 16-byte block's check
             * byte (byte 14). */
            CHECK_INVARIANT(!(h->mode & MODE_CHECKED) || pending_marked(h, (const void *)a) ||
                                checked_slack_sound(h, page_segment(pg), (const void *)a),
                            "block's size record or its check byte is damaged", a);
            t->live_bytes += requested;
            live++;
        }
    }
    CHECK_INVARIANT(live == pg->used, "live bits of a page do not match its used count", pg->start);
    CHECK_INVARIANT(!pg->full || (pg->free == NULL && pg->capacity == pg->reserved), "page marked full has blocks to hand out", pg->start);
    t->live_blocks += live;
    t->usable += live * bs;
    return 0;
}

static int check_small_segment(const heap_t *h, const segment_t *s, check_totals *t) {
    if (check_segment_header(h, s, SEG_SMALL)) return -1;
    CHECK_INVARIANT(s->page_count == s->size >> PAGE_SHIFT && s->first_page < s->page_count &&
                    s->first_page <= s->pages_ready && s->pages_ready <= s->page_count,
                    "small segment page count is wrong", s);
    /* Free reads live bits through the segment's map (segment_live_ref): each
     * page's map is its slice of it (below), and the slices of the pages under
     * the header stay clear. */
    const size_t words = LIVE_MAP_WORDS(h->classes.live_shift);
    for (size_t w = 0; w < (size_t)s->first_page * words; w++)
        CHECK_INVARIANT(map_load(&s->live_map[w]) == 0, "live bits of a page under the segment header", s);
    /* ... and so do those of the pages not set up yet: free would take a set
     * bit there for a live block and change a descriptor never written. */
    for (size_t w = (size_t)s->pages_ready * words; w < (size_t)s->page_count * words; w++)
        CHECK_INVARIANT(map_load(&s->live_map[w]) == 0, "live bits of a page not set up", s);
    uint32_t active = 0;
    for (uint32_t i = s->first_page; i < s->pages_ready; i++) {
        const page_t *pg = &s->pages[i];
        CHECK_INVARIANT(page_segment(pg) == s, "page's first block lies outside its segment", pg->start);
        CHECK_INVARIANT(pg->live_map == s->live_map + i * words, "page's live map is not its slice of the segment's", pg->start);
        CHECK_INVARIANT(pg->touched_pages <= PAGE_BYTES / OS_PAGE && pg->purged_pages <= PAGE_BYTES / OS_PAGE,
                        "page's touched or purged OS page count is past its end", pg->start);
        if (pg->state == PAGE_ACTIVE) {
            active++;
            CHECK_INVARIANT(s->page_classes[i] == pg->class_idx, "page's class differs from its segment's copy", pg->start);
            if (!pg->full) t->queued_pages++;
            if (check_active_page(h, pg, t)) return -1;
        } else {
            CHECK_INVARIANT(pg->state == PAGE_FREE, "page state is neither free nor active", pg->start);
            CHECK_INVARIANT(pg->used == 0, "free page counts live blocks", pg->start);
            for (size_t w = 0; w < words; w++)
                CHECK_INVARIANT(map_load(&pg->live_map[w]) == 0, "free page has live bits", pg->start);
            t->free_pages++;
        }
    }
    CHECK_INVARIANT(active == s->pages_active, "segment's active page count is wrong", s);
    t->active_pages += active;
    return 0;
}

static int check_free_pages(const heap_t *h, const page_queue *q, bool dirty, size_t *pages, size_t *touched) {
    const page_t *prev = NULL;
    for (const page_t *pg = q->first; pg; prev = pg, pg = pg->next) {
        CHECK_INVARIANT(pg->state == PAGE_FREE && pg->dirty == dirty, "free-page list holds a page in the wrong state", pg->start);
        CHECK_INVARIANT(page_segment(pg)->heap == h, "free-page list holds another heap's page", pg->start);
        CHECK_INVARIANT(pg->prev == prev, "free-page list back link is wrong", pg->start);
        ++*pages;
        *touched += page_touched_bytes(pg);
    }
    CHECK_INVARIANT(q->last == prev, "free-page list's last page is wrong", q->last);
    return 0;
}

/* A list of h's segments (a kind's, or the huge cache): the back links mirror
 * the forward ones, and it ends within the heap's segment count (a cycle is
 * reported, not walked forever). Adds its length to *segments. */
static int check_segment_list(const heap_t *h, const segment_t *first, size_t *segments) {
    const segment_t *prev = NULL;
    for (const segment_t *s = first; s; prev = s, s = s->next) {
        CHECK_INVARIANT(++*segments <= h->segment_count, "segment list longer than the heap's segments (cycle)", s);
        CHECK_INVARIANT(s->prev == prev, "segment list back link is wrong", s);
    }
    return 0;
}

/* Every structural invariant of heap h; adds the live blocks and mapped bytes
 * it finds to *t. */
static int heap_check(const heap_t *h, check_totals *t) {
    t->queued_pages = t->free_pages = 0;
    size_t listed = 0;
    for (int kind = SEG_SMALL; kind < SEG_KINDS; kind++)
        if (check_segment_list(h, h->segments[kind], &listed)) return -1;
    if (check_segment_list(h, h->huge_cache, &listed)) return -1;
    size_t segments = 0;
    const size_t mapped_before = t->mapped; /* t->mapped sums every heap's segments */
    for (const segment_t *s = h->segments[SEG_SMALL]; s; s = s->next, segments++) {
        if (check_small_segment(h, s, t)) return -1;
        t->mapped += s->size;
    }
    for (const segment_t *s = h->segments[SEG_MEDIUM]; s; s = s->next, segments++) {
        if (check_segment_header(h, s, SEG_MEDIUM)) return -1;
        t->mapped += s->size;
    }
    for (const segment_t *s = h->segments[SEG_HUGE]; s; s = s->next, segments++) {
        if (check_segment_header(h, s, SEG_HUGE)) return -1;
        CHECK_INVARIANT(s->huge_block > (uintptr_t)s && s->huge_block + s->huge_usable == (uintptr_t)s + s->size - s->guard,
              "huge block does not end its mapping", s);
        CHECK_INVARIANT(s->huge_requested <= s->huge_usable, "huge block's requested size exceeds its usable size", s);
        CHECK_INVARIANT(!s->huge_cached, "cached huge mapping among the live ones", s);
        CHECK_INVARIANT(huge_seal_holds(s), "huge block's header damaged (not as sealed)", s);
        t->live_blocks++;
        t->live_bytes += s->huge_requested;
        t->usable += s->huge_usable;
        t->mapped += s->size;
    }
    size_t cached = 0, cached_bytes = 0;
    for (const segment_t *s = h->huge_cache; s; s = s->next, segments++) {
        if (check_segment_header(h, s, SEG_HUGE)) return -1;
        CHECK_INVARIANT(s->huge_cached, "live huge block in the huge cache", s);
        CHECK_INVARIANT(huge_seal_holds(s), "cached huge mapping's header damaged (not as sealed)", s);
        cached++;
        cached_bytes += s->size;
        t->mapped += s->size;
    }
    CHECK_INVARIANT(cached == h->huge_cache_count && cached_bytes == h->huge_cache_bytes,
                    "huge cache counts are wrong", cached_bytes);
    CHECK_INVARIANT(segments == h->segment_count, "heap's segment count is wrong", h->segment_count);
    CHECK_INVARIANT(t->mapped - mapped_before == h->segment_bytes, "heap's segment bytes are wrong", h->segment_bytes);
    if (tlsf_check(h, &t->live_blocks, &t->live_bytes, &t->usable)) return -1;

    /* Class queues: ACTIVE pages of their class with something to hand out. */
    size_t queued = 0;
    for (unsigned c = 0; c < CLASS_MAX; c++) {
        const page_queue *q = &h->queues[c];
        CHECK_INVARIANT(h->direct[c] == (q->first && !h->mode ? q->first : &page_empty),
                        "direct page is not the first of its class queue", c);
        const page_t *prev = NULL;
        for (const page_t *pg = q->first; pg; prev = pg, pg = pg->next) {
            CHECK_INVARIANT(++queued <= t->queued_pages, "class queues hold more pages than there are", pg->start);
            CHECK_INVARIANT(pg->state == PAGE_ACTIVE && !pg->full && pg->class_idx == c && page_segment(pg)->heap == h,
                  "class queue holds a page that does not belong there", pg->start);
            CHECK_INVARIANT(pg->prev == prev, "class queue back link is wrong", pg->start);
        }
        CHECK_INVARIANT(q->last == prev, "class queue's last page is wrong", c);
    }
    CHECK_INVARIANT(queued == t->queued_pages, "a page with free blocks is missing from its class queue", t->queued_pages - queued);
    CHECK_INVARIANT(page_empty.free == NULL && page_empty.used == 0, "the shared empty page was written to", &page_empty);

    size_t dirty_pages = 0, clean_pages = 0, dirty_bytes = 0, clean_touched = 0;
    if (check_free_pages(h, &h->free_dirty, true, &dirty_pages, &dirty_bytes)) return -1;
    if (check_free_pages(h, &h->free_clean, false, &clean_pages, &clean_touched)) return -1;
    CHECK_INVARIANT(dirty_pages + clean_pages == t->free_pages, "free pages and free-page lists disagree", t->free_pages);
    CHECK_INVARIANT(dirty_bytes == h->dirty_page_bytes, "dirty free-page bytes are wrong", h->dirty_page_bytes);
    CHECK_INVARIANT(clean_touched == 0, "clean free page with touched bytes", clean_touched);
    CHECK_INVARIANT(h->stats.peak_live_bytes >= h->stats.live_bytes, "peak live bytes below live bytes", h->stats.peak_live_bytes);
    return 0;
}

/* The blocks h's thread freed and holds for their owner: live small or medium
 * blocks of that owner, as many and as large as counted, each marked as on its
 * way, the owner told to read the mark. */
static int check_pending(const heap_t *h) {
    uint64_t count = atomic_load_explicit(&h->pending_blocks, memory_order_relaxed);
    size_t bytes = 0, requested;
    CHECK_INVARIANT(h->filling < TRANSIT_BATCHES, "the filling batch is out of range", h->filling);
    const transit_batch *b = &h->batches[h->filling];
    CHECK_INVARIANT(count < REMOTE_BATCH_BLOCKS, "a pending batch is longer than a batch", count);
    CHECK_INVARIANT(!atomic_load_explicit(&b->in_flight, memory_order_relaxed), "the filling batch is in flight", b);
    for (uint64_t i = 0; i < count; i++) {
        void *p = b->blocks[i];
        segment_t *s = segmap_lookup(p);
        CHECK_INVARIANT(s && s->heap == h->pending_owner && s->heap != h, "a pending block is not its owner's", p);
        CHECK_INVARIANT(s->kind != SEG_HUGE && heaps_live(h->arena, p, &requested), "a pending block is not live", p);
        CHECK_INVARIANT(pending_marked(s->heap, p) && s->heap->freed_by_others,
                        "a pending block lacks its in-transit mark", p);
        for (uint64_t j = 0; j < i; j++) CHECK_INVARIANT(b->blocks[j] != p, "a block is pending twice", p);
        bytes += requested;
    }
    CHECK_INVARIANT(bytes == atomic_load_explicit(&h->pending_bytes, memory_order_relaxed), "pending byte count is wrong", bytes);
    return 0;
}

/* The next heap of a after h in a walk over all of them, its own heap first. */
static heap_t *check_next_heap(arena_t *a, heap_t *h) {
    return h == &a->heap ? (a->multi_heap ? a->heaps : NULL) : h->next_heap;
}

/* True when b is one of the transit batches of a heap of a (its start, not
 * a pointer into one). */
static bool check_is_batch(arena_t *a, const transit_batch *b) {
    for (heap_t *h = &a->heap; h; h = check_next_heap(a, h))
        for (unsigned i = 0; i < TRANSIT_BATCHES; i++)
            if (b == &h->batches[i]) return true;
    return false;
}

/* Transit batches, once every heap still in use has taken in what others
 * freed into it (heaps_check, which says whether any heap is an orphan):
 * such a heap's remote lists and counts are empty; a batch on the list of a
 * heap never collected again (an orphan) is one of this arena's, in flight;
 * without orphans, no batch is in flight. */
static int check_transit(arena_t *a, bool orphans) {
    size_t in_flight = 0, listed = 0;
    for (heap_t *h = &a->heap; h; h = check_next_heap(a, h)) {
        for (unsigned i = 0; i < TRANSIT_BATCHES; i++)
            in_flight += atomic_load_explicit(&h->batches[i].in_flight, memory_order_relaxed);
        if (h->orphaned) continue;
        CHECK_INVARIANT(!atomic_load_explicit(&h->remote_batches, memory_order_relaxed) &&
                            !atomic_load_explicit(&h->remote_free, memory_order_relaxed),
                        "blocks freed into a heap were left on its remote lists", h);
        CHECK_INVARIANT(!atomic_load_explicit(&h->remote_freed_bytes, memory_order_relaxed) &&
                            !atomic_load_explicit(&h->remote_freed_blocks, memory_order_relaxed),
                        "frees into a heap by other threads were left uncounted", h);
    }
    for (heap_t *h = &a->heap; h; h = check_next_heap(a, h)) {
        if (!h->orphaned) continue;
        for (const transit_batch *b = atomic_load_explicit(&h->remote_batches, memory_order_relaxed); b; b = b->next) {
            CHECK_INVARIANT(++listed <= in_flight && check_is_batch(a, b), "a remote list holds a batch not in flight (or cycles)", b);
            CHECK_INVARIANT(atomic_load_explicit(&b->in_flight, memory_order_relaxed), "a batch on a remote list is not in flight", b);
        }
    }
    /* A thread that vanished at fork may have marked a batch in flight and
     * not pushed it, or taken batches off its list and not given them back:
     * those stay in flight on no list for good (heaps_release_locked). */
    CHECK_INVARIANT(orphans || listed == in_flight, "a batch in flight is on no remote list", in_flight - listed);
    return 0;
}

int heaps_check(arena_t *a) {
    check_totals t = {0};
    uint64_t allocs = 0, frees = 0;
    size_t live_bytes = 0;
    /* In the process arena, blocks other threads freed are still on their owners'
     * lists: the check runs while no other thread allocates, so take them in. */
    for (heap_t *h = a->multi_heap ? a->heaps : NULL; h; h = h->next_heap)
        if (!h->orphaned) heap_collect_remote(h);
    /* A heap left by a thread that vanished at fork may be half-changed: it is
     * never used again (heaps_fork_child), so it is neither walked nor counted. */
    bool orphans = false;
    /* The arena's own heap holds the huge blocks and no thread's small ones:
     * a thread that adopted it would take both. */
    CHECK_INVARIANT(!a->heap.abandoned, "the arena's own heap is marked abandoned", &a->heap);
    size_t marked = 0; /* heaps marked abandoned */
    for (heap_t *h = &a->heap; h; h = check_next_heap(a, h)) {
        marked += h->abandoned;
        if (h->orphaned) {
            orphans = true;
            continue;
        }
        if (heap_check(h, &t)) return -1;
        if (check_pending(h)) return -1;
        /* Pending blocks are live blocks of their owner, and counted by it. */
        allocs += h->stats.allocs;
        frees += h->stats.frees;
        live_bytes += h->stats.live_bytes;
    }
    if (check_transit(a, orphans)) return -1;
    /* Abandoned heaps are on both lists, and on the abandoned one only those
     * marked: adoption takes from that list, and a marked heap missing from
     * it would never be adopted or trimmed (heaps.c). */
    size_t listed = 0;
    for (heap_t *h = a->multi_heap ? a->abandoned : NULL; h; h = h->next_abandoned)
        CHECK_INVARIANT(++listed <= marked && h->abandoned, "the abandoned-heap list holds a heap not marked abandoned (or cycles)", h);
    unsigned late = 0;
    for (heap_t *h = a->multi_heap ? a->heaps : NULL; h; h = h->next_heap) {
        late += h->late_tid != 0;
        CHECK_INVARIANT(!h->late_tid || !h->abandoned, "an abandoned heap is marked as a late thread's", h);
        CHECK_INVARIANT(!h->warm || (h->abandoned && h->warm_keep <= WARM_KEEP_MAX), "a heap in use, or keeping more than WARM_KEEP_MAX, is marked warm", h);
        /* Else heap_purge_earned's share would wrap. */
        CHECK_INVARIANT(h->inherited_live <= h->stats.peak_live_bytes, "a heap adopted more live bytes than its peak", h);
        /* Else nothing would cool it while the process works on. */
        CHECK_INVARIANT(!h->warm || atomic_load_explicit(&a->warm_due, memory_order_relaxed), "a heap is warm, but no time is set for it to stop", h);
    }
    CHECK_INVARIANT(listed == marked, "a heap marked abandoned is not on the abandoned-heap list", marked);
    /* Else adoptions would look for gone threads' heaps for ever, or miss one. */
    CHECK_INVARIANT(late == atomic_load_explicit(&a->late_heaps, memory_order_relaxed), "late heaps miscounted", late);
    /* An orphan's blocks (and the huge blocks it counted) cannot be told apart:
     * the totals hold only without orphans. */
    CHECK_INVARIANT(orphans || allocs - frees == t.live_blocks, "live block count disagrees with the blocks found", t.live_blocks);
    CHECK_INVARIANT(orphans || live_bytes == t.live_bytes, "live bytes disagree with the blocks found", t.live_bytes);
    size_t mapped = atomic_load(&a->mapped_bytes);
    size_t found = t.mapped + a->self_size + a->heap_bytes;
    CHECK_INVARIANT(orphans ? mapped >= found : mapped == found, "mapped bytes disagree with the segments", mapped);
    CHECK_INVARIANT(atomic_load(&a->peak_mapped_bytes) >= mapped, "peak mapped bytes below mapped bytes", mapped);
    /* A fork child of threads mapping without the lock may have one between
     * its charge and its mapping, or between the two halves of an unmapping:
     * charged is then above mapped for good (heaps_release_locked). */
    size_t charged = atomic_load(&a->charged_bytes);
    CHECK_INVARIANT(orphans ? charged >= mapped : charged == mapped, "charged bytes disagree with mapped bytes", charged);
    return 0;
}
