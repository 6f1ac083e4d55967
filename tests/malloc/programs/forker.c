/* Forks while other threads allocate; the child allocates at once, frees
 * blocks the parent made, and reports a checksum through its exit status and
 * stdout. Under arena the child also runs arena_malloc_check: the heaps of the
 * threads that did not come along (one of them holding huge blocks) are left
 * as they were, never walked or counted. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;

static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        void *v[64];
        for (int i = 0; i < 64; i++) v[i] = malloc((size_t)(i * 37 % 2000) + 1);
        for (int i = 0; i < 64; i++) free(v[i]);
    }
    return NULL;
}

/* Holds huge blocks (counted by its heap, kept in the shared one) and waits. */
static void *holder(void *arg) {
    (void)arg;
    char *huge[5];
    for (int i = 0; i < 5; i++) {
        huge[i] = malloc((size_t)20 << 20);
        if (huge[i]) huge[i][0] = 1;
    }
    while (!atomic_load(&stop)) usleep(1000);
    for (int i = 0; i < 5; i++) free(huge[i]);
    return NULL;
}

int main(void) {
    int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "arena_malloc_check"); /* arena only */
    char *parent_blocks[100];
    for (int i = 0; i < 100; i++) {
        parent_blocks[i] = malloc(100 + i);
        snprintf(parent_blocks[i], 100 + i, "block %d", i);
    }
    pthread_t t[4];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, NULL);
    pthread_create(&t[3], NULL, holder, NULL);
    usleep(20000);
    int children_ok = 0;
    for (int round = 0; round < 20; round++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            long sum = 0;
            for (int i = 0; i < 100; i++) {
                sum += (long)strlen(parent_blocks[i]);
                free(parent_blocks[i]);
            }
            for (int i = 0; i < 10000; i++) {
                char *p = malloc((size_t)(i % 3000) + 1);
                p[0] = (char)i;
                sum += p[0] != 0;
                free(p);
            }
            if (check && check() != 0) _exit(2);
            _exit(sum == 790 + 9960 ? 0 : 1); /* "block N" lengths, nonzero first bytes */
        }
        int status;
        waitpid(pid, &status, 0);
        children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 100; i++) free(parent_blocks[i]);
    printf("%d of 20 children allocated correctly\n", children_ok);
    return children_ok == 20 ? 0 : 1;
}
