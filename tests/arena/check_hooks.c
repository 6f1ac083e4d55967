/* check_hooks.c: for check_test.cpp only: break one invariant that
 * arena_check verifies, through the library's internals, and put it back. */
#include "internal.h"

/* Stores `value` in the first live-map word of the SMALL segment that holds p
 * (the slice of a page under its header); returns the word it replaced. */
uint64_t check_hook_swap_header_live_word(const void *p, uint64_t value) {
    segment_t *s = segmap_lookup(p);
    uint64_t old = map_load(&s->live_map[0]);
    map_store(&s->live_map[0], value);
    return old;
}

/* Points the descriptor of p's page at `map` (NULL: one word past its own
 * slice); returns the pointer it replaced. */
uint64_t *check_hook_swap_page_live_map(const void *p, uint64_t *map) {
    page_t *pg = segment_page(segmap_lookup(p), p);
    uint64_t *old = pg->live_map;
    pg->live_map = map ? map : old + 1;
    return old;
}

/* Stores `prev` as the back link of the segment that holds p (in its heap's
 * list of its kind); returns the link it replaced. */
void *check_hook_swap_segment_prev(const void *p, void *prev) {
    segment_t *s = segmap_lookup(p);
    segment_t *old = s->prev;
    s->prev = prev;
    return old;
}

/* The same for the forward link. */
void *check_hook_swap_segment_next(const void *p, void *next) {
    segment_t *s = segmap_lookup(p);
    segment_t *old = s->next;
    s->next = next;
    return old;
}

/* The segment that holds p, as the hooks above take it. */
void *check_hook_segment_of(const void *p) { return segmap_lookup(p); }

/* Stores `value` in the first live-map word of the first page of p's SMALL
 * segment that is not set up yet (pages_ready); returns the word it replaced. */
uint64_t check_hook_swap_unready_live_word(const void *p, uint64_t value) {
    segment_t *s = segmap_lookup(p);
    uint64_t *w = &s->live_map[(size_t)s->pages_ready * LIVE_MAP_WORDS(s->heap->classes.live_shift)];
    uint64_t old = map_load(w);
    map_store(w, value);
    return old;
}

/* Whether p's SMALL segment has a page not set up yet. */
int check_hook_has_unready_page(const void *p) {
    segment_t *s = segmap_lookup(p);
    return s->pages_ready < s->page_count;
}

/* Stores `size` in the header of seed block p; returns the size it replaced. */
size_t check_hook_swap_seed_size(void *p, size_t size) {
    seed_block *b = (seed_block *)p - 1;
    size_t old = b->size;
    b->size = size;
    return old;
}

/* Stores `next` as the list link of seed block p; returns the link it replaced. */
void *check_hook_swap_seed_next(void *p, void *next) {
    seed_block *b = (seed_block *)p - 1;
    void *old = b->next;
    b->next = next;
    return old;
}

/* Adds `delta` to the used count of p's page (a block lost or counted twice). */
void check_hook_add_page_used(const void *p, int delta) {
    page_t *pg = segment_page(segmap_lookup(p), p);
    pg->used = (uint32_t)((int64_t)pg->used + delta);
}

/* Adds `delta` to the live bytes a's own heap counts. */
void check_hook_add_live_bytes(arena_t *a, long delta) { a->heap.stats.live_bytes += (size_t)delta; }

/* Adds `delta` to a's count of mapped bytes (and its peak, which stays above). */
void check_hook_add_mapped_bytes(arena_t *a, long delta) {
    atomic_fetch_add(&a->mapped_bytes, (size_t)delta);
    atomic_fetch_add(&a->peak_mapped_bytes, (size_t)delta);
    atomic_fetch_add(&a->charged_bytes, (size_t)delta);
}

/* Adds `delta` to the count of the first non-empty bin of a's medium cache;
 * returns that bin, or -1 when the cache holds nothing. */
int check_hook_add_cache_count(arena_t *a, int delta) {
    tlsf_t *t = &a->heap.tlsf;
    for (int bin = 0; bin < (int)TLSF_CACHE_BINS; bin++)
        if (t->cache_count[bin]) {
            t->cache_count[bin] = (uint8_t)(t->cache_count[bin] + delta);
            return bin;
        }
    return -1;
}

