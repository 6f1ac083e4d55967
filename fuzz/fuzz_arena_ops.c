/* fuzz_arena_ops: libFuzzer target that interprets its input as a program of
 * allocator operations on two explicit arenas, written only against arena.h
 * (plus the OS-failure test hook of the static library).
 *
 * Input: 4 configuration bytes, then ops of 6 bytes each until the input ends
 * (reading past the end gives zeros): an op byte and 5 argument bytes, of
 * which each op uses what it needs, so every op starts at a fixed place
 * whatever the state.
 *   c0  bit 0 seed policy, bit 1 ARENA_THREAD_SAFE, bits 2-4 max_bytes
 *       (0,0,0,0, 256 KiB, 1 MiB, 4 MiB, 16 MiB), bits 5-7 injected OS
 *       failures (none; 6: every 3rd mapping fails; 7: every 11th)
 *   c1  block_size = 8 << (c1 % 10)            (8 .. 4096)
 *   c2  region_size = 0 (the policy's default) or 64 KiB << (c2 % 7) (.. 4 MiB)
 *   c3  the second ("other") arena: bit 0 seed policy, bit 1 thread safe;
 *       bits 2-3 the main arena's modes when its policy is the default one
 *       (ARENA_CHECKED, ARENA_SECURE: the same model holds in them, the
 *       program writing only inside its blocks)
 *   op  one byte (% OP_COUNT), then 5 argument bytes: see run_op.
 *
 * The model: a table of at most MAX_LIVE live blocks of the main arena (and
 * MAX_OTHER of the other one), each with its requested size and a pattern
 * tag. Every block is filled with its pattern when it is allocated and
 * verified before it is freed or reallocated (and on reset and at the end):
 * whole up to 64 KiB, at its edges and in every 4 KiB above (pattern_walk).
 * After every op (every 4th while the model holds more than 32 MiB)
 * arena_check must hold and arena_stats_get must agree with the model:
 * live_bytes and live_blocks exactly, the cap of max_bytes, counters that
 * never go back. Misuse (double free, interior, foreign and stale pointers,
 * blocks of the other arena) goes through free, realloc or usable_size; the
 * installed handler must be called exactly once with the pointer, the arena
 * and an allowed kind, and nothing may change: both arenas' statistics are
 * compared field by field and the blocks nearby verified. Any disagreement
 * prints what was expected and calls abort(). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/* arena/src/os.c, hidden in the shared library, linked from the static one:
 * the next `after` mappings succeed, then every `every`-th fails. */
void os_fail_inject(unsigned long after, unsigned long every);

#define MAX_LIVE 64
#define MAX_OTHER 8
#define STALE_RING 16
#define MODEL_CAP ((size_t)96 << 20) /* bytes live in the model at most */
#define BIG_HEAP ((size_t)32 << 20)  /* above this, check every 4th op */
#define OP_ARGS 5                    /* argument bytes after every op byte */

typedef struct block {
    uint8_t *p;
    size_t size;
    uint32_t tag;
} block;

typedef struct side { /* one arena and its model */
    arena_t *a;
    const char *name;
    block live[MAX_LIVE];
    size_t count, max_count;
    size_t bytes, peak;      /* live bytes in the model, peak since the last reset */
    size_t fresh_mapped;     /* mapped_bytes of the arena when new */
    size_t max_bytes;
    arena_stats last;        /* for counters that must not go back */
} side;

static side M, O; /* the main arena and the other one */
static int may_fail; /* allocations may fail: a max_bytes cap or injected failures */
static size_t block_size;
static uint32_t next_tag;
static void *stale[STALE_RING]; /* pointers freed lately */
static unsigned stale_next, stale_count;
static unsigned long op_number;
static const char *op_name = "setup";
static int a_global;
static void *libc_block;
/* FUZZ_ARENA_OPS_VERBOSE=1: a line per input with what it did. */
static int verbose;
static unsigned long n_misuse, n_failed, n_checks;

static const uint8_t *in_data;
static size_t in_size, in_pos;
static uint8_t frame[OP_ARGS]; /* the arguments of the current op */
static unsigned frame_pos;

