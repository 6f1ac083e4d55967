/* arena.c: the explicit API: arenas, configuration, the policy switch and the
 * lock of ARENA_THREAD_SAFE arenas. */
#include "fastpath.h"

#include <errno.h>
#include <string.h>

/* Under memcheck, arena blocks are announced as malloc-like blocks, so it
 * reports reads and writes of freed blocks, overflows past a block, uses of
 * uninitialised bytes and leaks. The arena's own accesses to free blocks
 * (links, headers) are made with memcheck's error reporting off; realloc moves
 * blocks by hand so memcheck sees the copy. */
#ifdef ARENA_HAVE_VALGRIND
#include <valgrind/memcheck.h>

/* True under memcheck only: other tools (callgrind counting instructions) must
 * see the arena as it runs outside valgrind. Memcheck answers GET_VBITS with 1
 * for a valid address; the others leave the default, 0. */
static bool running_on_memcheck(void) {
    char probe = 0, vbits;
    return VALGRIND_GET_VBITS(&probe, &vbits, 1) == 1;
}
#else
static bool running_on_memcheck(void) { return false; }
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_ENABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_MALLOCLIKE_BLOCK(p, n, rz, zeroed) ((void)(n))
#define VALGRIND_FREELIKE_BLOCK(p, rz) ((void)0)
#define VALGRIND_RESIZEINPLACE_BLOCK(p, old, n, rz) ((void)0)
#endif

/* ---- create and destroy -------------------------------------------------- */

/* Fills in defaults; returns true when the config is invalid. */
static bool config_resolve(const arena_config *in, arena_config *out) {
    *out = in ? *in : (arena_config){0};
    if (out->policy != ARENA_POLICY_DEFAULT && out->policy != ARENA_POLICY_SEED) return true;
    if (out->flags & ~(ARENA_THREAD_SAFE | ARENA_CHECKED | ARENA_SECURE)) return true;
    if (out->policy == ARENA_POLICY_SEED && out->flags & (ARENA_CHECKED | ARENA_SECURE)) return true;
    if (out->block_size == 0) out->block_size = 16;
    if (!is_pow2(out->block_size) || out->block_size < MIN_BLOCK_SIZE || out->block_size > MAX_BLOCK_SIZE)
        return true;
    if (out->region_size == 0)
        out->region_size = out->policy == ARENA_POLICY_SEED ? SEED_DEFAULT_REGION : DEFAULT_REGION;
    if (out->huge_pages_from == 0) out->huge_pages_from = ARENA_HUGE_PAGES_FROM_DEFAULT;
    if (!is_pow2(out->region_size) || out->region_size < MIN_REGION || out->region_size > MAX_REGION)
        return true;
    return false;
}

arena_t *arena_create(const arena_config *cfg) {
    arena_config config;
    if (config_resolve(cfg, &config)) {
        errno = EINVAL;
        return NULL;
    }
    size_t self = align_up(sizeof(arena_t), OS_PAGE);
    arena_t *a = os_map(self, OS_PAGE);
    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    a->config = config;
    a->block_size = config.block_size;
    a->block_shift = log2_floor(config.block_size);
    a->region_size = config.region_size;
    a->populate_max = POPULATE_MEDIUM_MAX;
    a->self_size = self;
    atomic_init(&a->mapped_bytes, self);
    atomic_init(&a->peak_mapped_bytes, self);
    atomic_init(&a->charged_bytes, self);
    bool thread_safe = config.flags & ARENA_THREAD_SAFE;
    bool seed = config.policy == ARENA_POLICY_SEED;
    a->fast = !seed && !thread_safe && !(config.flags & (ARENA_CHECKED | ARENA_SECURE));
    /* Thread-safe: the seed policy behind one lock; the default policy with a
     * heap per thread, like the drop-in malloc. */
    a->thread_safe = thread_safe && seed;
    if (a->thread_safe ? mutex_init(&a->lock) : thread_safe && heaps_init(a)) {
        os_unmap(a, self);
        errno = ENOMEM;
        return NULL;
    }
    if (a->multi_heap || a->thread_safe) heaps_register(a);
    heap_init(&a->heap, a);
    /* Medium segments grow past region_size for blocks above a quarter of it
     * (tlsf.c), so blocks up to MEDIUM_MAX are reused in place, not mapped. */
    a->heap.medium_max = MEDIUM_MAX;
    a->valgrind = running_on_memcheck();
    if (a->valgrind) a->fast = false;
    a->thread_heaps = a->multi_heap && !a->valgrind;
    a->magic = ARENA_MAGIC;
    return a;
}

static void arena_release_all(arena_t *a) {
    if (a->config.policy == ARENA_POLICY_SEED) seed_release_all(a);
    if (a->multi_heap) heaps_release_all(a);
    else heap_release_all(&a->heap);
}

