/* One thread shrinks huge blocks in place while another maps medium segments:
 * the kernel hands the shrunk tail's addresses to the new segments at once.
 * The segment map must forget the tail before the OS takes it back; it once
 * did so after, and wiped the other thread's fresh segment from the map (its
 * blocks became "invalid pointers", or the process crashed). Runs for
 * argv[1] seconds (default 4) under libarena_malloc.so; prints "ok". */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long shrinks, blocks, lost;

static void *shrinker(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        char *p = malloc((size_t)768 << 20);
        if (!p) continue;
        p[0] = 1;
        char *q = realloc(p, (size_t)17 << 20); /* in place: the tail goes back */
        free(q ? q : p);
        if (q == p) atomic_fetch_add(&shrinks, 1);
    }
    return NULL;
}

static void *mapper(void *arg) {
    (void)arg;
    enum { N = 100 };
    static char *r[N];
    while (!atomic_load(&stop)) {
        for (int k = 0; k < N; k++) {
            r[k] = malloc((size_t)12 << 20); /* a medium segment of its own */
            if (r[k]) r[k][0] = (char)k;
        }
        for (int k = 0; k < N; k++) {
            if (!r[k]) continue;
            if (malloc_usable_size(r[k]) < ((size_t)12 << 20) || r[k][0] != (char)k) atomic_fetch_add(&lost, 1);
            free(r[k]);
            atomic_fetch_add(&blocks, 1);
        }
        malloc_trim(0); /* empty segments go back, so new ones are mapped */
    }
    return NULL;
}

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 4;
    pthread_t a, b;
    pthread_create(&a, NULL, shrinker, NULL);
    pthread_create(&b, NULL, mapper, NULL);
    sleep((unsigned)seconds);
    atomic_store(&stop, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    if (atomic_load(&lost)) {
        fprintf(stderr, "huge_shrink_race: %ld blocks lost from the segment map\n", (long)atomic_load(&lost));
        return 1;
    }
    /* Nothing raced: no shrink in place, or no medium block mapped beside. */
    if (!atomic_load(&shrinks) || !atomic_load(&blocks)) {
        fprintf(stderr, "huge_shrink_race: %ld shrinks in place beside %ld medium blocks: the race never ran\n",
                (long)atomic_load(&shrinks), (long)atomic_load(&blocks));
        return 1;
    }
    printf("ok: %ld shrinks beside %ld medium blocks\n", (long)atomic_load(&shrinks), (long)atomic_load(&blocks));
    return 0;
}
