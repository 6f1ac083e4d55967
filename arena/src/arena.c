/* arena.c: the explicit API: arenas, configuration, the policy switch and the
 * lock of ARENA_THREAD_SAFE arenas. */
#include "fastpath.h"

#include <errno.h>
#include <string.h>

/* ---- create and destroy -------------------------------------------------- */

/* Fills in defaults; returns true when the config is invalid. */
static bool config_resolve(const arena_config *in, arena_config *out) {
    *out = in ? *in : (arena_config){0};
    if (out->policy != ARENA_POLICY_DEFAULT && out->policy != ARENA_POLICY_SEED) return true;
    if (out->flags & ~ARENA_THREAD_SAFE) return true;
    if (out->block_size == 0) out->block_size = 16;
    if (!is_pow2(out->block_size) || out->block_size < MIN_BLOCK_SIZE || out->block_size > MAX_BLOCK_SIZE)
        return true;
    if (out->region_size == 0)
        out->region_size = out->policy == ARENA_POLICY_SEED ? SEED_DEFAULT_REGION : DEFAULT_REGION;
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
    a->self_size = self;
    atomic_init(&a->mapped_bytes, self);
    atomic_init(&a->peak_mapped_bytes, self);
    a->thread_safe = config.flags & ARENA_THREAD_SAFE;
    a->fast = config.policy == ARENA_POLICY_DEFAULT && !a->thread_safe;
    if (a->thread_safe && pthread_mutex_init(&a->lock, NULL)) {
        os_unmap(a, self);
        errno = ENOMEM;
        return NULL;
    }
    heap_init(&a->heap, a);
    /* Medium segments grow past region_size for blocks above a quarter of it
     * (tlsf.c), so blocks up to MEDIUM_MAX are reused in place, not mapped. */
    a->heap.medium_max = MEDIUM_MAX;
    a->magic = ARENA_MAGIC;
    return a;
}

static void arena_release_all(arena_t *a) {
    if (a->config.policy == ARENA_POLICY_SEED) seed_release_all(a);
    heap_release_all(&a->heap);
}

void arena_destroy(arena_t *a) {
    if (!a) return;
    arena_release_all(a);
    if (a->thread_safe) pthread_mutex_destroy(&a->lock);
    a->magic = 0;
    os_unmap(a, a->self_size);
}

/* ---- the calls: fast path inline, everything else through the policy ----- */

static void arena_lock(arena_t *a) {
    if (a->thread_safe) pthread_mutex_lock(&a->lock);
}
static void arena_unlock(arena_t *a) {
    if (a->thread_safe) pthread_mutex_unlock(&a->lock);
}

static bool arena_is_seed(const arena_t *a) { return a->config.policy == ARENA_POLICY_SEED; }

static NOINLINE void *arena_malloc_slow(arena_t *a, size_t size) {
    arena_lock(a);
    void *p = arena_is_seed(a) ? seed_malloc(a, size, a->block_size) : heap_malloc_fast(&a->heap, size);
    arena_unlock(a);
    return p;
}

void *arena_malloc(arena_t *a, size_t size) {
    if (likely(a->fast)) return heap_malloc_fast(&a->heap, size);
    return arena_malloc_slow(a, size);
}

void *arena_calloc(arena_t *a, size_t n, size_t size) {
    if (!arena_is_seed(a)) {
        arena_lock(a);
        void *p = heap_calloc(&a->heap, n, size);
        arena_unlock(a);
        return p;
    }
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = arena_malloc_slow(a, total);
    if (p) memset(p, 0, total);
    return p;
}

void *arena_memalign(arena_t *a, size_t alignment, size_t size) {
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    if (alignment < a->block_size) alignment = a->block_size;
    arena_lock(a);
    void *p = arena_is_seed(a) ? seed_malloc(a, size, alignment) : heap_memalign(&a->heap, alignment, size);
    arena_unlock(a);
    return p;
}

static NOINLINE void arena_free_slow(arena_t *a, void *p) {
    arena_lock(a);
    if (arena_is_seed(a)) seed_free(a, p);
    else heap_free_fast(&a->heap, p);
    arena_unlock(a);
}

void arena_free(arena_t *a, void *p) {
    if (likely(a->fast)) heap_free_fast(&a->heap, p);
    else arena_free_slow(a, p);
}

void *arena_realloc(arena_t *a, void *p, size_t size) {
    arena_lock(a);
    void *q = arena_is_seed(a) ? seed_realloc(a, p, size) : heap_realloc(&a->heap, p, size);
    arena_unlock(a);
    return q;
}

size_t arena_usable_size(arena_t *a, const void *p) {
    arena_lock(a);
    size_t n = arena_is_seed(a) ? seed_usable_size(a, p) : heap_usable_size(&a->heap, p, true);
    arena_unlock(a);
    return n;
}

void arena_reset(arena_t *a) {
    arena_lock(a);
    arena_release_all(a);
    arena_unlock(a);
}

/* ---- stats and check ----------------------------------------------------- */

int arena_stats_get(arena_t *a, arena_stats *out) {
    if (!a || !out) {
        errno = EINVAL;
        return -1;
    }
    arena_lock(a);
    memset(out, 0, sizeof *out);
    if (arena_is_seed(a)) seed_stats(a, out);
    else heaps_stats(a, out);
    out->mapped_bytes = atomic_load(&a->mapped_bytes);
    out->peak_mapped_bytes = atomic_load(&a->peak_mapped_bytes);
    arena_unlock(a);
    return 0;
}

int arena_check(arena_t *a) {
    if (!a || a->magic != ARENA_MAGIC) {
        error_check_failed("not a live arena", (uintptr_t)a);
        return -1;
    }
    arena_lock(a);
    int r = arena_is_seed(a) ? seed_check(a) : heaps_check(a);
    arena_unlock(a);
    return r;
}
