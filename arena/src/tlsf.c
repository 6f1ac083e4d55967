/* tlsf.c: medium blocks: a two-level segregated fit (after Masmano et al.'s
 * TLSF) with boundary tags and immediate coalescing, over MEDIUM segments.
 *
 * Block layout, `block_size` (B) aligned payloads:
 *
 *   [requested | size|flags] payload ...................... [footer]
 *    <- header, 16 bytes ->                      free blocks only: own size
 *
 * Free blocks keep their list links and the purge epoch they were freed in at
 * the start of the payload, and their size in their last word, so the next
 * block can find them when it is freed.
 *
 * Invariants (tlsf_check):
 * - in each MEDIUM segment the blocks tile [first_block, sentinel) exactly;
 *   every size is a multiple of B and at least tlsf_min_block;
 * - no two neighbours are both free (coalescing is immediate);
 * - MB_PREV_FREE is set on a block exactly when its predecessor is free;
 * - a free block's footer equals its size, unless the block ends at the
 *   sentinel (no header there, no footer before it); it is in the list its
 *   size maps to;
 * - a used block's payload granule has its live bit set, nothing else does;
 *   in MODE_CHECKED a live block's seal (seals, below) holds its size and
 *   requested bytes;
 * - the bitmaps say which lists are non-empty; free_bytes, free_blocks and
 *   dirty_bytes are the sums over the lists;
 * - a free block's dirty count is the number of touched OS pages (touched_map)
 *   inside it, its first page (links) and last (footer) aside: what a purge
 *   would hand back; nothing below PURGE_MIN_BLOCK. The bits under a listed
 *   block do not change until it leaves the lists, so the count stays exact;
 * - an OS page marked in purged_map (handed back, not written since) is clear
 *   in touched_map; purged_pages counts them (while 0, the map is all clear).
 */
#include "internal.h"
#include "fastpath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define MB_FREE ((size_t)1)
#define MB_PREV_FREE ((size_t)2)
#define MB_FLAGS ((size_t)3)
#define MB_HDR ((size_t)16)
/* header, links and epoch, footer */
#define MB_SMALLEST (MB_HDR + 3 * sizeof(uint64_t) + sizeof(size_t))
#define PURGE_MIN_BLOCK ((size_t)32 << 10) /* smaller free blocks are never purged */
#define TLSF_LINEAR_MAX ((size_t)1 << TLSF_FL_SHIFT)

struct mblock {
    size_t requested;  /* used: bytes asked for */
    size_t size_flags; /* block bytes, header included | MB_* flags */
};

typedef struct mlinks {
    mblock *next, *prev;
    uint32_t since;       /* purge_clock() when its memory was freed (tlsf_insert_counted) */
    uint32_t dirty_pages; /* touched memory it holds, counted in dirty_bytes (OS pages) */
} mlinks;

_Static_assert(sizeof(mblock) == MB_HDR, "header is two words");
_Static_assert(TLSF_SL_COUNT <= 32, "second-level bitmap is 32 bits");

/* A block's size and flags are read by other threads too (a free from another
 * thread checks the block before handing it to its heap), while only the owner
 * writes them: relaxed atomic loads and stores, plain moves on x86. */
static inline size_t mb_sf(const mblock *b) { return __atomic_load_n(&b->size_flags, __ATOMIC_RELAXED); }
static inline void mb_sf_set(mblock *b, size_t v) { __atomic_store_n(&b->size_flags, v, __ATOMIC_RELAXED); }
static inline size_t mb_size(const mblock *b) { return mb_sf(b) & ~MB_FLAGS; }
static inline bool mb_free(const mblock *b) { return mb_sf(b) & MB_FREE; }
static inline mblock *mb_next(const mblock *b) { return (mblock *)((uint8_t *)b + mb_size(b)); }
/* From the footer before b, as an address: in a mode the footer may be a write
 * after free's, checked (mb_free_block_of) before the block is used. */
static inline mblock *mb_prev(const mblock *b) {
    return (mblock *)((uintptr_t)b - ((const size_t *)b)[-1]);
}
static inline mlinks *mb_links(mblock *b) { return (mlinks *)(b + 1); }
static inline void *mb_payload(const mblock *b) { return (uint8_t *)b + MB_HDR; }
static inline mblock *mb_of(const void *p) { return (mblock *)((uint8_t *)p - MB_HDR); }
static inline void mb_set_footer(mblock *b) { ((size_t *)mb_next(b))[-1] = mb_size(b); }

/* A segment's blocks end at its sentinel, an address with no block: nothing
 * is written there, so a segment's last OS page is resident only when a block
 * uses it (a header at the end cost every heap with a medium segment an OS
 * page). The block before it needs no footer: only a block after it would read
 * that. */
static inline bool mb_at_end(const segment_t *s, const mblock *b) { return (uintptr_t)b == s->sentinel; }
/* Whether next, the block after one being freed or grown, is free. */
static inline bool mb_next_free(const segment_t *s, const mblock *next) { return !mb_at_end(s, next) && mb_free(next); }
/* Records whether the block before b is free (a flag in b's header). */
static inline void mb_prev_free_set(const segment_t *s, mblock *b, bool free) {
    if (!mb_at_end(s, b)) mb_sf_set(b, free ? mb_sf(b) | MB_PREV_FREE : mb_sf(b) & ~MB_PREV_FREE);
}
/* Writes free block b's footer, unless it ends the segment. */
static inline void mb_footer_set(const segment_t *s, mblock *b) {
    if (!mb_at_end(s, mb_next(b))) mb_set_footer(b);
}

static size_t tlsf_min_block(const heap_t *h) { return align_up(MB_SMALLEST, h->classes.granule); }

/* True when a block of `total` bytes used for `size` is cut, the rest a free block of its own. */
static bool tlsf_cut_leaves_rest(const heap_t *h, size_t total, size_t size) { return total - size >= tlsf_min_block(h); }

/* Block bytes needed for a payload of n bytes; 0 when that overflows. */
static size_t tlsf_block_bytes(const heap_t *h, size_t n) {
    size_t need = n + MB_HDR + h->classes.granule - 1;
    if (need < n) return 0;
    need &= ~(h->classes.granule - 1);
    size_t min = tlsf_min_block(h);
    return need < min ? min : need;
}

/* ---- the segregated lists ---------------------------------------------- */

static void tlsf_mapping(size_t size, unsigned *fl, unsigned *sl) {
    if (size < TLSF_LINEAR_MAX) {
        *fl = 0;
        *sl = (unsigned)(size >> (TLSF_FL_SHIFT - TLSF_SL_LOG2));
    } else {
        unsigned f = log2_floor(size);
        *fl = f - TLSF_FL_SHIFT + 1;
        *sl = (unsigned)(size >> (f - TLSF_SL_LOG2)) ^ TLSF_SL_COUNT;
    }
}

/* ---- touched pages --------------------------------------------------------
 * A bit per OS page of a MEDIUM segment, set when anything in the page is
 * written, cleared when it is purged: which free memory is resident, and how
 * much a block about to be used will fault in. A second map keeps which pages
 * a purge handed back: a write there faults back in what was purged, which
 * the purge feedback counts (alloc.c, heap_purge_adapt). */

static size_t touched_page(const segment_t *s, uintptr_t a) { return (a - (uintptr_t)s) / OS_PAGE; }
static bool touched_get(const segment_t *s, size_t page) { return s->touched_map[page / 64] >> (page % 64) & 1; }

/* Set bits of x: without -mpopcnt (not every x86-64 has the instruction) the
 * builtin is a call into libgcc, 4.3 M of gen-medium's 196 M instructions,
 * so the instruction is used where the CPU has it, and elsewhere the bits are
 * counted in registers. Most words of the map are all clear or all set, so the
 * others are counted out of line: in line, the four constants stayed in
 * callee-saved registers, and every call of the functions below saved and
 * restored six of them, 17 instructions a call, most calls counting nothing. */
unsigned tlsf_bits_count_portable(uint64_t x) {
    x -= (x >> 1) & UINT64_C(0x5555555555555555);
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

#if defined(__x86_64__)
static __attribute__((target("popcnt"))) unsigned bits_count_popcnt(uint64_t x) {
    return (unsigned)__builtin_popcountll(x);
}
static _Atomic int bits_count_cpu; /* 0: not looked up yet; 1: no popcnt; 2: popcnt */
/* Looks the instruction up, once (threads that race store the same answer).
 * Out of line: cpuid writes ebx, which bits_count_mixed would otherwise save
 * and restore on every call. */
static NOINLINE int bits_count_probe(void) {
    unsigned eax, ebx, ecx, edx;
    int cpu = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_POPCNT) ? 2 : 1;
    atomic_store_explicit(&bits_count_cpu, cpu, memory_order_relaxed);
    return cpu;
}
#endif

