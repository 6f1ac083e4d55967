/* late_heap.h: a thread that holds a late heap (arena's heaps_recover_late), for the
 * programs that test what other threads and processes may do to one: the
 * thread allocates while it runs, and its key destructor's second run, which
 * comes after arena's first whatever the keys' order (the thread's heap was
 * given back), allocates again, taking a heap to keep, and runs the program's
 * work there, still in its destructors. */
#ifndef LATE_HEAP_H
#define LATE_HEAP_H

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

static pthread_key_t late_heap_key;
static sem_t late_heap_taken;
static void (*late_heap_work)(void);
static int late_heap_no_block; /* a non-NULL key value that is no block */

static void late_heap_destructor(void *value) {
    static __thread int runs;
    if (++runs == 1) {
        pthread_setspecific(late_heap_key, value);
        return;
    }
    char *volatile first = malloc(64);
    if (first) first[0] = 1;
    sem_post(&late_heap_taken);
    late_heap_work();
    free(first);
}

static void *late_heap_thread(void *arg) {
    (void)arg;
    char *volatile p = malloc(1); /* a heap of its own while it runs */
    free(p);
    pthread_setspecific(late_heap_key, &late_heap_no_block);
    return NULL;
}

/* Starts *thread and returns 0 once it holds its late heap and runs `work`
 * there; -1 when it cannot be started. */
static int late_heap_thread_start(pthread_t *thread, void (*work)(void)) {
    late_heap_work = work;
    if (sem_init(&late_heap_taken, 0, 0) || pthread_key_create(&late_heap_key, late_heap_destructor) ||
        pthread_create(thread, NULL, late_heap_thread, NULL))
        return -1;
    sem_wait(&late_heap_taken);
    return 0;
}

#endif
