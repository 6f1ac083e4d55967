/* record_probe: a known sequence of heap calls, for the recorder test. Between
 * the two markers (malloc(11111) and its free) it makes exactly the calls that
 * record_test.cpp expects, on the main thread, on two threads (one frees a block
 * main allocated) and in a forked child (which frees and reallocs inherited
 * blocks, then leaves with _exit so only the recorder's _exit flush saves its
 * trace). It touches no stdio in between, which would allocate. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *shared_block;

static void *worker(void *arg) {
    (void)arg;
    void *own = malloc(2001);
    free(shared_block); /* made by main: a cross-thread free */
    own = realloc(own, 2500);
    free(own);
    return NULL;
}

static void *second_worker(void *arg) {
    (void)arg;
    free(calloc(2, 1001));
    return NULL;
}

static void *idle(void *arg) { return arg; }

int main(void) {
    /* glibc callocs a thread's TLS vector on the first pthread_create and reuses
     * it with the cached stack after: do that before the window */
    pthread_t warm;
    pthread_create(&warm, NULL, idle, NULL);
    pthread_join(warm, NULL);

    void *marker = malloc(11111);
    void *a = malloc(100);
    void *b = calloc(3, 40);
    a = realloc(a, 300);
    void *d = NULL;
    if (posix_memalign(&d, 64, 200) != 0) return 1;
    void *e = aligned_alloc(128, 256);
    void *f = memalign(32, 50);
    void *g = valloc(1000);
    void *h = pvalloc(5000);
    void *i = reallocarray(NULL, 4, 25);
    free(b);
    free(NULL);                 /* not recorded */
    i = realloc(i, 0);          /* glibc frees: recorded as f */
    void *zero = malloc(0);
    memset(a, 1, 300);
    shared_block = malloc(777);

    pthread_t t1, t2;
    pthread_create(&t1, NULL, worker, NULL);
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, second_worker, NULL);
    pthread_join(t2, NULL);
    free(malloc(4242));         /* back on thread 0 */

    pid_t pid = fork();
    if (pid == 0) {
        void *mine = malloc(3001);
        free(e);                /* inherited: skipped */
        f = realloc(f, 3002);   /* inherited: written as a new allocation */
        free(mine);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);

    free(a);
    free(d);
    free(e);
    free(f);
    free(g);
    free(h);
    free(zero);
    free(marker);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 7 : 1;  /* 7: the test checks it comes through */
}