static void vg_freed(void *ctx, void *p, size_t requested) {
    (void)ctx, (void)p, (void)requested; /* p unused where valgrind's macros are empty (the fuzz build) */
    VALGRIND_FREELIKE_BLOCK(p, 0);
}

/* Every live block dies at once: memcheck is told of each (only under memcheck). */
static void vg_all_freed(arena_t *a) {
    if (!a->valgrind) return;
    VALGRIND_DISABLE_ERROR_REPORTING;
    if (a->config.policy == ARENA_POLICY_SEED) seed_foreach_live(a, vg_freed, NULL);
    else heaps_foreach_live(a, vg_freed, NULL);
    VALGRIND_ENABLE_ERROR_REPORTING;
}

void arena_destroy(arena_t *a) {
    if (!a) return;
    vg_all_freed(a);
    if (a->thread_safe) heaps_unregister(a);
    if (a->multi_heap) heaps_destroy(a);
    else arena_release_all(a);
    if (a->thread_safe) mutex_destroy(&a->lock);
    a->magic = 0;
    os_unmap(a, a->self_size);
}

/* ---- the calls: fast path inline, everything else through the policy ----- */

/* Around the work of every call that is not the fast path: the lock of a
 * thread-safe arena; memcheck's error reporting off under valgrind. */
static void arena_enter(arena_t *a) {
    if (a->thread_safe) mutex_lock(&a->lock);
    if (a->valgrind) VALGRIND_DISABLE_ERROR_REPORTING;
}
static void arena_leave(arena_t *a) {
    if (a->valgrind) VALGRIND_ENABLE_ERROR_REPORTING;
    if (a->thread_safe) mutex_unlock(&a->lock);
}

/* Blocks handed out and freed, told to memcheck. */
static void *vg_allocated(arena_t *a, void *p, size_t size, bool zeroed) {
    (void)zeroed; /* as in vg_freed */
    if (a->valgrind && p) VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, zeroed);
    return p;
}

static bool arena_is_seed(const arena_t *a) { return a->config.policy == ARENA_POLICY_SEED; }

/* The heap the calling thread uses in a default-policy arena; NULL (errno set)
 * when a thread-safe arena cannot get the thread one. Each call on a heap from
 * these ends with arena_heap_done. */
static heap_t *arena_heap(arena_t *a) {
    if (!a->multi_heap) return &a->heap;
    heap_t *h = heaps_for_thread(a);
    if (!h) errno = ENOMEM;
    return h;
}

/* After the call's work on h (or NULL): gives back a heap adopted for the call. */
static void arena_heap_done(arena_t *a, heap_t *h) {
    if (a->multi_heap && h) heaps_call_done(h);
}

/* The same for a call on block p: a thread-safe arena sets up the thread's
 * heap only when p is a live block, so that misuse (or NULL) changes nothing;
 * for a pointer that is not one, the arena's own heap reports it. */
static heap_t *arena_heap_for(arena_t *a, const void *p) {
    if (!a->multi_heap) return &a->heap;
    heap_t *h = heaps_thread_heap(a);
    size_t requested;
    if (!h && (!p || !heaps_live(a, p, &requested))) return &a->heap;
    return h ? h : arena_heap(a);
}

/* arena_heap_for, for a call that frees or sizes p: NULL, errno untouched,
 * when max_bytes leaves no room for the thread's heap (p is then live). */
static heap_t *arena_heap_to_release(arena_t *a, const void *p) {
    int saved = errno;
    heap_t *h = arena_heap_for(a, p);
    if (!h) errno = saved;
    return h;
}

/* The same for a call that only reads p's size: without a heap of its own, the
 * thread asks the arena's, which sizes another heap's block as any heap does. */
static heap_t *arena_heap_to_size(arena_t *a, const void *p) {
    heap_t *h = arena_heap_to_release(a, p);
    return h ? h : &a->heap;
}

/* A request no mapping could hold fails before anything is set up. */
static bool request_too_large(size_t size) {
    if (size <= REQUEST_MAX) return false;
    errno = ENOMEM;
    return true;
}

/* The calling thread's heap of a thread-safe arena when the inline paths apply
 * (not under memcheck) and the thread has one already; else NULL. */
static inline heap_t *arena_thread_heap_fast(const arena_t *a) {
    return a->thread_heaps ? heaps_thread_heap(a) : NULL;
}