/* Set bits of x, neither all clear nor all set. */
static NOINLINE unsigned bits_count_mixed(uint64_t x) {
#if defined(__x86_64__)
    int cpu = atomic_load_explicit(&bits_count_cpu, memory_order_relaxed);
    if (unlikely(cpu == 0)) cpu = bits_count_probe();
    if (likely(cpu == 2)) return bits_count_popcnt(x);
#endif
    return tlsf_bits_count_portable(x);
}
static inline unsigned bits_count(uint64_t x) {
    if (x == 0 || x == ~(uint64_t)0) return x ? 64 : 0;
    return bits_count_mixed(x);
}

/* Pages `clear` (not 0) of word w of s are written for the first time since
 * they were mapped or purged: marks them, and counts those a purge handed back
 * as faulted back in. Adds to *fresh (unless NULL) how many were never written
 * since the segment was mapped; returns how many were clear. Out of line: the
 * inline callers (the free path's header and footer marks among them) keep
 * the registers they had with one store. */
static NOINLINE size_t touched_set(segment_t *s, size_t w, uint64_t clear, size_t *fresh) {
    uint64_t purged = s->purged_pages ? clear & s->purged_map[w] : 0;
    if (purged) {
        size_t n = bits_count(purged);
        s->purged_map[w] &= ~purged;
        s->purged_pages -= n;
        s->heap->faulted_back += n * OS_PAGE;
    }
    if (fresh) *fresh += bits_count(clear & ~purged);
    s->touched_map[w] |= clear;
    return bits_count(clear);
}
/* touched_mark_pages over more than one word of the map: out of line, so that
 * the common case saves no register. */
static NOINLINE size_t touched_mark_words(segment_t *s, size_t first, size_t end, size_t *fresh) {
    size_t w = first / 64, last = (end - 1) / 64, clear = 0;
    for (uint64_t mask = ~(uint64_t)0 << (first % 64);; w++, mask = ~(uint64_t)0) {
        if (w == last) mask &= ~(uint64_t)0 >> (63 - (end - 1) % 64);
        uint64_t bits = mask & ~s->touched_map[w];
        if (bits) clear += touched_set(s, w, bits, fresh);
        if (w == last) return clear;
    }
}
/* Sets the bits of the pages [first, end) of s (first < end); returns how many
 * were clear, and adds to *fresh (unless NULL) how many of them no purge
 * handed back. */
static size_t touched_mark_pages(segment_t *s, size_t first, size_t end, size_t *fresh) {
    size_t w = first / 64;
    if (w != (end - 1) / 64) return touched_mark_words(s, first, end, fresh);
    /* most blocks: one word, its bits mostly set already */
    uint64_t mask = (~(uint64_t)0 << (first % 64)) & (~(uint64_t)0 >> (63 - (end - 1) % 64));
    uint64_t clear = mask & ~s->touched_map[w];
    return likely(!clear) ? 0 : touched_set(s, w, clear, fresh);
}
/* Marks every page that [begin, end) overlaps; returns the bytes that were not
 * touched, and adds to *fresh (unless NULL) those that no purge handed back. */
static size_t touched_mark(segment_t *s, uintptr_t begin, uintptr_t end, size_t *fresh) {
    size_t pages = 0;
    size_t clear = touched_mark_pages(s, touched_page(s, begin), touched_page(s, end - 1) + 1, fresh ? &pages : NULL);
    if (fresh) *fresh += pages * OS_PAGE;
    return clear * OS_PAGE;
}
/* touched_count over more than one word of the map, out of line as touched_mark_words. */
static NOINLINE size_t touched_count_words(const segment_t *s, size_t first, size_t end) {
    size_t w = first / 64, last = (end - 1) / 64;
    uint64_t head = ~(uint64_t)0 << (first % 64), tail = ~(uint64_t)0 >> (63 - (end - 1) % 64);
    size_t count = bits_count(s->touched_map[w] & head) + bits_count(s->touched_map[last] & tail);
    for (w++; w < last; w++) count += bits_count(s->touched_map[w]);
    return count;
}
/* Touched pages among [first, end). */
static size_t touched_count(const segment_t *s, size_t first, size_t end) {
    if (first >= end) return 0;
    size_t w = first / 64;
    if (w != (end - 1) / 64) return touched_count_words(s, first, end);
    uint64_t head = ~(uint64_t)0 << (first % 64), tail = ~(uint64_t)0 >> (63 - (end - 1) % 64);
    return bits_count(s->touched_map[w] & head & tail);
}

/* True when every page of [first, end) is touched (first < end): the test of
 * touched_count, without counting. */
static bool touched_all(const segment_t *s, size_t first, size_t end) {
    size_t w = first / 64, last = (end - 1) / 64;
    uint64_t mask = ~(uint64_t)0 << (first % 64);
    for (; w < last; w++, mask = ~(uint64_t)0)
        if ((s->touched_map[w] & mask) != mask) return false;
    mask &= ~(uint64_t)0 >> (63 - (end - 1) % 64);
    return (s->touched_map[w] & mask) == mask;
}

/* The pages a purge of free block b may hand back, [*first, *end): the whole
 * pages between its links and its footer; for the block that ends the segment,
 * which has no footer, through the page where the segment ends (nothing else
 * lies there: the rest of it, and the guard page after it, are never written). */
static void mb_inner_pages(const segment_t *s, mblock *b, size_t *first, size_t *end) {
    const mblock *next = mb_next(b);
    uintptr_t inner_end = mb_at_end(s, next) ? align_up((uintptr_t)next, OS_PAGE)
                                             : ((uintptr_t)next - sizeof(size_t)) & ~(OS_PAGE - 1);
    *first = touched_page(s, align_up((uintptr_t)mb_links(b) + sizeof(mlinks), OS_PAGE));
    *end = touched_page(s, inner_end);
    if (*end < *first) *end = *first;
}

/* Touched memory in free block b of segment s, in OS pages (see the invariants). */
static uint32_t mb_dirty_pages(const segment_t *s, mblock *b) {
    if (mb_size(b) < PURGE_MIN_BLOCK) return 0;
    size_t first, end;
    mb_inner_pages(s, b, &first, &end);
    return (uint32_t)touched_count(s, first, end);
}

/* Every free block's first page (header, links) and last (footer, unless the
 * block ends the segment) are marked touched: where a block starts or ends
 * inside memory that was not in use (a new segment, a split), its writer marks
 * them with these. */
static void mb_touch_head(segment_t *s, mblock *b) { touched_mark(s, (uintptr_t)b, (uintptr_t)(mb_links(b) + 1), NULL); }
static void mb_touch_footer(segment_t *s, mblock *b) {
    if (!mb_at_end(s, mb_next(b))) touched_mark(s, (uintptr_t)mb_next(b) - sizeof(size_t), (uintptr_t)mb_next(b), NULL);
}

/* Puts free block b on its list, holding dirty_pages touched pages
 * (mb_dirty_pages), free since purge_clock() `since`: heap_clock_read for a
 * block freed now (a cached block when the cache is flushed), heap_clock_last
 * for the rest of a cut or an aligned request's gap, its own stamp for a block
 * put back as it was. */
static void tlsf_insert_counted(heap_t *h, mblock *b, uint32_t dirty_pages, uint32_t since) {
    tlsf_t *t = &h->tlsf;
    unsigned fl, sl;
    tlsf_mapping(mb_size(b), &fl, &sl);
    mlinks *l = mb_links(b);
    l->since = since;
    l->dirty_pages = dirty_pages;
    l->prev = NULL;
    l->next = t->heads[fl][sl];
    if (l->next) mb_links(l->next)->prev = b;
    t->heads[fl][sl] = b;
    t->fl_bitmap |= (uint64_t)1 << fl;
    t->sl_bitmap[fl] |= 1u << sl;
    if (dirty_pages) t->dirty_sl_bitmap[fl] |= (uint16_t)(1u << sl);
    t->free_bytes += mb_size(b);
    t->free_blocks++;
    t->dirty_bytes += (size_t)l->dirty_pages * OS_PAGE;
}
static void tlsf_insert(heap_t *h, segment_t *s, mblock *b, uint32_t since) {
    tlsf_insert_counted(h, b, mb_dirty_pages(s, b), since);
}

/* A heap in a mode verifies a free block's links and footer, which lie in
 * its payload where a write after free lands, before following them: x is a
 * free block of one of h's MEDIUM segments. */
