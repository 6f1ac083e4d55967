/* Fork handlers that allocate, registered by a constructor that runs before
 * the allocator's own: built as a shared library the test program needs
 * (the loader runs its constructor before a preloaded library's), or linked
 * into a static program ahead of libarena_malloc.a. glibc runs the prepare
 * handlers last registered first, so these run after the allocator's has
 * taken its locks, and the parent's and child's before it lets them go. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "atfork_early.h"

static atomic_long handler_blocks;
static void *volatile kept; /* so the compiler cannot drop a malloc and its free */

/* A small, a medium and a huge block (32 MiB: past every size class and
 * cached region), written at both ends and freed. */
static void allocating(void) {
    static const size_t sizes[] = {24, 3000, (size_t)32 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        if (!p) abort();
        p[0] = p[sizes[i] - 1] = (char)i;
        kept = p;
        free(kept);
        atomic_fetch_add(&handler_blocks, 1);
    }
}

__attribute__((constructor)) static void atfork_early_register(void) {
    if (pthread_atfork(allocating, allocating, allocating) != 0) abort();
}

long atfork_early_blocks(void) { return atomic_load(&handler_blocks); }
