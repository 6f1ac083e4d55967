/* modes.c: the checked and hardened (secure) modes.
 *
 * A heap in a mode never takes the fast paths: its direct pages stay empty and
 * its segments have no small owner, so every call reaches the slow paths,
 * which ask here how to read and write free lists and what to verify.
 *
 * MODE_CHECKED (debugging): every block is asked CANARY_BYTES larger (two
 *   bytes more, alloc.c: a small block's slack record and its check byte
 *   never lie in the first CANARY_BYTES past its end) and the bytes past its
 *   requested size up to them hold CANARY_FILL, verified when it is freed
 *   or moved (ARENA_ERR_OVERFLOW); freed and fresh small blocks are filled with
 *   FREE_FILL past their link, verified when they are handed out again
 *   (ARENA_ERR_WRITE_AFTER_FREE); links are checked to stay inside their page;
 *   a medium block's header is sealed past its canary (tlsf.c, seals), and
 *   a damaged one reported (ARENA_ERR_CORRUPTION) and rebuilt.
 * MODE_SECURE (hardening): free-list links are stored xor-ed with a per-heap
 *   secret and their own address, so an overwritten link points nowhere
 *   useful and is caught; the blocks of a page are handed out in a shuffled
 *   order; the last OS page of every segment is PROT_NONE, so a linear overflow
 *   off a region's end faults instead of reaching the next one.
 */
#define _GNU_SOURCE
#include "fastpath.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

static uint64_t splitmix(uint64_t *state) { return mix64(*state += 0x9e3779b97f4a7c15ull); }

