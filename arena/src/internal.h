/* internal.h: the structures every mechanism shares, with their invariants.
 *
 * Layout of memory (default policy):
 *   segment  a mapping from the OS, 64 KiB aligned, found from any address in
 *            it through the segment map (segmap.c). Kinds:
 *            SMALL  region_size bytes cut into 16 KiB pages of size-class blocks
 *            MEDIUM region_size bytes (or more) of TLSF blocks with boundary tags
 *            HUGE   one block in a mapping of its own
 *            SEED   a region of the seed policy (seed.c)
 *   page     16 KiB of one size class inside a SMALL segment; its descriptor
 *            lives in the segment header, so blocks carry no header.
 *   heap     what allocates: size-class queues, TLSF lists, segments.
 *            An explicit arena has one heap; the drop-in malloc one per thread.
 *
 * Every invariant below is verified by arena_check (check.c).
 */
#ifndef ARENA_INTERNAL_H
#define ARENA_INTERNAL_H

#include "arena.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- assertions ---------------------------------------------------------
 * ARENA_ASSERT: a debug-level check of our own logic; vanishes in Release.
 * Misuse by callers is never an assert: it goes to error_report (error.c). */
#ifdef NDEBUG
#define ARENA_ASSERT(x) ((void)0)
#else
#define ARENA_ASSERT(x) ((x) ? (void)0 : assert_fail(#x, __FILE__, __LINE__))
#endif
void assert_fail(const char *what, const char *file, int line) __attribute__((noreturn));

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define INTERNAL __attribute__((visibility("hidden")))

/* ---- tunables ------------------------------------------------------------ */
#define SEGMAP_SHIFT 16                        /* segments are 64 KiB aligned */
#define SEGMENT_ALIGN ((size_t)1 << SEGMAP_SHIFT)
#define PAGE_SHIFT 14                          /* small pages are 16 KiB */
#define PAGE_BYTES ((size_t)1 << PAGE_SHIFT)
#define OS_PAGE ((size_t)4096)
#define SMALL_MAX ((size_t)1024)               /* largest size-class block (blocks above go to TLSF) */
#define CLASS_MAX 64                           /* size classes at most (block_size 8) */
#define CLASS_LINEAR 16                        /* classes 1..16 granules, then 8 per doubling */
#define CLASS_PER_DOUBLING_LOG2 3
#define CLASS_HEADED_FROM ((size_t)256)        /* ... plus a class a granule above each power of two from here */
#define MIN_BLOCK_SIZE ((size_t)8)
#define MAX_BLOCK_SIZE ((size_t)65536)
#define MIN_REGION ((size_t)64 << 10)
#define MAX_REGION ((size_t)1 << 30)
#define DEFAULT_REGION ((size_t)4 << 20)
#define SEED_DEFAULT_REGION ((size_t)64 << 10)
#define CARVE_BYTES ((size_t)4096)             /* a page is carved into blocks this much at a time */
#define PURGE_FLOOR ((size_t)2 << 20)          /* dirty free memory kept before purging starts */
#define SHRINK_EVERY ((size_t)256 << 10)       /* growth between looks for sparse small pages ... */
#define SHRINK_LIVE_SHIFT 4                    /* ... or 1/16 of live bytes, whichever is larger */
#define SHRINK_SPARSE_SHIFT 1                  /* a page is sparse at half its carved blocks live */
#define PURGE_FRACTION_SHIFT 3                 /* ... or 1/8 of live bytes, whichever is larger */
#define HUGE_CACHE_MAX 16                      /* freed huge mappings kept for reuse, at most */
#define MEDIUM_MAX ((size_t)16 << 20)          /* larger blocks get a mapping of their own */
#define RELEASED_RING 16                       /* released segments remembered for double frees */
#define REQUEST_MAX ((size_t)PTRDIFF_MAX - ((size_t)1 << 20)) /* larger requests fail at once */
#define PURGE_DELAY_TICKS 64u                  /* free memory younger than this stays resident */
                                               /* ... 25.8 ms at 2.6 GHz, 32 ms at 2.1 GHz (purge_clock) */
#define PURGE_TEARDOWN_FACTOR 8u               /* free memory kept for the peak: at most this x live */
#define PURGE_TORN_DOWN_SHIFT 6                /* ... plus the feedback's boost, unless live < peak / 64 */
#define POPULATE_LIVE_MIN ((size_t)1 << 20)   /* a heap holding this much faults in a fresh medium block ... */
#define POPULATE_MEDIUM_MAX ((size_t)256 << 10) /* ... up to this size whole, in one call, when it is handed out */
#define REMOTE_BATCH_BLOCKS 64u                /* another heap's blocks a thread frees before handing them over */
#define REMOTE_BATCH_BYTES ((size_t)64 << 10)  /* ... or bytes of them */
#define TRANSIT_BATCHES 3u                     /* batches a heap can have on their way to owners at once */
#define ENDED_RECLAIM_BYTES ((size_t)4 << 20)  /* freed into ended threads' heaps before a free takes them in */
#define WARM_HEAPS 4u                          /* ended threads' heaps kept warm for the next threads, at most ... */
#define WARM_TICKS (4u * PURGE_DELAY_TICKS)    /* ... for this long after their thread ended ... */
#define WARM_KEEP_MAX ((size_t)32 << 20)       /* ... each with at most this much free memory resident */
#define COARSE_LIVE_MAX ((size_t)16 << 10)     /* a heap uses power-of-two classes until it holds this much */

_Static_assert(SEGMENT_ALIGN % PAGE_BYTES == 0, "a page never straddles two segments");
_Static_assert(POPULATE_MEDIUM_MAX >= 2 * OS_PAGE && POPULATE_MEDIUM_MAX <= MEDIUM_MAX, "the bound covers medium blocks of several OS pages, and no huge block");
_Static_assert(REMOTE_BATCH_BLOCKS >= 1 && REMOTE_BATCH_BYTES >= 1, "a batch holds at least the free just made");
_Static_assert(TRANSIT_BATCHES >= 2, "one batch fills while another is on its way");
_Static_assert(ENDED_RECLAIM_BYTES >= REMOTE_BATCH_BYTES, "a take-in serves several batches");
_Static_assert(WARM_TICKS >= PURGE_DELAY_TICKS, "a heap stays warm past the purge delay");
_Static_assert(WARM_KEEP_MAX >= PURGE_FLOOR, "a warm heap keeps at least the purge floor");
_Static_assert(MIN_REGION >= PAGE_BYTES, "a small segment holds at least one page");
_Static_assert(PURGE_TEARDOWN_FACTOR >= 1 && PURGE_TEARDOWN_FACTOR <= 64,
               "the hard purge limit keeps some multiple of the live bytes, and stays finite");
_Static_assert((SMALL_MAX & (SMALL_MAX - 1)) == 0, "SMALL_MAX is a power of two");
_Static_assert(SMALL_MAX * 4 <= PAGE_BYTES, "a page holds several blocks of the largest class");
_Static_assert(PAGE_BYTES / 4 <= UINT16_MAX, "a class's size fits sizeclass_table.size");
_Static_assert(SMALL_MAX <= OS_PAGE, "every carved OS page of a page holds a block's start (page_unpark writes them all)");
_Static_assert(CLASS_LINEAR == (2 << CLASS_PER_DOUBLING_LOG2), "geometric classes start where linear ones end");
_Static_assert(CARVE_BYTES % OS_PAGE == 0, "carving touches whole OS pages");
_Static_assert(COARSE_LIVE_MAX >= SMALL_MAX, "a heap leaves power-of-two classes only once it holds a few blocks");

/* ---- errors (error.c) ---------------------------------------------------- */
/* Reports misuse of `p` through the installed handler; returns when the handler
 * does (the caller then ignores the bad call). */
void error_report(arena_t *a, const void *p, arena_error kind, const void *owner) INTERNAL;
/* error_report for a caller that aborts next: while reports wait
 * (error_defer_begin), one held back would never be made, and the handler may
 * wait for the lock held, so the message goes to stderr without it. */
void error_report_fatal(arena_t *a, const void *p, arena_error kind) INTERNAL;
/* Between these two, the calling thread's reports wait, and the outermost
 * error_defer_end makes them, in order (the first few; the rest are counted
 * on stderr): for a caller that holds a lock the handler's own calls into
 * the arena would wait for (the handler may call the arena). Pairs nest. */
void error_defer_begin(void) INTERNAL;
void error_defer_end(void) INTERNAL;
/* The arena's locks (an arena's `lock` and `huge_lock`, the registry's).
 * Across fork() the forking thread holds them, taken by a prepare handler
 * (mutex_fork_take) and let go by the parent's or child's; other handlers
 * run in between, and may allocate: glibc runs prepare handlers last
 * registered first, and a library whose constructor registered before this
 * one's has its prepare handler run after the locks are taken. That thread
 * then takes them as held (fork_holder is its fork_thread_tag): before, a
 * handler that asked for a huge block, or any block in a thread with no heap
 * yet, waited for a lock its own thread held, for good. Another thread
 * never matches fork_holder, and waits on the mutex as before.
 * Invariant: fork_holder is NULL, or the tag of the thread holding mutex. */
typedef struct arena_mutex {
    pthread_mutex_t mutex;
    _Atomic(const char *) fork_holder;
} arena_mutex;
#define ARENA_MUTEX_INITIALIZER {PTHREAD_MUTEX_INITIALIZER, NULL}
extern __thread char fork_thread_tag INTERNAL __attribute__((tls_model("initial-exec"))); /* its address names the thread */

static inline bool mutex_held_for_fork(arena_mutex *m) {
    return atomic_load_explicit(&m->fork_holder, memory_order_relaxed) == &fork_thread_tag;
}
/* Returns true on error, nothing set up. */
static inline bool mutex_init(arena_mutex *m) {
    atomic_init(&m->fork_holder, NULL);
    return pthread_mutex_init(&m->mutex, NULL) != 0;
}
static inline void mutex_destroy(arena_mutex *m) { pthread_mutex_destroy(&m->mutex); }
static inline void mutex_lock(arena_mutex *m) {
    if (!mutex_held_for_fork(m)) pthread_mutex_lock(&m->mutex);
}
static inline void mutex_unlock(arena_mutex *m) {
    if (!mutex_held_for_fork(m)) pthread_mutex_unlock(&m->mutex);
}
/* mutex_lock without waiting: returns true when another thread holds m, nothing taken. */
static inline bool mutex_trylock_busy(arena_mutex *m) {
    return !mutex_held_for_fork(m) && pthread_mutex_trylock(&m->mutex) != 0;
}
/* fork's prepare handler takes m for the calling thread; the parent's lets it
 * go, if the prepare handler took it (an arena created by another handler in
 * between is on the registry, its lock not taken). */
