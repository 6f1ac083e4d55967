/* record_stress: four threads allocate, reallocate and free at full speed and
 * hand blocks to each other through a shared pool, so frees from one thread
 * race with allocations in another. Under the recorder the trace must still be
 * valid: a block freed by one thread and returned to another is written f
 * before a. Prints the number of heap calls it made. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { THREADS = 4, ITERATIONS = 50000, POOL = 256 };

static void *pool[POOL];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void *run(void *arg) {
    uint64_t state = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1, calls = 0;
    void *own[64] = {0};
    for (int i = 0; i < ITERATIONS; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
        void **slot = &own[state % 64];
        size_t size = 1 + (state >> 8) % 2000;
        switch ((state >> 32) % 4) {
            case 0: free(*slot); *slot = malloc(size); calls += 2; break;
            case 1: *slot = realloc(*slot, size); calls++; break;
            case 2: free(*slot); *slot = calloc(1 + size % 4, 16); calls += 2; break;
            default: { /* swap with the shared pool: the block may be freed by another thread */
                pthread_mutex_lock(&pool_lock);
                void **p = &pool[(state >> 40) % POOL];
                void *mine = *slot;
                *slot = *p;
                *p = mine;
                pthread_mutex_unlock(&pool_lock);
            }
        }
    }
    for (int i = 0; i < 64; i++) free(own[i]), calls++;
    return (void *)(uintptr_t)calls;
}

int main(void) {
    pthread_t t[THREADS];
    uint64_t calls = 0;
    for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, run, (void *)(i + 1));
    for (int i = 0; i < THREADS; i++) {
        void *n;
        pthread_join(t[i], &n);
        calls += (uintptr_t)n;
    }
    for (int i = 0; i < POOL; i++) free(pool[i]), calls++;
    printf("%llu\n", (unsigned long long)calls);
    return 0;
}
