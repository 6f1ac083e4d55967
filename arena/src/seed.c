/* seed.c: the seed policy, the design arena started from, kept so every table
 * shows how far the default policy has come.
 *
 * Regions are taken with mmap (64 KiB by default; with max_bytes = region_size
 * it is exactly the original single fixed heap). Every block has a header
 * {size, free, start, next}; blocks are on an allocated list or a freed list;
 * malloc reuses the first freed block that fits (first fit), else carves the
 * current region; no splitting, no coalescing; every size is rounded up to
 * block_size. Two fields were added to the original header: `prev`, so a block
 * leaves a list in O(1) (the original walked the list; that changes no
 * placement, only run time), and `requested`, for the live_bytes statistic.
 *
 * The seed itself trusted a header check on free; here each region also keeps
 * a bit per granule where a block starts (blocks are never split or merged, so
 * the bits only ever get set), so a stale or interior pointer that happens to
 * land on header-like bytes is still told from a block.
 *
 * Invariants (seed_check):
 * - every block on either list lies in a SEED region of this arena, with
 *   start == its payload, the payload aligned to block_size, size a multiple of
 *   block_size, requested <= size;
 * - blocks on the allocated list have free == 0, on the freed list free == 1,
 *   and the prev links mirror the next links;
 * - allocs - frees and live_bytes equal the count and requested sum of the
 *   allocated list;
 * - in each region, every start bit is a block whose header says it starts
 *   there, lying past the region's header and ending before the next block's
 *   header, and the two lists hold every such block: a header damaged into
 *   overlapping its neighbour, or a list cut short, leaves a block over.
 */
#include "fastpath.h"

#include <errno.h>
#include <string.h>

static seed_block *seed_header(const void *p) { return (seed_block *)p - 1; }

static void seed_list_push(seed_block **list, seed_block *b) {
    b->prev = NULL;
    b->next = *list;
    if (*list) (*list)->prev = b;
    *list = b;
}

static void seed_list_remove(seed_block **list, seed_block *b) {
    if (b->prev) b->prev->next = b->next;
    else *list = b->next;
    if (b->next) b->next->prev = b->prev;
}

/* Carves a block from region s; NULL when it does not fit. */
static void *seed_carve(arena_t *a, segment_t *s, size_t rounded, size_t align, size_t size) {
    if (!s) return NULL;
    uintptr_t payload = align_up(s->seed_bump + sizeof(seed_block), align);
    if (payload > s->seed_end || s->seed_end - payload < rounded) return NULL;
    s->seed_bump = payload + rounded;
    size_t g = (payload - (uintptr_t)s) >> a->block_shift;
    s->live_map[g >> 6] |= (uint64_t)1 << (g & 63);
    seed_block *b = seed_header((void *)payload);
    b->size = rounded;
    b->free = 0;
    b->start = (void *)payload;
    b->requested = size;
    seed_list_push(&a->seed_allocated, b);
    return (void *)payload;
}

/* Maps a region for a block of `rounded` bytes: region_size, or larger for a
 * block that would not fit one. */
static segment_t *seed_region_new(arena_t *a, size_t rounded, size_t align) {
    size_t size = a->region_size;
    for (;;) {
        size_t need = segment_header_size(a, SEG_SEED, size) + sizeof(seed_block) + align + rounded;
        if (need < rounded || size > SIZE_MAX / 2) return NULL;
        if (need <= size) break;
        size = align_up(need, SEGMENT_ALIGN); /* a region of its own, its map grown with it */
    }
    size_t header = segment_header_size(a, SEG_SEED, size);
    segment_t *s = segment_new(&a->heap, SEG_SEED, size, SEGMENT_ALIGN, 0);
    if (!s) return NULL;
    s->seed_bump = (uintptr_t)s + header;
    s->seed_end = (uintptr_t)s + size;
    if (size == a->region_size) a->seed_current = s;
    return s;
}

/* A block for `size` bytes: the first freed one that fits, else carved. No
 * stats. NULL with ENOMEM. */
