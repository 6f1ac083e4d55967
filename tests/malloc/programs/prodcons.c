/* Two threads: a producer allocates blocks and passes them through a ring to a
 * consumer that checks and frees them (every free is cross-thread). Prints a
 * checksum that any correct allocator reproduces. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCKS 2000000
#define RING 4096

static _Atomic(unsigned char *) ring[RING];

static size_t size_of(size_t i) { return 8 + (i * 2654435761u) % 500; }

static void *producer(void *arg) {
    uint64_t *sum = arg;
    for (size_t i = 0; i < BLOCKS; i++) {
        size_t n = size_of(i);
        unsigned char *p = malloc(n);
        if (!p) abort();
        memset(p, (int)(i & 0xff), n);
        *sum += p[n - 1] + n;
        while (atomic_load_explicit(&ring[i % RING], memory_order_acquire)) sched_yield();
        atomic_store_explicit(&ring[i % RING], p, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg) {
    uint64_t *sum = arg;
    for (size_t i = 0; i < BLOCKS; i++) {
        unsigned char *p;
        while (!(p = atomic_load_explicit(&ring[i % RING], memory_order_acquire))) sched_yield();
        atomic_store_explicit(&ring[i % RING], NULL, memory_order_release);
        size_t n = size_of(i);
        for (size_t k = 0; k < n; k++)
            if (p[k] != (unsigned char)(i & 0xff)) {
                fprintf(stderr, "block %zu damaged at %zu\n", i, k);
                abort();
            }
        *sum += p[n - 1] + n;
        free(p);
    }
    return NULL;
}

int main(void) {
    uint64_t produced = 0, consumed = 0;
    pthread_t a, b;
    pthread_create(&a, NULL, producer, &produced);
    pthread_create(&b, NULL, consumer, &consumed);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%llu %llu %s\n", (unsigned long long)produced, (unsigned long long)consumed,
           produced == consumed ? "match" : "MISMATCH");
    return produced == consumed ? 0 : 1;
}