static uint8_t input_byte(void) { return in_pos < in_size ? in_data[in_pos++] : 0; }
/* The next argument byte of the current op. */
static uint8_t byte(void) { return frame_pos < OP_ARGS ? frame[frame_pos++] : 0; }
static uint32_t u16(void) { return (uint32_t)byte() | (uint32_t)byte() << 8; }
static uint32_t u24(void) { return u16() | (uint32_t)byte() << 16; }

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fuzz_arena_ops: op %lu (%s): ", op_number, op_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- patterns ------------------------------------------------------------
 * The harness's own hot loops, over megabytes: no coverage or comparison
 * tracing (which would spend most of the time here, not in the allocator) and
 * no ASan checks (arena memory is all addressable to ASan anyway). */
#if defined(__clang__)
#define PLAIN __attribute__((no_sanitize("coverage", "address")))
#else /* the corpus replay of a gcc build (replay_main.c): no coverage to leave out */
#define PLAIN __attribute__((no_sanitize("address")))
#endif

PLAIN static uint64_t pattern_word(uint32_t tag, size_t i) {
    uint64_t x = (uint64_t)tag * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 29);
}
PLAIN static uint8_t pattern_byte(uint32_t tag, size_t off) {
    return (uint8_t)(pattern_word(tag, off >> 3) >> (8 * (off & 7)));
}

/* Writes the pattern of `tag` over [from, to) of block p. */
PLAIN static void fill_range(uint8_t *p, size_t from, size_t to, uint32_t tag) {
    size_t i = from;
    for (; i < to && (i & 7); i++) p[i] = pattern_byte(tag, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = pattern_word(tag, i >> 3);
        memcpy(p + i, &w, 8);
    }
    for (; i < to; i++) p[i] = pattern_byte(tag, i);
}

/* The first offset in [from, to) where p differs from its pattern, or SIZE_MAX. */
PLAIN static size_t mismatch_range(const uint8_t *p, size_t from, size_t to, uint32_t tag) {
    size_t i = from;
    for (; i < to && (i & 7); i++)
        if (p[i] != pattern_byte(tag, i)) return i;
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pattern_word(tag, i >> 3)) break;
    }
    for (; i < to; i++)
        if (p[i] != pattern_byte(tag, i)) return i;
    return SIZE_MAX;
}

/* The bytes of an n-byte block that carry the pattern: all of them up to
 * 64 KiB; above, the first and last 4 KiB and the first 64 bytes of every
 * 4 KiB in between (every OS page of the block has some), which keeps the
 * cost of multi-MiB blocks down. Walks those runs below `upto`: writes them
 * (write) or returns the first offset that differs (else SIZE_MAX). */
#define FULL_PATTERN_MAX ((size_t)64 << 10)
#define EDGE_BYTES ((size_t)4096)
#define SAMPLE_BYTES ((size_t)64)
PLAIN static size_t pattern_walk(uint8_t *p, size_t n, size_t upto, uint32_t tag, int write) {
    size_t bad = SIZE_MAX;
    size_t runs[2][2] = {{0, n}, {n, n}}; /* the edges: head, tail */
    if (n > FULL_PATTERN_MAX) {
        runs[0][1] = EDGE_BYTES;
        runs[1][0] = n - EDGE_BYTES;
    }
    for (size_t o = runs[0][1]; bad == SIZE_MAX && o < runs[1][0]; o += EDGE_BYTES) {
        size_t to = o + SAMPLE_BYTES < upto ? o + SAMPLE_BYTES : upto;
        if (o >= to) break;
        if (write) fill_range(p, o, to, tag);
        else bad = mismatch_range(p, o, to, tag);
    }
    for (int r = 0; r < 2 && bad == SIZE_MAX; r++) {
        size_t to = runs[r][1] < upto ? runs[r][1] : upto;
        if (runs[r][0] >= to) continue;
        if (write) fill_range(p, runs[r][0], to, tag);
        else bad = mismatch_range(p, runs[r][0], to, tag);
    }
    return bad;
}

static void fill(uint8_t *p, size_t n, uint32_t tag) { pattern_walk(p, n, n, tag, 1); }

/* The first nonzero byte of [p, p+n), or n. */
PLAIN static size_t first_nonzero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return i;
    return n;
}

static void verify(const side *s, const block *b, const char *when) {
    size_t bad = pattern_walk(b->p, b->size, b->size, b->tag, 0);
    if (bad != SIZE_MAX)
        die("%s: block %p of %zu bytes in the %s arena damaged at offset %zu", when, (void *)b->p, b->size,
            s->name, bad);
}

static void verify_all(const side *s, const char *when) {
    for (size_t i = 0; i < s->count; i++) verify(s, &s->live[i], when);
}

/* ---- the error handler ----------------------------------------------------- */

