/* internal_hooks.c: for internal_test.cpp only: what arena.h does not reach,
 * through the library's internals (it is linked statically). */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "internal.h"

#include <time.h>

/* Where the segment that holds medium block p ends (its last block ends
 * there); 0 when p is not in a MEDIUM segment. */
uintptr_t internal_hook_medium_segment_end(const void *p) {
    segment_t *s = segmap_lookup(p);
    return s && s->kind == SEG_MEDIUM ? s->sentinel : 0;
}

/* Hands back every dirty free byte of explicit arena a's heap, whatever the
 * purge budget says. */
void internal_hook_purge_all(arena_t *a) { heap_purge_all(&a->heap); }
/* What malloc_trim does for a thread's heap: sparse pages shrunk, then a purge of all. */
bool internal_hook_trim(arena_t *a) { return heap_trim(&a->heap); }

/* What explicit arena a's heap adds to its purge budget for memory it purged
 * and then faulted back in (alloc.c, heap_purge_adapt). */
size_t internal_hook_purge_boost(const arena_t *a) { return a->heap.purge_boost; }

uint64_t internal_hook_purge_visits(const arena_t *a) { return a->heap.tlsf.purge_visits; }

/* Sleeps until memory freed before the call is older than the purge delay
 * (PURGE_DELAY_TICKS of purge_clock, whose tick on x86-64 is 2^20 TSC cycles: 0.4 ms
 * at 2.6 GHz, 0.5 ms at 2.1 GHz), whatever the clock rate. */
void internal_hook_wait_purge_delay(void) {
    uint32_t start = purge_clock();
    struct timespec step = {0, 1000000};
    while (purge_clock() - start <= PURGE_DELAY_TICKS) nanosleep(&step, NULL);
}

/* The purge clock now, and the delay in its ticks: a test of young memory
 * can tell whether its steps took longer than the delay (a descheduled
 * thread, a loaded machine) and try again. */
uint32_t internal_hook_purge_clock(void) { return purge_clock(); }
uint32_t internal_hook_purge_delay_ticks(void) { return PURGE_DELAY_TICKS; }
/* Whether memory stamped at `stamp` is young at `now` (purge_young). */
bool internal_hook_purge_young(uint32_t now, uint32_t stamp) { return purge_young(now, stamp); }

/* Leaves explicit arena a's heap as a thread that vanished at fork inside
 * segment_new's linking would leave it: a fresh segment that the first small
 * segment's `prev` names but the list's head does not. Returns that segment's
 * mapping (SEGMENT_ALIGN bytes), for the caller to unmap. */
void *internal_hook_half_linked_segment(arena_t *a) {
    heap_t *h = &a->heap;
    segment_t *head = h->segments[SEG_SMALL];
    segment_t *s = os_map(SEGMENT_ALIGN, SEGMENT_ALIGN);
    if (!head || !s) return NULL;
    s->kind = SEG_SMALL;
    s->next = head;
    head->prev = s;
    return s;
}

bool internal_hook_purge_batch_dropping(void *base, size_t stride, size_t len, unsigned count, const void *drop,
                                        size_t drop_len);
/* os_purge_batch on `count` ranges of `len` bytes each, `stride` bytes apart
 * from `base`: adds them all (more than OS_PURGE_BATCH flush on their own on
 * the way), flushes, and returns the flush's result (true: some refused). */
bool internal_hook_purge_batch(void *base, size_t stride, size_t len, unsigned count) {
    return internal_hook_purge_batch_dropping(base, stride, len, count, NULL, 0);
}
/* The same, but the ranges inside [drop, drop + drop_len) are taken out of the
 * batch before the flush (os_purge_batch_drop), as before an unmap. */
bool internal_hook_purge_batch_dropping(void *base, size_t stride, size_t len, unsigned count, const void *drop,
                                        size_t drop_len) {
    os_purge_batch batch;
    batch.count = 0;
    batch.split = false;
    for (unsigned i = 0; i < count; i++) os_purge_batch_add(&batch, (uint8_t *)base + (size_t)i * stride, len, false);
    if (drop_len) os_purge_batch_drop(&batch, drop, drop_len);
    return os_purge_batch_flush(&batch);
}

/* How many ranges a batch holds before it flushes itself. */
unsigned internal_hook_purge_batch_size(void) { return OS_PURGE_BATCH; }

/* How many of the calling thread's heap's batches (in thread-safe arena a)
 * are on their way to an owner: pushed, not yet taken in. */
unsigned internal_hook_batches_in_flight(const arena_t *a) {
    heap_t *h = heaps_thread_heap(a);
    unsigned n = 0;
    for (unsigned i = 0; h && i < TRANSIT_BATCHES; i++)
        n += atomic_load_explicit(&h->batches[i].in_flight, memory_order_acquire);
    return n;
}

/* Batches a heap can have on their way at once (TRANSIT_BATCHES) and blocks a batch holds. */
unsigned internal_hook_transit_batches(void) { return TRANSIT_BATCHES; }
unsigned internal_hook_batch_blocks(void) { return REMOTE_BATCH_BLOCKS; }

/* Whether the heap that owns block p has blocks linked on its remote_free
 * list (other threads' frees made when they had no batch to spare). */
bool internal_hook_owner_has_linked_frees(const void *p) {
    segment_t *s = segmap_lookup(p);
    return s && atomic_load_explicit(&s->heap->remote_free, memory_order_acquire) != NULL;
}
