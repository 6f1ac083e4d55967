/* Forks whose handlers, registered before the allocator's own (see
 * atfork_early_handlers.c), allocate between the allocator's prepare handler
 * and its parent's or child's: half of the forks from a thread that has not
 * allocated yet (its first block comes from a prepare handler), half from the
 * main thread, while another thread allocates. The allocator holds its locks
 * there; a thread with no heap yet, or a huge block, used to wait on them in
 * its own thread for good. alarm() turns a hang into a failure. Prints what
 * it checked, the same under every malloc. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atfork_early.h"
#include "fork_common.h"

enum { FORKS = 20 };

static void *fork_from_fresh_thread(void *ok) {
    *(int *)ok = fork_child_allocates() == 1; /* this thread's first allocation is in a prepare handler */
    return NULL;
}

static void write_text(const char *s) {
    if (write(STDOUT_FILENO, s, strlen(s)) < 0) _exit(3);
}

int main(void) {
    alarm(30);
    pthread_t thread;
    if (pthread_create(&thread, NULL, churn, NULL) != 0) return 1;
    int children_ok = 0;
    for (int f = 0; f < FORKS; f++) {
        int ok = 0;
        if (f % 2 == 0) {
            pthread_t forker;
            if (pthread_create(&forker, NULL, fork_from_fresh_thread, &ok) != 0) return 1;
            pthread_join(forker, NULL);
        } else {
            ok = fork_child_allocates() == 1;
        }
        children_ok += ok;
    }
    atomic_store(&churn_stop, 1);
    pthread_join(thread, NULL);
    char line[160];
    snprintf(line, sizeof line, "%d of %d children allocated and exited; the parent's handlers allocated %s\n",
             children_ok, FORKS, atfork_early_blocks() >= 2L * 3 * FORKS ? "every block" : "too few blocks");
    write_text(line);
    return children_ok == FORKS ? 0 : 1;
}