static struct {
    unsigned count;
    arena_t *arena;
    const void *p;
    arena_error kind;
    char message[256];
} report;

static void on_misuse(void *ctx, arena_t *a, const void *p, arena_error kind, const char *message) {
    (void)ctx;
    report.count++;
    report.arena = a;
    report.p = p;
    report.kind = kind;
    snprintf(report.message, sizeof report.message, "%s", message);
}

/* ---- checks ------------------------------------------------------------- */

static arena_stats stats_of(const side *s) {
    arena_stats st;
    if (arena_stats_get(s->a, &st) != 0) die("arena_stats_get failed on the %s arena", s->name);
    return st;
}

/* Every invariant of arena s against its model. */
static void check_side(side *s) {
    n_checks++;
    if (arena_check(s->a) != 0) die("arena_check failed on the %s arena (message above)", s->name);
    arena_stats st = stats_of(s);
    if (st.live_bytes != s->bytes) die("%s arena: live_bytes %zu, model %zu", s->name, st.live_bytes, s->bytes);
    if (st.live_blocks != s->count) die("%s arena: live_blocks %zu, model %zu", s->name, st.live_blocks, s->count);
    if (st.peak_live_bytes < s->peak || st.peak_live_bytes < st.live_bytes)
        die("%s arena: peak_live_bytes %zu below the model's peak %zu or live %zu", s->name, st.peak_live_bytes,
            s->peak, st.live_bytes);
    if (st.usable_bytes < st.live_bytes)
        die("%s arena: usable_bytes %zu < live_bytes %zu", s->name, st.usable_bytes, st.live_bytes);
    if (st.mapped_bytes < st.usable_bytes || st.peak_mapped_bytes < st.mapped_bytes)
        die("%s arena: mapped %zu, peak mapped %zu, usable %zu out of order", s->name, st.mapped_bytes,
            st.peak_mapped_bytes, st.usable_bytes);
    if (s->max_bytes && st.peak_mapped_bytes - s->fresh_mapped > s->max_bytes)
        die("%s arena: peak_mapped_bytes %zu past max_bytes %zu (+%zu of the arena itself)", s->name,
            st.peak_mapped_bytes, s->max_bytes, s->fresh_mapped);
    if (st.largest_free_block > st.free_bytes)
        die("%s arena: largest_free_block %zu > free_bytes %zu", s->name, st.largest_free_block, st.free_bytes);
    if (st.allocs - st.frees != st.live_blocks)
        die("%s arena: allocs %llu - frees %llu != live_blocks %zu", s->name, (unsigned long long)st.allocs,
            (unsigned long long)st.frees, st.live_blocks);
    if (st.allocs < s->last.allocs || st.frees < s->last.frees || st.reallocs < s->last.reallocs)
        die("%s arena: a counter went back", s->name);
    s->last = st;
}

/* Field by field, so the message says which one moved. */
static void expect_same_stats(const side *s, const arena_stats *x, const arena_stats *y, const char *what) {
#define SAME(f)                                                                                              \
    if (x->f != y->f)                                                                                        \
        die("%s changed %s of the %s arena: %llu -> %llu", what, #f, s->name, (unsigned long long)x->f,        \
            (unsigned long long)y->f);
    SAME(live_bytes) SAME(live_blocks) SAME(peak_live_bytes) SAME(usable_bytes) SAME(mapped_bytes)
    SAME(peak_mapped_bytes) SAME(free_bytes) SAME(largest_free_block) SAME(regions) SAME(allocs) SAME(frees)
    SAME(reallocs) SAME(purged_bytes)
#undef SAME
}

/* A fresh block [p, p+n) must not overlap a live block of either arena
 * (except `self`, the block being reallocated). */
static void expect_disjoint(const uint8_t *p, size_t n, const block *self) {
    const side *sides[2] = {&M, &O};
    size_t len = n ? n : 1;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sides[k]->count; i++) {
            const block *b = &sides[k]->live[i];
            if (b == self) continue;
            size_t blen = b->size ? b->size : 1;
            if (p < b->p + blen && b->p < p + len)
                die("block %p of %zu bytes overlaps live block %p of %zu bytes of the %s arena", (const void *)p,
                    n, (void *)b->p, b->size, sides[k]->name);
        }
}

static void expect_aligned(const void *p, size_t align, const char *what) {
    if ((uintptr_t)p % align) die("%s returned %p, not aligned to %zu", what, p, align);
}