static inline void mutex_fork_take(arena_mutex *m) {
    pthread_mutex_lock(&m->mutex);
    atomic_store_explicit(&m->fork_holder, &fork_thread_tag, memory_order_relaxed);
}
static inline void mutex_fork_parent(arena_mutex *m) {
    if (!mutex_held_for_fork(m)) return;
    atomic_store_explicit(&m->fork_holder, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&m->mutex);
}
/* The child's handler: m free again (its one thread is the one that held it). */
static inline void mutex_fork_child(arena_mutex *m) {
    atomic_store_explicit(&m->fork_holder, NULL, memory_order_relaxed);
    pthread_mutex_init(&m->mutex, NULL);
}

/* A lock under which misuse may be found: the calling thread's reports wait
 * until it goes (the handler may call the arena, whose calls take it). */
static inline void lock_deferring(arena_mutex *m) {
    error_defer_begin();
    mutex_lock(m);
}
/* lock_deferring without waiting: returns true when m was held, nothing deferred. */
static inline bool trylock_deferring(arena_mutex *m) {
    error_defer_begin();
    if (!mutex_trylock_busy(m)) return false;
    error_defer_end();
    return true;
}
static inline void unlock_reporting(arena_mutex *m) {
    mutex_unlock(m);
    error_defer_end();
}
/* Writes "arena: check failed: MSG" and the value to stderr with write(2). */
void error_check_failed(const char *msg, uintptr_t value) INTERNAL;
/* Writes a line to stderr with write(2), no allocation. */
void error_write(const char *s) INTERNAL;
/* The same to descriptor fd; gives up silently when a write fails. */
void error_write_to(int fd, const char *s) INTERNAL;

/* In arena_check's walkers: when cond fails, report msg and value, return -1. */
#define CHECK_INVARIANT(cond, msg, value)                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            error_check_failed(msg, (uintptr_t)(value));                                           \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* A small formatter into a fixed buffer: the library never calls printf. */
typedef struct fmtbuf {
    char buf[256];
    size_t len;
} fmtbuf;
void fmt_str(fmtbuf *f, const char *s) INTERNAL;
void fmt_hex(fmtbuf *f, uintptr_t v) INTERNAL;
void fmt_dec(fmtbuf *f, uint64_t v) INTERNAL;

/* ---- OS pages (os.c) ----------------------------------------------------- */
/* Maps `size` bytes (multiple of OS_PAGE) aligned to `align` (power of two >=
 * OS_PAGE), zeroed. Returns NULL on failure (errno from mmap, or ENOMEM from an
 * injected failure). */
void *os_map(size_t size, size_t align) INTERNAL;
void os_unmap(void *p, size_t size) INTERNAL;
/* True when no mapping of `size` bytes can be had, whatever the process hands
 * back: above its address-space limit, or above the machine's memory and swap
 * (which the kernel refuses outright, but where overcommit is always on). */
bool os_size_unmappable(size_t size) INTERNAL;
/* Drops the pages in [p, p+size) (page aligned): they read as zero afterwards and
 * are not resident. Returns true on error, nothing dropped: the kernel refuses
 * locked memory (mlock, mlockall), which keeps its contents. */
bool os_purge(void *p, size_t size) INTERNAL;
/* Faults in [p, p+size) (page aligned, mapped read-write) for writing, in one
 * call (MADV_POPULATE_WRITE) instead of a fault per OS page; nothing where the
 * kernel lacks it (before Linux 5.14) or refuses. Keeps errno. */
void os_populate(void *p, size_t size) INTERNAL;
/* os_purge of a range that may lie partly inside transparent huge pages: the
 * kernel frees the part of a huge page a purge drops only once it splits that
 * page, which it defers until memory runs short, and until then that memory
 * is in use but counted resident nowhere (a process's resident size falls at
 * once). The huge pages the range cuts through are split first (MADV_COLD over
 * part of one splits it; the kernel skips one shared with a forked process);
 * the ones it covers go whole. Returns as os_purge. */
bool os_purge_splitting(void *p, size_t size) INTERNAL;
/* Splits the transparent huge pages that [p, p+size) (page aligned) covers
 * part of, as os_purge_splitting does, for a caller about to unmap the range
 * (the same deferral). Advice: contents and residence stay. */
void os_split_huge_pages(void *p, size_t size) INTERNAL;
/* Ranges to drop as os_purge does, with one system call for all of them (two
 * when `split`: the advice that splits, then the drop) where
 * the kernel takes one (process_madvise on the calling process): on VMs of
 * this project's machine kind one madvise call costs about 20 us whatever its
 * size, most of it the TLB flush, and a purge pass hands back dozens of
 * scattered pages. The memory of a range added must not be written, unmapped
 * or handed out before the batch is flushed. */
#define OS_PURGE_BATCH 64
typedef struct os_purge_batch {
    unsigned count;
    bool split; /* some range may cut through huge pages: the flush splits them first (os_purge_splitting) */
    struct os_purge_range {
        void *base; /* the layout of struct iovec */
        size_t len;
    } range[OS_PURGE_BATCH];
} os_purge_batch;
_Static_assert(OS_PURGE_BATCH >= 2 && OS_PURGE_BATCH <= 1024, "a batch is several ranges, within IOV_MAX");
/* Adds [p, p+size) (page aligned) to the batch, to be split first when `split`
 * (os_purge_splitting); a full batch is flushed first. */
void os_purge_batch_add(os_purge_batch *b, void *p, size_t size, bool split) INTERNAL;
/* Takes the ranges inside [p, p+size) out of the batch, unadvised, for a
 * caller about to unmap them. */
void os_purge_batch_drop(os_purge_batch *b, const void *p, size_t size) INTERNAL;
/* Drops every range of the batch and empties it (split cleared). Returns true when the kernel
 * refused some range (locked memory): those keep their contents, the others
 * are dropped. */
bool os_purge_batch_flush(os_purge_batch *b) INTERNAL;
/* From now on every batch flushes with one madvise per range, as on a kernel
 * without process_madvise (the drop-in's ARENA_PURGE_BATCH=0). Process-wide. */
void os_purge_batching_off(void) INTERNAL;
/* Transparent huge pages: the size of one, the alignment a range needs for it. */
#define OS_HUGE_PAGE ((size_t)2 << 20)
/* Asks the kernel (want) to back [p, p+size) (page aligned) with transparent
 * huge pages at its next faults there, or (!want) to stop, and its background
 * collapse (khugepaged) to leave the range alone. Returns true when the kernel
 * took the advice; advice only: contents and residence do not change. */
bool os_huge_pages(void *p, size_t size, bool want) INTERNAL;
/* Resizes a mapping in place. Returns true on error, nothing changed. */
bool os_resize(void *p, size_t old_size, size_t new_size) INTERNAL;
/* Moves the pages of a mapping onto `dest`, a mapping of new_size bytes that it
 * replaces, without copying. Returns true on error, nothing changed. */
bool os_move(void *p, size_t old_size, size_t new_size, void *dest) INTERNAL;
/* Test hook: the next `after` mappings succeed, then every `every`-th fails
 * (0 = never fail). */
void os_fail_inject(unsigned long after, unsigned long every) INTERNAL;
/* Test hook: the mappings refused since os_fail_inject. */
unsigned long os_fail_refused(void) INTERNAL;
/* Test hook: while `refuse` holds, os_purge fails and drops nothing, as the kernel
 * does for locked memory. */
void os_purge_refuse(bool refuse) INTERNAL;

/* The compiler takes x as computed here: it keeps x in one register instead
 * of rebuilding it from its parts, as GCC 12 does on the free fast path
 * (heap_free_fast: a page descriptor's address twice, a masked shift count
 * copied to a callee-saved register). Emits nothing. */
#define OPAQUE(x) __asm__("" : "+r"(x))

/* ---- size classes (sizeclass.c) ------------------------------------------- */
typedef struct sizeclass_table {
    size_t granule;                  /* = block_size */
    size_t granule_mask;             /* granule - 1: the bits of an address inside a granule */
    unsigned granule_shift;
    unsigned live_shift;             /* LIVE_SHIFT(granule_shift): the small pages' live-map unit */
    unsigned live_bit_shift;         /* live_shift - 1: an offset >> this is its unit's first bit */
    unsigned count;                  /* number of classes */
    size_t small_max;                /* largest class size in bytes */
    uint16_t size[CLASS_MAX];        /* bytes of class c, strictly increasing (at most PAGE_BYTES / 4) */
    /* class of a size, by 8-byte units (the smallest granule) so the lookup
     * needs no per-arena shift: of_units[(size + 7) / 8] */
    uint8_t of_units[PAGE_BYTES / 4 / MIN_BLOCK_SIZE + 1];
} sizeclass_table;
/* Fills t for a block size (a valid power of two), every class in the lookup;
 * no class below min_class bytes (smaller sizes go to the first class). */
void sizeclass_init(sizeclass_table *t, size_t block_size, size_t min_class) INTERNAL;
/* Maps every size of t to the smallest class that holds it, or with pow2_only
 * to the smallest power-of-two one (the classes stay; only the lookup changes). */
void sizeclass_lookup(sizeclass_table *t, bool pow2_only) INTERNAL;
/* The smallest class of a heap that other threads may free into: bytes 8-14 of
 * a block waiting to go back to its owner hold its in-transit mark (fastpath.h). */
#define TRANSIT_MIN_CLASS 16
static inline unsigned sizeclass_of(const sizeclass_table *t, size_t size) {
    return t->of_units[(size + MIN_BLOCK_SIZE - 1) / MIN_BLOCK_SIZE];
}

/* ---- segments and the segment map (segmap.c, segment.c) ------------------ */
typedef enum segment_kind { SEG_SMALL = 1, SEG_MEDIUM, SEG_HUGE, SEG_SEED, SEG_KINDS } segment_kind;

