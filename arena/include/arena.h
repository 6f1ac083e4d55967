/* arena.h: the whole public API of the arena allocator.
 *
 * An arena is a heap of its own: blocks come from regions mapped from the OS,
 * and everything in it can be freed at once with arena_reset or arena_destroy.
 * The same mechanisms serve as the process malloc through libarena_malloc
 * (see README.md); this header is all a program needs for the explicit API.
 *
 * Conventions, for every function below:
 * - a call that returns a pointer returns NULL on failure and sets errno
 *   (ENOMEM when memory or the max_bytes cap runs out, EINVAL for a bad
 *   argument);
 * - the arena argument `a` is one arena_create returned and not yet destroyed;
 *   it is not checked on the fast paths (NULL crashes there), but for
 *   arena_destroy (NULL does nothing), arena_stats_get (EINVAL) and
 *   arena_check (-1);
 * - a pointer argument `p` is NULL or a live block of the same arena;
 *   anything else (double free, a pointer arena never returned, a block of
 *   another arena) is misuse: it goes to the error handler and the call does
 *   nothing else;
 * - an arena created without ARENA_THREAD_SAFE must be used by one thread at
 *   a time;
 * - fork() may be called while other threads use an ARENA_THREAD_SAFE arena:
 *   the child can use it (and the blocks other threads held stay live).
 */
#ifndef ARENA_H
#define ARENA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported even when the library is built with hidden visibility. */
#define ARENA_API __attribute__((visibility("default")))

#define ARENA_VERSION_MAJOR 0
#define ARENA_VERSION_MINOR 2

typedef struct arena arena_t;

typedef enum arena_policy {
    ARENA_POLICY_DEFAULT = 0, /* size classes, TLSF medium blocks, huge mappings */
    ARENA_POLICY_SEED = 1     /* the original: header per block, two lists, first fit */
} arena_policy;

/* arena_config.flags */
#define ARENA_THREAD_SAFE 1u  /* the arena may be used from several threads: default policy,
                                 a heap per thread (small and medium blocks without a lock;
                                 a free of another thread's block goes back to its heap
                                 later); seed, one lock */
#define ARENA_CHECKED 2u      /* debugging: canaries after every block (overflows reported at
                                 free), freed small blocks (requests up to the largest size
                                 class less 10 bytes, the canary and its record: 1014 with
                                 block sizes up to 1 KiB, 4086 with 4 KiB; none with 16 KiB
                                 and up, where every block is medium) filled and verified
                                 when reused (writes after free reported), metadata verified on slow paths;
                                 a write into the header before a medium block (1 KiB to 16 MiB)
                                 is reported as heap corruption at its free, realloc or
                                 usable_size (or its neighbour's free) and the header rebuilt,
                                 so the call goes on; one that damages a small block's size
                                 record (before the next block) is reported there too, and
                                 that block stays live (arena_check fails on it from then on);
                                 a write over a freed small block's first 8 bytes (its
                                 free-list link) is reported as a write after free when the
                                 list reaches it, and the page's list made anew; damaged
                                 links or footer of a freed medium block are heap corruption,
                                 and fatal: abort() follows the handler (in ARENA_SECURE too) */
#define ARENA_SECURE 4u       /* hardening: free-list pointers encoded with a per-heap secret,
                                 a guard page at the end of every region, allocation order
                                 inside a page randomised */

typedef struct arena_config {     /* all-zero = every default */
    size_t block_size;   /* granularity and alignment of every block, power of two >= 8
                            and <= 65536; 0 = 16 */
    size_t region_size;  /* bytes asked from the OS at a time, power of two from 64 KiB
                            to 1 GiB; 0 = the policy's default (default: 4 MiB,
                            seed: 64 KiB) */
    size_t max_bytes;    /* cap on bytes mapped from the OS for regions, their
                            metadata and thread heaps (the arena's own few KiB
                            aside); 0 = no cap; past it allocation fails with ENOMEM
                            (a cap below region_size leaves no room for a region: every
                            allocation fails; small and medium blocks each take regions
                            of their own, so a cap of one region_size serves whichever
                            kind comes first, and in an ARENA_THREAD_SAFE arena, where
                            each thread's heap takes 12 KiB of the cap too (default
                            policy), nothing; both kinds need two regions, and when
                            thread-safe 12 KiB more a thread; the free memory of one thread's heap serves that heap
                            alone until it goes back to the OS) */
    arena_policy policy;
    unsigned flags;      /* ARENA_THREAD_SAFE | ARENA_CHECKED | ARENA_SECURE (default policy
                            only for the last two) */
    size_t huge_pages_from; /* default policy: a region of 2 MiB or more that brings what a
                            heap maps (the arena's heap, or a thread's in a thread-safe
                            arena) to this many bytes or more asks the kernel for
                            transparent huge pages (madvise; nothing where it has none):
                            a fault brings in 2 MiB instead of 4 KiB, and resident
                            memory grows by 2 MiB at a time; a region loses them at its
                            first purge. 0 = the default (ARENA_HUGE_PAGES_FROM_DEFAULT),
                            ARENA_HUGE_PAGES_NEVER = never */
} arena_config;