/* A NULL result: allowed only when memory may run out, and then with ENOMEM. */
static void expect_enomem(int err, const char *what, size_t n) {
    n_failed++;
    if (!may_fail) die("%s of %zu bytes failed (errno %d) with no cap and no injected failure", what, n, err);
    if (err != ENOMEM) die("%s of %zu bytes failed with errno %d, not ENOMEM", what, n, err);
}

/* ---- the model ------------------------------------------------------------ */

static void forget_pointer(void *p) {
    stale[stale_next] = p;
    stale_next = (stale_next + 1) % STALE_RING;
    if (stale_count < STALE_RING) stale_count++;
}

static void add_block(side *s, uint8_t *p, size_t n) {
    block *b = &s->live[s->count++];
    b->p = p;
    b->size = n;
    b->tag = next_tag++;
    fill(p, n, b->tag);
    s->bytes += n;
    if (s->bytes > s->peak) s->peak = s->bytes;
}

static void drop_block(side *s, size_t i) {
    s->bytes -= s->live[i].size;
    forget_pointer(s->live[i].p);
    s->live[i] = s->live[--s->count];
}

static size_t find_live(const side *s, const void *p) {
    for (size_t i = 0; i < s->count; i++)
        if (s->live[i].p == p) return i;
    return SIZE_MAX;
}

/* A size from 3 bytes: half tiny (0..128), a quarter up to 8 KiB, an eighth
 * up to 300 KB, 7/64 up to 4 MiB and 1/64 around the 16 MiB line between
 * medium blocks and mappings of their own. */
static size_t take_size(const side *s) {
    uint8_t k = byte();
    size_t v = u16();
    size_t n;
    switch (k & 7) {
    case 0: case 1: case 2: case 3: n = v % 129; break;
    case 4: case 5: n = v % 8193; break;
    case 6: n = v * 5 % 300001; break;
    default:
        if (k >> 3 & 7) n = (v << 6 | (k >> 6)) % ((size_t)4 << 20);
        else n = ((size_t)16 << 20) - ((size_t)32 << 10) + v;
        break;
    }
    if (s->bytes + n > MODEL_CAP) n %= 4096; /* keep memory and time bounded */
    return n;
}

/* ---- misuse --------------------------------------------------------------- */

#define KIND(k) (1u << (k))

/* Passes p, which is not a live block of `target`, to free, realloc or
 * usable_size of `target` (by `how`). The handler must be called once with p,
 * target and a kind in `allowed`; for a wrong arena, the message must name
 * `owner`. Neither arena may change. */
static void misuse(side *target, void *p, unsigned how, unsigned allowed, arena_t *owner) {
    arena_stats before_m = stats_of(&M), before_o = stats_of(&O);
    static const char *const calls[] = {"free", "realloc", "usable_size", "realloc(0)"};
    const char *call = calls[how % 4];
    report.count = 0;
    switch (how % 4) {
    case 0: arena_free(target->a, p); break;
    case 1: {
        errno = 0;
        void *q = arena_realloc(target->a, p, 1 + (how >> 2) % 5000);
        if (q) die("realloc of misused pointer %p returned %p", p, q);
        if (errno != EINVAL) die("realloc of misused pointer %p: errno %d, not EINVAL", p, errno);
        break;
    }
    case 2: {
        size_t u = arena_usable_size(target->a, p);
        if (u) die("usable_size of misused pointer %p returned %zu", p, u);
        break;
    }
    default: {
        void *q = arena_realloc(target->a, p, 0);
        if (q) die("realloc(0) of misused pointer %p returned %p", p, q);
        break;
    }
    }
    if (report.count != 1)
        die("%s of %p in the %s arena: %u misuse reports, not 1", call, p, target->name, report.count);
    if (report.p != p || report.arena != target->a)
        die("%s of %p in the %s arena: report names %p in arena %p", call, p, target->name, report.p,
            (void *)report.arena);
    if (report.kind < 1 || report.kind > 31 || !(allowed & KIND(report.kind)))
        die("%s of %p in the %s arena: reported as \"%s\" (%d), allowed mask 0x%x: %s", call, p, target->name,
            arena_error_name(report.kind), (int)report.kind, allowed, report.message);
    char text[32];
    snprintf(text, sizeof text, "%p", p);
    if (strncmp(report.message, "arena: ", 7) != 0 || !strstr(report.message, text))
        die("misuse message does not start with \"arena: \" or does not name %s: %s", text, report.message);
    if (report.kind == ARENA_ERR_WRONG_ARENA && owner) {
        snprintf(text, sizeof text, "%p", (void *)owner);
        if (!strstr(report.message, text)) die("wrong-arena message does not name the owner %s: %s", text, report.message);
    }
    arena_stats after_m = stats_of(&M), after_o = stats_of(&O);
    expect_same_stats(&M, &before_m, &after_m, call);
    expect_same_stats(&O, &before_o, &after_o, call);
    n_misuse++;
}