struct heap;
struct segment;

/* A page of one size class.
 * Invariants (check.c: check_active_page, check_small_segment, check_free_pages):
 * - state FREE: used == 0, not in a class queue; in its heap's dirty or clean
 *   free-page list.
 * - state ACTIVE: 0 < reserved; used + parked <= capacity <= reserved; the
 *   free list holds exactly capacity - used - parked blocks, each at a block
 *   boundary inside the carved part with its live bit clear; exactly `used`
 *   live bits are set, all in the carved part at block boundaries; parked > 0
 *   only while the page is not full (the carved blocks neither live nor
 *   listed are the parked ones).
 * - in_queue: the page is in its class queue exactly when ACTIVE and not full
 *   (full = no free block and no room to carve).
 * - touched_pages and purged_pages count at most the page's OS pages.
 */
typedef struct page {
    void *free;                      /* local free list, linked through the blocks */
    uint32_t used;                   /* live blocks */
    uint32_t capacity;               /* blocks carved so far (from the page start) */
    uint32_t reserved;               /* blocks that fit in the page */
    uint32_t block_size;             /* bytes per block */
    uint8_t state;                   /* PAGE_FREE or PAGE_ACTIVE */
    uint8_t class_idx;
    uint8_t full;                    /* ACTIVE and out of the queue: nothing to hand out */
    union {
        uint8_t dirty;               /* FREE: touched memory not yet purged */
        uint8_t purged_os;           /* ACTIVE: a bit per OS page handed back; every block there is live
                                        nowhere and listed nowhere (parked), so parked > 0 */
    };
    uint8_t touched_pages;           /* OS pages from the start written since the last purge */
    uint8_t purged_pages;            /* OS pages from the start a purge handed back: those of them
                                        at or past touched_pages are not resident, and carving
                                        there faults back what was purged (heap_t: faulted_back) */
    union {
        uint16_t dirty_since;        /* FREE and dirty: purge_clock() when freed, low bits */
        uint16_t parked;             /* ACTIVE: free blocks off the free list, on OS pages
                                        handed back (page_shrink); listed again when it runs dry */
    };
    uintptr_t start;                 /* first block (page area start, or past the header) */
    /* start, block_size and capacity are written with relaxed atomic stores:
     * another thread's free of a pointer here that is not live reads them to
     * name the misuse (alloc.c, block_classify) while the owner may be
     * setting the page up or carving it. */
    uint64_t *live_map;              /* 2 bits per granule: live block start, slack recorded */
    struct page *next, *prev;        /* class queue or free-page list */
} page_t;
_Static_assert(sizeof(page_t) == 64, "a page descriptor is one cache line; free finds it by a shift");

#define PAGE_FREE 0
#define PAGE_ACTIVE 1

/* A mapping from the OS.
 * Invariants (check.c: check_segment_header, check_small_segment; tlsf.c: tlsf_check):
 * - every 64 KiB chunk of [base, base+size) maps to this segment in the segment
 *   map, and nothing else maps here (the check looks at the chunks on either
 *   side: other arenas share the map and may change it while it runs);
 * - kind SMALL: pages_active + free pages + first_page == pages_ready; the
 *   descriptors from pages_ready on were never written (page.c sets them up
 *   when first wanted); live_map holds every page's map, page i's at
 *   i * LIVE_MAP_WORDS, and the maps of pages under the header or not set up
 *   are clear (free reads them without a descriptor); page_classes[i] is
 *   pages[i].class_idx for every ACTIVE page i;
 * - kind MEDIUM: TLSF blocks tile [first block, sentinel) exactly; nothing is
 *   written at the sentinel (tlsf.c);
 *   every OS page it ever wrote since mapping or its last purge has its bit
 *   set in touched_map (a clear bit is a page that is not resident); a page
 *   set in purged_map is clear in touched_map, and purged_pages counts them;
 * - kind HUGE: one live block at huge_block, huge_usable bytes usable; or
 *   huge_cached, on the heap's huge cache, no block;
 * - os_huge_pages: not SEED, OS_HUGE_PAGE bytes or more, aligned to them, and
 *   never purged (a MEDIUM segment has no purged page);
 * - huge_pages_given: so too, bar the purges; os_huge_pages implies it.
 */
typedef struct segment {
    uint32_t magic;                  /* SEGMENT_MAGIC ^ kind */
    uint32_t kind;
    arena_t *arena;
    struct heap *heap;               /* owner */
    struct heap *small_owner;        /* SMALL: heap (one compare on the free fast path); else NULL */
    size_t size;                     /* bytes mapped, header included */
    struct segment *next, *prev;     /* in the heap's list of this kind */
    uint64_t *live_map;              /* SMALL: 2 bits/granule; MEDIUM: 1 bit/granule */
    /* SMALL */
    uint32_t page_count;
    uint32_t first_page;             /* pages before it lie under the header */
    uint32_t pages_ready;            /* descriptors [first_page, pages_ready) are set up */
    uint32_t pages_active;
    /* Per page, its class_idx, written only when the page is given a class:
     * another thread's free reads it here (every heap of an arena has the
     * same classes), not on the descriptor's line, which the owner writes at
     * every malloc from the page. A byte a page, so the live map after it
     * moves little (where it crosses OS pages decides what a heap touches). */
    uint8_t *page_classes;
    /* MEDIUM */
    uintptr_t first_block, sentinel;
    uint64_t *touched_map;           /* MEDIUM: 1 bit/OS page: written since mapped or purged */
    uint64_t *purged_map;            /* MEDIUM: 1 bit/OS page: handed back by a purge, not written since; */
    size_t purged_pages;             /* ... how many (while none, the heap reads nothing there: not even faulted in) */
    size_t guard;                    /* MODE_SECURE: bytes at the end mapped PROT_NONE */
    /* The kernel was asked for transparent huge pages over the segment
     * (segment_new) and not yet told to stop (segment_purging). */
    bool os_huge_pages;
    /* ... was asked when the segment was mapped: some of them may still be
     * whole, so every purge splits the ones it cuts through (segment_purging). */
    bool huge_pages_given;
    /* HUGE */
    bool huge_cached;                /* freed, kept mapped for reuse (in the heap's huge cache) */
    bool huge_fresh;                 /* mapped for this block: it reads as zero */
    uint32_t cached_since;           /* cached: purge_clock() when freed */
    uintptr_t huge_block;
    size_t huge_requested;
    size_t huge_usable;
    size_t huge_align;               /* alignment of the mapping kept across mremap */
    struct heap *stats_heap;         /* the heap that counted its allocation */
    union {
        struct {                     /* SEED */
            uintptr_t seed_bump, seed_end;
        };
        struct {
            uintptr_t huge_unused;
            /* HUGE: huge_seal_of(s), the fields above that a call on the
             * block trusts, while it is a block or cached (huge_seal). Last:
             * the block's underflow reaches it before them. */
            uint64_t huge_seal;
        };
    };
    page_t pages[];                  /* SMALL: page_count descriptors */
} segment_t;

#define SEGMENT_MAGIC 0x5eadbeefu

/* The segment map (segmap.c): a two-level radix table over the 47-bit user
 * address space at 64 KiB granularity; its top level is static, each leaf
 * (4 GiB of address space) mapped on first use. */
#define SEGMAP_ADDRESS_BITS 47
#define SEGMAP_LEAF_SHIFT 32
#define SEGMAP_TOP_COUNT ((size_t)1 << (SEGMAP_ADDRESS_BITS - SEGMAP_LEAF_SHIFT))
#define SEGMAP_LEAF_COUNT ((size_t)1 << (SEGMAP_LEAF_SHIFT - SEGMAP_SHIFT))
typedef _Atomic(struct segment *) segmap_entry;
extern _Atomic(segmap_entry *) segmap_top[SEGMAP_TOP_COUNT] INTERNAL;

/* The segment that holds `p`, or NULL when no segment covers it: two loads, so
 * free() can look up any pointer, even one arena never saw. */
static inline struct segment *segmap_lookup(const void *p) {
    uintptr_t a = (uintptr_t)p, top = a >> SEGMAP_LEAF_SHIFT;
    if (__builtin_expect(top >= SEGMAP_TOP_COUNT, 0)) return NULL; /* above the 47 bits */
    segmap_entry *leaf = atomic_load_explicit(&segmap_top[top], memory_order_acquire);
    if (__builtin_expect(!leaf, 0)) return NULL;
    return atomic_load_explicit(&leaf[(a >> SEGMAP_SHIFT) & (SEGMAP_LEAF_COUNT - 1)], memory_order_acquire);
}
/* Records [seg, seg+size) as seg's. Returns true on error (no memory for the map),
 * nothing changed. */
bool segmap_insert(segment_t *seg, size_t size) INTERNAL;
void segmap_remove(const segment_t *seg, size_t size) INTERNAL;

/* ---- TLSF medium blocks (tlsf.c) ------------------------------------------ */
#define TLSF_SL_LOG2 4
#define TLSF_SL_COUNT (1u << TLSF_SL_LOG2)
#define TLSF_FL_SHIFT (TLSF_SL_LOG2 + 4)       /* sizes below 256 bytes: one linear level */
#define TLSF_FL_COUNT 40
_Static_assert(TLSF_SL_COUNT <= 16, "a level's lists fit the 16 bits of dirty_sl_bitmap");
_Static_assert(TLSF_FL_COUNT + TLSF_FL_SHIFT - 1 >= 40, "TLSF covers blocks up to 1 TiB");

/* Freed medium blocks of 1 KiB to 1 MiB wait whole, by size, for the next
 * request of their size (tlsf.c: the cache): a TLSF free and malloc each cost
 * hundreds of instructions, a cache hit a few dozen. */