static bool mb_free_block_of(const heap_t *h, const mblock *x) {
    const segment_t *s = segmap_lookup(x);
    uintptr_t a = (uintptr_t)x;
    return s && s->kind == SEG_MEDIUM && s->heap == h && a >= s->first_block && a + MB_SMALLEST <= s->sentinel &&
           !((a + MB_HDR) & h->classes.granule_mask) && mb_free(x);
}

static NOINLINE void tlsf_corrupt(const heap_t *h, const mblock *b) {
    error_report_fatal(h->arena, mb_payload(b), ARENA_ERR_CORRUPTION);
    abort(); /* the lists cannot be followed safely from here */
}

static const heap_t *tlsf_heap(const tlsf_t *t) { return (const heap_t *)((const char *)t - offsetof(heap_t, tlsf)); }

static void tlsf_remove(tlsf_t *t, mblock *b) {
    unsigned fl, sl;
    tlsf_mapping(mb_size(b), &fl, &sl);
    mlinks *l = mb_links(b);
    const heap_t *h = tlsf_heap(t);
    if (h->mode && (!mb_free_block_of(h, b) ||
                    (l->next && (!mb_free_block_of(h, l->next) || mb_links(l->next)->prev != b)) ||
                    (l->prev ? !mb_free_block_of(h, l->prev) || mb_links(l->prev)->next != b : t->heads[fl][sl] != b)))
        tlsf_corrupt(h, b);
    if (l->prev) mb_links(l->prev)->next = l->next;
    else t->heads[fl][sl] = l->next;
    if (l->next) mb_links(l->next)->prev = l->prev;
    if (!t->heads[fl][sl]) {
        t->sl_bitmap[fl] &= ~(1u << sl);
        if (!t->sl_bitmap[fl]) t->fl_bitmap &= ~((uint64_t)1 << fl);
    }
    t->free_bytes -= mb_size(b);
    t->free_blocks--;
    t->dirty_bytes -= (size_t)l->dirty_pages * OS_PAGE;
}

/* A free block of at least `size` bytes, in constant time: the head of the
 * size's own list when it fits, else the search rounds the size up to the next
 * list so that any block found fits. Rounding alone skips the blocks freed by
 * requests of the same size (gxx-stl's 64 KiB buffers) and carves each new one
 * from the largest free block, into memory not touched yet, while they stay
 * resident: gxx-stl's frag_rss 1.211 to 1.149, gen-medium's 1.258 to 1.112. */
static mblock *tlsf_find(const tlsf_t *t, size_t size) {
    unsigned fl, sl;
    tlsf_mapping(size, &fl, &sl);
    if (fl >= TLSF_FL_COUNT) return NULL;
    mblock *head = t->heads[fl][sl];
    if (head && mb_size(head) >= size) return head;
    size_t rounded = size < TLSF_LINEAR_MAX
                         ? align_up(size, TLSF_LINEAR_MAX / TLSF_SL_COUNT)
                         : size + ((size_t)1 << (log2_floor(size) - TLSF_SL_LOG2)) - 1;
    if (rounded < size) return NULL;
    tlsf_mapping(rounded, &fl, &sl);
    if (fl >= TLSF_FL_COUNT) return NULL;
    uint32_t sl_map = t->sl_bitmap[fl] & (~0u << sl);
    if (!sl_map) {
        uint64_t fl_map = fl + 1 < 64 ? t->fl_bitmap & (~(uint64_t)0 << (fl + 1)) : 0;
        if (!fl_map) return NULL;
        fl = (unsigned)__builtin_ctzll(fl_map);
        sl_map = t->sl_bitmap[fl];
    }
    return t->heads[fl][__builtin_ctz(sl_map)];
}

/* tlsf_find looks at the head of the size's own list only; before mapping a
 * new segment, look at the rest of that list too. */
static mblock *tlsf_find_exact(const tlsf_t *t, size_t size) {
    unsigned fl, sl;
    tlsf_mapping(size, &fl, &sl);
    if (fl >= TLSF_FL_COUNT) return NULL;
    const heap_t *h = tlsf_heap(t);
    for (mblock *b = t->heads[fl][sl]; b; b = mb_links(b)->next) {
        if (h->mode && !mb_free_block_of(h, b)) tlsf_corrupt(h, b);
        if (mb_size(b) >= size) return b;
    }
    return NULL;
}

/* ---- live bits ----------------------------------------------------------- */

/* The word of s's live map that holds payload's bit, and the bit. */
static inline uint64_t *live_word(const segment_t *s, const void *payload, unsigned granule_shift, uint64_t *bit) {
    size_t g = ((uintptr_t)payload - (uintptr_t)s) >> granule_shift;
    *bit = (uint64_t)1 << (g & 63);
    return &s->live_map[g >> 6];
}
static bool live_get(const segment_t *s, const void *payload) {
    uint64_t bit;
    return map_load(live_word(s, payload, s->arena->block_shift, &bit)) & bit;
}
/* a lies where a payload of s can start (before its live bit is read). */
static inline bool mb_payload_may_be(const segment_t *s, uintptr_t a, size_t granule) {
    return a >= s->first_block + MB_HDR && a < s->sentinel && !(a & (granule - 1));
}
/* The header of a live block at payload a says used, and its size fits s. */
static inline bool mb_header_holds(const segment_t *s, uintptr_t a, size_t size_flags) {
    size_t size = size_flags & ~MB_FLAGS;
    return !(size_flags & MB_FREE) && size >= MB_SMALLEST && a - MB_HDR + size <= s->sentinel;
}
/* b's requested size fits its block: the word the end of the block before it
 * overruns first (8 bytes past a block wrapped live_bytes at its free). */
static inline bool mb_requested_holds(const mblock *b) { return b->requested <= mb_size(b) - MB_HDR; }
/* A walk of s's blocks can step over b: its size is a block's, within s. The
 * walks that report nothing (the stats, the callbacks) stop at a header the
 * program overwrote (default policy: no canary), where they looped for ever
 * on a size of 0 or read past the segment on a large one; arena_check names it. */
static inline bool mb_walkable(const segment_t *s, const mblock *b) {
    return mb_size(b) >= MB_SMALLEST && (uintptr_t)b + mb_size(b) <= s->sentinel;
}
static void live_set_shift(segment_t *s, const void *payload, unsigned granule_shift, bool on) {
    uint64_t bit, *word = live_word(s, payload, granule_shift, &bit);
    map_store(word, on ? map_load(word) | bit : map_load(word) & ~bit);
}
static void live_set(segment_t *s, const void *payload, bool on) {
    live_set_shift(s, payload, s->arena->block_shift, on);
}

/* ---- segments ------------------------------------------------------------ */

void tlsf_segment_added(heap_t *h, segment_t *s) {
    size_t header = segment_header_size(h->arena, SEG_MEDIUM, s->size);
    size_t B = h->classes.granule;
    uintptr_t first = align_up((uintptr_t)s + header + MB_HDR, B) - MB_HDR;
    uintptr_t end = (uintptr_t)s + s->size - s->guard;
    size_t size = (end - first) & ~(B - 1);
    mblock *b = (mblock *)first;
    mb_sf_set(b, size | MB_FREE);
    s->first_block = first;
    s->sentinel = first + size; /* no footer for b: it ends the segment */
    mb_touch_head(s, b);
    tlsf_insert(h, s, b, heap_clock_read(h));
}

/* A new MEDIUM segment with a free block of at least `block` bytes: a region,
 * or for a block above a quarter region, a segment that holds four of them,
 * so that large blocks do not each leave a region's tail unused; under a
 * max_bytes that leaves no room for that, the smallest segment that holds the
 * block, once what the heap holds idle has gone back (heap_release_idle).
 * gap: the bytes of the block an alignment leaves free in front of what the
 * request uses (segment_new). NULL with errno ENOMEM when the OS or the cap
 * refuses it. */
static segment_t *tlsf_segment_new(heap_t *h, size_t block, size_t gap) {
    size_t least = h->arena->region_size;
    while (least - segment_header_size(h->arena, SEG_MEDIUM, least) < block + 2 * MB_HDR + 2 * h->classes.granule + OS_PAGE) {
        if (least > SIZE_MAX / 2) return NULL;
        least *= 2;
    }
    if (!arena_cap_allows(h->arena, least)) heap_release_idle(h, SEG_MEDIUM);
    size_t size = h->arena->region_size;
    while (size / 4 < block && size <= MAX_REGION) size *= 2;
    if (size > least && !arena_cap_allows(h->arena, size)) size = least;
    int saved = errno;
    /* A block at least as large as its gap asks as any would (memalign(2 MiB,
     * 14 MiB) is how programs ask for huge pages). */
    if (block - gap >= gap) gap = 0;
    segment_t *s = segment_new(h, SEG_MEDIUM, size, SEGMENT_ALIGN, gap);
    /* The OS refused the roomy one (an address space limit, overcommit off):
     * the least that holds the block may still fit, as glibc's one mapping
     * would (a 4 MiB request with 24 MiB to spare failed, in review). */
    if (!s && size > least && (s = segment_new(h, SEG_MEDIUM, least, SEGMENT_ALIGN, gap)) != NULL) errno = saved;
    /* Refused still: what h holds idle (empty small segments, the huge cache)
     * may be the room, as under the cap. */
    if (!s && heap_release_idle(h, SEG_MEDIUM) && (s = segment_new(h, SEG_MEDIUM, least, SEGMENT_ALIGN, gap)) != NULL)
        errno = saved;
    return s;
}

