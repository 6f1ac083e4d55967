/* raise_in_record.so: preloaded into arena-trace by record_test.cpp, to make
 * a signal sent to `record` at an awkward moment deterministic:
 *   SIGNAL_AFTER_FORK=N     the parent side of every fork() raises signal N
 *                           the moment fork returns: as record starts the
 *                           command, before it has said what to do with N
 *   SIGNAL_BEFORE_RENAME=N  the first rename() raises signal N before it
 *                           renames: as record moves the finished traces
 *   SIGNAL_AFTER_REAP=N     a waitpid() that reaped a child raises signal N
 *                           the moment it returns; a kill() later sent to
 *                           that pid (which another process may have taken
 *                           by then) says "kill of a reaped pid" on stderr */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) abort();
    return f;
}

static void raise_from(const char *variable) {
    const char *signal_number = getenv(variable);
    if (signal_number) raise(atoi(signal_number));
}

pid_t fork(void) {
    const pid_t pid = ((pid_t(*)(void))real("fork"))();
    if (pid > 0) raise_from("SIGNAL_AFTER_FORK");
    return pid;
}

int rename(const char *from, const char *to) {
    static int renames;
    if (renames++ == 0) raise_from("SIGNAL_BEFORE_RENAME");
    return ((int (*)(const char *, const char *))real("rename"))(from, to);
}

static pid_t reaped;

pid_t waitpid(pid_t pid, int *status, int options) {
    const pid_t got = ((pid_t(*)(pid_t, int *, int))real("waitpid"))(pid, status, options);
    if (got > 0) {
        reaped = got;
        raise_from("SIGNAL_AFTER_REAP");
    }
    return got;
}

int kill(pid_t pid, int signal_number) {
    static const char said[] = "kill of a reaped pid\n";
    if (reaped > 0 && pid == reaped) (void)!write(2, said, strlen(said));
    return ((int (*)(pid_t, int))real("kill"))(pid, signal_number);
}