#define TLSF_CACHE_FL_MIN 3                    /* first level of 1 KiB blocks */
#define TLSF_CACHE_FL_END 14                   /* ... up to, not including, 2 MiB */
#define TLSF_CACHE_BINS ((TLSF_CACHE_FL_END - TLSF_CACHE_FL_MIN) * TLSF_SL_COUNT)
#define TLSF_CACHE_PER_BIN 8                   /* blocks a bin holds at most */
#define TLSF_CACHE_FLOOR ((size_t)64 << 10)    /* bytes the cache may hold: this, or 1/64 of live */
#define TLSF_CACHE_LIVE_SHIFT 6
_Static_assert(TLSF_CACHE_FL_MIN + TLSF_FL_SHIFT - 1 == 10, "the cache starts at 1 KiB blocks");
_Static_assert(TLSF_CACHE_FL_END <= TLSF_FL_COUNT && TLSF_CACHE_PER_BIN <= 255, "cache bins fit the TLSF levels");

typedef struct mblock mblock;
typedef struct tlsf {
    /* The scalars first and the lists last: a heap is mapped zero and left so
     * where unused, and a thread heap that never makes a medium block touches
     * none of the lists' 5 KiB. */
    uint64_t fl_bitmap;                                /* bit f: some list of level f non-empty */
    size_t free_bytes;                                 /* sum of free block sizes */
    size_t dirty_bytes;                                /* ... of those not purged */
    size_t free_blocks;
    size_t cache_bytes, cache_blocks;
    uint32_t sl_bitmap[TLSF_FL_COUNT];                 /* bit s: list [f][s] non-empty */
    /* Bit s: list [f][s] may hold a block with dirty pages; clear: it holds
     * none (set when one goes on the list, cleared by a purge pass that leaves
     * the whole list clean), so that a pass skips the lists of clean blocks. */
    uint16_t dirty_sl_bitmap[TLSF_FL_COUNT];
    uint64_t purge_visits;                             /* free blocks purge passes visited, ever (tests) */
    /* The cache: blocks used as far as TLSF knows (never coalesced) with their
     * live bit clear, linked through their payload; bin b holds blocks whose
     * size maps to the list b would (tlsf_mapping). */
    uint8_t cache_count[TLSF_CACHE_BINS];
    uint8_t cache_wanted[TLSF_CACHE_BINS];             /* requests of the bin since the last flush */
    mblock *cache[TLSF_CACHE_BINS];
    mblock *heads[TLSF_FL_COUNT][TLSF_SL_COUNT];
} tlsf_t;

/* ---- the heap ----------------------------------------------------------- */
typedef struct page_queue {
    page_t *first, *last;
} page_queue;

/* A heap's counters (its stats and segment_count) are written by its thread
 * alone, or under the arena's lock for a heap with none, and arena_stats_get
 * reads them from other threads while they change. The reads are relaxed
 * atomic loads. Under ThreadSanitizer the writes are relaxed atomic stores, so
 * that it checks everything else in the threaded tests; elsewhere they are
 * plain, a data race by the letter of C11 on these counters alone: the store
 * is the same aligned 8-byte move, but a plain one lets the compiler fold
 * `allocs++` into one add to memory, and the atomic stores cost 3.2-3.5
 * instructions per replayed op (sqlite 85.9 to 89.4). The writer's own reads
 * need nothing. */
#define COUNTER_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#if defined(__SANITIZE_THREAD__)
#define COUNTER_SET(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)
#else
#define COUNTER_SET(field, value) ((field) = (value))
#endif
#define COUNTER_ADD(field, delta) COUNTER_SET(field, (field) + (delta))

typedef struct heap_stats {
    size_t live_bytes;
    size_t live_blocks;
    size_t peak_live_bytes;
    uint64_t allocs, frees, reallocs;
} heap_stats;

/* Blocks of one owner that another heap's thread freed, handed to the owner
 * as an array: its collect fetches the blocks ahead (they were last written
 * on the freeing thread's core) instead of following a link from block to
 * block, one cache miss after another. A batch belongs to the heap that
 * filled it, and comes back to it when its owner has taken the blocks in.
 * Invariant: a batch in flight is on exactly one owner's remote_batches, or
 * being collected, or lost with a thread that vanished at fork (in the child);
 * its owner clears in_flight (release) once done with it (check.c:
 * check_transit, where no collect is under way).
 * TRANSIT_BATCHES of them keep a heap within 3 OS pages (heap_t). */
typedef struct transit_batch {
    struct transit_batch *next;      /* on the owner's remote_batches */
    _Atomic bool in_flight;
    uint32_t count;
    void *blocks[REMOTE_BATCH_BLOCKS];
    uint32_t requested[REMOTE_BATCH_BLOCKS]; /* as counted in the freeing thread's pending_bytes */
} transit_batch;
_Static_assert(MAX_REGION <= UINT32_MAX && MEDIUM_MAX <= UINT32_MAX, "a small or medium block's size fits 32 bits");

/* Invariants (check.c: heap_check):
 * - direct[c] is the first page of queues[c], or the empty page when it is empty;
 * - every page in queues[c] is ACTIVE, not full, of class c, owned by this heap;
 * - free_dirty and free_clean hold exactly the FREE pages of this heap's SMALL
 *   segments, dirty ones in free_dirty; dirty_page_bytes is the sum of their
 *   touched bytes;
 * - huge_cache holds huge_cache_count segments of huge_cache_bytes bytes;
 * - stats.live_* equal the sums over every live block of this heap;
 * - once it has taken in what other threads freed into it (heap_collect_remote),
 *   with no other thread running, its remote lists and counts are empty; the
 *   arena's own heap is never freed into (check.c: check_transit).
 * Policy, not checked (it depends on the clock): dirty memory (free pages,
 * free TLSF blocks, the huge cache) stays within the hard limit of
 * heap_purge_maybe after every free (the budget plus at most
 * PURGE_TEARDOWN_FACTOR x live bytes), but for free pages and blocks younger
 * than PURGE_DELAY_TICKS while the heap has not torn down, and memory goes
 * back to the OS only there.
 */
/* heap->mode: a heap in a mode runs only its slow paths (its direct pages stay
 * empty and its segments have no small owner), and those do more (modes.c). */
#define MODE_CHECKED 1u   /* canaries, fills, metadata checks */
#define MODE_SECURE 2u    /* encoded free lists, guard pages, shuffled pages */

typedef struct heap {
    arena_t *arena;
    unsigned mode;
    bool coarse_classes;             /* classes.of_units maps to power-of-two classes only (page.c) */
    uintptr_t secret;                /* MODE_SECURE: free-list pointers are xor-ed with it */
    uint64_t rng;                    /* MODE_SECURE: shuffles carved blocks */
    page_t *direct[CLASS_MAX];       /* fast path: current page per class */
    /* Another thread has freed a block of this heap: from then on the owner's
     * frees read the in-transit mark (heap_block_in_transit). Set once, by
     * that thread, with a relaxed atomic store; read as the counters are
     * (plain outside ThreadSanitizer: one compare with memory). On the cache
     * line of the size classes' first fields, which the free fast path and
     * that thread read anyway. */
    bool freed_by_others;
    sizeclass_table classes;         /* a copy per heap: the fast path reads it */
    heap_stats stats;
    /* Blocks of another heap (pending_owner) this heap's thread freed: kept
     * in batches[filling] and handed to the owner in one go with their counts
     * (heap_pend_remote_free), so the owner's cache line is not written on
     * every such free. They stay live blocks of the owner until it collects
     * them; stats and checks count them freed, so the totals stay exact.
     * Each carries its in-transit mark, and its owner has freed_by_others set
     * (check.c). batches[filling] is never in flight. Written only by this
     * heap's thread. */
    struct heap *pending_owner;
    bool pending_owner_ended;        /* pending_owner's thread had ended when the batch began */
    unsigned filling;                /* the batch pending blocks go into */
    _Atomic size_t pending_bytes;
    _Atomic uint64_t pending_blocks;
    page_queue queues[CLASS_MAX];    /* per class: ACTIVE pages with blocks to hand out */
    page_queue free_dirty, free_clean;
    size_t dirty_page_bytes;
    segment_t *segments[SEG_KINDS];  /* a list per kind, linked by next/prev */
    size_t segment_count;            /* every segment of the heap, cached huge ones included */
    size_t segment_bytes;            /* ... the sum of their sizes */
    segment_t *huge_cache;           /* freed huge mappings, newest first, kept dirty for reuse */
    size_t huge_cache_bytes;
    unsigned huge_cache_count;
    uint32_t purge_last;             /* purge_clock() of the last purge pass */
    uint32_t clock_now;              /* the last purge_clock() read (heap_clock_read, a purge pass) */
    size_t purge_boost;              /* budget added while purged memory keeps coming back */
    size_t grown_since_shrink;       /* fresh bytes touched since page_shrink_sparse last ran */
    size_t purged_out;               /* bytes handed back since the last purge pass */
    size_t faulted_back;             /* purged bytes written again since the last purge pass */
    size_t unmapped_owed;            /* bytes a purge unmapped whole, not yet matched by fresh memory
                                        the heap faulted in since (heap_faulted_fresh) */
    size_t purged_avg, faulted_avg;  /* per pass, moving averages (heap_purge_adapt) */
    size_t teardown_purged;          /* bytes the last purge of the heap torn down handed back */
    size_t refaulted_since_teardown; /* purged bytes written again since then (heap_rebuilds) */
    size_t medium_max;               /* largest block size a MEDIUM segment serves */
    size_t copy_ahead;               /* bytes a realloc is about to copy into the block it asks for, else 0 */
    struct heap *next_heap;          /* in the arena's list of heaps */
    struct heap *next_abandoned;
    bool abandoned;                  /* its thread ended; another may adopt it */
    bool orphaned;                   /* left by a thread that is gone after fork: never reused */
    bool untrimmed;                  /* abandoned, keeping pages for reuse its thread no longer needs (page_trim) */
    /* Abandoned and kept warm for the next thread (heaps.c, heaps_abandon):
     * since ended_at, with up to warm_keep bytes of free memory resident. */
    bool warm;
    uint64_t ended_at;               /* purge_clock64() */
    size_t warm_keep;
    /* The highest stats.peak_live_bytes of the heap's earlier threads: an
     * adopted heap starts its peak again at what it holds, so that its purges
     * (and what it keeps warm when its thread ends) follow its new thread. Its
     * statistics report the larger of the two. */
    size_t earlier_peak;
    /* stats.live_bytes when its thread adopted it: the ended thread's blocks
     * (heap_purge_earned), at most stats.peak_live_bytes. */
    size_t inherited_live;
    /* The id (gettid) of the thread that took the heap to keep after its key
     * destructors had begun (heaps_adopt, `late`), until the heap is
     * abandoned; else 0; and its process's (getpid). Such a thread may end
     * with the heap still its own, when no destructor round came after: a
     * later adoption gives the heap back for it once the thread is gone
     * (heaps_recover_late). */
    int late_tid, late_pid;
    /* The process arena's heaps (heaps.c): blocks other threads freed wait for
     * the owner in batches on remote_batches, or linked through their first
     * words on remote_free when the freeing heap had no batch to spare; their
     * bytes and count, to be counted by it (added by the freeing threads after
     * the push, in batches). A cache line of their own: other threads write
     * them. */
    _Alignas(64) _Atomic(void *) remote_free;
    _Atomic(struct transit_batch *) remote_batches;
    _Atomic size_t remote_freed_bytes;
    _Atomic uint64_t remote_freed_blocks;
    _Alignas(64) tlsf_t tlsf;        /* most of the heap's size, untouched until medium blocks */
    /* Last: untouched until the heap's thread frees another heap's block. */
    transit_batch batches[TRANSIT_BATCHES];
} heap_t;
/* A heap is mapped whole and its thread touches what it uses: the transit
 * batches (last) were sized to keep it within the 3 OS pages it had before. */