#define ARENA_HUGE_PAGES_FROM_DEFAULT ((size_t)64 << 20)
#define ARENA_HUGE_PAGES_NEVER ((size_t)-1)

typedef struct arena_stats {
    size_t live_bytes;          /* sum of requested sizes of live blocks */
    size_t live_blocks;
    size_t peak_live_bytes;
    size_t usable_bytes;        /* sum of usable sizes of live blocks */
    size_t mapped_bytes;        /* bytes currently mapped from the OS, metadata included */
    size_t peak_mapped_bytes;   /* the most mapped_bytes has been (never a mapping the OS refused) */
    size_t free_bytes;          /* bytes held in free blocks and free pages */
    size_t largest_free_block;  /* the largest block free memory holds, payload bytes (in
                                   ARENA_CHECKED a request that large does not fit in it:
                                   the block's canary and header seal take some) */
    size_t regions;
    uint64_t allocs, frees, reallocs;
    size_t purged_bytes;        /* bytes of free memory handed back to the OS (madvise):
                                   free pages, and the OS pages of partly used pages
                                   where no block is live; still mapped, not resident */
} arena_stats;

/* Creates an arena. NULL cfg = every default. Returns NULL with errno=EINVAL on a
 * bad config (block_size or region_size out of range or not a power of two, an
 * unknown policy or flag), ENOMEM when the OS refuses memory. */
ARENA_API arena_t *arena_create(const arena_config *cfg);

/* Hands every mapping back to the OS; every block of the arena dies. NULL does nothing. */
ARENA_API void arena_destroy(arena_t *a);

/* A block of at least `size` bytes aligned to block_size; malloc(0) returns a unique
 * block that can be freed. NULL + ENOMEM on failure. */
ARENA_API void *arena_malloc(arena_t *a, size_t size);

/* n * size bytes, all zero. NULL + ENOMEM when n * size overflows or memory runs out. */
ARENA_API void *arena_calloc(arena_t *a, size_t n, size_t size);

/* Resizes p to size bytes, keeping its contents up to the smaller size.
 * p == NULL: as arena_malloc. size == 0: frees p, returns NULL.
 * On failure returns NULL with ENOMEM and p is untouched and still live; on
 * misuse (p not a live block of a), NULL with EINVAL once the handler returns. */
ARENA_API void *arena_realloc(arena_t *a, void *p, size_t size);

/* A block of `size` bytes aligned to `alignment` (a power of two; block_size when
 * smaller). NULL + EINVAL when alignment is not a power of two, + ENOMEM on failure. */
ARENA_API void *arena_memalign(arena_t *a, size_t alignment, size_t size);

/* Frees p. NULL does nothing; misuse goes to the error handler. */
ARENA_API void arena_free(arena_t *a, void *p);

/* Bytes that may be used at p (>= the size asked for); 0 for NULL or misuse.
 * From this call on the block counts its whole usable size in live_bytes.
 * Exactly the size asked for under ARENA_CHECKED (the canary follows it).
 * In a default-policy thread-safe arena, for a block another thread's heap
 * holds: the size asked for (a seed arena gives the whole block). */
ARENA_API size_t arena_usable_size(arena_t *a, const void *p);

/* Frees every block at once in O(regions); keeps the arena usable. Memory beyond
 * what a fresh arena holds goes back to the OS. */
ARENA_API void arena_reset(arena_t *a);