static bool tlsf_segment_empty(const segment_t *s) {
    const mblock *b = (const mblock *)s->first_block;
    return mb_free(b) && mb_at_end(s, mb_next(b));
}

/* Unmaps empty segment s, its one free block taken off the lists. */
static void tlsf_segment_release(heap_t *h, segment_t *s) {
    mblock *b = (mblock *)s->first_block;
    h->purged_out += (size_t)mb_links(b)->dirty_pages * OS_PAGE;
    /* What was resident, and what purges handed back before, is gone with the
     * mapping: new memory the heap faults in later stands in for it. */
    h->unmapped_owed += ((size_t)mb_links(b)->dirty_pages + s->purged_pages) * OS_PAGE;
    tlsf_remove(&h->tlsf, b);
    segment_release(h, s);
}

void tlsf_release_empty_segments(heap_t *h) {
    if (h->tlsf.cache_blocks) tlsf_cache_flush(h); /* cached blocks are used ones to TLSF */
    for (segment_t *s = h->segments[SEG_MEDIUM], *next; s; s = next) {
        next = s->next;
        if (tlsf_segment_empty(s)) tlsf_segment_release(h, s);
    }
}

/* ---- splitting ----------------------------------------------------------- */

/* True when using the first `size` bytes of b would touch a page for the first
 * time since it was mapped or purged. */
static bool tlsf_would_fault(const segment_t *s, const mblock *b, size_t size) {
    return !touched_all(s, touched_page(s, (uintptr_t)b), touched_page(s, (uintptr_t)b + size - 1) + 1);
}

/* Block b of `size` bytes is about to be used: marks its pages touched and
 * lets the heap know how much fresh memory that faults in. */
static void tlsf_touch(heap_t *h, segment_t *s, mblock *b, size_t size) {
    size_t never = 0, fresh = touched_mark(s, (uintptr_t)b, (uintptr_t)b + size, &never);
    if (fresh) {
        heap_faulted_fresh(h, never);
        heap_grew(h, SEG_MEDIUM, fresh);
    }
}

/* Block b (its size already the one it is used at, or merged to) is about to
 * serve `size` bytes, and the rest past them, when a cut leaves one, to get
 * its header and list links written: when some of those OS pages were not
 * written since mapped or purged, they come in by one call, which costs less
 * than their faults (docs/design.md, Faulting in). Before anything is written
 * there: the cut's header write used to fault in the page after the block
 * before the call came. The whole block only in a heap holding
 * POPULATE_LIVE_MIN (a smaller one may be a thread's with a few blocks it
 * fills in part) and up to the arena's populate_max (POPULATE_MEDIUM_MAX: a
 * larger block may be a buffer its program fills in part, its pages fault in
 * as used; the drop-in's ARENA_POPULATE_MAX sets it for programs whose
 * smaller buffers are such too); otherwise
 * what a realloc is about to copy there (h->copy_ahead), which is written
 * for certain. Returns true when it found the first `size` bytes of b touched
 * already: tlsf_touch would then mark nothing. */
static bool tlsf_populate_ahead(const heap_t *h, const segment_t *s, const mblock *b, size_t size) {
    if (h->mode) return false;
    size_t written;
    if (size <= h->arena->populate_max && h->stats.live_bytes >= POPULATE_LIVE_MIN)
        written = tlsf_cut_leaves_rest(h, mb_size(b), size) ? size + MB_SMALLEST : size;
    else if (h->copy_ahead)
        written = MB_HDR + h->copy_ahead; /* at most the request, which the block holds */
    else
        return false;
    ARENA_ASSERT(written <= mb_size(b));
    if (!tlsf_would_fault(s, b, written)) return written >= size;
    uintptr_t first = (uintptr_t)b & ~(OS_PAGE - 1);
    os_populate((void *)first, align_up((uintptr_t)b + written, OS_PAGE) - first);
    return false;
}

/* Cuts b (free, off the lists, untouched since) to `size` bytes when the rest
 * makes a block; the rest goes on the lists. dirty_pages: what b's list entry
 * counted, or UINT32_MAX when b is not the block that was listed. The rest's
 * count is b's less what lay in front of the rest: counting a whole large
 * block's pages at each split would cost more than the split. */
static void tlsf_split_tail(heap_t *h, segment_t *s, mblock *b, size_t size, uint32_t dirty_pages) {
    size_t total = mb_size(b);
    if (!tlsf_cut_leaves_rest(h, total, size)) return;
    size_t b_first = 0, b_end = 0;
    if (dirty_pages != UINT32_MAX && total >= PURGE_MIN_BLOCK) mb_inner_pages(s, b, &b_first, &b_end);
    mblock *rest = (mblock *)((uint8_t *)b + size);
    mb_sf_set(rest, (total - size) | MB_FREE);
    mb_footer_set(s, rest);
    mb_prev_free_set(s, mb_next(rest), true);
    mb_sf_set(b, size | (mb_sf(b) & (MB_FREE | MB_PREV_FREE)));
    uint32_t rest_dirty = 0;
    if (total - size >= PURGE_MIN_BLOCK) {
        if (b_end) {
            size_t first, end;
            mb_inner_pages(s, rest, &first, &end); /* end == b_end: the same footer */
            rest_dirty = dirty_pages - (uint32_t)touched_count(s, b_first, first < b_end ? first : b_end);
        } else {
            rest_dirty = mb_dirty_pages(s, rest);
        }
    }
    mb_touch_head(s, rest); /* below its inner pages; its footer is b's */
    tlsf_insert_counted(h, rest, rest_dirty, heap_clock_last(h));
}

/* Marks b used for a request of n bytes. */
static void *tlsf_use(segment_t *s, mblock *b, size_t n) {
    mb_sf_set(b, mb_sf(b) & ~MB_FREE);
    b->requested = n;
    mb_prev_free_set(s, mb_next(b), false);
    void *p = mb_payload(b);
    live_set(s, p, true);
    return p;
}

static void tlsf_free_block(heap_t *h, segment_t *s, mblock *b, uint32_t now);
void tlsf_cache_flush(heap_t *h);

/* ---- the cache of freed blocks ---------------------------------------------
 * A program that frees a medium block mostly asks for one of the same size
 * soon (a buffer per request, a page per query): the block waits whole in a
 * bin of its size instead of coalescing, and the next request of the size
 * takes it back in a few instructions. A bin holds only as many blocks as
 * its size was asked for since the cache was last emptied (at most
 * TLSF_CACHE_PER_BIN); the cache at most its floor or 1/64 of the live bytes
 * (one block more when empty, so that a block freed and asked for again in a
 * loop is always a hit). It counts as dirty memory, and goes back to the
 * lists before the heap's medium memory is purged, before a request would
 * fault in fresh pages or map a segment, and whenever the heap grows. Not in
 * a mode: those check more than the cache would. */

/* The bin of a block of `size` bytes (the list it would go on), or -1. */
static int tlsf_cache_bin_of(size_t size) {
    unsigned fl, sl;
    tlsf_mapping(size, &fl, &sl);
    if (fl < TLSF_CACHE_FL_MIN || fl >= TLSF_CACHE_FL_END) return -1;
    return (int)((fl - TLSF_CACHE_FL_MIN) * TLSF_SL_COUNT + sl);
}

/* A cached block's payload links it to the next one of its bin and names its
 * segment, so that taking it back needs no segment map lookup. */
typedef struct cache_link {
    mblock *next;
    segment_t *segment;
} cache_link;
static inline cache_link *cache_link_of(mblock *b) { return (cache_link *)mb_payload(b); }
_Static_assert(((size_t)1 << 10) - MB_HDR >= sizeof(cache_link), "a cached block holds its link");