/* Each public call below goes to a heap without a lock when it can (the
 * arena's own heap of an unlocked arena, the calling thread's heap of a
 * thread-safe one) and to its *_locked function otherwise. The locked paths
 * are functions of their own: inside the public calls they made every call
 * save up to six registers and set up a stack frame of 176-344 bytes, even
 * an unlocked arena's arena_realloc and arena_calloc, and every call of a
 * thread-safe arena's thread heap (about 20 instructions per op of a
 * threaded replay). */

/* arena_malloc_slow for a thread without a heap of its own in a, or an arena
 * with no thread heaps: under the arena's lock. */
static NOINLINE void *arena_malloc_locked(arena_t *a, size_t size) {
    if (request_too_large(size)) return NULL;
    void *p = NULL;
    arena_enter(a);
    if (arena_is_seed(a)) {
        p = seed_malloc(a, size, a->block_size);
    } else {
        heap_t *h = arena_heap(a);
        if (h) p = heap_malloc_fast(h, size);
        arena_heap_done(a, h);
    }
    arena_leave(a);
    return vg_allocated(a, p, size, false);
}

/* A thread-safe arena's calls (a->thread_heaps) come here from arena_malloc
 * (looked up there, the thread's heap cost every unlocked arena's call
 * registers too). */
static NOINLINE void *arena_malloc_slow(arena_t *a, size_t size) {
    heap_t *mine = heaps_thread_heap(a);
    if (likely(mine != NULL)) return heap_malloc_fast(mine, size);
    return arena_malloc_locked(a, size);
}

/* The arenas without thread heaps (seed, thread-safe seed, memcheck) go to
 * the locked path from here: through arena_malloc_slow's test of
 * thread_heaps, each call cost seed 2.2-2.7 more instructions per op. */
void *arena_malloc(arena_t *a, size_t size) {
    if (likely(a->fast)) return heap_malloc_fast(&a->heap, size);
    if (a->thread_heaps) return arena_malloc_slow(a, size);
    return arena_malloc_locked(a, size);
}

static NOINLINE void *arena_calloc_locked(arena_t *a, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    arena_enter(a);
    void *p = NULL;
    if (arena_is_seed(a)) {
        p = seed_malloc(a, total, a->block_size);
        if (p) memset(p, 0, total);
    } else {
        heap_t *h = arena_heap(a);
        if (h) p = heap_calloc(h, n, size);
        arena_heap_done(a, h);
    }
    arena_leave(a);
    return vg_allocated(a, p, total, true);
}

void *arena_calloc(arena_t *a, size_t n, size_t size) {
    if (likely(a->fast)) return heap_calloc_fast(&a->heap, n, size);
    heap_t *mine = arena_thread_heap_fast(a);
    if (likely(mine != NULL)) return heap_calloc_fast(mine, n, size);
    return arena_calloc_locked(a, n, size);
}

static NOINLINE void *arena_memalign_locked(arena_t *a, size_t alignment, size_t size) {
    arena_enter(a);
    void *p = NULL;
    if (arena_is_seed(a)) {
        p = seed_malloc(a, size, alignment);
    } else {
        heap_t *h = arena_heap(a);
        if (h) p = heap_memalign(h, alignment, size);
        arena_heap_done(a, h);
    }
    arena_leave(a);
    return vg_allocated(a, p, size, false);
}

void *arena_memalign(arena_t *a, size_t alignment, size_t size) {
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    if (alignment < a->block_size) alignment = a->block_size;
    if (request_too_large(size)) return NULL;
    heap_t *mine = arena_thread_heap_fast(a);
    if (likely(mine != NULL)) return heap_memalign(mine, alignment, size);
    return arena_memalign_locked(a, alignment, size);
}

/* Whether p is a live block of a, and its requested size (no report). */
static bool arena_live(arena_t *a, const void *p, size_t *requested) {
    return arena_is_seed(a) ? seed_live(a, p, requested) : heaps_live(a, p, requested);
}

/* arena_free_slow without a heap of the thread's own: under the arena's lock. */
static NOINLINE void arena_free_locked(arena_t *a, void *p) {
    if (!p) return;
    arena_enter(a);
    size_t requested;
    bool live = a->valgrind && arena_live(a, p, &requested); /* what memcheck is told */
    if (arena_is_seed(a)) {
        seed_free(a, p);
    } else {
        heap_t *h = arena_heap_to_release(a, p);
        if (h) heap_free_fast(h, p);
        else heaps_free_unattached(a, p); /* max_bytes leaves no room for the thread's heap */
        arena_heap_done(a, h);
    }
    arena_leave(a);
    if (live) VALGRIND_FREELIKE_BLOCK(p, 0);
}

/* As arena_malloc_slow. */
static NOINLINE void arena_free_slow(arena_t *a, void *p) {
    heap_t *mine = heaps_thread_heap(a);
    if (likely(mine != NULL)) heap_free_fast(mine, p);
    else arena_free_locked(a, p);
}

