/* heaps.c: the thread heaps of the process arena (the drop-in malloc).
 *
 * Each thread allocates from a heap of its own, so the fast paths take no lock.
 * A block freed by another thread is pushed on its owner's remote list (a
 * lock-free stack: many push, only the owner takes the whole list) and freed
 * by the owner the next time it needs memory. When a thread ends its heap is
 * abandoned, keeping its blocks: the next thread to start adopts it, and until
 * then the next heap to map a segment takes in what was freed into it and
 * trims it (page_trim), as does a free once ENDED_RECLAIM_BYTES went to ended
 * heaps since the last such take-in. The last WARM_HEAPS heaps to end keep
 * free memory resident for the next threads, for WARM_TICKS (heaps_abandon).
 *
 * Invariants (heaps_check and below):
 * - every heap is on a->heaps; the abandoned ones also on a->abandoned, and no
 *   thread uses them;
 * - a warm heap is abandoned, keeps at most WARM_KEEP_MAX free bytes, and
 *   a->warm_due is set while any heap is warm (a heap adopted since may leave
 *   it set: the next slow path past it finds nothing to cool, and clears it);
 * - a block is on at most one remote list or pending batch, and is live there
 *   (its live bit is set) until its owner collects it;
 * - a heap with a late_tid is in a thread's hands, not abandoned, and
 *   a->late_heaps counts those heaps (heaps_recover_late).
 */
#define _GNU_SOURCE /* PTHREAD_DESTRUCTOR_ITERATIONS */
#include "fastpath.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void heaps_lock(arena_t *a) { mutex_lock(&a->lock); }
static void heaps_unlock(arena_t *a) { mutex_unlock(&a->lock); }
/* Where misuse may be found under the arena's lock (a thread freeing for one
 * without a heap; taking in what other threads freed into ended heaps, where
 * double frees show) it is taken with lock_deferring. */

bool heaps_init(arena_t *a) {
    if (mutex_init(&a->lock)) return true;
    if (mutex_init(&a->huge_lock)) {
        mutex_destroy(&a->lock);
        return true;
    }
    a->multi_heap = true;
    return false;
}

/* ---- remote frees -------------------------------------------------------- */

/* Pushes the chain first..last (linked through their first words) on owner's list. */
static void heap_push_remote_chain(heap_t *owner, void *first, void *last) {
    void *head = atomic_load_explicit(&owner->remote_free, memory_order_relaxed);
    do {
        transit_link(last, head);
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote_free, &head, first, memory_order_release,
                                                    memory_order_relaxed));
}

static void heap_push_remote_batch(heap_t *owner, transit_batch *b) {
    transit_batch *head = atomic_load_explicit(&owner->remote_batches, memory_order_relaxed);
    do {
        b->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote_batches, &head, b, memory_order_release,
                                                    memory_order_relaxed));
}

/* A batch of h that no owner holds, other than the one filling; TRANSIT_BATCHES
 * when every other one is in flight. */
static unsigned heap_idle_batch(const heap_t *h) {
    for (unsigned i = 1; i < TRANSIT_BATCHES; i++) {
        unsigned j = (h->filling + i) % TRANSIT_BATCHES;
        if (!atomic_load_explicit(&h->batches[j].in_flight, memory_order_acquire)) return j;
    }
    return TRANSIT_BATCHES;
}

/* Links the `*blocks` blocks of batch b through themselves, for owner's
 * remote_free; returns the first and sets *last. A block in it twice (its mark
 * wiped between the frees: a write after free) would cross the links and
 * lose the blocks between: the second is reported and left out, its count
 * taken off *blocks and *bytes. */
static void *batch_link(heap_t *h, transit_batch *b, uint64_t *blocks, size_t *bytes, void **last) {
    enum { SLOTS = 2 * REMOTE_BATCH_BLOCKS };
    _Static_assert((SLOTS & (SLOTS - 1)) == 0, "the table is indexed by a mask");
    void *seen[SLOTS] = {NULL};
    void *first = NULL, *prev = NULL;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < *blocks; i++) {
        void *p = b->blocks[i];
        size_t k = (size_t)(((uintptr_t)p >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 40) & (SLOTS - 1);
        while (seen[k] && seen[k] != p) k = (k + 1) & (SLOTS - 1);
        if (seen[k] == p) {
            error_report(h->arena, p, ARENA_ERR_DOUBLE_FREE, NULL);
            *bytes -= b->requested[i];
            continue;
        }
        seen[k] = p;
        if (prev) transit_link(prev, p);
        else first = p;
        prev = p;
        kept++;
    }
    *blocks = kept;
    *last = prev;
    return first;
}