/* ---- the ops -------------------------------------------------------------- */

enum {
    OP_MALLOC, OP_MALLOC2, OP_CALLOC, OP_REALLOC, OP_REALLOC2, OP_MEMALIGN, OP_FREE, OP_FREE2, OP_USABLE,
    OP_RESET, OP_VERIFY, OP_DOUBLE_FREE, OP_INTERIOR, OP_FOREIGN, OP_WRONG_ARENA, OP_OTHER, OP_EDGE,
    OP_COUNT
};

static size_t pick(const side *s) { return byte() % s->count; }

/* The result p of `what` for n bytes aligned to `align`, errno `err`: a new
 * live block of s, or a failure that must be ENOMEM where memory may run out. */
static void accept_block(side *s, uint8_t *p, size_t n, size_t align, const char *what, int err) {
    if (!p) {
        expect_enomem(err, what, n);
        return;
    }
    expect_aligned(p, align, what);
    expect_disjoint(p, n, NULL);
    add_block(s, p, n);
}

static void op_malloc(side *s) {
    size_t n = take_size(s);
    errno = 0;
    uint8_t *p = arena_malloc(s->a, n);
    accept_block(s, p, n, block_size, "malloc", errno);
}

static void op_calloc(side *s) {
    size_t count = 1 + byte() % 8;
    size_t each = take_size(s) / count, n = count * each;
    errno = 0;
    uint8_t *p = arena_calloc(s->a, count, each);
    size_t i = p ? first_nonzero(p, n) : n;
    if (i != n) die("calloc(%zu, %zu) = %p: byte %zu is %u, not 0", count, each, (void *)p, i, p[i]);
    accept_block(s, p, n, block_size, "calloc", errno);
}

static void op_realloc(side *s) {
    uint8_t sel = byte();
    if (s->count == 0 || sel % 8 == 0) { /* realloc(NULL, n) is malloc */
        if (s->count == MAX_LIVE) return;
        size_t n = take_size(s);
        errno = 0;
        uint8_t *p = arena_realloc(s->a, NULL, n);
        accept_block(s, p, n, block_size, "realloc(NULL)", errno);
        return;
    }
    size_t i = sel % s->count;
    block *b = &s->live[i];
    verify(s, b, "before realloc");
    size_t n = take_size(s);
    if (n == 0) { /* frees p */
        void *q = arena_realloc(s->a, b->p, 0);
        if (q) die("realloc(%p, 0) returned %p, not NULL", (void *)b->p, q);
        drop_block(s, i);
        return;
    }
    if (s->bytes - b->size + n > MODEL_CAP) n = b->size ? b->size : 1;
    errno = 0;
    uint8_t *q = arena_realloc(s->a, b->p, n);
    if (!q) {
        expect_enomem(errno, "realloc", n);
        verify(s, b, "after a failed realloc");
        return;
    }
    expect_aligned(q, block_size, "realloc");
    size_t kept = b->size < n ? b->size : n;
    size_t bad = pattern_walk(q, b->size, kept, b->tag, 0);
    if (bad != SIZE_MAX)
        die("realloc(%p, %zu -> %zu) = %p: contents lost at offset %zu", (void *)b->p, b->size, n, (void *)q, bad);
    if (q != b->p) forget_pointer(b->p);
    b->p = q;
    s->bytes = s->bytes - b->size + n;
    if (s->bytes > s->peak) s->peak = s->bytes;
    b->size = n;
    expect_disjoint(q, n, b);
    fill(q, n, b->tag); /* the pattern of the new size, kept bytes included */
}

static void op_memalign(side *s) {
    uint8_t k = byte();
    size_t n = take_size(s);
    errno = 0;
    if (k >= 240) { /* not a power of two */
        static const size_t bad[] = {0, 3, 24, 48, 4097, 12288, (size_t)3 << 20, SIZE_MAX};
        size_t align = bad[k % 8];
        void *p = arena_memalign(s->a, align, n);
        if (p || errno != EINVAL) die("memalign(%zu, %zu) = %p, errno %d: want NULL, EINVAL", align, n, p, errno);
        return;
    }
    size_t align = (size_t)1 << (k % 23);
    uint8_t *p = arena_memalign(s->a, align, n);
    accept_block(s, p, n, align > block_size ? align : block_size, "memalign", errno);
}