/* Stores `head` as the first heap of a's abandoned-heap list; returns the head it replaced. */
void *check_hook_swap_abandoned(arena_t *a, void *head) {
    heap_t *old = a->abandoned;
    a->abandoned = head;
    return old;
}

/* Marks a's own heap abandoned (or not) and puts it on (or takes it off) the
 * head of the abandoned-heap list, which must not hold it otherwise. */
void check_hook_abandon_own_heap(arena_t *a, bool abandoned) {
    a->heap.abandoned = abandoned;
    if (abandoned) {
        a->heap.next_abandoned = a->abandoned;
        a->abandoned = &a->heap;
    } else {
        a->abandoned = a->heap.next_abandoned;
        a->heap.next_abandoned = NULL;
    }
}

/* The segment map entry of the 64 KiB chunk at address a; NULL when its leaf
 * was never mapped. */
static segmap_entry *hook_map_entry(uintptr_t a) {
    segmap_entry *leaf = atomic_load(&segmap_top[a >> SEGMAP_LEAF_SHIFT]);
    return leaf ? &leaf[(a >> SEGMAP_SHIFT) & (SEGMAP_LEAF_COUNT - 1)] : NULL;
}

/* Points the segment map entry of the chunk right past p's segment (before:
 * right before it) at that segment, as a stale entry would; stores what it
 * held in *old and returns the entry, for check_hook_put_map_entry. NULL,
 * nothing changed, when that chunk's leaf was never mapped. */
void *check_hook_map_neighbour_to_segment(const void *p, bool before, void **old) {
    segment_t *s = segmap_lookup(p);
    segmap_entry *e = hook_map_entry(before ? (uintptr_t)s - 1 : align_up((uintptr_t)s + s->size, SEGMENT_ALIGN));
    if (!e) return NULL;
    *old = atomic_load(e);
    atomic_store(e, s);
    return e;
}

void check_hook_put_map_entry(void *entry, void *value) { atomic_store((segmap_entry *)entry, (segment_t *)value); }

/* The k-th batch of h after the one filling (k < TRANSIT_BATCHES). */
static transit_batch *hook_idle_batch(heap_t *h, unsigned k) { return &h->batches[(h->filling + k) % TRANSIT_BATCHES]; }

/* Sets or clears in_flight on a batch of the calling thread's heap of a that
 * is not the one filling; returns false when the thread has no heap there. */
bool check_hook_set_idle_batch_in_flight(arena_t *a, bool in_flight) {
    heap_t *h = heaps_thread_heap(a);
    if (!h) return false;
    atomic_store(&hook_idle_batch(h, 1)->in_flight, in_flight);
    return true;
}

/* Adds `blocks` to the count of blocks other threads freed into a's own heap. */
void check_hook_add_remote_freed_blocks(arena_t *a, uint64_t blocks) {
    atomic_fetch_add(&a->heap.remote_freed_blocks, blocks);
}

/* Flips the purged bit of the last OS page of p's MEDIUM segment (one no
 * block has written to yet, in a young segment). */
void check_hook_flip_last_purged_bit(const void *p) {
    segment_t *s = segmap_lookup(p);
    size_t page = s->size / OS_PAGE - 1;
    s->purged_map[page / 64] ^= (uint64_t)1 << (page % 64);
}

/* Marks the calling thread's heap of a orphaned (as if its thread had vanished
 * at fork) or not; returns false when the thread has no heap there. */
bool check_hook_set_orphaned(arena_t *a, bool orphaned) {
    heap_t *h = heaps_thread_heap(a);
    if (!h) return false;
    h->orphaned = orphaned;
    return true;
}

/* on: puts two batches of the calling thread's heap of a, in flight, on its
 * own remote list, linked into a cycle; off: takes them off again. Returns
 * false when the thread has no heap there. */
bool check_hook_cycle_own_batches(arena_t *a, bool on) {
    heap_t *h = heaps_thread_heap(a);
    if (!h) return false;
    transit_batch *first = hook_idle_batch(h, 1), *second = hook_idle_batch(h, 2);
    first->next = on ? second : NULL;
    second->next = on ? first : NULL;
    atomic_store(&first->in_flight, on);
    atomic_store(&second->in_flight, on);
    atomic_store(&h->remote_batches, on ? first : NULL);
    return true;
}
