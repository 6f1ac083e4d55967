/* The first allocation of the process made by glibc's pthread_atfork (its
 * handler list grows past its built-in slots, under its lock), then forks
 * whose handlers allocate: small, medium and huge blocks in the prepare,
 * parent and child handlers, with another thread allocating meanwhile.
 * Under arena the set-up of the process arena used to call pthread_atfork
 * from inside that first malloc and waited on glibc's lock for good; alarm()
 * turns a hang into a failure. Prints what it checked, the same under every
 * malloc. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fork_common.h"

enum { HANDLERS = 200, FORKS = 20 };

static atomic_long handler_bytes;

static void nothing(void) {}

/* Each handler allocates blocks of three kinds and frees them. */
static void allocating(void) {
    static const size_t sizes[] = {24, 3000, 100000, (size_t)4 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        if (!p) abort();
        memset(p, (int)i, sizes[i]);
        atomic_fetch_add(&handler_bytes, (long)sizes[i]);
        free(p);
    }
}

static void write_text(const char *s) {
    if (write(STDOUT_FILENO, s, strlen(s)) < 0) _exit(3);
}

int main(void) {
    alarm(30);
    /* Before anything else allocates: these take glibc's built-in slots, then
     * make it grow its list with malloc. */
    for (int i = 0; i < HANDLERS; i++)
        if (pthread_atfork(nothing, nothing, nothing) != 0) {
            write_text("pthread_atfork failed\n");
            return 1;
        }
    write_text("handlers registered\n");
    if (pthread_atfork(allocating, allocating, allocating) != 0) return 1;

    pthread_t thread;
    if (pthread_create(&thread, NULL, churn, NULL) != 0) return 1;
    int children_ok = 0;
    for (int f = 0; f < FORKS; f++) {
        int ok = fork_child_allocates();
        if (ok < 0) return 1;
        children_ok += ok;
    }
    atomic_store(&churn_stop, 1);
    pthread_join(thread, NULL);
    char line[128];
    snprintf(line, sizeof line, "%d of %d children allocated and exited; the parent's handlers allocated %s\n",
             children_ok, FORKS, atomic_load(&handler_bytes) > 0 ? "blocks" : "nothing");
    write_text(line);
    return children_ok == FORKS ? 0 : 1;
}