/* True when b (used, its live bit cleared) of segment s went into the cache. */
static bool tlsf_cache_put(heap_t *h, segment_t *s, mblock *b) {
    tlsf_t *t = &h->tlsf;
    size_t size = mb_size(b);
    if (h->mode) return false;
    int bin = tlsf_cache_bin_of(size);
    if (bin < 0 || t->cache_count[bin] >= t->cache_wanted[bin]) return false;
    size_t share = h->stats.live_bytes >> TLSF_CACHE_LIVE_SHIFT;
    size_t cap = share > TLSF_CACHE_FLOOR ? share : TLSF_CACHE_FLOOR;
    if (t->cache_blocks && t->cache_bytes + size > cap) return false;
    *cache_link_of(b) = (cache_link){t->cache[bin], s};
    t->cache[bin] = b;
    t->cache_count[bin]++;
    t->cache_blocks++;
    t->cache_bytes += size;
    return true;
}

/* A cached block for a request of n bytes (need bytes of block), marked live,
 * or NULL: the newest block of need's own bin when it fits (the same size
 * freed and asked for again), else one of the next bin, where every block
 * fits. */
/* Takes the newest block off bin `bin` (non-empty). */
static mblock *tlsf_cache_pop(tlsf_t *t, unsigned bin) {
    mblock *b = t->cache[bin];
    t->cache[bin] = cache_link_of(b)->next;
    t->cache_count[bin]--;
    t->cache_blocks--;
    t->cache_bytes -= mb_size(b);
    return b;
}

static inline void *tlsf_cache_take(heap_t *h, size_t need, size_t n) {
    tlsf_t *t = &h->tlsf;
    int bin = tlsf_cache_bin_of(need);
    if (bin < 0 || !t->cache[bin] || mb_size(t->cache[bin]) < need) {
        bin++;
        if (bin <= 0 || (unsigned)bin >= TLSF_CACHE_BINS || !t->cache[bin]) return NULL;
    }
    mblock *b = tlsf_cache_pop(t, (unsigned)bin);
    b->requested = n;
    void *p = mb_payload(b);
    live_set_shift(cache_link_of(b)->segment, p, h->classes.granule_shift, true);
    return p;
}

/* A cached block for a request of `size` bytes, marked live and counted, or
 * NULL, nothing changed: the hit that tlsf_malloc_cached and tlsf_calloc_cached share. */
static inline void *tlsf_cache_serve(heap_t *h, size_t size) {
    size_t need = tlsf_block_bytes(h, size);
    void *p = need ? tlsf_cache_take(h, need, size) : NULL;
    if (p) heap_count_alloc(h, size);
    return p;
}

void tlsf_cache_flush(heap_t *h) {
    tlsf_t *t = &h->tlsf;
    memset(t->cache_wanted, 0, sizeof t->cache_wanted);
    uint32_t now = heap_clock_read(h);
    for (unsigned bin = 0; bin < TLSF_CACHE_BINS && t->cache_blocks; bin++) {
        while (t->cache[bin]) {
            mblock *b = tlsf_cache_pop(t, bin);
            tlsf_free_block(h, cache_link_of(b)->segment, b, now);
        }
    }
}

/* Zeroes the n bytes at p, in segment s, except the OS pages not written since
 * they were mapped or purged (MADV_DONTNEED): those read as zero already, and a
 * calloc of a large block that the program fills sparsely leaves them
 * unfaulted, as a fresh mapping would. Before tlsf_touch marks the block's pages. */
static void tlsf_zero_written(const segment_t *s, uint8_t *p, size_t n) {
    uintptr_t a = (uintptr_t)p, end = a + n, run = 0; /* run: start of written bytes to clear */
    while (a < end) {
        uintptr_t page_end = align_up(a + 1, OS_PAGE);
        if (page_end > end) page_end = end;
        if (touched_get(s, touched_page(s, a))) {
            if (!run) run = a;
        } else if (run) {
            memset((void *)run, 0, a - run);
            run = 0;
        }
        a = page_end;
    }
    if (run) memset((void *)run, 0, end - run);
}

static void *tlsf_malloc_zeroing(heap_t *h, size_t size, size_t align, bool zero);

void *tlsf_malloc(heap_t *h, size_t size, size_t align) { return tlsf_malloc_zeroing(h, size, align, false); }

void *tlsf_calloc(heap_t *h, size_t size) { return tlsf_malloc_zeroing(h, size, h->classes.granule, true); }

void *tlsf_calloc_cached(heap_t *h, size_t size) {
    void *p = h->tlsf.cache_blocks ? tlsf_cache_serve(h, size) : NULL;
    return p ? memset(p, 0, size) : NULL; /* a cached block was in use: written */
}

/* tlsf_malloc; with `zero`, the block's size bytes read as zero. */
static void *tlsf_malloc_zeroing(heap_t *h, size_t size, size_t align, bool zero) {
    tlsf_t *t = &h->tlsf;
    size_t B = h->classes.granule;
    size_t need = tlsf_block_bytes(h, size);
    if (!need) return NULL;
    if (align <= B && !h->mode) {
        /* A request the cache could not serve: the next free of its size waits. */
        int bin = tlsf_cache_bin_of(need);
        if (bin >= 0 && t->cache_wanted[bin] < TLSF_CACHE_PER_BIN) t->cache_wanted[bin]++;
        void *p = t->cache_blocks ? tlsf_cache_take(h, need, size) : NULL;
        if (p) {
            if (zero) memset(p, 0, size); /* a cached block was in use: written */
            return p;
        }
    }
    size_t search = need;
    if (align > B) {
        search = need + align + tlsf_min_block(h);
        if (search < need) return NULL;
    }
    mblock *b = tlsf_find(t, search);
    if (!b) b = tlsf_find_exact(t, search);
    if (!b && t->cache_blocks) {
        tlsf_cache_flush(h); /* what it holds may coalesce into a block that fits */
        b = tlsf_find(t, search);
        if (!b) b = tlsf_find_exact(t, search);
    }
    if (!b) {
        if (!tlsf_segment_new(h, search, search - need)) return NULL;
        b = tlsf_find(t, search);
        if (!b) b = tlsf_find_exact(t, search);
        ARENA_ASSERT(b != NULL);
    }
    tlsf_remove(t, b);
    uint32_t dirty_pages = mb_links(b)->dirty_pages, since = mb_links(b)->since;
    segment_t *s = segmap_lookup(b);
    if (t->cache_blocks && tlsf_would_fault(s, b, search)) {
        /* Growing while the cache holds blocks that, coalesced, may serve. */
        tlsf_insert_counted(h, b, dirty_pages, since);
        tlsf_cache_flush(h);
        b = tlsf_find(t, search);
        if (!b) b = tlsf_find_exact(t, search);
        ARENA_ASSERT(b != NULL); /* the block put back at least */
        tlsf_remove(t, b);
        dirty_pages = mb_links(b)->dirty_pages;
        s = segmap_lookup(b);
    }
    if (align > B) {
        uintptr_t payload = (uintptr_t)mb_payload(b);
        uintptr_t aligned = align_up(payload, align);
        while (aligned != payload && aligned - payload < tlsf_min_block(h)) aligned += align;
        if (aligned != payload) {
            /* The gap in front becomes a free block of its own. */
            size_t gap = aligned - payload;
            size_t total = mb_size(b);
            mblock *front = b;
            b = (mblock *)((uint8_t *)front + gap);
            mb_sf_set(b, (total - gap) | MB_FREE | MB_PREV_FREE);
            mb_sf_set(front, gap | (mb_sf(front) & (MB_FREE | MB_PREV_FREE)));
            mb_set_footer(front);
            mb_touch_footer(s, front); /* its header is b's */
            tlsf_insert(h, s, front, heap_clock_last(h));
            dirty_pages = UINT32_MAX;
        }
    }
    bool touched = tlsf_populate_ahead(h, s, b, need);
    tlsf_split_tail(h, s, b, need, dirty_pages);
    void *p = tlsf_use(s, b, size);
    if (zero) tlsf_zero_written(s, p, size);
    if (!touched) tlsf_touch(h, s, b, need); /* used first: heap_grew may empty the cache onto the lists */
    return p;
}

/* Puts used block b of segment s (live bit clear) on the lists, coalesced,
 * free since purge_clock() `now`: the free neighbours it takes in are as young
 * as it, so a block that takes in a freed neighbour every few ticks does not
 * age. Stamped with the mean age of its dirty pages instead (a variant
 * measured and not kept), gen-realloc-grow took 14% more page faults, 7082
 * against 6218 a replay, and 6% more time. */
