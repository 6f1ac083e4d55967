/* prodcons.c: the two-thread C program of bench_realprog. A producer thread
 * allocates blocks of varying sizes, fills them and hands them to a consumer
 * thread through a bounded queue; the consumer sums their contents and frees
 * them, so every free is a cross-thread free. Prints a checksum that does not
 * depend on timing. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCKS 3000000u
#define QUEUE 4096u

struct block {
    uint32_t size;
    uint32_t seed;
    unsigned char bytes[];
};

static struct block *queue[QUEUE];
static unsigned head, tail, count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;

static void put(struct block *b) {
    pthread_mutex_lock(&lock);
    while (count == QUEUE) pthread_cond_wait(&not_full, &lock);
    queue[tail] = b;
    tail = (tail + 1) % QUEUE;
    count++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
}

static struct block *take(void) {
    pthread_mutex_lock(&lock);
    while (count == 0) pthread_cond_wait(&not_empty, &lock);
    struct block *b = queue[head];
    head = (head + 1) % QUEUE;
    count--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&lock);
    return b;
}

static void *producer(void *arg) {
    (void)arg;
    uint32_t state = 1;
    for (uint32_t i = 0; i < BLOCKS; i++) {
        state = state * 1664525u + 1013904223u;
        uint32_t size = 16 + (state >> 8) % ((state >> 30) ? 256 : 4096);
        struct block *b = malloc(sizeof *b + size);
        if (!b) {
            perror("malloc");
            exit(1);
        }
        b->size = size;
        b->seed = state;
        memset(b->bytes, (int)(state & 0xff), size);
        put(b);
    }
    put(NULL);
    return NULL;
}

int main(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, producer, NULL) != 0) return 1;
    uint64_t checksum = 0, bytes = 0;
    for (struct block *b; (b = take()) != NULL;) {
        checksum = checksum * 31 + b->seed + b->bytes[0] + b->bytes[b->size - 1];
        bytes += b->size;
        free(b);
    }
    pthread_join(thread, NULL);
    printf("blocks %u bytes %llu checksum %016llx\n", BLOCKS, (unsigned long long)bytes,
           (unsigned long long)checksum);
    return 0;
}