static void op_free(side *s) {
    if (s->count == 0) return;
    size_t i = pick(s);
    verify(s, &s->live[i], "before free");
    arena_free(s->a, s->live[i].p);
    drop_block(s, i);
}

static void op_usable(side *s) {
    if (s->count == 0) return;
    block *b = &s->live[pick(s)];
    size_t u = arena_usable_size(s->a, b->p);
    if (u < b->size) die("usable_size(%p) = %zu < %zu asked for", (void *)b->p, u, b->size);
    /* From now on the block is u bytes, all the caller's. */
    s->bytes += u - b->size;
    if (s->bytes > s->peak) s->peak = s->bytes;
    b->size = u;
    expect_disjoint(b->p, u, b);
    fill(b->p, u, b->tag);
}

static void op_reset(side *s) {
    verify_all(s, "before reset");
    arena_reset(s->a);
    while (s->count) drop_block(s, s->count - 1);
    s->peak = 0;
    arena_stats st = stats_of(s);
    if (st.mapped_bytes > s->fresh_mapped)
        die("after reset the %s arena maps %zu bytes, a fresh one %zu", s->name, st.mapped_bytes, s->fresh_mapped);
}

static void op_double_free(void) {
    uint8_t how = byte();
    if (how & 1 && M.count) { /* free, then the same pointer again at once */
        size_t i = pick(&M);
        void *p = M.live[i].p;
        verify(&M, &M.live[i], "before free");
        arena_free(M.a, p);
        drop_block(&M, i);
        check_side(&M);
        unsigned allowed = KIND(ARENA_ERR_DOUBLE_FREE);
        misuse(&M, p, how >> 1, allowed, NULL);
        return;
    }
    if (stale_count == 0) return;
    void *p = stale[byte() % stale_count];
    if (find_live(&M, p) != SIZE_MAX) return; /* handed out again: not misuse */
    if (find_live(&O, p) != SIZE_MAX) {       /* now a block of the other arena */
        misuse(&M, p, how >> 1, KIND(ARENA_ERR_WRONG_ARENA), O.a);
        return;
    }
    /* Freed, perhaps unmapped, perhaps inside a newer block, or in memory the
     * other arena maps now: any kind but corruption, but it must be reported. */
    misuse(&M, p, how >> 1,
           KIND(ARENA_ERR_DOUBLE_FREE) | KIND(ARENA_ERR_INVALID_POINTER) | KIND(ARENA_ERR_WRONG_ARENA), NULL);
}

static void op_interior(void) {
    uint8_t how = byte();
    if (M.count == 0) return;
    block *b = &M.live[pick(&M)];
    if (b->size < 2) return;
    size_t off = 1 + u24() % (b->size - 1);
    if (how & 1) off -= off % block_size; /* a granule boundary inside the block */
    if (off == 0) return;
    misuse(&M, b->p + off, how >> 1, KIND(ARENA_ERR_INVALID_POINTER), NULL);
    verify(&M, b, "after misuse of an interior pointer");
}

static void op_foreign(void) {
    uint8_t how = byte();
    int on_stack = 0;
    void *p;
    switch (byte() % 7) {
    case 0: p = &on_stack; break;
    case 1: p = &a_global; break;
    case 2: p = libc_block; break;
    case 3: p = (void *)(uintptr_t)0x10; break;
    case 4: p = (void *)(~(uintptr_t)0 & ~(uintptr_t)4095); break;
    case 5: p = M.a; break; /* the arena's own mapping is not a block */
    default: p = (uint8_t *)O.a + 64; break;
    }
    misuse(&M, p, how, KIND(ARENA_ERR_INVALID_POINTER), NULL);
}

static void op_other(void);

static void op_wrong_arena(void) {
    uint8_t how = byte();
    if (how & 1) { /* a live block of the main arena, given to the other */
        if (M.count == 0) return;
        block *b = &M.live[pick(&M)];
        misuse(&O, b->p, how >> 2, KIND(ARENA_ERR_WRONG_ARENA), M.a);
        verify(&M, b, "after misuse in the wrong arena");
        return;
    }
    if (O.count == 0) return;
    block *b = &O.live[pick(&O)];
    if (how & 2 && b->size >= 2) { /* inside another arena's block: foreign either way */
        size_t off = 1 + u24() % (b->size - 1);
        misuse(&M, b->p + off, how >> 2, KIND(ARENA_ERR_INVALID_POINTER) | KIND(ARENA_ERR_WRONG_ARENA), NULL);
    } else {
        misuse(&M, b->p, how >> 2, KIND(ARENA_ERR_WRONG_ARENA), O.a);
    }
    verify(&O, b, "after misuse in the wrong arena");
}