/* `bytes` went to ended threads' heaps: once they add up to ENDED_RECLAIM_BYTES,
 * this thread takes them in and hands back what they free (heaps_reclaim). No
 * other call would soon in a program that maps no segment and starts no
 * thread: a thread that ended holding 400 MB kept it all resident after
 * another thread freed every block (found in review). */
static void heaps_freed_into_ended(arena_t *a, size_t bytes) {
    size_t total = atomic_fetch_add_explicit(&a->ended_freed_bytes, bytes, memory_order_relaxed) + bytes;
    if (total >= ENDED_RECLAIM_BYTES) heaps_reclaim(a, false);
}

void heap_flush_pending(heap_t *h) {
    uint64_t blocks = atomic_load_explicit(&h->pending_blocks, memory_order_relaxed);
    if (!blocks) return;
    size_t bytes = atomic_load_explicit(&h->pending_bytes, memory_order_relaxed);
    heap_t *owner = h->pending_owner;
    transit_batch *b = &h->batches[h->filling];
    /* An ended thread's heap is taken in only when another heap grows or
     * adopts it: a batch would wait there until then. */
    unsigned next = h->pending_owner_ended ? TRANSIT_BATCHES : heap_idle_batch(h);
    if (next < TRANSIT_BATCHES) {
        b->count = (uint32_t)blocks;
        atomic_store_explicit(&b->in_flight, true, memory_order_relaxed);
        heap_push_remote_batch(owner, b);
        h->filling = next;
    } else {
        /* No batch to spare (the owners have not taken the others in yet), or
         * an ended owner: the blocks go linked through themselves (still in
         * this thread's cache), the batch kept. */
        void *last;
        void *first = batch_link(h, b, &blocks, &bytes, &last);
        heap_push_remote_chain(owner, first, last);
    }
    /* Counted after the push: the owner that sees these counts sees the pushes
     * they count (heaps_reclaim_locked). Counted first, the owner could release
     * the blocks' segment before the push wrote into it. */
    heap_count_remote_frees(owner, bytes, blocks);
    atomic_store_explicit(&h->pending_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&h->pending_blocks, 0, memory_order_relaxed);
    if (h->pending_owner_ended) heaps_freed_into_ended(h->arena, bytes);
}

/* Clears p's in-transit mark (fastpath.h, pending_mark), as its owner takes it back. */
static void pending_mark_clear(void *p) {
    uint64_t word = pending_word(p) & ~PENDING_MARK_BYTES;
    __builtin_memcpy((uint8_t *)p + 8, &word, sizeof word);
}

/* Sets p's in-transit mark for owner. Returns false, nothing written, when the
 * mark is there already: p is on its way (a second free). One compare-and-swap,
 * so that of two threads freeing p at once one finds the other's mark: with a
 * load and a store both found none and both handed p over, and a medium block
 * that the owner had put in its cache after the first passed the take-back's
 * check and was released twice (a crash in a later malloc). */
