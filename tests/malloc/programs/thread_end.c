/* Threads that end while glibc still holds per-thread buffers: glibc frees
 * them (and other destructors may allocate) after every TSD destructor has run,
 * so after the drop-in abandoned the thread's heap. Each such call must leave
 * no heap behind: the process's mapped memory stays flat over many threads.
 * Run with libarena_malloc.so preloaded; prints "ok" and exits 0 when flat.
 *
 * thread_end [THREADS] [MODE], MODE one of:
 *   (none)      each thread allocates while it runs, and a destructor of the
 *               program's allocates and frees after the drop-in's;
 *   late        a thread makes no call while it runs: its first is a
 *               strerror of an unknown errno from a destructor of the
 *               program's, which runs in every round and allocates in each
 *               (the drop-in's destructor then runs in fewer rounds than
 *               glibc's 4, and glibc frees that buffer after the last);
 *   keys        40 keys are made before the process's first malloc, so the
 *               drop-in's comes after them, in glibc's second array of key
 *               values; a thread's first call is the calloc of that array for
 *               a pthread_setspecific of the program's, which stores it over
 *               the one the drop-in's own pthread_setspecific made inside
 *               that call: the drop-in's value is lost with it, and its
 *               destructor would never give the thread's heap back;
 *   keys_only   as keys, but the thread makes no other call: its next is
 *               glibc's free of that array at its end, after the last round
 *               of destructors. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static pthread_key_t late_key;
static int no_block; /* a non-NULL key value that is no block */

/* A TSD destructor of the program's that allocates and frees, as libraries' do. */
static void late_destructor(void *value) {
    free(value);
    void *p = malloc(200);
    free(p);
}

/* The `late` mode's: the thread's first call, in its first run; an
 * allocation in every run, up to the last round. */
static void first_call_destructor(void *value) {
    static __thread int runs;
    if (++runs == 1) {
        volatile const char *text = strerror(10000 + (int)(uintptr_t)pthread_self() % 1000);
        (void)text;
    }
    void *p = malloc(100 + (size_t)runs * 1000);
    if (p) memset(p, runs, 100);
    free(p);
    if (runs < PTHREAD_DESTRUCTOR_ITERATIONS) pthread_setspecific(late_key, value);
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

#define EARLY_KEYS 40
static pthread_key_t early_keys[EARLY_KEYS];

/* The `keys` mode's: the first call is glibc's calloc inside this
 * pthread_setspecific; the thread then allocates, on a heap of its own. */
static void *keys_only_worker(void *arg) {
    (void)arg;
    pthread_setspecific(early_keys[EARLY_KEYS - 1], &no_block);
    return NULL;
}

static void *keys_worker(void *arg) {
    keys_only_worker(arg);
    return worker(arg);
}

static void *late_worker(void *arg) {
    (void)arg;
    pthread_setspecific(late_key, &no_block); /* no call of malloc's */
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "";
    void *(*work)(void *) = worker;
    void (*destructor)(void *) = late_destructor;
    if (strcmp(mode, "late") == 0) {
        work = late_worker;
        destructor = first_call_destructor;
    } else if (strcmp(mode, "keys") == 0 || strcmp(mode, "keys_only") == 0) {
        work = strcmp(mode, "keys") == 0 ? keys_worker : keys_only_worker;
        for (unsigned i = 0; i < EARLY_KEYS; i++) /* before any call of malloc's */
            if (pthread_key_create(&early_keys[i], NULL)) {
                fprintf(stderr, "thread_end: cannot make key %u\n", i);
                return 1;
            }
    } else if (*mode) {
        fprintf(stderr, "usage: thread_end [THREADS] [late|keys|keys_only]\n");
        return 2;
    }
    int (*stats)(arena_stats *) = (int (*)(arena_stats *))dlsym(RTLD_DEFAULT, "arena_malloc_stats");
    if (!stats) {
        fprintf(stderr, "thread_end: run it with libarena_malloc.so preloaded\n");
        return 2;
    }
    unsigned threads = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
    pthread_key_create(&late_key, destructor);
    size_t after_first = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, work, (void *)(uintptr_t)i) || pthread_join(t, NULL)) {
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