void modes_heap_init(heap_t *h, unsigned mode) {
    h->mode = mode;
    if (!mode) return; /* MODE_CHECKED encodes links too: a zero written over one is caught */
    uint64_t seed[2] = {0, 0};
    if (getrandom(seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        /* No entropy yet (very early boot): the clock and addresses still differ per run. */
        seed[0] = purge_clock() ^ (uintptr_t)h ^ ((uintptr_t)&seed << 17);
        seed[1] = seed[0] * 0x9e3779b97f4a7c15ull;
    }
    h->secret = (uintptr_t)splitmix(&seed[0]) | 1;
    h->rng = seed[1];
}

/* ---- free lists ------------------------------------------------------------ */

static uintptr_t link_key(const heap_t *h, const void *slot) {
    return h->mode ? h->secret ^ ((uintptr_t)slot >> 4) : 0;
}

void modes_list_set(const heap_t *h, void *b, void *next) {
    *(uintptr_t *)b = (uintptr_t)next ^ link_key(h, b);
}

void *modes_list_peek(const heap_t *h, const void *b) {
    return (void *)(*(const uintptr_t *)b ^ link_key(h, b));
}

/* pg's free list made anew from its live map: every carved block without its
 * live bit, in address order (a block in transit to pg's heap keeps its bit
 * until it is taken in, so it stays out). The damaged link is written over. */
static void modes_list_rebuild(heap_t *h, page_t *pg) {
    size_t bs = pg->block_size;
    void *next = NULL;
    for (uint32_t i = pg->capacity; i-- > 0;) {
        uint8_t *b = (uint8_t *)(pg->start + (size_t)i * bs);
        if (page_live_bits(pg, b, h->classes.live_bit_shift) & LIVE_BIT) continue;
        modes_list_set(h, b, next);
        next = b;
    }
    pg->free = next;
}

void *modes_list_next(heap_t *h, page_t *pg, void *b) {
    uintptr_t next = (uintptr_t)modes_list_peek(h, b);
    if (!next) return NULL;
    size_t bs = pg->block_size;
    if (next < pg->start || (next - pg->start) % bs || (next - pg->start) / bs >= pg->capacity) {
        /* The link was overwritten: a write after free of block b (its first
         * bytes hold the link), or an attack. Reported, and the list is made
         * anew from the live map rather than followed into memory that is not
         * ours, or cut (its blocks lost, and arena_check failing from then on). */
        error_report(h->arena, b, h->mode & MODE_CHECKED ? ARENA_ERR_WRITE_AFTER_FREE : ARENA_ERR_CORRUPTION,
                     NULL);
        modes_list_rebuild(h, pg);
        return MODES_LIST_REBUILT;
    }
    return (void *)next;
}

void modes_carve(heap_t *h, page_t *pg, uintptr_t begin, size_t count) {
    size_t bs = pg->block_size;
    /* The order blocks are linked in: shuffled in MODE_SECURE (Fisher-Yates
     * over a few KiB of indices on the stack: count <= OS_PAGE / 8). */
    uint16_t order[OS_PAGE / MIN_BLOCK_SIZE + 1];
    for (size_t i = 0; i < count; i++) order[i] = (uint16_t)i;
    if (h->mode & MODE_SECURE) {
        for (size_t i = count; i > 1; i--) {
            size_t j = splitmix(&h->rng) % i;
            uint16_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
    }
    void *next = NULL;
    for (size_t i = count; i-- > 0;) {
        uint8_t *b = (uint8_t *)(begin + order[i] * bs);
        if (h->mode & MODE_CHECKED && bs > sizeof(void *)) memset(b + sizeof(void *), FREE_FILL, bs - sizeof(void *));
        modes_list_set(h, b, next);
        next = b;
    }
    pg->free = next;
}

/* ---- taking and giving back blocks --------------------------------------- */

/* MODE_CHECKED: reports a write after free when free block b (bs bytes) has
 * lost the fill past its link. */
static void modes_fill_verify(heap_t *h, const uint8_t *b, size_t bs) {
    for (size_t i = sizeof(void *); i < bs; i++) {
        if (b[i] != FREE_FILL) {
            error_report(h->arena, b, ARENA_ERR_WRITE_AFTER_FREE, NULL);
            return;
        }
    }
}

void *modes_block_take(heap_t *h, page_t *pg, size_t size) {
    uint8_t *b = pg->free;
    void *next = modes_list_next(h, pg, b);
    if (unlikely(next == MODES_LIST_REBUILT)) { /* its links are sound now */
        b = pg->free;
        next = modes_list_next(h, pg, b);
    }
    pg->free = next;
    if (h->mode & MODE_CHECKED) modes_fill_verify(h, b, pg->block_size);
    block_mark_live(h, pg, b, size);
    return b;
}

/* MODE_CHECKED: the fills of empty page pg's free blocks are verified before
 * the page leaves its class (to the free pages, or to another class): it is
 * carved and filled anew there, which would erase a write after free. */
void modes_page_verify(heap_t *h, page_t *pg) {
    if (!(h->mode & MODE_CHECKED) || pg->block_size <= sizeof(void *)) return;
    for (uint8_t *b = pg->free; b;) {
        modes_fill_verify(h, b, pg->block_size);
        b = modes_list_next(h, pg, b);
        if (b == MODES_LIST_REBUILT) b = pg->free; /* from the start of the list made anew */
    }
}

void modes_block_release(heap_t *h, page_t *pg, void *p, live_ref r, uint64_t word) {
    map_store(r.word, word & ~((LIVE_BIT | SLACK_BIT) << (r.shift & 63)));
    size_t bs = pg->block_size;
    if (h->mode & MODE_CHECKED && bs > sizeof(void *))
        memset((uint8_t *)p + sizeof(void *), FREE_FILL, bs - sizeof(void *));
    modes_list_set(h, p, pg->free);
    pg->free = p;
    pg->used--;
}

/* ---- canaries ---------------------------------------------------------------- */

void modes_canary_fill(void *p, size_t from, size_t to) {
    if (to > from) memset((uint8_t *)p + from, CANARY_FILL, to - from);
}

bool modes_canary_intact(const void *p, size_t from, size_t to) {
    for (const uint8_t *b = (const uint8_t *)p + from; b < (const uint8_t *)p + to; b++)
        if (*b != CANARY_FILL) return false;
    return true;
}

/* ---- guard pages ---------------------------------------------------------------- */

bool modes_guard(segment_t *s) {
    if (mprotect((uint8_t *)s + s->size - OS_PAGE, OS_PAGE, PROT_NONE)) return true;
    s->guard = OS_PAGE;
    return false;
}
