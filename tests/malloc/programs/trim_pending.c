/* malloc_trim after freeing the last block of an ended thread: the block
 * waits in the calling thread's batch for its owner until the batch is
 * handed over, and while it waits the ended thread's heap is not empty, so
 * its segment stays mapped. malloc_trim must hand the batch over before it
 * releases the empty heaps of ended threads. Run with libarena_malloc.so
 * preloaded; prints "ok" and exits 0 when the heap went back.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"

static void *block;
static void *volatile mine; /* volatile: the compiler must not drop the malloc */

static void *worker(void *arg) {
    (void)arg;
    block = malloc(40000);
    memset(block, 1, 40000);
    return NULL;
}

int main(void) {
    int (*stats)(arena_stats *) = (int (*)(arena_stats *))dlsym(RTLD_DEFAULT, "arena_malloc_stats");
    int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "arena_malloc_check");
    if (!stats || !check) {
        fprintf(stderr, "trim_pending: run it with libarena_malloc.so preloaded\n");
        return 2;
    }
    /* The main thread's heap and its segment, there before the count. */
    mine = malloc(100);
    arena_stats before, after;
    stats(&before);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) || pthread_join(t, NULL)) {
        fprintf(stderr, "trim_pending: cannot run the thread\n");
        return 1;
    }
    free(block); /* another heap's block: it waits in this thread's batch */
    malloc_trim(0);
    stats(&after);
    /* The thread's heap keeps a segment (4 MiB) until it is released. */
    if (after.mapped_bytes >= before.mapped_bytes + ((size_t)1 << 20)) {
        fprintf(stderr, "trim_pending: mapped %zu KiB after the trim, %zu KiB before the thread\n",
                after.mapped_bytes >> 10, before.mapped_bytes >> 10);
        return 1;
    }
    free(mine);
    if (check()) return 1;
    printf("ok: the ended thread's heap went back\n");
    return 0;
}