_Static_assert(sizeof(heap_t) <= 3 * OS_PAGE, "a thread heap stays within 3 OS pages");

/* The peak a heap's statistics report: the highest of all its threads'. */
static inline size_t heap_peak_reported(const heap_t *h) {
    size_t peak = COUNTER_GET(h->stats.peak_live_bytes), earlier = COUNTER_GET(h->earlier_peak);
    return peak > earlier ? peak : earlier;
}

/* ---- the arena ----------------------------------------------------------- */
/* Invariants: mapped_bytes is the sum of the sizes of every segment plus the
 * arena's own mapping; peak_mapped_bytes >= mapped_bytes; charged_bytes is
 * mapped_bytes plus the mappings charged and not yet made or refused (equal
 * when no call is under way). */
struct arena {
    uint32_t magic;                  /* ARENA_MAGIC while alive */
    arena_config config;             /* with defaults filled in */
    size_t block_size;
    unsigned block_shift;
    size_t region_size;
    size_t populate_max;             /* tlsf_populate_ahead: POPULATE_MEDIUM_MAX, or the drop-in's ARENA_POPULATE_MAX */
    size_t self_size;                /* bytes of this mapping */
    _Atomic size_t mapped_bytes, peak_mapped_bytes;
    _Atomic size_t charged_bytes;    /* what max_bytes is checked against */
    bool thread_safe;
    bool fast;                       /* default policy, no lock: the inline paths apply */
    bool multi_heap;                 /* the process arena of the drop-in: a heap per thread */
    bool valgrind;                   /* running under valgrind: blocks are memcheck pool chunks */
    bool thread_heaps;               /* multi_heap, not valgrind: calls go to the thread's heap without a lock */
    arena_mutex lock;                /* ARENA_THREAD_SAFE: every call; multi_heap: the heap lists */
    arena_mutex huge_lock;           /* multi_heap: over `heap` */
    heap_t *heaps;                   /* multi_heap: every thread heap */
    heap_t *abandoned;               /* multi_heap: heaps whose thread ended */
    _Atomic size_t ended_freed_bytes; /* multi_heap: freed into those since heaps_reclaim last took them in */
    _Atomic uint64_t warm_due;       /* multi_heap: purge_clock64() when the first warm heap stops being warm; 0: none is */
    uint64_t id;                     /* ARENA_THREAD_SAFE: never reused (heaps.c) */
    /* The last segments handed back to the OS: a free into one of them is a
     * second free of a block that went away with its segment. */
    _Atomic uintptr_t released_begin[RELEASED_RING], released_end[RELEASED_RING];
    _Atomic unsigned released_next;
    struct arena *next_registered;
    size_t heap_bytes;               /* multi_heap: bytes mapped for thread heaps */
    _Atomic unsigned late_heaps;     /* multi_heap: heaps with a late_tid (changed under lock) */
    /* multi_heap: the peak its statistics reported before the last
     * arena_reset (heaps_release_locked); they report the larger of this and
     * the sum of the heaps' peaks since, not the sum of both. */
    size_t peak_before_reset;
    /* seed policy: its lists (seed.c); its regions are the heap's SEG_SEED segments */
    struct seed_block *seed_allocated, *seed_freed;
    segment_t *seed_current;
    /* Last: the arena's own fields then share an OS page with the heap's
     * first part, which every arena touches (a thread-heap arena's heap only
     * holds its huge blocks). First in the struct, it saved the explicit
     * API's calls an add (0.5-0.8 instructions an op) but put the arena's
     * fields past the heap's end, on two more OS pages: 8-16 KiB more
     * resident for every explicit arena. */
    heap_t heap;                     /* explicit arenas: the one heap; multi_heap: owns the huge blocks */
};
#define ARENA_MAGIC 0xa7e4a001u

/* True when p lies in one of the last segments a handed back to the OS. */
bool arena_recently_released(const arena_t *a, const void *p) INTERNAL;
/* [begin, begin + size), out of the segment map, held a segment of a: a later
 * free there is a double free while the range is among the last RELEASED_RING
 * remembered (arena_recently_released). */
void segment_remember_released(arena_t *a, uintptr_t begin, size_t size) INTERNAL;

/* True when `size` more bytes mapped would stay within max_bytes now (another
 * thread may take them first: arena_charge decides). */
bool arena_cap_allows(const arena_t *a, size_t size) INTERNAL;
/* A mapping's life in the counters: arena_charge before it is made, then
 * arena_charge_refused if it is not, or arena_mapped once it is, and
 * arena_unmapped when it goes. Only arena_mapped moves mapped_bytes up, so a
 * mapping the OS refuses (a 64 TiB request) never enters peak_mapped_bytes,
 * whichever thread raises the peak while it is charged. */
/* Charges `size` bytes about to be mapped; returns true (nothing changed) when
 * max_bytes would be exceeded. */
bool arena_charge(arena_t *a, size_t size) INTERNAL;
/* The `size` bytes charged were not mapped after all. */
void arena_charge_refused(arena_t *a, size_t size) INTERNAL;
/* The `size` bytes charged are mapped: mapped_bytes and its peak rise. */
void arena_mapped(arena_t *a, size_t size) INTERNAL;
/* `size` bytes mapped went back to the OS: mapped and charged fall. */
void arena_unmapped(arena_t *a, size_t size) INTERNAL;

/* ---- segments (segment.c) ------------------------------------------------ */
/* Maps and registers a segment of `size` bytes for heap h; `gap`: MEDIUM, the
 * free bytes an alignment leaves in front of the block it is mapped for, when
 * they outnumber the block's (they decide whether it asks for huge pages:
 * segment.c), else 0. NULL + errno on error. */
segment_t *segment_new(heap_t *h, segment_kind kind, size_t size, size_t align, size_t gap) INTERNAL;
void segment_huge_pages_off(segment_t *s) INTERNAL NOINLINE;
/* Before a purge hands back OS pages of s: a segment with huge pages gives
 * them up for good, so that the kernel's background collapse (khugepaged,
 * which fills up to 511 of a huge page's 512 small pages with zeros) does not
 * make resident again what the purges handed back. Returns true when the
 * purge must split the huge pages it cuts through (os_purge_splitting, a
 * batch's `split`): those made before stay whole until then. */
static inline bool segment_purging(segment_t *s) {
    if (unlikely(s->os_huge_pages)) segment_huge_pages_off(s);
    return s->huge_pages_given;
}
/* Takes s off its heap's list, unregisters and unmaps it. */
void segment_release(heap_t *h, segment_t *s) INTERNAL;
/* The same for a segment already off every list. */
void segment_release_unlinked(heap_t *h, segment_t *s) INTERNAL;
/* Header bytes of a segment of this kind and size (page aligned). */
size_t segment_header_size(const arena_t *a, segment_kind kind, size_t size) INTERNAL;

/* ---- small blocks (page.c) ----------------------------------------------- */
/* Sets up heap h of arena a in memory that is all zero: fresh from the OS,
 * whose pages it leaves untouched where a zero is what they would hold (a
 * thread heap's free lists and caches are most of its size). */
void heap_init(heap_t *h, arena_t *a) INTERNAL;
/* Frees every segment of the heap and resets it to empty. */
void heap_release_all(heap_t *h) INTERNAL;
/* A block of class cls recording `size` as requested, when the class's current
 * page has nothing to hand out. No stats. NULL when out of memory. */
void *page_malloc_slow(heap_t *h, size_t size, unsigned cls) INTERNAL;
/* After a free left pg empty or un-full: requeues or releases it. */
void page_free_slow(heap_t *h, page_t *pg) INTERNAL;
/* A free page ready to be given a class; NULL when out of memory. */
page_t *page_acquire(heap_t *h) INTERNAL;
/* Hands back the oldest dirty free pages until at most `keep` dirty bytes stay;
 * with spare_young, not those younger than PURGE_DELAY_TICKS at `now`. */
void page_purge(heap_t *h, size_t keep, bool spare_young, uint32_t now) INTERNAL;
/* For a heap no thread will allocate from for a while (its thread ended, or
 * malloc_trim): every page with no live block becomes a free dirty page, and
 * the OS pages of the others on which no block is live go back to the OS.
 * Returns the bytes of both. */
size_t page_trim(heap_t *h) INTERNAL;
/* Unmaps every small segment of h with no page in use and none dirty, the
 * last one too (heap_release_idle). */
void page_release_empty_segments(heap_t *h) INTERNAL;
/* The heap grew by `fresh` bytes: now and then, the OS pages of sparse small
 * pages that hold no live block go back to the OS (page_shrink). */