/* The other arena: small and medium blocks, so wrong-arena misuse has
 * something to point at. */
static void op_other(void) {
    uint8_t k = byte();
    if (k & 1 && O.count < O.max_count) {
        size_t n = take_size(&O) % ((size_t)1 << 20);
        errno = 0;
        uint8_t *p = arena_malloc(O.a, n);
        accept_block(&O, p, n, block_size, "malloc in the other arena", errno);
    } else if (k & 2 && O.count) {
        size_t i = pick(&O);
        verify(&O, &O.live[i], "before free");
        arena_free(O.a, O.live[i].p);
        drop_block(&O, i);
    } else if (k & 4) {
        op_reset(&O);
    }
    check_side(&O);
}

/* Calls that must fail cleanly and change nothing. */
static void op_edge(void) {
    arena_stats before = stats_of(&M);
    errno = 0;
    switch (byte() % 6) {
    case 0: {
        size_t n = byte() & 1 ? SIZE_MAX : (size_t)PTRDIFF_MAX;
        void *p = arena_malloc(M.a, n);
        if (p || errno != ENOMEM) die("malloc(%zu) = %p, errno %d: want NULL, ENOMEM", n, p, errno);
        break;
    }
    case 1: {
        void *p = arena_calloc(M.a, SIZE_MAX / 2 + 1 + byte(), 2 + byte() % 8);
        if (p || errno != ENOMEM) die("overflowing calloc = %p, errno %d: want NULL, ENOMEM", p, errno);
        break;
    }
    case 2: {
        if (M.count == 0) return;
        block *b = &M.live[pick(&M)];
        size_t n = SIZE_MAX - byte() * (size_t)4096;
        void *p = arena_realloc(M.a, b->p, n);
        if (p || errno != ENOMEM) die("realloc(%p, %zu) = %p, errno %d: want NULL, ENOMEM", (void *)b->p, n, p, errno);
        verify(&M, b, "after a realloc that had to fail");
        break;
    }
    case 3: {
        arena_config c = {0};
        switch (byte() % 5) {
        case 0: c.block_size = 24; break;
        case 1: c.block_size = 4; break;
        case 2: c.region_size = (size_t)32 << 10; break;
        case 3: c.policy = (arena_policy)7; break;
        default: c.flags = 0x80; break;
        }
        arena_t *a = arena_create(&c);
        if (a || errno != EINVAL) die("arena_create(bad config) = %p, errno %d: want NULL, EINVAL", (void *)a, errno);
        break;
    }
    case 4: {
        arena_stats st;
        if (arena_stats_get(NULL, &st) != -1 || errno != EINVAL) die("arena_stats_get(NULL, ...) did not fail with EINVAL");
        errno = 0;
        if (arena_stats_get(M.a, NULL) != -1 || errno != EINVAL) die("arena_stats_get(a, NULL) did not fail with EINVAL");
        break;
    }
    default: /* free(NULL) and usable_size(NULL) do nothing, report nothing */
        report.count = 0;
        arena_free(M.a, NULL);
        if (arena_usable_size(M.a, NULL) != 0 || report.count) die("NULL was not ignored");
        break;
    }
    arena_stats after = stats_of(&M);
    expect_same_stats(&M, &before, &after, "a call that had to fail");
}

static const char *const op_names[OP_COUNT] = {
    "malloc", "malloc", "calloc", "realloc", "realloc", "memalign", "free", "free", "usable_size",
    "reset", "verify", "double free", "interior pointer", "foreign pointer", "wrong arena", "other arena",
    "edge case"};