static void tlsf_free_block(heap_t *h, segment_t *s, mblock *b, uint32_t now) {
    tlsf_t *t = &h->tlsf;
    size_t size = mb_size(b);
    mblock *next = mb_next(b);
    if (mb_sf(b) & MB_PREV_FREE) {
        mblock *prev = mb_prev(b);
        if (h->mode && (!mb_free_block_of(h, prev) || mb_next(prev) != b)) tlsf_corrupt(h, b); /* the footer */
        tlsf_remove(t, prev);
        size += mb_size(prev);
        b = prev;
    }
    if (mb_next_free(s, next)) {
        tlsf_remove(t, next);
        size += mb_size(next);
        next = mb_next(next);
    }
    mb_sf_set(b, size | MB_FREE); /* a free block's predecessor is never free */
    mb_footer_set(s, b);
    mb_prev_free_set(s, next, true);
    tlsf_insert(h, s, b, now); /* a whole empty segment too: tlsf_purge unmaps it */
}

/* Used block b of s, its live bit just cleared, goes onto the lists, then the
 * purge pass runs. */
static void tlsf_release_to_lists(heap_t *h, segment_t *s, mblock *b) {
    tlsf_free_block(h, s, b, heap_clock_read(h));
    /* The budget is never below the floor: below it, nothing to purge. */
    if (heap_dirty_total(h) > PURGE_FLOOR) heap_purge_maybe(h);
}

/* Used block b of s, its live bit just cleared, goes into the cache or onto the lists. */
static inline void tlsf_release(heap_t *h, segment_t *s, mblock *b) {
    /* A cached block needs no purge pass: the cache keeps at most its cap
     * (max(TLSF_CACHE_FLOOR, live / 64)), and the next block that goes to
     * the lists, or the next page freed, runs the pass over it too. */
    if (tlsf_cache_put(h, s, b)) return;
    tlsf_release_to_lists(h, s, b);
}

void tlsf_free(heap_t *h, segment_t *s, void *p) {
    live_set(s, p, false);
    tlsf_release(h, s, mb_of(p));
}

/* tlsf_free_owned's way when the cache does not take b: the count, then the
 * lists and the purge pass, which sees the heap as it is after this free (as
 * heap_free_live's). */
static NOINLINE void tlsf_free_owned_slow(heap_t *h, segment_t *s, mblock *b, size_t requested) {
    heap_count_free(h, requested);
    tlsf_release_to_lists(h, s, b);
}

void *tlsf_malloc_cached(heap_t *h, size_t size) {
    void *p = tlsf_cache_serve(h, size);
    return p ? p : heap_malloc_medium_slow(h, size);
}

/* tlsf_validate's checks of a live block, fused with the free: the live bit is
 * read once, and anything tlsf_validate would not pass goes to
 * heap_free_general, which runs it and reports the misuse. So does every free
 * once other threads have freed into h, where a block may be on its way back
 * (block_classify reads its mark): tested here, the mark saved a register on
 * every medium free, and a second copy of this path kept tlsf_cache_put out
 * of line. */
void tlsf_free_owned(heap_t *h, segment_t *s, void *p) {
    uintptr_t a = (uintptr_t)p;
    if (!mb_payload_may_be(s, a, h->classes.granule) || heap_freed_by_others(h)) {
        heap_free_general(h, s, p);
        return;
    }
    uint64_t bit, *word = live_word(s, p, h->classes.granule_shift, &bit);
    uint64_t live = map_load(word);
    mblock *b = mb_of(p);
    if (!(live & bit) || !mb_header_holds(s, a, mb_sf(b)) || !mb_requested_holds(b)) {
        heap_free_general(h, s, p);
        return;
    }
    size_t requested = b->requested;
    map_store(word, live & ~bit);
    if (likely(tlsf_cache_put(h, s, b))) heap_count_free(h, requested);
    else tlsf_free_owned_slow(h, s, b, requested);
}

bool tlsf_resize_in_place(heap_t *h, segment_t *s, void *p, size_t n) {
    tlsf_t *t = &h->tlsf;
    mblock *b = mb_of(p);
    size_t size = mb_size(b);
    size_t need = tlsf_block_bytes(h, n);
    if (!need) return false;
    bool grew = need > size;
    if (grew) {
        mblock *next = mb_next(b);
        if (!mb_next_free(s, next) || size + mb_size(next) < need) return false;
        tlsf_remove(t, next);
        mb_prev_free_set(s, mb_next(next), false);
        mb_sf_set(b, (size + mb_size(next)) | (mb_sf(b) & MB_PREV_FREE));
        size = mb_size(b);
        if (!tlsf_populate_ahead(h, s, b, need)) tlsf_touch(h, s, b, need);
    }
    if (tlsf_cut_leaves_rest(h, size, need)) {
        /* The cut-off tail joins a free successor. */
        mblock *next = mb_next(b);
        size_t rest = size - need;
        if (mb_next_free(s, next)) {
            tlsf_remove(t, next);
            rest += mb_size(next);
        }
        mblock *tail = (mblock *)((uint8_t *)b + need);
        mb_sf_set(tail, rest | MB_FREE);
        mb_footer_set(s, tail);
        mb_prev_free_set(s, mb_next(tail), true);
        mb_sf_set(b, need | (mb_sf(b) & MB_PREV_FREE));
        mb_touch_head(s, tail); /* its footer was a block's end already */
        tlsf_insert(h, s, tail, grew ? heap_clock_last(h) : heap_clock_read(h)); /* a cut's rest, or a tail freed */
    }
    b->requested = n;
    return true;
}

/* ---- seals (MODE_CHECKED) -------------------------------------------------
 * A used block's header lies just before its payload, where an underflow of
 * the block lands. In the checked mode the block is asked TLSF_SEAL_BYTES
 * larger (alloc.c) and its last 16 bytes, past its canary, hold a seal of the
 * header: its size and requested bytes, xor-ed with a key of the owner heap's
 * secret and the block's address, and a check word over both. A damaged header
 * no longer agrees with the seal; the seal lies at the end the header's size
 * names, or, when that size is damaged, at the one place in the segment where
 * a seal of this block holds (a freed block's seal is wiped: tlsf_unseal), and
 * the header is rebuilt from it. */

typedef struct mseal {
    uint64_t sizes; /* size | requested << 32, xor-ed with the key */
    uint64_t check;
} mseal;
_Static_assert(sizeof(mseal) == TLSF_SEAL_BYTES, "a seal is two words");
_Static_assert(MEDIUM_MAX < ((uint64_t)1 << 30), "a medium block's size and request fit 32 bits each");

static uint64_t seal_key(const heap_t *owner, const mblock *b) { return mix64(owner->secret ^ (uintptr_t)b); }
static mseal *mb_seal(const mblock *b, size_t size) { return (mseal *)((uintptr_t)b + size - sizeof(mseal)); }

/* True when a seal of b (a used block of owner's) holding `size` bytes lies at
 * the end of those bytes; *requested is then the sealed request. */
static bool mb_seal_holds(const heap_t *owner, const mblock *b, size_t size, size_t *requested) {
    const mseal *m = mb_seal(b, size);
    uint64_t key = seal_key(owner, b), sizes = m->sizes ^ key;
    if ((uint32_t)sizes != size || m->check != mix64(sizes + key)) return false;
    *requested = (size_t)(sizes >> 32);
    return true;
}

/* The size of b by the one seal of it in s, or 0 when there is none. */
static size_t mb_seal_find(const heap_t *owner, const segment_t *s, const mblock *b, size_t *requested) {
    size_t B = owner->classes.granule;
    for (size_t size = tlsf_min_block(owner); (uintptr_t)b + size <= s->sentinel; size += B)
        if (mb_seal_holds(owner, b, size, requested)) return size;
    return 0;
}

/* Whether the block before b (of s) is free: it is when the footer before b
 * names a free block of owner's that ends at b. */
static bool mb_prev_is_free(const heap_t *owner, const segment_t *s, const mblock *b) {
    if ((uintptr_t)b == s->first_block) return false;
    const mblock *prev = mb_prev(b);
    return (uintptr_t)prev < (uintptr_t)b && mb_free_block_of(owner, prev) && mb_next(prev) == b;
}

void tlsf_seal(const segment_t *s, void *p) {
    mblock *b = mb_of(p);
    uint64_t key = seal_key(s->heap, b), sizes = mb_size(b) | (uint64_t)b->requested << 32;
    *mb_seal(b, mb_size(b)) = (mseal){sizes ^ key, mix64(sizes + key)};
}

void tlsf_unseal(void *p) { memset(mb_seal(mb_of(p), mb_size(mb_of(p))), 0, sizeof(mseal)); }

