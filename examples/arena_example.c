/* arena_example: a program written only against arena.h.
 *
 * It runs random operations with content checks on arenas of both policies and
 * block sizes 16 to 4096, tries the edge cases of the contract, verifies
 * arena_check throughout, and prints what each arena held. Exit status 0 means
 * every check passed.
 *
 *   arena_example [--steps N] [--seed S]
 */
#include "arena.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512

struct slot {
    unsigned char *p;
    size_t size;
    unsigned char tag;
};

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int failures;
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAILED: %s: ", #cond);                                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static size_t random_size(void) {
    uint64_t r = rng_next() % 100;
    if (r < 75) return rng_next() % 256;
    if (r < 97) return rng_next() % 20000;
    return rng_next() % (4u << 20);
}

/* Byte i of a block holds (tag + i) mod 256: the pattern repeats every 256
 * bytes, so blocks are written and compared a pattern's length at a time
 * (byte by byte, the 4 MiB blocks made this program take a minute). */
static unsigned char pattern[2 * 256];

static void pattern_init(void) {
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)i;
}

/* Bytes of the pattern's stretch that starts `at` bytes into a block of `size`. */
static size_t stretch(size_t size, size_t at) { return size - at < 256 ? size - at : 256; }

static int intact(const struct slot *s) {
    const unsigned char *expected = pattern + s->tag;
    for (size_t at = 0; at < s->size; at += 256)
        if (memcmp(s->p + at, expected, stretch(s->size, at))) return 0;
    return 1;
}

static void fill(struct slot *s) {
    const unsigned char *source = pattern + s->tag;
    for (size_t at = 0; at < s->size; at += 256) memcpy(s->p + at, source, stretch(s->size, at));
}

static void edge_cases(arena_t *a, size_t block_size) {
    void *z1 = arena_malloc(a, 0), *z2 = arena_malloc(a, 0);
    EXPECT(z1 && z2 && z1 != z2, "malloc(0) gives distinct blocks");
    arena_free(a, z1);
    arena_free(a, z2);
    arena_free(a, NULL);
    errno = 0;
    EXPECT(arena_calloc(a, SIZE_MAX / 4, 8) == NULL && errno == ENOMEM, "calloc overflow is ENOMEM");
    errno = 0;
    EXPECT(arena_memalign(a, 48, 10) == NULL && errno == EINVAL, "alignment 48 is EINVAL");
    void *p = arena_realloc(a, NULL, 100);
    EXPECT(p != NULL && (uintptr_t)p % block_size == 0, "realloc(NULL) allocates, aligned");
    EXPECT(arena_realloc(a, p, 0) == NULL, "realloc(p, 0) frees");
    void *al = arena_memalign(a, 4096, 4096);
    EXPECT(al && (uintptr_t)al % 4096 == 0, "memalign(4096, 4096)");
    arena_free(a, al);
}

static int run(arena_policy policy, size_t block_size, long steps) {
    arena_config cfg = {.block_size = block_size, .policy = policy};
    arena_t *a = arena_create(&cfg);
    if (!a) {
        perror("arena_create");
        return 1;
    }
    edge_cases(a, block_size);
    static struct slot slots[SLOTS];
    memset(slots, 0, sizeof slots);
    for (long step = 0; step < steps; step++) {
        struct slot *s = &slots[rng_next() % SLOTS];
        if (s->p) {
            EXPECT(intact(s), "block of %zu bytes intact at step %ld", s->size, step);
            if (rng_next() % 2) {
                size_t n = random_size() + 1;
                unsigned char *q = arena_realloc(a, s->p, n);
                EXPECT(q != NULL, "realloc to %zu", n);
                if (!q) continue;
                size_t kept = n < s->size ? n : s->size;
                s->p = q;
                s->size = kept;
                EXPECT(intact(s), "realloc kept %zu bytes", kept);
                s->size = n;
                fill(s);
            } else {
                arena_free(a, s->p);
                s->p = NULL;
            }
        } else {
            s->size = random_size();
            s->tag = (unsigned char)rng_next();
            s->p = rng_next() % 8 ? arena_malloc(a, s->size) : arena_memalign(a, (size_t)1 << (rng_next() % 13), s->size);
            EXPECT(s->p != NULL, "allocation of %zu", s->size);
            if (!s->p) continue;
            EXPECT((uintptr_t)s->p % block_size == 0, "block aligned to %zu", block_size);
            fill(s);
        }
        if (step % 1000 == 0) EXPECT(arena_check(a) == 0, "arena_check at step %ld", step);
    }
    arena_stats st;
    arena_stats_get(a, &st);
    size_t live = 0;
    for (int i = 0; i < SLOTS; i++) live += slots[i].p ? slots[i].size : 0;
    EXPECT(st.live_bytes == live, "live bytes %zu match the program's %zu", st.live_bytes, live);
    printf("%-7s block %5zu: %8zu live bytes in %4zu blocks, peak %9zu; %9zu bytes mapped (peak %10zu) in %3zu regions\n",
           policy == ARENA_POLICY_SEED ? "seed" : "default", block_size, st.live_bytes, st.live_blocks,
           st.peak_live_bytes, st.mapped_bytes, st.peak_mapped_bytes, st.regions);
    arena_reset(a);
    EXPECT(arena_check(a) == 0, "arena_check after reset");
    arena_destroy(a);
    return 0;
}

/* 1 and the decimal number s (digits only, at most max) in *out; 0 when s is not one. */
static int parse_number(const char *s, uint64_t max, uint64_t *out) {
    char *end;
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return !*end && errno == 0 && *out <= max;
}

int main(int argc, char **argv) {
    long steps = 100000;
    uint64_t value;
    rng_state = 1;
    pattern_init();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [--steps N] [--seed S]\n", argv[0]);
            return 0;
        }
        if (!strcmp(argv[i], "--steps") && i + 1 < argc && parse_number(argv[i + 1], LONG_MAX, &value)) {
            steps = (long)value;
            i++;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc && parse_number(argv[i + 1], UINT64_MAX, &value)) {
            rng_state = value;
            i++;
        } else {
            if (strcmp(argv[i], "--steps") && strcmp(argv[i], "--seed"))
                fprintf(stderr, "%s: unknown flag '%s'\n", argv[0], argv[i]);
            else if (i + 1 < argc)
                fprintf(stderr, "%s: %s takes a whole number, not '%s'\n", argv[0], argv[i], argv[i + 1]);
            else
                fprintf(stderr, "%s: %s needs a whole number\n", argv[0], argv[i]);
            fprintf(stderr, "usage: %s [--steps N] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    for (int policy = 0; policy < 2; policy++)
        for (size_t bs = 16; bs <= 4096; bs *= 4)
            if (run(policy ? ARENA_POLICY_SEED : ARENA_POLICY_DEFAULT, bs, steps)) return 1;
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
