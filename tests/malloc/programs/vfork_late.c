/* A vfork child allocates while another thread of its parent holds a heap it
 * took in its key destructors (a late heap, heaps_recover_late). The child
 * runs in its parent's memory under another pid: asked with its own pid
 * whether that thread is gone, the kernel said yes, and the child gave the
 * running thread's heap away, to the vforking thread's own slot. Both threads
 * then allocated from one heap. Run with libarena_malloc.so preloaded; exits
 * 0 when no block was overwritten and arena_malloc_check holds. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "late_heap.h"

static sem_t child_done;
static unsigned long overwritten;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

/* Blocks filled with the thread's tag and read back: a heap shared with
 * another thread hands out blocks the other one is filling. */
static void fill_and_check(unsigned char tag) {
    enum { kBlocks = 1000, kRounds = 300 };
    static __thread unsigned char *blocks[kBlocks];
    unsigned long bad = 0;
    for (int round = 0; round < kRounds; round++) {
        for (int i = 0; i < kBlocks; i++) {
            blocks[i] = malloc(48);
            if (blocks[i]) memset(blocks[i], tag, 48);
        }
        for (int i = 0; i < kBlocks; i++) {
            if (blocks[i] && (blocks[i][0] != tag || blocks[i][47] != tag)) bad++;
            free(blocks[i]);
        }
    }
    pthread_mutex_lock(&count_lock);
    overwritten += bad;
    pthread_mutex_unlock(&count_lock);
}

/* The late heap's thread, once the child is done. */
static void late_work(void) {
    sem_wait(&child_done);
    fill_and_check(0xaa);
}

static void *vforking_thread(void *arg) {
    (void)arg;
    pid_t child = vfork(); /* this thread has no heap: the child's malloc adopts one */
    if (child == 0) {
        char *volatile p = malloc(32);
        if (p) p[0] = 1;
        _exit(0);
    }
    if (child > 0) waitpid(child, NULL, 0);
    sem_post(&child_done);
    fill_and_check(0x55);
    return NULL;
}

int main(void) {
    alarm(60); /* the failure it guards against was a hang as often as a crash */
    int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "arena_malloc_check");
    if (!check) {
        fprintf(stderr, "vfork_late: run it with libarena_malloc.so preloaded\n");
        return 2;
    }
    sem_init(&child_done, 0, 0);
    pthread_t late, vforking;
    if (late_heap_thread_start(&late, late_work)) return 2;
    if (pthread_create(&vforking, NULL, vforking_thread, NULL)) return 2;
    pthread_join(vforking, NULL);
    pthread_join(late, NULL);
    int checked = check();
    printf("vfork_late: %lu blocks overwritten, arena_malloc_check %d\n", overwritten, checked);
    return overwritten == 0 && checked == 0 ? 0 : 1;
}