arena_error tlsf_seal_verify(heap_t *h, segment_t *s, void *p, bool *sound) {
    const heap_t *owner = s->heap;
    mblock *b = mb_of(p);
    size_t sf = mb_sf(b), size = sf & ~MB_FLAGS, requested = 0;
    bool holds = mb_header_holds(s, (uintptr_t)p, sf);
    if (holds && mb_seal_holds(owner, b, size, &requested)) {
        /* The prev-free flag and the block before change under the owner's
         * frees: only the owner compares them. */
        if (requested == b->requested && (owner != h || !!(sf & MB_PREV_FREE) == mb_prev_is_free(owner, s, b))) {
            *sound = true;
            return 0;
        }
    } else {
        size = mb_seal_find(owner, s, b, &requested);
    }
    if (!size) {
        /* No seal of b anywhere: past the block's end, or header and seal both. */
        *sound = holds;
        if (holds && owner == h) tlsf_seal(s, p);
        return holds ? ARENA_ERR_OVERFLOW : ARENA_ERR_CORRUPTION;
    }
    *sound = owner == h; /* only the owner writes a block's header */
    if (*sound) {
        mb_sf_set(b, size | (mb_prev_is_free(owner, s, b) ? MB_PREV_FREE : 0));
        b->requested = requested;
    }
    return ARENA_ERR_CORRUPTION;
}

void *tlsf_next_live(const segment_t *s, const void *p) {
    const mblock *next = mb_next(mb_of(p));
    return mb_at_end(s, next) || !live_get(s, mb_payload(next)) ? NULL : mb_payload(next);
}

/* ---- queries ------------------------------------------------------------- */

size_t tlsf_usable(const void *p) { return mb_size(mb_of(p)) - MB_HDR; }
size_t tlsf_requested(const void *p) { return mb_of(p)->requested; }
void tlsf_set_requested(void *p, size_t n) { mb_of(p)->requested = n; }

arena_error tlsf_validate(const segment_t *s, const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (!mb_payload_may_be(s, a, s->arena->block_size)) return ARENA_ERR_INVALID_POINTER;
    if (live_get(s, p))
        return mb_header_holds(s, a, mb_sf(mb_of(p))) && mb_requested_holds(mb_of(p)) ? 0 : ARENA_ERR_CORRUPTION;
    /* Not live: a block that was freed, or no block at all? Walk to it (this is
     * the error path; the walk only reads our own headers). */
    for (const mblock *b = (const mblock *)s->first_block; (uintptr_t)b < s->sentinel; b = mb_next(b)) {
        uintptr_t payload = (uintptr_t)mb_payload(b);
        if (payload == a) return ARENA_ERR_DOUBLE_FREE;
        /* Inside a free block: freed, then merged with a free neighbour. */
        if (!mb_walkable(s, b)) break; /* a header overwritten (with zero, the walk would not advance) */
        if (a < (uintptr_t)mb_next(b)) return mb_free(b) ? ARENA_ERR_DOUBLE_FREE : ARENA_ERR_INVALID_POINTER;
    }
    return ARENA_ERR_INVALID_POINTER;
}

size_t tlsf_largest_free(const heap_t *h) {
    const tlsf_t *t = &h->tlsf;
    size_t best = 0;
    if (t->fl_bitmap) {
        unsigned fl = 63u - (unsigned)__builtin_clzll(t->fl_bitmap);
        unsigned sl = 31u - (unsigned)__builtin_clz(t->sl_bitmap[fl]);
        for (mblock *b = t->heads[fl][sl]; b; b = mb_links(b)->next)
            if (mb_size(b) > best) best = mb_size(b);
    }
    /* The cache's blocks serve a request of their size too (a freed 1.9 MB
     * block, taken back by the next request of 1.9 MB, was left out). */
    for (unsigned bin = TLSF_CACHE_BINS; bin-- > 0 && t->cache_blocks;) {
        if (!t->cache[bin]) continue;
        for (mblock *b = t->cache[bin]; b; b = cache_link_of(b)->next)
            if (mb_size(b) > best) best = mb_size(b);
        break; /* a lower bin holds smaller blocks */
    }
    return best ? best - MB_HDR : 0;
}

void tlsf_usage(const heap_t *h, size_t *blocks, size_t *requested, size_t *usable, size_t *purged) {
    for (const segment_t *s = h->segments[SEG_MEDIUM]; s; s = s->next) {
        for (const mblock *b = (const mblock *)s->first_block; (uintptr_t)b < s->sentinel; b = mb_next(b)) {
            if (!mb_walkable(s, b)) break;
            if (mb_free(b)) {
                size_t first, end;
                mb_inner_pages(s, (mblock *)b, &first, &end);
                *purged += (end - first - touched_count(s, first, end)) * OS_PAGE;
                continue;
            }
            if (!live_get(s, mb_payload(b))) continue; /* cached */
            *blocks += 1;
            *requested += mb_requested_holds(b) ? b->requested : mb_size(b) - MB_HDR;
            *usable += mb_size(b) - MB_HDR;
        }
    }
}

void tlsf_foreach_used(const heap_t *h, block_fn fn, void *ctx) {
    for (const segment_t *s = h->segments[SEG_MEDIUM]; s; s = s->next)
        for (const mblock *b = (const mblock *)s->first_block; (uintptr_t)b < s->sentinel && mb_walkable(s, b);
             b = mb_next(b))
            if (!mb_free(b) && live_get(s, mb_payload(b)) && mb_requested_holds(b)) fn(ctx, mb_payload(b), b->requested);
}

/* ---- purging ------------------------------------------------------------- */

/* Hands back every touched OS page inside free block b of segment s, keeping
 * its links and its footer, if it has one: a run of pages per call, from its
 * end; a call the kernel refuses stops it, the rest kept dirty. */
static void tlsf_purge_block(heap_t *h, segment_t *s, mblock *b) {
    tlsf_t *t = &h->tlsf;
    size_t first, end, purged = 0;
    mb_inner_pages(s, b, &first, &end);
    for (size_t i = end; i > first;) { /* pages [run, i) go back in one call */
        if (!touched_get(s, i - 1)) {
            i--;
            continue;
        }
        size_t run = i;
        while (run > first && touched_get(s, run - 1)) run--;
        /* A page whose bit is clear reads as zero (tlsf_calloc skips it): the bits
         * go only when the kernel dropped the pages. Locked memory it refuses. */
        void *from = (uint8_t *)s + run * OS_PAGE;
        if (segment_purging(s) ? os_purge_splitting(from, (i - run) * OS_PAGE) : os_purge(from, (i - run) * OS_PAGE)) break;
        for (size_t page = run; page < i; page++) {
            s->touched_map[page / 64] &= ~((uint64_t)1 << (page % 64));
            s->purged_map[page / 64] |= (uint64_t)1 << (page % 64);
        }
        s->purged_pages += i - run;
        purged += (i - run) * OS_PAGE;
        i = run;
    }
    h->purged_out += purged;
    t->dirty_bytes -= purged;
    mb_links(b)->dirty_pages -= (uint32_t)(purged / OS_PAGE);
}

/* Purges free block b whole; when it is all of a segment (not the heap's only
 * medium one), unmaps the segment instead. True when b is still there with
 * dirty pages (the kernel refused some). */
static bool tlsf_purge_or_release(heap_t *h, mblock *b) {
    segment_t *s = segmap_lookup(b);
    if (tlsf_segment_empty(s) && (h->segments[SEG_MEDIUM] != s || s->next != NULL)) {
        tlsf_segment_release(h, s);
        return false;
    }
    tlsf_purge_block(h, s, b);
    return mb_links(b)->dirty_pages != 0;
}

/* A pass skips the lists that hold no dirty block (dirty_sl_bitmap). Before,
 * it followed the links of every free block larger than the ones it purged,
 * dirty or not, and one that spared young blocks all of them, mostly cache
 * misses: a heap whose frees each added a young page to one free block among
 * tens of thousands of clean ones walked them all at every purge clock tick,
 * and the walk took about a tick. 40000 blocks from posix_memalign(4096, 512)
 * took 4.1-4.6 s to free under the drop-in (98% of it in tlsf_purge), glibc's
 * 0.01-0.02 s; 80000 of memalign(4096, 100), 66 s. */
void tlsf_purge(heap_t *h, size_t keep, bool spare_young, uint32_t now) {
    tlsf_t *t = &h->tlsf;
    if (t->cache_blocks && tlsf_dirty_bytes(t) > keep) tlsf_cache_flush(h);
    for (int fl = TLSF_FL_COUNT - 1; fl >= 0 && t->dirty_bytes > keep; fl--) {
        if (!(t->fl_bitmap >> fl & 1) || !t->dirty_sl_bitmap[fl]) continue;
        for (int sl = TLSF_SL_COUNT - 1; sl >= 0 && t->dirty_bytes > keep; sl--) {
            if (!(t->dirty_sl_bitmap[fl] >> sl & 1)) continue;
            mblock *b = t->heads[fl][sl];
            bool dirty_left = false; /* in the blocks passed so far */
            while (b && t->dirty_bytes > keep) {
                t->purge_visits++;
                mblock *next = mb_links(b)->next;
                if (mb_links(b)->dirty_pages) {
                    bool spared = spare_young && purge_young(now, mb_links(b)->since);
                    if (spared || tlsf_purge_or_release(h, b)) dirty_left = true;
                }
                b = next;
            }
            /* The whole list passed: a block a purge left dirty (the kernel
             * refused) keeps the bit, as does the rest of a list cut short. */
            if (!b && !dirty_left) t->dirty_sl_bitmap[fl] &= (uint16_t)~(1u << sl);
        }
    }
}

