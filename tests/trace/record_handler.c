/* record_handler: a signal handler that calls malloc and free, run by
 * record_test.cpp with raise_in_malloc.so raising the signal inside the
 * recorder's own malloc, five times. The handler's ten calls pass through
 * unrecorded (the thread holds the recorder's lock), and the trace's last line
 * must count them. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdlib.h>

static void allocate(int signal_number) {
    (void)signal_number;
    void *volatile p = malloc(40);
    free(p);
}

int main(void) {
    struct sigaction action = {.sa_handler = allocate}; /* signal() under -std=c11 is System V's: reset once run */
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGUSR1, &action, NULL) != 0) return 1;
    for (int i = 0; i < 5; i++) {
        void *volatile p = malloc(31337);
        free(p);
    }
    return 0;
}
