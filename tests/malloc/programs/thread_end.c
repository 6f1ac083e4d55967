/* Threads that end while glibc still holds per-thread buffers: glibc frees
 * them (and other destructors may allocate) after every TSD destructor has run,
 * so after the drop-in abandoned the thread's heap. Each such call must leave
 * no heap behind: the process's mapped memory stays flat over many threads.
 * Run with libarena_malloc.so preloaded; prints "ok" and exits 0 when flat. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static pthread_key_t late_key;

/* A TSD destructor of the program's that allocates and frees, as libraries' do. */
static void late_destructor(void *value) {
    free(value);
    void *p = malloc(200);
    free(p);
}

static void *worker(void *arg) {
    unsigned i = (unsigned)(uintptr_t)arg;
    void *big = malloc(100000);
    memset(big, 1, 100000);
    free(big);
    pthread_setspecific(late_key, malloc(64));
    /* An unknown errno: glibc formats it in a per-thread buffer it frees at
     * the thread's end (__libc_thread_freeres). */
    volatile const char *text = strerror(1000 + (int)i);
    (void)text;
    return NULL;
}

int main(int argc, char **argv) {
    int (*stats)(arena_stats *) = (int (*)(arena_stats *))dlsym(RTLD_DEFAULT, "arena_malloc_stats");
    if (!stats) {
        fprintf(stderr, "thread_end: run it with libarena_malloc.so preloaded\n");
        return 2;
    }
    unsigned threads = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
    pthread_key_create(&late_key, late_destructor);
    size_t after_first = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)i) || pthread_join(t, NULL)) {
            fprintf(stderr, "thread_end: cannot run thread %u\n", i);
            return 1;
        }
        arena_stats s;
        stats(&s);
        if (i == 0) after_first = s.mapped_bytes;
        /* A heap lost per thread maps a segment or more each time (4 MiB). */
        if (s.mapped_bytes > after_first + ((size_t)32 << 20)) {
            fprintf(stderr, "thread_end: mapped %zu KiB after %u threads, %zu KiB after the first\n",
                    s.mapped_bytes >> 10, i + 1, after_first >> 10);
            return 1;
        }
    }
    printf("ok: %u threads, mapped memory flat\n", threads);
    return 0;
}