static bool pending_mark_claim(const heap_t *owner, void *p) {
    uint64_t *word = (uint64_t *)((uint8_t *)p + 8); /* 8-aligned: blocks are granule-aligned */
    const uint64_t mark = pending_mark(owner, p);
    uint64_t seen = __atomic_load_n(word, __ATOMIC_RELAXED);
    do {
        if ((seen & PENDING_MARK_BYTES) == mark) return false;
    } while (!__atomic_compare_exchange_n(word, &seen, (seen & ~PENDING_MARK_BYTES) | mark, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return true;
}

void heap_pend_remote_free(heap_t *h, heap_t *owner, void *p, size_t requested) {
    if (h->pending_owner != owner) {
        heap_flush_pending(h);
        h->pending_owner = owner;
    }
    /* A block freed twice while it waits is still live for its owner: only
     * its mark knows (every heap of a thread-safe arena has room for it).
     * Handed over twice, it would be freed twice, the second time maybe
     * under a new user. */
    ARENA_ASSERT(pending_markable(owner));
    /* From now on the owner's own frees read the mark too (heap_block_in_transit). */
    if (!__atomic_load_n(&owner->freed_by_others, __ATOMIC_RELAXED))
        __atomic_store_n(&owner->freed_by_others, true, __ATOMIC_RELAXED);
    if (!pending_mark_claim(owner, p)) {
        error_report(h->arena, p, ARENA_ERR_DOUBLE_FREE, NULL);
        return;
    }
    uint64_t blocks = atomic_load_explicit(&h->pending_blocks, memory_order_relaxed);
    transit_batch *b = &h->batches[h->filling];
    b->blocks[blocks] = p;
    b->requested[blocks] = (uint32_t)requested;
    /* Read once a batch: the owner's heap writes that cache line itself. */
    if (!blocks) h->pending_owner_ended = __atomic_load_n(&owner->abandoned, __ATOMIC_RELAXED);
    blocks++;
    size_t bytes = atomic_load_explicit(&h->pending_bytes, memory_order_relaxed) + requested;
    atomic_store_explicit(&h->pending_bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&h->pending_blocks, blocks, memory_order_relaxed);
    /* An ended thread's heap (abandoned) gets its blocks at once: waiting in
     * the batch of a thread that makes no further call, they would keep that
     * heap, and every segment it has, from ever being released. */
    if (blocks >= REMOTE_BATCH_BLOCKS || bytes >= REMOTE_BATCH_BYTES || h->pending_owner_ended)
        heap_flush_pending(h);
}

void heaps_free_unattached(arena_t *a, void *p) {
    lock_deferring(&a->lock);
    heap_free_fast(&a->heap, p);
    heap_flush_pending(&a->heap); /* no thread of its own would flush it */
    unlock_reporting(&a->lock);
}

size_t heaps_usable_size_unattached(arena_t *a, const void *p) {
    lock_deferring(&a->lock);
    size_t usable = heap_usable_size(&a->heap, p, true);
    unlock_reporting(&a->lock);
    return usable;
}

/* Frees block p, handed to h by another thread's free. Returns false, nothing
 * freed, when p is no live block of h (freed twice by other threads, its mark
 * wiped in between): reported. */
static bool heap_take_back(heap_t *h, void *p) {
    segment_t *s = segmap_lookup(p);
    bool live = false;
    if (s && s->heap == h) {
        pending_mark_clear(p);
        if (s->kind == SEG_SMALL) {
            page_t *pg = segment_page(s, p);
            if (!h->mode) { /* the common case, on one load of the live word */
                live_ref r = page_live_ref(pg, p, h->classes.live_bit_shift);
                uint64_t word = map_load(r.word);
                if ((word >> (r.shift & 63)) & LIVE_BIT) {
                    page_block_free(h, pg, p, r, word);
                    return true;
                }
            } else {
                live = page_live_bits(pg, p, h->classes.live_bit_shift) & LIVE_BIT;
            }
        } else if (s->kind == SEG_MEDIUM) {
            live = tlsf_validate(s, p) == 0;
        }
    }
    if (live) {
        block_release(h, s, p);
        return true;
    }
    error_report(h->arena, p, ARENA_ERR_DOUBLE_FREE, NULL);
    return false;
}

/* Blocks of a batch fetched ahead of the one being freed: they were last
 * written on the freeing thread's core, a miss each. */
#define COLLECT_AHEAD 8

void heap_collect_remote(heap_t *h) {
    /* Blocks in a batch twice (their mark wiped in between) were counted
     * twice by the freeing thread: the second count comes off. */
    size_t uncounted_bytes = 0;
    uint64_t uncounted_blocks = 0;
    transit_batch *b = atomic_exchange_explicit(&h->remote_batches, NULL, memory_order_acquire);
    while (b) {
        transit_batch *next = b->next; /* read before b goes back to its heap */
        uint32_t n = b->count;
        for (uint32_t i = 0; i < n && i < COLLECT_AHEAD; i++) __builtin_prefetch(b->blocks[i], 1);
        for (uint32_t i = 0; i < n; i++) {
            if (i + COLLECT_AHEAD < n) __builtin_prefetch(b->blocks[i + COLLECT_AHEAD], 1);
            if (!heap_take_back(h, b->blocks[i])) { /* reported; the other blocks are sound */
                uncounted_bytes += b->requested[i];
                uncounted_blocks++;
            }
        }
        atomic_store_explicit(&b->in_flight, false, memory_order_release);
        b = next;
    }
    void *p = atomic_exchange_explicit(&h->remote_free, NULL, memory_order_acquire);
    while (p) {
        void *next = transit_next(p);
        /* Freed twice by other threads: the list may loop back from here on,
         * so the rest of it is dropped (leaked, never reused). */
        if (!heap_take_back(h, p)) break;
        p = next;
    }
    size_t bytes = atomic_exchange_explicit(&h->remote_freed_bytes, 0, memory_order_acquire);
    uint64_t blocks = atomic_exchange_explicit(&h->remote_freed_blocks, 0, memory_order_acquire);
    COUNTER_SET(h->stats.live_bytes, h->stats.live_bytes - bytes + uncounted_bytes);
    COUNTER_ADD(h->stats.frees, blocks - uncounted_blocks);
}

void heap_return_batches(heap_t *h) {
    transit_batch *b = atomic_exchange_explicit(&h->remote_batches, NULL, memory_order_acquire);
    while (b) {
        transit_batch *next = b->next;
        atomic_store_explicit(&b->in_flight, false, memory_order_release);
        b = next;
    }
}

/* ---- thread heaps -------------------------------------------------------- */

/* True when no block of h is live (its remote list taken in first). */
static bool heap_is_empty(const heap_t *h) {
    if (h->stats.allocs != h->stats.frees) return false;
    return h->segments[SEG_HUGE] == NULL;
}

bool heaps_take_in_ended(heap_t *h) {
    /* Blocks pushed, or counts of blocks pushed earlier handed over since. */
    if (!heap_freed_into(h)) return false;
    heap_collect_remote(h);
    h->untrimmed = true; /* pages may have emptied */
    return true;
}

/* Cools the warm heaps (heaps_abandon) that stop being warm at purge_clock64()
 * `now`, every one with cool_all (malloc_trim): those ended WARM_TICKS ago or
 * more, and those past the WARM_HEAPS newest. What they kept goes back, their
 * pages at the next trim. a->warm_due becomes the time the first of the
 * others stops, which the heaps' allocation slow paths watch
 * (heaps_warm_expire): without that, a heap stayed warm while the process
 * worked on in heaps it already had (83.7 MB in a review's program). Heaps
 * lock held. */
static void heaps_warm_sweep(arena_t *a, bool cool_all, uint64_t now) {
    unsigned warm_seen = 0;
    uint64_t due = 0;
    for (heap_t *h = a->abandoned; h; h = h->next_abandoned) {
        if (!h->warm) continue;
        /* 64 bits: in 32, a heap nothing cooled for 2^31 ticks (an idle
         * daemon's 10 days) looked young again for as long (found in review).
         * A heap that ended on another CPU a moment after `now` was read ends
         * later than `now`: young. */
        uint64_t ends = h->ended_at + WARM_TICKS;
        if (!cool_all && warm_seen++ < WARM_HEAPS && now < ends) {
            if (!due || ends < due) due = ends;
            continue;
        }
        h->warm = false;
        heap_purge_all(h);
        h->untrimmed = true;
    }
    atomic_store_explicit(&a->warm_due, due, memory_order_relaxed);
}

/* Takes in what other threads freed into abandoned heaps, and releases the
 * segments of those it left empty; with `trim`, releases the segments of every
 * empty one (they count against max_bytes; 0 live bytes must not hold the cap)
 * and trims the others. A warm heap is only purged down to what it keeps.
 * Called with the heaps lock held. Returns true when memory went back. */
static bool heaps_reclaim_locked(arena_t *a, bool trim, bool cool_all) {
    bool released = false;
    atomic_store_explicit(&a->ended_freed_bytes, 0, memory_order_relaxed);
    heaps_warm_sweep(a, cool_all, purge_clock64());
    for (heap_t *h = a->abandoned; h; h = h->next_abandoned) {
        bool freed_into = heaps_take_in_ended(h);
        if (h->warm) {
            /* What others freed into it since it ended goes back past its
             * keep, taken in here or by a statistics call. */
            if (heap_dirty_total(h) > h->warm_keep) heap_purge_to(h, h->warm_keep);
            continue;
        }
        if ((freed_into || trim) && h->segment_count && heap_is_empty(h)) {
            heap_return_batches(h); /* pushed since its collect: blocks freed twice, or counted already */
            heap_release_all(h);    /* its counters stay in the arena's sums */
            released = true;
            continue;
        }
        if (trim && h->untrimmed) {
            released |= heap_trim(h);
            h->untrimmed = false;
        }
    }
    return released;
}

bool heaps_reclaim(arena_t *a, bool cool_all) {
    if (trylock_deferring(&a->lock)) return false; /* someone else is at it */
    bool released = heaps_reclaim_locked(a, true, cool_all);
    unlock_reporting(&a->lock);
    return released;
}

void heaps_warm_expire(arena_t *a) {
    uint64_t due = atomic_load_explicit(&a->warm_due, memory_order_relaxed);
    if (due && purge_clock64() >= due) heaps_reclaim(a, false);
}

/* ---- late heaps ------------------------------------------------------------
 * A heap taken by a thread whose key destructors had begun (a call from one of
 * them, or from glibc's clean-up after them) is given back by the next round
 * of the destructor that counts them (malloc.c's thread_heap_exit, the slots'
 * slots_thread_exit). That destructor counts its own runs, not glibc's rounds:
 * a thread whose first call came from a destructor runs it in fewer rounds,
 * and takes a heap after its last run that nothing gives back. A review's
 * program lost a heap and its segment with every thread so (2.1 MB a thread
 * mapped), its only allocation a strerror in a destructor, whose buffer glibc
 * frees after the last round. Such a heap carries its thread's id; the next
 * adoption gives it back for the thread once the kernel says the thread is
 * gone. */

static int thread_id(void) { return (int)syscall(SYS_gettid); }

/* True when thread `tid` of process `pid` has ended: the kernel answers ESRCH
 * only once the thread runs no more code, so a thread still in its
 * destructors is never taken for gone. The heap's own process, not the
 * caller's: a vfork child (or a clone sharing the memory) that allocates
 * would find every thread of its parent gone, and took a running thread's
 * heap (3 of 3 runs of a review's program crashed). A reused id delays the
 * answer to the new thread's end: the heap stays lost until then, never in
 * two threads' hands. */
static bool thread_gone(int pid, int tid) {
    int saved = errno;
    bool gone = syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH;
    errno = saved;
    return gone;
}

/* Counts a heap into or out of a->late_heaps; heaps lock held (the count is
 * read without it). */
static void heaps_late_count(arena_t *a, int delta) {
    unsigned now = atomic_load_explicit(&a->late_heaps, memory_order_relaxed);
    atomic_store_explicit(&a->late_heaps, now + (unsigned)delta, memory_order_relaxed);
}

/* Marks h as thread `tid` of process `pid`'s late heap; heaps lock held. */
static void heap_late_set(arena_t *a, heap_t *h, int pid, int tid) {
    h->late_tid = tid;
    h->late_pid = pid;
    heaps_late_count(a, 1);
}

/* Clears h's late mark; heaps lock held. */
static void heap_late_clear(arena_t *a, heap_t *h) {
    if (!h->late_tid) return;
    h->late_tid = 0;
    heaps_late_count(a, -1);
}

/* Abandons, for their threads, the late heaps whose threads are gone. Not
 * between fork's handlers (its lock taken for fork): in a child, before its
 * handler orphans them, the heaps of threads that did not come along, maybe
 * half-changed, would be taken for ended ones (386 of 1000 children of a
 * review's program failed arena_check so, when a handler registered before
 * arena's allocated). */
static NOINLINE void heaps_recover_late(arena_t *a) {
    if (mutex_held_for_fork(&a->lock)) return;
    for (;;) {
        heap_t *gone = NULL;
        heaps_lock(a);
        for (heap_t *h = a->heaps; h && !gone; h = h->next_heap) {
            if (h->late_tid && !h->abandoned && !h->orphaned && thread_gone(h->late_pid, h->late_tid)) {
                heap_late_clear(a, h);
                gone = h; /* in no list but a->heaps: no one else takes it */
            }
        }
        heaps_unlock(a);
        if (!gone) return;
        heaps_abandon(gone);
    }
}

/* A new thread's life in an adopted heap starts its peak again, from the
 * blocks the ended thread left live, which the new one did not build
 * (heap_purge_earned). */
static void heap_peak_restart(heap_t *h) {
    if (h->stats.peak_live_bytes > h->earlier_peak) COUNTER_SET(h->earlier_peak, h->stats.peak_live_bytes);
    COUNTER_SET(h->stats.peak_live_bytes, h->stats.live_bytes);
    h->inherited_live = h->stats.live_bytes;
}

heap_t *heaps_adopt(arena_t *a, bool for_ended_thread, bool late) {
    if (unlikely(atomic_load_explicit(&a->late_heaps, memory_order_relaxed))) heaps_recover_late(a);
    /* Outside the lock: system calls. Not the main thread's: ended, its id
     * stays taken while the process lives (a zombie leader), and every
     * adoption after would look for it. One heap at most is lost so. */
    int tid = 0, pid = 0;
    if (for_ended_thread && late) {
        tid = thread_id();
        pid = (int)getpid();
        if (tid == pid) tid = 0;
    }
    lock_deferring(&a->lock);
    heaps_reclaim_locked(a, false, false); /* not trimmed: the heap adopted here wants its pages back */
    heap_t *h = a->abandoned; /* the last to end: the warmest */
    if (h) {
        __atomic_store_n(&a->abandoned, h->next_abandoned, __ATOMIC_RELAXED);
        h->next_abandoned = NULL;
        __atomic_store_n(&h->abandoned, false, __ATOMIC_RELAXED); /* read unlocked by heap_pend_remote_free */
        h->untrimmed = false; /* what is left of its pages is its new thread's */
        h->warm = false;
        /* Not for a call in an ended thread's destructors: its heap's peak
         * then said what to keep warm no more, and one free there handed back
         * all but the floor (28.5 MiB kept against 2.0 in review). */
        if (!for_ended_thread) heap_peak_restart(h);
    } else {
        size_t size = align_up(sizeof(heap_t), OS_PAGE);
        if (arena_charge(a, size)) {
            unlock_reporting(&a->lock);
            errno = ENOMEM;
            return NULL;
        }
        h = os_map(size, OS_PAGE);
        if (!h) {
            arena_charge_refused(a, size);
            unlock_reporting(&a->lock);
            errno = ENOMEM;
            return NULL;
        }
        arena_mapped(a, size);
        heap_init(h, a);
        h->medium_max = a->heap.medium_max;
        h->next_heap = a->heaps;
        a->heaps = h;
        a->heap_bytes += size;
    }
    if (tid) heap_late_set(a, h, pid, tid);
    unlock_reporting(&a->lock);
    return h;
}

/* A thread's heap, when the thread ends, keeps free memory resident, up to
 * twice what the thread held at its peak (at most WARM_KEEP_MAX), for the
 * next thread, which adopts it:
 * a program that starts short threads one after another (a thread per
 * request) then writes the same memory again instead of faulting in fresh
 * pages. Before, the heap handed back everything at once, and each new thread
 * faulted its working set in again: 1200 threads, 4 at a time, each with
 * blocks of up to 4 MiB, took 2.2-2.4x glibc's CPU time, with 2.2x its page
 * faults, and now 0.75-0.97x with 0.72-0.80x (docs/design.md, Ended
 * threads). The last WARM_HEAPS heaps to end stay warm for WARM_TICKS; older
 * ones are purged at the next thread's end, and the expired ones at the first
 * allocation slow path of any heap past their time (heaps_warm_expire) or the
 * next reclaim. The
 * price: a process whose remaining threads only free, or allocate without a
 * slow path, keeps what the warm heaps kept until its next slow path, thread
 * end or trim. Not in an arena with max_bytes, whose cap wants the memory
 * back. */
void heaps_abandon(heap_t *h) {
    arena_t *a = h->arena;
    heap_flush_pending(h); /* its owners may be waiting for these to be released */
    heap_collect_remote(h);
    bool warm = a->config.max_bytes == 0;
    size_t keep = 0;
    if (warm) keep = heap_purge_ended(h);
    else heap_purge_all(h);
    heaps_lock(a);
    heap_late_clear(a, h);
    h->warm = warm;
    h->warm_keep = keep;
    h->ended_at = purge_clock64();
    __atomic_store_n(&h->abandoned, true, __ATOMIC_RELAXED); /* read unlocked by heap_pend_remote_free */
    h->untrimmed = true; /* trimmed when another heap grows (heaps_reclaim), not on the exit path */
    h->next_abandoned = a->abandoned;
    __atomic_store_n(&a->abandoned, h, __ATOMIC_RELAXED); /* read unlocked by segment_new */
    heaps_warm_sweep(a, false, h->ended_at); /* those that stop being warm with this one hand back what they kept */
    heaps_unlock(a);
}

/* ---- fork ---------------------------------------------------------------- */

__thread char fork_thread_tag __attribute__((tls_model("initial-exec")));

/* An arena's locks: `lock` (every thread-safe arena), and `huge_lock` of an
 * arena with a heap per thread. */
void heaps_fork_prepare(arena_t *a) {
    mutex_fork_take(&a->lock);
    if (a->multi_heap) mutex_fork_take(&a->huge_lock);
}

void heaps_fork_parent(arena_t *a) {
    if (a->multi_heap) mutex_fork_parent(&a->huge_lock);
    mutex_fork_parent(&a->lock);
}

void heaps_fork_child(arena_t *a, heap_t *survivor) {
    if (a->multi_heap) mutex_fork_child(&a->huge_lock);
    mutex_fork_child(&a->lock);
    /* The other threads are gone, maybe in the middle of changing their heaps:
     * those heaps can never be trusted again. Their blocks stay valid (a free
     * pushes them on the heap's remote list, never collected). */
    /* No late heap is left either: the others' threads are gone with them,
     * and the forking thread, under another id in the child (under the old
     * one it would be gone, and its heap taken while it works on it), is the
     * child's main thread, whose heap carries no id (heaps_adopt says why). */
    for (heap_t *h = a->heaps; h; h = h->next_heap) {
        if (h != survivor && !h->abandoned) h->orphaned = true;
        heap_late_clear(a, h);
    }
}

/* ---- thread heaps of thread-safe explicit arenas ---------------------------
 * A thread keeps its heaps of the last few ARENA_THREAD_SAFE arenas it used in
 * thread-local slots keyed by the arena's id. Ids are never reused, so the slot
 * of a destroyed arena can never match a later one; a registry of live arenas
 * tells, when a slot is given up (evicted, or at thread exit), whether its heap
 * still has an arena to be abandoned to. The registry also holds the seed
 * policy's thread-safe arenas (one lock each, no heaps), for fork. */
__thread heap_slot thread_slots[THREAD_SLOTS] __attribute__((tls_model("initial-exec")));
static __thread unsigned thread_slot_next; /* the slot the next attach takes */
/* Rounds of the thread's key destructors in which its slots were released
 * (slots_thread_exit): 0 while it runs. A heap taken after the first keeps
 * its peak (heaps_adopt); one taken after the last round's serves one call
 * alone (heaps_call_done), since no round comes after it to give it back. */
static __thread unsigned thread_slot_rounds;
#define SLOT_ROUNDS PTHREAD_DESTRUCTOR_ITERATIONS
_Static_assert(SLOT_ROUNDS >= 1, "a thread's destructors run at least once");
static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static arena_mutex registry_lock = ARENA_MUTEX_INITIALIZER;
static arena_t *registry; /* live thread-safe arenas, linked by next_registered */
static uint64_t registry_next_id = 1;

/* registry_link and registry_unlink: called with registry_lock held. */
static void registry_link(arena_t *a) {
    a->id = registry_next_id++;
    a->next_registered = registry;
    registry = a;
}

static void registry_unlink(arena_t *a) {
    for (arena_t **link = &registry; *link; link = &(*link)->next_registered) {
        if (*link == a) {
            *link = a->next_registered;
            break;
        }
    }
}

/* fork(): the registry's lock, then every registered arena's locks, are held
 * across it, so the child finds them all consistent and free; in the child,
 * the heaps of threads that are gone are left orphaned (heaps_fork_child). The
 * forking thread's own heaps are those in its slots. */
static void registry_fork_prepare(void) {
    mutex_fork_take(&registry_lock);
    for (arena_t *a = registry; a; a = a->next_registered) heaps_fork_prepare(a);
}

static void registry_fork_parent(void) {
    for (arena_t *a = registry; a; a = a->next_registered) heaps_fork_parent(a);
    mutex_fork_parent(&registry_lock);
}

/* A seed arena has no heaps in the slots, nor on a->heaps, to orphan. */
static void registry_fork_child(void) {
    for (arena_t *a = registry; a; a = a->next_registered) heaps_fork_child(a, heaps_thread_heap(a));
    mutex_fork_child(&registry_lock);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void fork_handlers_install(void) {
    pthread_atfork(registry_fork_prepare, registry_fork_parent, registry_fork_child);
}

void heaps_register(arena_t *a) {
    pthread_once(&fork_once, fork_handlers_install);
    mutex_lock(&registry_lock);
    registry_link(a);
    mutex_unlock(&registry_lock);
}

void heaps_unregister(arena_t *a) {
    mutex_lock(&registry_lock);
    registry_unlink(a);
    mutex_unlock(&registry_lock);
}

/* Gives a slot's heap back to its arena, when the arena is still there. The
 * heap takes in what others freed into it under the registry's lock, which
 * arena_create and arena_destroy take: reports wait until it goes. */
static void slot_release(heap_slot *slot) {
    if (!slot->arena_id) return;
    lock_deferring(&registry_lock);
    for (arena_t *a = registry; a; a = a->next_registered) {
        if (a->id == slot->arena_id) {
            heaps_abandon(slot->heap);
            break;
        }
    }
    unlock_reporting(&registry_lock);
    slot->arena_id = 0;
    slot->heap = NULL;
}

/* Runs in every round of the thread's key destructors: a heap a later
 * destructor takes in one round is given back in the next, and in the last
 * round, calls after this one take a heap each. */
static void slots_thread_exit(void *unused) {
    (void)unused;
    for (unsigned i = 0; i < THREAD_SLOTS; i++) slot_release(&thread_slots[i]);
    if (++thread_slot_rounds < SLOT_ROUNDS) pthread_setspecific(slots_key, thread_slots);
}

static void slots_key_create(void) { pthread_key_create(&slots_key, slots_thread_exit); }

static NOINLINE heap_t *heaps_attach(arena_t *a) {
    pthread_once(&slots_once, slots_key_create);
    heap_t *h = heaps_adopt(a, thread_slot_rounds > 0, thread_slot_rounds < SLOT_ROUNDS);
    if (!h || unlikely(thread_slot_rounds >= SLOT_ROUNDS)) return h; /* given back by heaps_call_done */
    heap_slot *slot = &thread_slots[thread_slot_next++ % THREAD_SLOTS];
    slot_release(slot); /* a fifth arena evicts the oldest */
    slot->arena_id = a->id;
    slot->heap = h;
    pthread_setspecific(slots_key, thread_slots); /* non-NULL: the destructor runs */
    return h;
}

heap_t *heaps_for_thread(arena_t *a) {
    heap_t *h = heaps_thread_heap(a);
    return h ? h : heaps_attach(a);
}

void heaps_call_done(heap_t *h) {
    if (likely(thread_slot_rounds < SLOT_ROUNDS) || h == &h->arena->heap) return;
    int saved = errno; /* the call's result stands */
    heaps_abandon(h);
    errno = saved;
}

/* Releases every heap of a; called with registry_lock held, so that a thread
 * giving up its slot of a (slot_release, at thread exit) has either abandoned
 * its heap before, or finds a's id gone after and leaves the heap alone: it is
 * never handed a heap that is being unmapped. */
static void heaps_release_locked(arena_t *a) {
    heap_release_all(&a->heap);
    /* The thread heaps go too, their counts kept in the arena's own heap: a
     * reset arena maps what a fresh one does. Not their peaks: the arena's
     * peak so far is kept aside, and the peaks from now on start at zero.
     * Added to the arena heap's, a thread that filled its heap and reset the
     * arena, over and over, was reported a peak of the sum of its fills. */
    heap_stats *sum = &a->heap.stats;
    size_t peak = heap_peak_reported(&a->heap);
    size_t size = align_up(sizeof(heap_t), OS_PAGE);
    bool orphans = false;
    for (heap_t *h = a->heaps, *next; h; h = next) {
        next = h->next_heap;
        orphans |= h->orphaned;
        heap_release_all(h);
        sum->allocs += h->stats.allocs;
        sum->frees += h->stats.allocs;
        sum->reallocs += h->stats.reallocs;
        peak += heap_peak_reported(h);
        os_unmap(h, size);
        arena_unmapped(a, size);
    }
    if (peak > a->peak_before_reset) a->peak_before_reset = peak;
    COUNTER_SET(sum->peak_live_bytes, 0); /* no block is left live */
    COUNTER_SET(a->heap.earlier_peak, 0);
    a->heaps = NULL;
    atomic_store_explicit(&a->late_heaps, 0, memory_order_relaxed);
    /* No heap is left to hold a batch of the arena's own (one that vanished at
     * fork may have been taking some in). */
    for (unsigned i = 0; i < TRANSIT_BATCHES; i++)
        atomic_store_explicit(&a->heap.batches[i].in_flight, false, memory_order_relaxed);
    __atomic_store_n(&a->abandoned, NULL, __ATOMIC_RELAXED);
    atomic_store_explicit(&a->warm_due, 0, memory_order_relaxed); /* no heap is left to be warm */
    a->heap_bytes = 0;
    /* A thread that vanished at fork may have been between charging a segment
     * and linking it into its heap, or between unlinking one and uncharging
     * it: that charge has no segment to give it back. Every heap is released
     * now, so the arena maps itself only (what such a thread had mapped, if
     * anything, stays lost to the child). */
    if (orphans) {
        atomic_store(&a->mapped_bytes, a->self_size);
        atomic_store(&a->charged_bytes, a->self_size);
    }
}

void heaps_release_all(arena_t *a) {
    mutex_lock(&registry_lock);
    heaps_release_locked(a);
    /* A new id: every thread's slot of the old one goes stale, and a thread
     * that calls again gets a new heap. */
    registry_unlink(a);
    registry_link(a);
    mutex_unlock(&registry_lock);
}

void heaps_destroy(arena_t *a) {
    mutex_lock(&registry_lock);
    registry_unlink(a);
    heaps_release_locked(a);
    mutex_unlock(&registry_lock);
    mutex_destroy(&a->huge_lock);
    mutex_destroy(&a->lock);
}