/* Fills *out with the arena's statistics. Returns 0, or -1 with EINVAL for NULL.
 * In a thread-safe arena other threads may go on allocating meanwhile: their
 * heaps add only their counters, which may lag by the blocks on their way
 * between threads (never below zero, frees never above allocs), and
 * peak_live_bytes is the sum of each heap's peak since the last arena_reset, or
 * the figure reported before it when that is higher: an upper bound of the
 * arena's (one thread's arena: its peak); usable, free
 * and purged bytes and the largest free block cover the calling thread's heap,
 * ended threads' heaps and huge blocks. Those figures come from a walk over
 * what they cover (pages, medium blocks; a seed arena's blocks), so the call
 * takes time in proportion to it; the counters (live, peak, allocs...) are kept. */
ARENA_API int arena_stats_get(arena_t *a, arena_stats *out);

/* Walks every region, page and block and verifies every invariant.
 * Returns 0 when all hold; otherwise -1, after writing the first broken one to
 * stderr (with write(2), no allocation). In an ARENA_THREAD_SAFE arena of the
 * default policy, call it while no other thread uses the arena: it walks every
 * thread's heap, which their threads change without a lock, and takes in what
 * they freed into each other's. A thread that made its last call uses the arena
 * until it has ended (its heap is settled and handed back as it exits): join it
 * first. */
ARENA_API int arena_check(arena_t *a);

/* The kinds of misuse the error handler is told about. */
typedef enum arena_error {
    ARENA_ERR_DOUBLE_FREE = 1,   /* p was a block of this arena and is already free */
    ARENA_ERR_INVALID_POINTER,   /* p was never returned by arena (interior, stack, foreign) */
    ARENA_ERR_WRONG_ARENA,       /* p lies in memory another arena holds, a block starting there or not */
    ARENA_ERR_CORRUPTION,        /* heap metadata found damaged */
    ARENA_ERR_OVERFLOW,          /* ARENA_CHECKED: bytes past the end of block p were written */
    ARENA_ERR_WRITE_AFTER_FREE   /* ARENA_CHECKED: freed block p was written before its reuse */
} arena_error;

/* Called on misuse with the arena, the pointer, the kind and a one-line message
 * (no trailing newline). When the handler returns, the bad call is ignored (but
 * for an overflow or a write after free, below, and a freed medium block's
 * damaged links in the modes: see ARENA_CHECKED).
 * An overflow or a write after free is found by a valid call on a live block
 * (its free, realloc, or the malloc that reuses it), which goes on when the
 * handler returns: the block is freed, moved or handed out all the same.
 * It runs with none of the arena's locks held: it may call arena_stats_get and
 * arena_check on that arena (a second free found while a thread takes in the
 * blocks others freed into its heap is reported in the middle of that, where
 * arena_check may find the counts not yet settled). */
typedef void (*arena_error_fn)(void *ctx, arena_t *a, const void *p, arena_error kind,
                               const char *message);

/* Installs the process-wide error handler; NULL restores the default, which writes
 * "arena: double free of 0x... in arena 0x..." (or the matching message) to stderr
 * and calls abort(). Returns the previous handler: NULL while the default was
 * installed. */
ARENA_API arena_error_fn arena_set_error_handler(arena_error_fn fn, void *ctx);

/* The name of a misuse kind ("double free", ...). */
ARENA_API const char *arena_error_name(arena_error kind);

/* ---- the drop-in malloc ---------------------------------------------------
 * A program running on libarena_malloc (linked, or with LD_PRELOAD) has one
 * process arena with a heap per thread behind malloc and free. These two are
 * defined only in libarena_malloc (under LD_PRELOAD, look them up with dlsym).
 * Environment, read once at the first call: ARENA_BLOCK_SIZE and
 * ARENA_REGION_SIZE (as arena_config; k, m, g suffixes; 16 is the smallest
 * block size malloc allows), ARENA_CHECKED=1 and ARENA_SECURE=1 (the modes of
 * arena_config.flags), ARENA_HUGE_PAGES_FROM (as arena_config.huge_pages_from:
 * a size, or never), ARENA_STATS=1 (statistics to stderr at exit),
 * ARENA_VERBOSE=1 (the configuration to stderr at start), ARENA_PURGE_BATCH=0
 * (memory handed back by one madvise a range, not batched). */

/* Statistics of the process arena, summed over the thread heaps (peak_live_bytes
 * is the sum of the heaps' peaks: an upper bound; the rest as arena_stats_get
 * says for a thread-safe arena). 0, or -1 with EINVAL. */
ARENA_API int arena_malloc_stats(arena_stats *out);

/* arena_check over every heap of the process arena. Call it while no other
 * thread allocates or frees. */
ARENA_API int arena_malloc_check(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENA_H */
