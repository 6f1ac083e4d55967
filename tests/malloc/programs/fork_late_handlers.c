/* A child fork handler that allocates, registered by a constructor that runs
 * before the allocator's own (a library preloaded after it: the loader runs
 * its constructor first), so it runs in the child before the allocator's
 * child handler. No prepare handler: the forking thread comes to the child
 * with no heap, and this malloc adopts. */
#include <pthread.h>
#include <stdlib.h>

static void *volatile kept; /* so the compiler cannot drop the malloc and its free */

static void allocating_in_child(void) {
    kept = malloc(24);
    free(kept);
}

__attribute__((constructor)) static void fork_late_register(void) {
    if (pthread_atfork(NULL, NULL, allocating_in_child) != 0) abort();
}