void page_shrink_sparse(heap_t *h, size_t fresh) INTERNAL;
static inline size_t page_touched_bytes(const page_t *pg) { return (size_t)pg->touched_pages * OS_PAGE; }
/* The bit of each OS page (counted from pg's first block's) that [b, b+size) overlaps. */
static inline uint32_t page_os_mask(const page_t *pg, uintptr_t b, size_t size) {
    unsigned lo = (unsigned)((b - pg->start) / OS_PAGE), hi = (unsigned)((b + size - 1 - pg->start) / OS_PAGE);
    return (uint32_t)(((uint64_t)2 << hi) - ((uint64_t)1 << lo));
}
_Static_assert(PAGE_BYTES / OS_PAGE <= 8, "a page's OS pages fit an 8-bit mask (purged_os)");
/* Registers the pages of a new SMALL segment as free and clean. */
void page_segment_added(heap_t *h, segment_t *s) INTERNAL;

extern page_t page_empty INTERNAL;  /* a page with nothing to hand out */

/* Slack = usable - requested, recorded in the block's last bytes when non-zero. */
static inline void slack_write(void *block, size_t usable, size_t slack) {
    uint8_t *end = (uint8_t *)block + usable;
    if (slack < 255) {
        end[-1] = (uint8_t)slack;
    } else {
        end[-1] = 255;
        __builtin_memcpy(end - 9, &slack, sizeof slack);
    }
}
static inline size_t slack_read(const void *block, size_t usable) {
    const uint8_t *end = (const uint8_t *)block + usable;
    size_t slack = end[-1];
    if (slack == 255) __builtin_memcpy(&slack, end - 9, sizeof slack);
    return slack;
}
/* slack_read when `recorded` (0 or 1) says there is a record, else 0, with no
 * branch on `recorded`: the block's last byte is read either way (it is the
 * block's own), and masked off. */
static inline size_t slack_read_masked(const void *block, size_t usable, uint64_t recorded) {
    const uint8_t *end = (const uint8_t *)block + usable;
    size_t slack = end[-1] & (size_t)-(int64_t)recorded;
    if (__builtin_expect(slack == 255, 0)) __builtin_memcpy(&slack, end - 9, sizeof slack);
    return slack;
}

/* live_map of a SMALL page: 2 bits per granule of the page area (the
 * area is PAGE_BYTES aligned), 32 granules per word: bit 0 a live block starts
 * here, bit 1 its slack is recorded in its last bytes. */
#define LIVE_BIT ((uint64_t)1)
#define SLACK_BIT ((uint64_t)2)
/* The unit of the map is a granule, or 512 bytes for larger granules: each
 * page's map is then whole words, and the maps of a segment's pages, one after
 * the other, are one map of the segment, which free reads without the page's
 * descriptor (segment_live_ref). A pointer inside a block never has the live
 * bit of the block's start: either its unit differs, or it is not granule
 * aligned, which free checks first. */
#define LIVE_SHIFT(block_shift) ((block_shift) < 9u ? (block_shift) : 9u)
#define LIVE_MAP_WORDS(live_shift) ((PAGE_BYTES >> (live_shift)) / 32)
_Static_assert((PAGE_BYTES >> 9) % 32 == 0, "a page's live map is whole words at the largest unit");
_Static_assert(LIVE_SHIFT(3u) >= 1u && MIN_BLOCK_SIZE == 8, "a unit of the live map has a half-unit bit (live_bit_shift)");

/* Live maps are written only by the heap that owns the segment, but read by any
 * thread that frees one of its blocks (drop-in malloc): relaxed atomic loads and
 * stores, which are plain moves on x86. */
static inline uint64_t map_load(const uint64_t *w) { return __atomic_load_n(w, __ATOMIC_RELAXED); }
static inline void map_store(uint64_t *w, uint64_t v) { __atomic_store_n(w, v, __ATOMIC_RELAXED); }

static inline page_t *segment_page(segment_t *s, const void *p) {
    return &s->pages[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT];
}
/* The segment of a page that holds blocks (its first block lies in it). */
static inline segment_t *page_segment(const page_t *pg) { return segmap_lookup((const void *)pg->start); }
/* Where the two live-map bits of block p of page pg are. */
typedef struct live_ref {
    uint64_t *word;
    unsigned shift; /* the bits' position in *word, modulo 64: every use shifts by
                       (shift & 63), which x86 does without the mask */
} live_ref;
/* The bits of the unit at byte `offset` of `map`, for an offset that is
 * granule aligned: its half-unit bit (live_bit_shift) is then clear, so the
 * offset shifted by live_bit_shift is the number of the unit's first bit,
 * taken without a mask or a doubling (2-3 instructions fewer on each fast
 * path). A caller with a pointer that may be unaligned checks the alignment
 * before it trusts the result: free ANDs both tests (FREE_IS_LIVE). */
static inline live_ref live_ref_at(uint64_t *map, uintptr_t offset, unsigned live_bit_shift) {
    size_t bit = offset >> live_bit_shift;
    return (live_ref){&map[bit >> 6], (unsigned)bit};
}
/* p granule aligned (see live_ref_at). */
static inline live_ref page_live_ref(const page_t *pg, const void *p, unsigned live_bit_shift) {
    return live_ref_at(pg->live_map, (uintptr_t)p & (PAGE_BYTES - 1), live_bit_shift);
}
/* The same, from p's SMALL segment s alone: any p in s, its page set up or not
 * (the map covers the header's pages too, and their bits are never set). */
static inline live_ref segment_live_ref(const segment_t *s, const void *p, unsigned live_bit_shift) {
    return live_ref_at(s->live_map, (uintptr_t)p - (uintptr_t)s, live_bit_shift);
}
/* The two bits (LIVE_BIT, SLACK_BIT) of block p, granule aligned. */
static inline uint64_t page_live_bits(const page_t *pg, const void *p, unsigned live_bit_shift) {
    live_ref r = page_live_ref(pg, p, live_bit_shift);
    return (map_load(r.word) >> (r.shift & 63)) & (LIVE_BIT | SLACK_BIT);
}
/* The same from p's SMALL segment s alone, without p's page descriptor, which
 * another heap's thread may be setting up. */
static inline uint64_t segment_live_bits(const segment_t *s, const void *p, unsigned live_bit_shift) {
    live_ref r = segment_live_ref(s, p, live_bit_shift);
    return (map_load(r.word) >> (r.shift & 63)) & (LIVE_BIT | SLACK_BIT);
}
/* The class of the page of small segment s that holds p. */
static inline unsigned segment_page_class(const segment_t *s, const void *p) {
    return __atomic_load_n(&s->page_classes[((uintptr_t)p - (uintptr_t)s) >> PAGE_SHIFT], __ATOMIC_RELAXED);
}
/* The requested size of a live block of `block_size` bytes at p, whose bits
 * (shifted down to bit 0) are `bits`: less its slack record, if it has one. */
static inline size_t block_requested_of(size_t block_size, const void *p, uint64_t bits) {
    return bits & SLACK_BIT ? block_size - slack_read(p, block_size) : block_size;
}
/* The requested size of live block p of page pg, whose bits (shifted down to
 * bit 0) are `bits`: its class size less its slack record, if it has one. */
static inline size_t page_block_requested(const page_t *pg, const void *p, uint64_t bits) {
    return block_requested_of(pg->block_size, p, bits);
}

/* Records `size` (at most the block size) as the requested size of live block
 * p of page pg, whose bits r locates. */
static inline void page_block_set_requested(page_t *pg, void *p, live_ref r, size_t size) {
    if (size == pg->block_size) {
        map_store(r.word, map_load(r.word) & ~(SLACK_BIT << (r.shift & 63)));
    } else {
        slack_write(p, pg->block_size, pg->block_size - size);
        map_store(r.word, map_load(r.word) | SLACK_BIT << (r.shift & 63));
    }
}

/* ---- medium blocks (tlsf.c) ---------------------------------------------- */
void *tlsf_malloc(heap_t *h, size_t size, size_t align) INTERNAL;
/* tlsf_malloc of a granule-aligned block whose `size` bytes read as zero (heap not in a
 * mode): only the OS pages written since they were mapped or purged are cleared. */
void *tlsf_calloc(heap_t *h, size_t size) INTERNAL;
/* A cached block for a calloc of `size` bytes, cleared and counted, or NULL,
 * nothing changed (heap not in a mode). */
void *tlsf_calloc_cached(heap_t *h, size_t size) INTERNAL;
/* Frees a medium block of segment s (already validated). */
void tlsf_free(heap_t *h, segment_t *s, void *p) INTERNAL;
/* The fast paths of medium blocks (heap not in a mode): a cached block for
 * `size` bytes, else heap_malloc_medium_slow's; and the free of p, a block of h's
 * segment s; both counted in the stats. tlsf_free_owned leaves p to
 * heap_free_general when it is not a live block (which reports it there).
 * Each hands over by a tail call, so its caller keeps nothing across it. */
void *tlsf_malloc_cached(heap_t *h, size_t size) INTERNAL;
void tlsf_free_owned(heap_t *h, segment_t *s, void *p) INTERNAL;
/* Every free the fast paths did not take (alloc.c): other heaps' blocks, huge
 * blocks, modes, and misuse, which is reported there. */
void heap_free_general(heap_t *h, segment_t *s, void *p) INTERNAL NOINLINE;
/* Every allocation the fast paths did not serve (alloc.c), counted. */
void *heap_malloc_general(heap_t *h, size_t size) INTERNAL NOINLINE;
/* A request above the small classes that the medium cache did not serve
 * (alloc.c), counted: TLSF, or heap_malloc_general for what TLSF does not take. */
void *heap_malloc_medium_slow(heap_t *h, size_t size) INTERNAL NOINLINE;
/* Set bits of x without the popcnt instruction: what tlsf.c counts the touched-page
 * map with on a CPU that lacks it (a test compares it with the builtin, since the
 * CPUs the tests run on have it). */
unsigned tlsf_bits_count_portable(uint64_t x) INTERNAL;
/* Validates p as a live medium block of s; returns its kind of misuse or 0. */
arena_error tlsf_validate(const segment_t *s, const void *p) INTERNAL;
size_t tlsf_usable(const void *p) INTERNAL;
size_t tlsf_requested(const void *p) INTERNAL;
void tlsf_set_requested(void *p, size_t n) INTERNAL;
/* MODE_CHECKED: a used medium block's last TLSF_SEAL_BYTES, past its canary,
 * seal its header (tlsf.c, seals). tlsf_seal writes the seal of live block p
 * of s from its header; tlsf_unseal wipes it when p is freed. */