/* ---- check --------------------------------------------------------------- */

int tlsf_check(const heap_t *h, size_t *live_blocks, size_t *live_bytes, size_t *usable) {
    const tlsf_t *t = &h->tlsf;
    size_t B = h->classes.granule, min = tlsf_min_block(h);
    size_t free_blocks = 0, free_bytes = 0, dirty = 0, unmarked = 0, unmarked_bytes = 0;
    for (const segment_t *s = h->segments[SEG_MEDIUM]; s; s = s->next) {
        bool prev_free = false;
        size_t live_bits = 0, used_blocks = 0;
        size_t map_words = align_up(s->size >> s->arena->block_shift, 64) / 64;
        for (size_t w = 0; w < map_words; w++) live_bits += (size_t)__builtin_popcountll(s->live_map[w]);
        size_t purged_pages = 0;
        for (size_t w = 0; w < align_up(s->size / OS_PAGE, 64) / 64; w++) {
            CHECK_INVARIANT(!(s->purged_map[w] & s->touched_map[w]), "an OS page marked both purged and touched",
                            (uintptr_t)s + w * 64 * OS_PAGE);
            purged_pages += (size_t)__builtin_popcountll(s->purged_map[w]);
        }
        CHECK_INVARIANT(purged_pages == s->purged_pages, "a medium segment's count of purged pages disagrees with its map", s);
        const mblock *b = (const mblock *)s->first_block;
        while ((uintptr_t)b < s->sentinel) {
            size_t size = mb_size(b);
            CHECK_INVARIANT(size >= min && size % B == 0, "medium block size is not a multiple of block_size above the minimum", b);
            CHECK_INVARIANT((uintptr_t)b + size <= s->sentinel, "medium block runs past its segment", b);
            CHECK_INVARIANT(!!(mb_sf(b) & MB_PREV_FREE) == prev_free, "medium block's prev-free flag is wrong", b);
            if (mb_free(b)) {
                CHECK_INVARIANT(!prev_free, "two neighbouring free medium blocks (not coalesced)", b);
                CHECK_INVARIANT(mb_at_end(s, mb_next(b)) || ((const size_t *)mb_next(b))[-1] == size,
                                "free medium block's footer is wrong", b);
                CHECK_INVARIANT(!live_get(s, mb_payload(b)), "free medium block marked live", b);
                free_blocks++;
                free_bytes += size;
                dirty += (size_t)mb_links((mblock *)b)->dirty_pages * OS_PAGE;
                size_t last = touched_page(s, (uintptr_t)mb_next(b) - 1);
                CHECK_INVARIANT(touched_count(s, touched_page(s, (uintptr_t)b), touched_page(s, (uintptr_t)b) + 1) == 1 &&
                                    (mb_at_end(s, mb_next(b)) || touched_count(s, last, last + 1) == 1),
                                "free medium block's header or footer page is not marked touched", b);
                CHECK_INVARIANT(mb_links((mblock *)b)->dirty_pages == mb_dirty_pages(s, (mblock *)b),
                                "free medium block's dirty page count disagrees with the touched pages", b);
                unsigned fl, sl;
                tlsf_mapping(size, &fl, &sl);
                CHECK_INVARIANT(!mb_links((mblock *)b)->dirty_pages || (t->dirty_sl_bitmap[fl] >> sl & 1),
                                "free medium block with dirty pages on a list marked clean", b);
            } else {
                size_t first = touched_page(s, (uintptr_t)b), end = touched_page(s, (uintptr_t)mb_next(b) - 1) + 1;
                CHECK_INVARIANT(touched_count(s, first, end) == end - first, "used medium block's pages are not all marked touched", b);
                if (!live_get(s, mb_payload(b))) { /* cached: the walk of the cache below finds it */
                    unmarked++;
                    unmarked_bytes += size;
                    prev_free = false;
                    b = mb_next(b);
                    continue;
                }
                CHECK_INVARIANT(b->requested <= size - MB_HDR, "medium block's requested size exceeds its usable size", b);
                size_t sealed;
                CHECK_INVARIANT(!(h->mode & MODE_CHECKED) || (mb_seal_holds(h, b, size, &sealed) && sealed == b->requested),
                                "medium block's header disagrees with its seal (checked mode)", b);
                used_blocks++;
                *live_bytes += b->requested;
                *usable += size - MB_HDR;
            }
            prev_free = mb_free(b);
            b = mb_next(b);
        }
        CHECK_INVARIANT((uintptr_t)b == s->sentinel, "medium blocks do not end at the sentinel", b);
        CHECK_INVARIANT(live_bits == used_blocks, "live bits of a medium segment do not match its used blocks", s);
        *live_blocks += used_blocks;
    }
    size_t listed = 0;
    for (unsigned fl = 0; fl < TLSF_FL_COUNT; fl++) {
        CHECK_INVARIANT(!!(t->fl_bitmap >> fl & 1) == (t->sl_bitmap[fl] != 0), "TLSF first-level bitmap is wrong", fl);
        for (unsigned sl = 0; sl < TLSF_SL_COUNT; sl++) {
            mblock *head = t->heads[fl][sl];
            CHECK_INVARIANT(!!(t->sl_bitmap[fl] >> sl & 1) == (head != NULL), "TLSF second-level bitmap is wrong", fl * 32 + sl);
            mblock *prev = NULL;
            for (mblock *b = head; b; prev = b, b = mb_links(b)->next) {
                CHECK_INVARIANT(++listed <= free_blocks, "TLSF lists hold more blocks than the segments", b);
                const segment_t *s = segmap_lookup(b);
                CHECK_INVARIANT(s && s->kind == SEG_MEDIUM && s->heap == h, "TLSF list holds a block outside the heap", b);
                CHECK_INVARIANT(mb_free(b), "TLSF list holds a used block", b);
                CHECK_INVARIANT(mb_links(b)->prev == prev, "TLSF list back link is wrong", b);
                unsigned f, l;
                tlsf_mapping(mb_size(b), &f, &l);
                CHECK_INVARIANT(f == fl && l == sl, "free block is in the wrong TLSF list", b);
            }
        }
    }
    CHECK_INVARIANT(listed == free_blocks, "free medium blocks missing from the TLSF lists", free_blocks - listed);
    CHECK_INVARIANT(t->free_blocks == free_blocks, "TLSF free block count is wrong", t->free_blocks);
    CHECK_INVARIANT(t->free_bytes == free_bytes, "TLSF free byte count is wrong", t->free_bytes);
    CHECK_INVARIANT(t->dirty_bytes == dirty, "TLSF dirty byte count is wrong", t->dirty_bytes);
    size_t cached = 0, cached_bytes = 0;
    for (unsigned bin = 0; bin < TLSF_CACHE_BINS; bin++) {
        unsigned count = 0;
        for (mblock *b = t->cache[bin]; b; b = *(mblock **)mb_payload(b)) {
            CHECK_INVARIANT(++cached <= unmarked, "the medium cache holds more blocks than there are unmarked used ones", b);
            const segment_t *s = segmap_lookup(b);
            CHECK_INVARIANT(s && s->kind == SEG_MEDIUM && s->heap == h, "the medium cache holds a block outside the heap", b);
            CHECK_INVARIANT(!mb_free(b) && !live_get(s, mb_payload(b)), "the medium cache holds a free or live block", b);
            CHECK_INVARIANT(tlsf_cache_bin_of(mb_size(b)) == (int)bin, "cached medium block is in the wrong bin", b);
            count++;
            cached_bytes += mb_size(b);
        }
        CHECK_INVARIANT(count == t->cache_count[bin], "medium cache bin count is wrong", bin);
    }
    CHECK_INVARIANT(cached == unmarked && cached == t->cache_blocks, "used medium blocks without a live bit are not all cached", unmarked);
    CHECK_INVARIANT(cached_bytes == unmarked_bytes && cached_bytes == t->cache_bytes, "medium cache byte count is wrong", t->cache_bytes);
    return 0;
}