/* As arena_malloc. */
void arena_free(arena_t *a, void *p) {
    if (likely(a->fast)) heap_free_fast(&a->heap, p);
    else if (a->thread_heaps) arena_free_slow(a, p);
    else arena_free_locked(a, p);
}

/* usable_size of p, the arena's lock held; misuse reported, 0 then. */
static size_t arena_usable_size_held(arena_t *a, const void *p, bool fold_slack) {
    if (arena_is_seed(a)) return seed_usable_size(a, p);
    heap_t *h = arena_heap_to_size(a, p);
    size_t n = heap_usable_size(h, p, fold_slack);
    arena_heap_done(a, h);
    return n;
}

/* realloc under memcheck: a new block, a copy memcheck watches, a free. */
static void *vg_realloc(arena_t *a, void *p, size_t size) {
    if (!p) return arena_malloc_locked(a, size);
    arena_enter(a);
    size_t old;
    bool live = arena_live(a, p, &old);
    if (!live) arena_usable_size_held(a, p, false); /* misuse: its lookup reports it */
    arena_leave(a);
    if (!live) {
        errno = EINVAL;
        return NULL;
    }
    if (size == 0) {
        arena_free_locked(a, p);
        return NULL;
    }
    void *q = arena_malloc_locked(a, size);
    if (!q) return NULL;
    VALGRIND_DISABLE_ERROR_REPORTING; /* the old block's slack is copied too */
    memcpy(q, p, old < size ? old : size);
    VALGRIND_ENABLE_ERROR_REPORTING;
    arena_free_locked(a, p);
    return q;
}

/* The size is checked after p (heap_realloc_slow, seed_take, vg_realloc's
 * malloc): misuse with a size no mapping could hold is misuse, reported with
 * EINVAL, as on the paths without the lock. */
static NOINLINE void *arena_realloc_locked(arena_t *a, void *p, size_t size) {
    if (a->valgrind) return vg_realloc(a, p, size);
    arena_enter(a);
    void *q = NULL;
    if (arena_is_seed(a)) {
        q = seed_realloc(a, p, size);
    } else {
        heap_t *h = p ? arena_heap_for(a, p) : arena_heap(a); /* realloc(NULL) allocates */
        if (h) q = heap_realloc(h, p, size);
        arena_heap_done(a, h);
    }
    arena_leave(a);
    return q;
}

void *arena_realloc(arena_t *a, void *p, size_t size) {
    if (likely(a->fast)) return heap_realloc(&a->heap, p, size);
    heap_t *mine = arena_thread_heap_fast(a);
    if (likely(mine != NULL)) return heap_realloc(mine, p, size); /* as malloc and free: no lock */
    return arena_realloc_locked(a, p, size);
}

static NOINLINE size_t arena_usable_size_locked(arena_t *a, const void *p) {
    arena_enter(a);
    size_t requested = 0;
    if (a->valgrind && p) arena_live(a, p, &requested);
    size_t n = arena_usable_size_held(a, p, true);
    arena_leave(a);
    if (a->valgrind && n) VALGRIND_RESIZEINPLACE_BLOCK(p, requested, n, 0); /* the caller may use all of it */
    return n;
}

size_t arena_usable_size(arena_t *a, const void *p) {
    heap_t *mine = arena_thread_heap_fast(a);
    if (likely(mine != NULL)) return heap_usable_size(mine, p, true);
    return arena_usable_size_locked(a, p);
}

void arena_reset(arena_t *a) {
    vg_all_freed(a);
    arena_enter(a);
    arena_release_all(a);
    arena_leave(a);
}

/* ---- stats and check ----------------------------------------------------- */

int arena_stats_get(arena_t *a, arena_stats *out) {
    return arena_stats_of(a, a && a->multi_heap ? heaps_thread_heap(a) : NULL, out);
}

int arena_stats_of(arena_t *a, heap_t *mine, arena_stats *out) {
    if (!a || !out) {
        errno = EINVAL;
        return -1;
    }
    arena_enter(a);
    memset(out, 0, sizeof *out);
    if (arena_is_seed(a)) seed_stats(a, out);
    else heaps_stats(a, mine, out);
    out->mapped_bytes = atomic_load(&a->mapped_bytes);
    out->peak_mapped_bytes = atomic_load(&a->peak_mapped_bytes);
    arena_leave(a);
    return 0;
}

int arena_check(arena_t *a) {
    if (!a || a->magic != ARENA_MAGIC) {
        error_check_failed("not a live arena", (uintptr_t)a);
        return -1;
    }
    arena_enter(a);
    int r = arena_is_seed(a) ? seed_check(a) : heaps_check(a);
    arena_leave(a);
    return r;
}
