/* fork_common.h: what the fork test programs share (atfork_first.c,
 * atfork_early.c): a thread that allocates until told to stop, and a fork
 * whose child allocates and exits. */
#ifndef FORK_COMMON_H
#define FORK_COMMON_H

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int churn_stop;

/* Allocates and frees small and medium blocks until churn_stop is set. */
static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&churn_stop)) {
        void *v[32];
        for (int i = 0; i < 32; i++) v[i] = malloc((size_t)(i * 53 % 3000) + 1);
        for (int i = 0; i < 32; i++) free(v[i]);
    }
    return NULL;
}

/* One fork; the child allocates, writes and frees a block, and exits.
 * Returns 1 when the child exited with 0, 0 when it did not, -1 when fork
 * or waitpid failed. */
static int fork_child_allocates(void) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *p = malloc(1000);
        if (!p) _exit(2);
        memset(p, 7, 1000);
        free(p);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

#endif