#define TLSF_SEAL_BYTES 16
void tlsf_seal(const segment_t *s, void *p) INTERNAL;
void tlsf_unseal(void *p) INTERNAL;
/* Verifies live block p of s (of h's arena) against its seal: 0 when they
 * agree; ARENA_ERR_CORRUPTION when the header was damaged, rebuilt from the
 * seal when h owns p and the seal was found; ARENA_ERR_OVERFLOW when the header
 * holds but the seal was overwritten (sealed anew when h owns p). *sound says
 * whether p's header can be used now. Reports nothing. */
arena_error tlsf_seal_verify(heap_t *h, segment_t *s, void *p, bool *sound) INTERNAL;
/* The payload of the block after p (whose header holds), when that is live; else NULL. */
void *tlsf_next_live(const segment_t *s, const void *p) INTERNAL;
/* Grows or shrinks p in place to hold n bytes; false when it cannot. */
bool tlsf_resize_in_place(heap_t *h, segment_t *s, void *p, size_t n) INTERNAL;
/* Adds a MEDIUM segment's space as one free block. */
void tlsf_segment_added(heap_t *h, segment_t *s) INTERNAL;
/* Purges free blocks, largest first, each whole, until at most `keep` dirty
 * bytes stay; with spare_young, not those younger than PURGE_DELAY_TICKS at
 * `now`. The cache is emptied into the lists first when it has anything. */
void tlsf_purge(heap_t *h, size_t keep, bool spare_young, uint32_t now) INTERNAL;
/* Flushes the medium cache, then unmaps every medium segment of h that holds
 * no used block, the last one too (heap_release_idle). */
void tlsf_release_empty_segments(heap_t *h) INTERNAL;
/* Puts every cached medium block on the lists, coalesced. */
void tlsf_cache_flush(heap_t *h) INTERNAL;
/* Dirty medium memory: the lists' dirty bytes and the cache. */
static inline size_t tlsf_dirty_bytes(const tlsf_t *t) { return t->dirty_bytes + t->cache_bytes; }
/* The payload of the largest free medium block, on the lists or in the cache; 0 when none. */
size_t tlsf_largest_free(const heap_t *h) INTERNAL;
/* Calls fn for every used medium block of h. */
struct heap;
void tlsf_foreach_used(const struct heap *h, void (*fn)(void *ctx, void *p, size_t requested), void *ctx) INTERNAL;
/* Adds the used blocks of every MEDIUM segment (count, requested and usable
 * bytes) and the bytes of purged free blocks. */
void tlsf_usage(const heap_t *h, size_t *blocks, size_t *requested, size_t *usable, size_t *purged) INTERNAL;
/* arena_check for MEDIUM segments and the lists; returns -1 after reporting. */
int tlsf_check(const heap_t *h, size_t *live_blocks, size_t *live_bytes, size_t *usable) INTERNAL;

/* ---- huge blocks (huge.c) ------------------------------------------------ */
/* Seals the fields of huge segment s that a call on its block trusts (block,
 * requested and usable size, alignment, counting heap, size, guard, cached):
 * after every change of them. */
void huge_seal(segment_t *s) INTERNAL;
/* True when they are as last sealed: a program's underflow of the block
 * writes over them (block_classify reports it as heap corruption). */
bool huge_seal_holds(const segment_t *s) INTERNAL;
/* The largest request a cached huge mapping of h serves (huge_malloc's
 * offset and guard page taken off); 0 when the cache is empty. */
size_t huge_largest_cached(const heap_t *h) INTERNAL;
void *huge_malloc(heap_t *h, size_t size, size_t align) INTERNAL;
/* Frees a huge block: its mapping goes to the huge cache. */
void huge_free(heap_t *h, segment_t *s) INTERNAL;
/* Unmaps cached huge mappings, oldest first, until at most `keep` bytes stay;
 * with spare_young, not those younger than PURGE_DELAY_TICKS at `now`. */
void huge_purge(heap_t *h, size_t keep, bool spare_young, uint32_t now) INTERNAL;
/* Resizes in its mapping (mremap); NULL when it cannot, nothing changed. */
void *huge_realloc(heap_t *h, segment_t *s, size_t size) INTERNAL;

/* ---- the default policy's front end (alloc.c) ---------------------------- */
/* The public calls of the default policy, stats counted, errno set. Fast paths
 * are in fastpath.h; these are the general ways. */
void *heap_malloc(heap_t *h, size_t size) INTERNAL;
void *heap_calloc(heap_t *h, size_t n, size_t size) INTERNAL;
void *heap_memalign(heap_t *h, size_t align, size_t size) INTERNAL;
void *heap_realloc(heap_t *h, void *p, size_t size) INTERNAL;
void heap_free(heap_t *h, void *p) INTERNAL;
/* heap_free of p, whose segment lookup gave s (NULL: none), as the fast path found it. */
void heap_free_at(heap_t *h, segment_t *s, void *p) INTERNAL;
/* The free fast path of small block p of segment s (small_owner h) once other
 * threads have freed into h: a block still on its way back is reported. */
void heap_free_small_shared(heap_t *h, segment_t *s, void *p) INTERNAL;
/* Usable bytes of p (0 and a report on misuse); with fold_slack the block counts
 * its whole usable size as requested from then on. */
size_t heap_usable_size(heap_t *h, const void *p, bool fold_slack) INTERNAL;
/* The requested size of live block p of segment s. */
size_t block_requested(heap_t *h, segment_t *s, const void *p) INTERNAL;
/* Frees live block p of the calling heap h; no stats. */
void block_release(heap_t *h, segment_t *s, void *p) INTERNAL;
/* Purges dirty free memory when it exceeds the heap's budget. */
void heap_purge_maybe(heap_t *h) INTERNAL;
/* Kind `kind` is about to touch `fresh` bytes of memory it never touched or
 * purged: dirty free memory of the other kinds beyond half the budget floor
 * goes back to the OS, about as much as was touched. */
void heap_grew(heap_t *h, segment_kind kind, size_t fresh) INTERNAL;
/* The heap writes `fresh` bytes it never wrote since they were mapped: for the
 * purge feedback, memory faulted back in up to what purges unmapped whole
 * (a new mapping stands in for one the heap handed back). Memory purged and
 * still mapped counts exactly where it is written again (faulted_back). */
static inline void heap_faulted_fresh(heap_t *h, size_t fresh) {
    size_t owed = fresh < h->unmapped_owed ? fresh : h->unmapped_owed;
    h->unmapped_owed -= owed;
    h->faulted_back += owed;
}
/* Hands back every dirty free byte of the heap. */
void heap_purge_all(heap_t *h) INTERNAL;
/* Hands back free memory until at most `keep` bytes of it stay resident,
 * whatever its age. */
void heap_purge_to(heap_t *h, size_t keep) INTERNAL;
/* For a heap whose thread ended: heap_purge_to what it may keep warm for the
 * next thread (twice its thread's peak live bytes, from PURGE_FLOOR to
 * WARM_KEEP_MAX), counted as a teardown; returns the free memory it kept. */
size_t heap_purge_ended(heap_t *h) INTERNAL;
/* page_trim, then heap_purge_all: every free page and block of h goes back to
 * the OS, and the OS pages of its partly used pages where no block is live.
 * Returns true when anything went back. */
bool heap_trim(heap_t *h) INTERNAL;
/* max_bytes leaves no room for a new mapping that a request for a `kind` block
 * needs: every segment of h that holds no live block goes back to the OS, the
 * last one of each kind that a heap keeps for its next blocks too, and the
 * huge mappings it caches. Small segments only for a request of another kind:
 * a small one is choosing among the heap's pages. Returns true when anything
 * went back. */
bool heap_release_idle(heap_t *h, segment_kind kind) INTERNAL;
/* Dirty free bytes of the heap: free pages, free and cached medium blocks,
 * cached huge mappings. */
static inline size_t heap_dirty_total(const heap_t *h) {
    return h->dirty_page_bytes + tlsf_dirty_bytes(&h->tlsf) + h->huge_cache_bytes;
}
/* Dirty free bytes the heap may keep: max(PURGE_FLOOR, live / 8), plus the
 * boost earned by purging memory that was wanted back. */
size_t heap_purge_budget(const heap_t *h) INTERNAL;

/* ---- thread heaps of the process arena (heaps.c) ------------------------- */
/* Makes a an arena of thread heaps. Returns true on error, nothing changed. */
bool heaps_init(arena_t *a) INTERNAL;
/* A heap for the calling thread: an abandoned one adopted, or a new one. NULL
 * when the OS refuses memory. `for_ended_thread`: the thread's key
 * destructors have begun, and it abandons the heap again soon (a destructor
 * that frees): the heap stays as its last thread left it, to be kept warm
 * again. `late`, with it: the thread keeps the heap past the call, for a
 * destructor round that may never come (the heap gets its late_tid). */
heap_t *heaps_adopt(arena_t *a, bool for_ended_thread, bool late) INTERNAL;
/* Takes in blocks freed into abandoned heaps, and trims those heaps
 * (page_trim, then purged), when no other thread is at it; a warm one
 * (heaps_abandon) only down to what it keeps, unless cool_all (malloc_trim).
 * Called when a heap maps a segment, and by malloc_trim: the memory of ended
 * threads goes back when the process grows, not on the exit path. Returns
 * true when it handed memory back. */
bool heaps_reclaim(arena_t *a, bool cool_all) INTERNAL;
/* Cools the warm heaps whose time is past (a->warm_due), with a reclaim, when
 * no other thread is at it. Called on the heaps' allocation slow paths while
 * a->warm_due is set (heap_settle_remote). */
void heaps_warm_expire(arena_t *a) INTERNAL;
/* Abandoned heap h (the heaps lock held) takes in what other threads freed
 * into it, marked untrimmed: its pages may have emptied. Returns true when
 * there was anything to take in. */
bool heaps_take_in_ended(heap_t *h) INTERNAL;
/* The calling thread ends: its heap waits for another thread to adopt it. */
void heaps_abandon(heap_t *h) INTERNAL;
/* Frees live block p of `owner` (another heap) from h's thread: p waits in h
 * until REMOTE_BATCH_BLOCKS or REMOTE_BATCH_BYTES of them, a block of another
 * owner, h's next slow path or its thread's end, then goes on owner's remote
 * list with the others and their counts. */