static void run_op(void) {
    unsigned op = input_byte() % OP_COUNT;
    for (unsigned i = 0; i < OP_ARGS; i++) frame[i] = input_byte();
    frame_pos = 0;
    op_name = op_names[op];
    switch (op) {
    case OP_MALLOC:
    case OP_MALLOC2:
        if (M.count < MAX_LIVE) op_malloc(&M);
        else op_free(&M);
        break;
    case OP_CALLOC:
        if (M.count < MAX_LIVE) op_calloc(&M);
        break;
    case OP_REALLOC:
    case OP_REALLOC2: op_realloc(&M); break;
    case OP_MEMALIGN:
        if (M.count < MAX_LIVE) op_memalign(&M);
        break;
    case OP_FREE:
    case OP_FREE2: op_free(&M); break;
    case OP_USABLE: op_usable(&M); break;
    case OP_RESET: op_reset(&M); break;
    case OP_VERIFY:
        verify_all(&M, "verify op");
        verify_all(&O, "verify op");
        break;
    case OP_DOUBLE_FREE: op_double_free(); break;
    case OP_INTERIOR: op_interior(); break;
    case OP_FOREIGN: op_foreign(); break;
    case OP_WRONG_ARENA: op_wrong_arena(); break;
    case OP_OTHER: op_other(); break;
    default: op_edge(); break;
    }
}

/* ---- one input -------------------------------------------------------------- */

static void open_side(side *s, const char *name, const arena_config *c, size_t max_count) {
    memset(s, 0, sizeof *s);
    s->name = name;
    s->max_count = max_count;
    s->max_bytes = c->max_bytes;
    s->a = arena_create(c);
    if (!s->a) die("arena_create of the %s arena failed, errno %d", name, errno);
    s->last = stats_of(s);
    s->fresh_mapped = s->last.mapped_bytes;
}

static void close_side(side *s) {
    verify_all(s, "at the end");
    while (s->count) {
        arena_free(s->a, s->live[s->count - 1].p);
        drop_block(s, s->count - 1);
    }
    check_side(s);
    arena_destroy(s->a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    libc_block = malloc(64);
    const char *env = getenv("FUZZ_ARENA_OPS_VERBOSE");
    verbose = env && *env == '1';
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    in_data = data;
    in_size = size;
    in_pos = 0;
    op_number = 0;
    op_name = "setup";
    next_tag = 1;
    stale_count = stale_next = 0;
    n_misuse = n_failed = n_checks = 0;
    arena_set_error_handler(on_misuse, NULL);

    static const size_t caps[8] = {0, 0, 0, 0, (size_t)256 << 10, (size_t)1 << 20, (size_t)4 << 20, (size_t)16 << 20};
    uint8_t c0 = input_byte(), c1 = input_byte(), c2 = input_byte(), c3 = input_byte();
    arena_config c = {0};
    c.policy = c0 & 1 ? ARENA_POLICY_SEED : ARENA_POLICY_DEFAULT;
    c.flags = c0 & 2 ? ARENA_THREAD_SAFE : 0;
    if (c.policy == ARENA_POLICY_DEFAULT) c.flags |= (c3 & 4 ? ARENA_CHECKED : 0) | (c3 & 8 ? ARENA_SECURE : 0);
    c.max_bytes = caps[(c0 >> 2) & 7];
    c.block_size = (size_t)8 << (c1 % 10);
    c.region_size = c2 == 0 ? 0 : (size_t)64 << 10 << (c2 % 7);
    unsigned long fail_every = (c0 >> 5) == 6 ? 3 : (c0 >> 5) == 7 ? 11 : 0;
    block_size = c.block_size;
    arena_config oc = {0};
    oc.policy = c3 & 1 ? ARENA_POLICY_SEED : ARENA_POLICY_DEFAULT;
    oc.flags = c3 & 2 ? ARENA_THREAD_SAFE : 0;
    oc.block_size = block_size; /* so expect_aligned holds for both */

    open_side(&M, "main", &c, MAX_LIVE);
    open_side(&O, "other", &oc, MAX_OTHER);
    may_fail = c.max_bytes != 0 || fail_every != 0;
    if (fail_every) os_fail_inject(2, fail_every);

    while (in_pos < in_size) {
        op_number++;
        run_op();
        if (M.bytes <= BIG_HEAP || op_number % 4 == 0) check_side(&M);
    }
    os_fail_inject(0, 0);
    op_name = "teardown";
    close_side(&M);
    close_side(&O);
    if (verbose)
        fprintf(stderr, "fuzz_arena_ops: %s policy%s%s, block %zu: %lu ops, %lu checks, %lu misuse reports checked, "
                        "%lu allocations failed\n", c.policy == ARENA_POLICY_SEED ? "seed" : "default",
                c.flags & ARENA_CHECKED ? ", checked" : "", c.flags & ARENA_SECURE ? ", secure" : "", block_size,
                op_number, n_checks, n_misuse, n_failed);
    return 0;
}
