/* Forks from a thread with no heap while another thread works in a heap it
 * took in its key destructors (a late heap, heaps_recover_late), with a fork
 * handler registered before arena's that allocates in the child before
 * arena's own child handler runs (fork_late_handlers.c). In the child the
 * working thread is gone: its heap, maybe half-changed, must be left alone
 * (orphaned), never given back as an ended thread's and adopted. Before,
 * the handler's malloc did that, and children failed arena_malloc_check.
 * Run with libarena_malloc.so preloaded; exits 0 when every child held. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "late_heap.h"

enum { FORKS = 300 };

static atomic_bool stop;
static int (*check)(void);

/* The late heap's thread: changes its heap until the forks are done. */
static void late_work(void) {
    void *blocks[64];
    unsigned r = 1;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 64; i++) {
            r = r * 1103515245 + 12345;
            blocks[i] = malloc(16 + (r >> 16) % 3000);
        }
        for (int i = 0; i < 64; i++) free(blocks[i]);
    }
}

static void *forking_thread(void *failed) {
    for (int f = 0; f < FORKS; f++) {
        pid_t child = fork();
        if (child == 0) {
            void *blocks[200];
            for (int k = 0; k < 200; k++) blocks[k] = malloc(16 + (size_t)k * 13);
            for (int k = 0; k < 200; k++) free(blocks[k]);
            _exit(check() != 0 ? 3 : 0);
        }
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
            ++*(int *)failed;
    }
    return NULL;
}

int main(void) {
    alarm(120);
    check = (int (*)(void))dlsym(RTLD_DEFAULT, "arena_malloc_check");
    if (!check) {
        fprintf(stderr, "fork_late: run it with libarena_malloc.so preloaded\n");
        return 2;
    }
    pthread_t late, forking;
    if (late_heap_thread_start(&late, late_work)) return 2;
    int failed = 0;
    if (pthread_create(&forking, NULL, forking_thread, &failed)) return 2;
    pthread_join(forking, NULL);
    atomic_store(&stop, true);
    pthread_join(late, NULL);
    printf("fork_late: %d of %d children failed\n", failed, FORKS);
    return failed == 0 && check() == 0 ? 0 : 1;
}