static void *seed_take(arena_t *a, size_t size, size_t align) {
    if (size > REQUEST_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = size ? align_up(size, a->block_size) : a->block_size;
    void *p = NULL;
    for (seed_block *b = a->seed_freed; b; b = b->next) {
        if (b->size >= rounded && (uintptr_t)b->start % align == 0) {
            seed_list_remove(&a->seed_freed, b);
            seed_list_push(&a->seed_allocated, b);
            b->free = 0;
            b->requested = size;
            p = b->start;
            break;
        }
    }
    if (!p) p = seed_carve(a, a->seed_current, rounded, align, size);
    if (!p) p = seed_carve(a, seed_region_new(a, rounded, align), rounded, align, size);
    if (!p) errno = ENOMEM;
    return p;
}

void *seed_malloc(arena_t *a, size_t size, size_t align) {
    void *p = seed_take(a, size, align);
    if (p) heap_count_alloc(&a->heap, size);
    return p;
}

/* True when a block of region s starts at p. */
static bool seed_block_starts(const arena_t *a, const segment_t *s, const void *p) {
    uintptr_t x = (uintptr_t)p;
    if (x < (uintptr_t)s + sizeof(seed_block) || x >= s->seed_bump || x % a->block_size) return false;
    size_t g = (x - (uintptr_t)s) >> a->block_shift;
    return (s->live_map[g >> 6] >> (g & 63)) & 1;
}

/* Reports misuse of p. The handler may call this arena's functions, so a
 * thread-safe arena's lock is let go around it; every caller returns at once
 * after the report, touching nothing the lock guards. */
static NOINLINE void seed_report(arena_t *a, const void *p, arena_error e, const arena_t *owner) {
    if (a->thread_safe) mutex_unlock(&a->lock);
    error_report(a, p, e, owner);
    if (a->thread_safe) mutex_lock(&a->lock);
}

/* The header of live block p, or NULL after reporting the misuse. */
static seed_block *seed_lookup(arena_t *a, const void *p) {
    segment_t *s = segmap_lookup(p);
    arena_error e = 0;
    if (!s) e = arena_recently_released(a, p) ? ARENA_ERR_DOUBLE_FREE : ARENA_ERR_INVALID_POINTER;
    else if (s->arena != a) e = ARENA_ERR_WRONG_ARENA;
    else if (s->kind != SEG_SEED || !seed_block_starts(a, s, p) || seed_header(p)->start != p)
        e = ARENA_ERR_INVALID_POINTER;
    else if (seed_header(p)->free)
        e = ARENA_ERR_DOUBLE_FREE;
    if (e) {
        seed_report(a, p, e, s ? s->arena : NULL);
        return NULL;
    }
    return seed_header(p);
}

/* Moves b to the freed list. No stats. */
static void seed_release(arena_t *a, seed_block *b) {
    seed_list_remove(&a->seed_allocated, b);
    seed_list_push(&a->seed_freed, b);
    b->free = 1;
}

/* Frees live block b, counted. */
static void seed_free_block(arena_t *a, seed_block *b) {
    heap_count_free(&a->heap, b->requested);
    seed_release(a, b);
}

void seed_free(arena_t *a, void *p) {
    if (!p) return;
    seed_block *b = seed_lookup(a, p);
    if (b) seed_free_block(a, b);
}

void *seed_realloc(arena_t *a, void *p, size_t size) {
    if (!p) return seed_malloc(a, size, a->block_size);
    seed_block *b = seed_lookup(a, p);
    if (!b) {
        errno = EINVAL; /* size 0 too: misuse, reported */
        return NULL;
    }
    if (size == 0) {
        seed_free_block(a, b);
        return NULL;
    }
    size_t old = b->requested;
    heap_stats *st = &a->heap.stats;
    void *q = p;
    if (size > b->size) {
        q = seed_take(a, size, a->block_size);
        if (!q) return NULL;
        memcpy(q, p, old);
        seed_release(a, b);
    } else {
        b->requested = size;
    }
    st->live_bytes += size - old;
    if (st->live_bytes > st->peak_live_bytes) st->peak_live_bytes = st->live_bytes;
    st->reallocs++;
    return q;
}

size_t seed_usable_size(arena_t *a, const void *p) {
    if (!p) return 0;
    seed_block *b = seed_lookup(a, p);
    if (!b) return 0;
    a->heap.stats.live_bytes += b->size - b->requested;
    if (a->heap.stats.live_bytes > a->heap.stats.peak_live_bytes) a->heap.stats.peak_live_bytes = a->heap.stats.live_bytes;
    b->requested = b->size;
    return b->size;
}

void seed_foreach_live(arena_t *a, block_fn fn, void *ctx) {
    for (seed_block *b = a->seed_allocated; b; b = b->next) fn(ctx, b->start, b->requested);
}

bool seed_live(arena_t *a, const void *p, size_t *requested) {
    segment_t *s = segmap_lookup(p);
    if (!s || s->arena != a || s->kind != SEG_SEED || !seed_block_starts(a, s, p)) return false;
    const seed_block *b = seed_header(p);
    if (b->start != p || b->free) return false;
    *requested = b->requested;
    return true;
}

void seed_release_all(arena_t *a) {
    a->seed_allocated = a->seed_freed = NULL;
    a->seed_current = NULL;
}

void seed_stats(arena_t *a, arena_stats *out) {
    const heap_stats *st = &a->heap.stats;
    out->live_bytes = st->live_bytes;
    out->live_blocks = (size_t)(st->allocs - st->frees);
    out->peak_live_bytes = st->peak_live_bytes;
    out->allocs = st->allocs;
    out->frees = st->frees;
    out->reallocs = st->reallocs;
    out->regions = a->heap.segment_count;
    for (const seed_block *b = a->seed_allocated; b; b = b->next) out->usable_bytes += b->size;
    for (const seed_block *b = a->seed_freed; b; b = b->next) {
        out->free_bytes += b->size;
        if (b->size > out->largest_free_block) out->largest_free_block = b->size;
    }
    /* Only the current region is ever carved again: the ends of the others
     * (and of regions a large block had to itself) are lost, not free. A block
     * carved there needs its header in front. */
    const segment_t *s = a->seed_current;
    if (s) {
        out->free_bytes += s->seed_end - s->seed_bump;
        uintptr_t payload = align_up(s->seed_bump + sizeof(seed_block), a->block_size);
        size_t carvable = payload < s->seed_end ? (s->seed_end - payload) & ~(a->block_size - 1) : 0;
        if (carvable > out->largest_free_block) out->largest_free_block = carvable;
    }
}

/* Invariants of one list; adds its blocks' count and requested bytes. */
static int seed_check_list(const arena_t *a, const seed_block *list, int free, size_t *blocks, size_t *bytes) {
    const seed_block *prev = NULL;
    for (const seed_block *b = list; b; prev = b, b = b->next) {
        const segment_t *s = segmap_lookup(b);
        CHECK_INVARIANT(s && s->arena == a && s->kind == SEG_SEED, "seed block outside the arena's regions", b);
        CHECK_INVARIANT((uintptr_t)b->start >= (uintptr_t)s + sizeof(segment_t) && (uintptr_t)b->start + b->size <= s->seed_bump,
              "seed block outside the carved part of its region", b);
        CHECK_INVARIANT(b->start == (const void *)(b + 1), "seed block's start does not point at its payload", b);
        CHECK_INVARIANT(seed_block_starts(a, s, b->start), "seed block's start is not marked in its region", b);
        CHECK_INVARIANT((uintptr_t)b->start % a->block_size == 0 && b->size % a->block_size == 0 && b->size > 0,
              "seed block not aligned to block_size", b);
        CHECK_INVARIANT(b->free == free, free ? "block on the freed list is not free" : "block on the allocated list is free", b);
        CHECK_INVARIANT(b->prev == prev, "seed list back link is wrong", b);
        CHECK_INVARIANT(b->requested <= b->size, "seed block's requested size exceeds its size", b);
        CHECK_INVARIANT(++*blocks <= (size_t)1 << 48, "seed list does not end (cycle)", b);
        *bytes += b->requested;
    }
    return 0;
}

/* The blocks of region s in address order, found by their start bits: each
 * header must say its block starts there, and each block must end before the
 * next one's header. Adds the count of blocks. */
static int seed_check_region(const arena_t *a, const segment_t *s, size_t *blocks) {
    uintptr_t first = (uintptr_t)s + segment_header_size(a, SEG_SEED, s->size) + sizeof(seed_block);
    size_t words = align_up(s->size >> a->block_shift, 64) / 64;
    uintptr_t free_from = first - sizeof(seed_block); /* where the next header may begin */
    for (size_t w = 0; w < words; w++) {
        for (uint64_t bits = s->live_map[w]; bits; bits &= bits - 1) {
            uintptr_t payload = (uintptr_t)s + ((w * 64 + (size_t)__builtin_ctzll(bits)) << a->block_shift);
            CHECK_INVARIANT(payload >= first && payload < s->seed_bump, "seed start bit outside the carved part of its region", payload);
            const seed_block *b = seed_header((const void *)payload);
            CHECK_INVARIANT(b->start == (const void *)payload, "seed start bit without a block header", payload);
            CHECK_INVARIANT((uintptr_t)b >= free_from, "seed blocks overlap", b);
            CHECK_INVARIANT(b->size <= s->seed_bump - payload, "seed block outside the carved part of its region", b);
            free_from = payload + b->size;
            ++*blocks;
        }
    }
    return 0;
}

int seed_check(arena_t *a) {
    size_t live = 0, live_bytes = 0, freed = 0, freed_bytes = 0, mapped = 0, marked = 0;
    if (seed_check_list(a, a->seed_allocated, 0, &live, &live_bytes)) return -1;
    if (seed_check_list(a, a->seed_freed, 1, &freed, &freed_bytes)) return -1;
    const heap_stats *st = &a->heap.stats;
    CHECK_INVARIANT(st->allocs - st->frees == live, "live block count disagrees with the allocated list", live);
    CHECK_INVARIANT(st->live_bytes == live_bytes, "live bytes disagree with the allocated list", live_bytes);
    for (const segment_t *s = a->heap.segments[SEG_SEED]; s; s = s->next) {
        CHECK_INVARIANT(s->magic == (SEGMENT_MAGIC ^ SEG_SEED) && segmap_lookup(s) == s, "seed region header damaged", s);
        CHECK_INVARIANT(s->seed_bump <= s->seed_end && s->seed_end == (uintptr_t)s + s->size, "seed region bump pointer out of range", s);
        if (seed_check_region(a, s, &marked)) return -1;
        mapped += s->size;
    }
    /* The lists hold only marked blocks (seed_check_list), each once (the
     * back links): as many as there are marks means they hold all. */
    CHECK_INVARIANT(marked == live + freed, "seed region holds a block on neither list", marked);
    CHECK_INVARIANT(atomic_load(&a->mapped_bytes) == mapped + a->self_size, "mapped bytes disagree with the regions", mapped);
    CHECK_INVARIANT(atomic_load(&a->charged_bytes) == mapped + a->self_size, "charged bytes disagree with the regions", mapped);
    return 0;
}
