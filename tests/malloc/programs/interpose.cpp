// Checks that every allocation entry point of this process is served by the
// preloaded arena: each call must move arena's own counters.
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include <new>

#include "arena.h"

using stats_fn = int (*)(arena_stats *);
static stats_fn process_stats;
static int failures;

static arena_stats now() {
    arena_stats s{};
    process_stats(&s);
    return s;
}

#define EXPECT_COUNTS(what, call, field, delta)                                                    \
    do {                                                                                           \
        arena_stats before = now();                                                                \
        call;                                                                                      \
        arena_stats after = now();                                                                 \
        if (after.field - before.field != (delta)) {                                               \
            printf("NOT INTERPOSED: %s (%s moved by %lld)\n", what, #field,                        \
                   (long long)(after.field - before.field));                                       \
            failures++;                                                                            \
        } else {                                                                                   \
            printf("ok: %s\n", what);                                                              \
        }                                                                                          \
    } while (0)


int main() {
    process_stats = reinterpret_cast<stats_fn>(dlsym(RTLD_DEFAULT, "arena_malloc_stats"));
    // cfree left glibc's headers long ago; programs still call it.
    auto cfree = reinterpret_cast<void (*)(void *)>(dlsym(RTLD_DEFAULT, "cfree"));
    if (!process_stats || !cfree) {
        printf("arena_malloc_stats not found: libarena_malloc is not loaded\n");
        return 1;
    }
    void *p = nullptr, *q = nullptr;
    EXPECT_COUNTS("malloc", p = malloc(100), allocs, 1u);
    EXPECT_COUNTS("free", free(p), frees, 1u);
    EXPECT_COUNTS("calloc", p = calloc(10, 10), allocs, 1u);
    EXPECT_COUNTS("realloc", p = realloc(p, 5000), reallocs, 1u);
    EXPECT_COUNTS("realloc(p, 0)", q = realloc(p, 0), frees, 1u);
    EXPECT_COUNTS("realloc(NULL)", p = realloc(nullptr, 10), allocs, 1u);
    EXPECT_COUNTS("reallocarray", p = reallocarray(p, 10, 10), reallocs, 1u);
    EXPECT_COUNTS("cfree", cfree(p), frees, 1u);
    EXPECT_COUNTS("posix_memalign", (void)posix_memalign(&p, 64, 100), allocs, 1u);
    free(p);
    EXPECT_COUNTS("aligned_alloc", p = aligned_alloc(256, 256), allocs, 1u);
    free(p);
    EXPECT_COUNTS("memalign", p = memalign(4096, 10), allocs, 1u);
    free(p);
    EXPECT_COUNTS("valloc", p = valloc(10), allocs, 1u);
    free(p);
    EXPECT_COUNTS("pvalloc", p = pvalloc(10), allocs, 1u);
    free(p);
    p = malloc(30);
    // arena's malloc_usable_size makes the block count its 32 usable bytes.
    EXPECT_COUNTS("malloc_usable_size", (void)malloc_usable_size(p), live_bytes, 2u);
    free(p);
    int *i = nullptr;
    EXPECT_COUNTS("operator new", i = new int(5), allocs, 1u);
    EXPECT_COUNTS("operator delete", delete i, frees, 1u);
    struct alignas(128) Wide { char c[300]; };
    Wide *w = nullptr;
    EXPECT_COUNTS("aligned operator new", w = new Wide, allocs, 1u);
    if (reinterpret_cast<uintptr_t>(w) % 128) failures++;
    EXPECT_COUNTS("aligned operator delete", delete w, frees, 1u);
    (void)q;
    printf("%s\n", failures ? "FAILED" : "every entry point goes to arena");
    return failures != 0;
}
