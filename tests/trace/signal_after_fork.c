/* signal_after_fork.so: preloaded into arena-trace by record_test.cpp. When
 * SIGNAL_AFTER_FORK holds a signal number, the parent side of every fork()
 * raises that signal the moment fork returns: a signal sent to `record` just
 * as it starts the command, in the window before record has said what to do
 * with it, made deterministic. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

pid_t fork(void) {
    pid_t (*real_fork)(void) = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    if (!real_fork) abort();
    const pid_t pid = real_fork();
    const char *signal_number = getenv("SIGNAL_AFTER_FORK");
    if (pid > 0 && signal_number) raise(atoi(signal_number));
    return pid;
}