void heap_pend_remote_free(heap_t *h, heap_t *owner, void *p, size_t requested) INTERNAL;
/* Hands h's pending blocks and counts to their owner; nothing when there are none. */
void heap_flush_pending(heap_t *h) INTERNAL;
/* Frees the blocks other threads handed to h, and counts them. */
void heap_collect_remote(heap_t *h) INTERNAL;
/* Gives the batches on h's list back to the heaps that sent them, their blocks
 * not taken in: h is about to release its memory (heap_release_all) while
 * those heaps live on. */
void heap_return_batches(heap_t *h) INTERNAL;
/* Frees live block p of thread-safe arena a for a thread that max_bytes (or the
 * OS, for the drop-in's process arena) leaves without a heap: the arena's own
 * heap (which holds no thread's small or medium blocks) hands it to its owner
 * as another heap's thread would, under the arena's lock, as one batch serves
 * every such thread. A misuse report from
 * here (a checked block's overflow) runs under that lock. */
void heaps_free_unattached(arena_t *a, void *p) INTERNAL;
/* p's usable size (0 after a report when p is no live block) for a thread of
 * thread-safe arena a without a heap: the arena's own heap sizes it, under
 * the arena's lock. */
size_t heaps_usable_size_unattached(arena_t *a, const void *p) INTERNAL;
/* Thread-safe explicit arenas: the calling thread's heap of arena a (NULL when
 * the OS refuses memory for one); register/unregister a live arena; release
 * every heap, the thread heaps themselves too (a reset: threads get new heaps
 * when they call again), and destroy (no other thread may be using the arena
 * during either). */
heap_t *heaps_for_thread(arena_t *a) INTERNAL;
/* After a call that ran on h, from heaps_for_thread or the arena's own: gives h
 * back when it was adopted for that call alone (a call from the thread's last
 * round of key destructors, after the allocator's own). Each call gives back
 * its own, so a call the error handler makes meanwhile takes another. errno
 * kept. */
void heaps_call_done(heap_t *h) INTERNAL;
/* A thread keeps its heaps of the last THREAD_SLOTS thread-safe arenas it used,
 * keyed by the arena's id (heaps.c). */
#define THREAD_SLOTS 4
typedef struct heap_slot {
    uint64_t arena_id; /* 0: empty */
    heap_t *heap;
} heap_slot;
extern __thread heap_slot thread_slots[THREAD_SLOTS] INTERNAL __attribute__((tls_model("initial-exec")));
/* The calling thread's heap of a if it has one yet, else NULL. */
static inline heap_t *heaps_thread_heap(const arena_t *a) {
    uint64_t id = a->id;
    for (const heap_slot *slot = thread_slots; slot < thread_slots + THREAD_SLOTS; slot++)
        if (slot->arena_id == id) return slot->heap;
    return NULL;
}
/* Any ARENA_THREAD_SAFE arena, seed policy too, is registered while it lives:
 * fork takes the locks of registered arenas around it. */
void heaps_register(arena_t *a) INTERNAL;
void heaps_unregister(arena_t *a) INTERNAL;
void heaps_release_all(arena_t *a) INTERNAL;
void heaps_destroy(arena_t *a) INTERNAL;
/* fork(): before, in the parent after, in the child after; for the process
 * arena and every registered (thread-safe) arena of either policy. */
void heaps_fork_prepare(arena_t *a) INTERNAL;
void heaps_fork_parent(arena_t *a) INTERNAL;
void heaps_fork_child(arena_t *a, heap_t *survivor) INTERNAL;

/* ---- seed policy (seed.c) ------------------------------------------------ */
/* The header in front of every seed block. */
typedef struct seed_block {
    size_t size;             /* usable bytes, a multiple of block_size */
    int free;                /* 1 on the freed list, 0 on the allocated list */
    void *start;             /* the payload: a header check on free */
    struct seed_block *next; /* in the allocated or the freed list */
    struct seed_block *prev; /* added: O(1) unlink */
    size_t requested;        /* added: bytes asked for */
} seed_block;
void *seed_malloc(arena_t *a, size_t size, size_t align) INTERNAL;
void seed_free(arena_t *a, void *p) INTERNAL;
void *seed_realloc(arena_t *a, void *p, size_t size) INTERNAL;
size_t seed_usable_size(arena_t *a, const void *p) INTERNAL;
void seed_release_all(arena_t *a) INTERNAL;
void seed_stats(arena_t *a, arena_stats *out) INTERNAL;
int seed_check(arena_t *a) INTERNAL;

/* ---- stats and check ------------------------------------------------------ */
/* Calls fn for every live block (valgrind's view of a reset); and whether p
 * is a live block of a, with its requested size (no report either way). */
typedef void (*block_fn)(void *ctx, void *p, size_t requested);
void heaps_foreach_live(arena_t *a, block_fn fn, void *ctx) INTERNAL;
void seed_foreach_live(arena_t *a, block_fn fn, void *ctx) INTERNAL;
bool heaps_live(arena_t *a, const void *p, size_t *requested) INTERNAL;
bool seed_live(arena_t *a, const void *p, size_t *requested) INTERNAL;

/* arena_stats_get and arena_check of the default policy, over every heap.
 * heaps_stats walks only `mine` (the calling thread's heap, or NULL: it hands
 * over mine's pending batch first) and the heaps no thread changes;
 * arena_stats_of is arena_stats_get on that basis. */
void heaps_stats(arena_t *a, heap_t *mine, arena_stats *out) INTERNAL;
int arena_stats_of(arena_t *a, heap_t *mine, arena_stats *out) INTERNAL;
int heaps_check(arena_t *a) INTERNAL;

/* ---- checked and hardened modes (modes.c) --------------------------------- */
#define CANARY_BYTES 8                         /* checked mode asks each block this much larger */
#define CANARY_FILL 0xcau
#define FREE_FILL 0xdfu

/* Sets up a heap's mode (secret and shuffle seed). */
void modes_heap_init(heap_t *h, unsigned mode) INTERNAL;
/* The free list of page pg: next of block b, and setting it (encoded in
 * MODE_SECURE). A damaged link is reported, the list made anew from the live
 * map (pg->free), and MODES_LIST_REBUILT returned: the caller starts again
 * from pg->free. modes_list_peek: the link decoded, unchecked, unreported
 * (arena_check's walk, which says what it finds itself). */
#define MODES_LIST_REBUILT ((void *)1)
void *modes_list_next(heap_t *h, page_t *pg, void *b) INTERNAL;
void *modes_list_peek(const heap_t *h, const void *b) INTERNAL;
void modes_list_set(const heap_t *h, void *b, void *next) INTERNAL;
/* Links `count` fresh blocks from `begin` onto pg's (empty) free list:
 * shuffled and encoded in MODE_SECURE, filled in MODE_CHECKED. */
void modes_carve(heap_t *h, page_t *pg, uintptr_t begin, size_t count) INTERNAL;
/* block_take and page_block_release for a heap in a mode. */
void *modes_block_take(heap_t *h, page_t *pg, size_t size) INTERNAL;
void modes_block_release(heap_t *h, page_t *pg, void *p, live_ref r, uint64_t word) INTERNAL;
/* MODE_CHECKED: whether live small block p of heap h (segment s) has its slack
 * record as its allocation wrote it, check byte and all (a checked block
 * always has one: it is asked larger). No report (alloc.c; arena_check). */
bool checked_slack_sound(const heap_t *h, const segment_t *s, const void *p) INTERNAL;
/* MODE_CHECKED: reports a write after free into a free block of empty page pg. */
void modes_page_verify(heap_t *h, page_t *pg) INTERNAL;
/* MODE_CHECKED: fills [from, to) of block p with the canary; true when intact. */
void modes_canary_fill(void *p, size_t from, size_t to) INTERNAL;
bool modes_canary_intact(const void *p, size_t from, size_t to) INTERNAL;
/* MODE_SECURE: makes the last OS page of a new segment inaccessible. Returns
 * true on error. */
bool modes_guard(segment_t *s) INTERNAL;

/* ---- misc ---------------------------------------------------------------- */
/* A cheap clock for the age of free memory: a tick is 2^20 CPU cycles (about
 * 0.4 ms at 2.6 GHz), read without a system call. */
static inline uint64_t purge_clock64(void) {
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc() >> 20;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 2500 + (uint64_t)ts.tv_nsec / 400000;
#endif
}
/* Its low 32 bits, for the ages of free memory, compared within 2^31 ticks
 * (10 days at 2.6 GHz): memory free that long is old either way. What must
 * not come round again (a warm heap's time) takes purge_clock64. */
static inline uint32_t purge_clock(void) { return (uint32_t)purge_clock64(); }
/* The stamps of free memory. A free reads the clock (heap_clock_read): its
 * memory is free from now. The rest of a free block cut for a request takes
 * the heap's last read (heap_clock_last), which is no older than the block's
 * own stamp and spares an rdtsc (about 10 ns here) per cut. Reading once per
 * 32 stamps of any kind saved 3% of gen-medium's time, but a free after a
 * pause took a read from before it: the blocks a test wrote for 30 ms, then
 * freed, looked old at once and were purged within the purge delay. */
static inline uint32_t heap_clock_read(heap_t *h) { return h->clock_now = purge_clock(); }
static inline uint32_t heap_clock_last(const heap_t *h) { return h->clock_now; }
/* True when something stamped at `stamp` is younger than the purge delay. A
 * stamp after `now` is young: a purge pass reads `now` before its system calls,
 * and the cache it flushes after them (tlsf_purge) is stamped by a later read;
 * an unsigned age wrapped, and those blocks went as the oldest of all. */
static inline bool purge_young(uint32_t now, uint32_t stamp) {
    return (int32_t)(now - stamp) < (int32_t)PURGE_DELAY_TICKS;
}

static inline size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
/* splitmix64's finalizer: every bit of z moves about half the bits of the result
 * (the modes' random numbers, the checked mode's seals). */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}
static inline bool is_pow2(size_t x) { return x && !(x & (x - 1)); }
static inline unsigned log2_floor(size_t x) { return 63u - (unsigned)__builtin_clzll(x); }

#endif /* ARENA_INTERNAL_H */
