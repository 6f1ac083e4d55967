/* record_endings: the ways a process can leave or split that the recorder's
 * usual hooks (atfork handlers, the destructor, _exit) do not see. argv[1]:
 *   raw-fork  a child made by _Fork, which runs no atfork handler: it frees
 *             inherited blocks and makes enough calls of its own to flush its
 *             buffer (which held the parent's unflushed ops when it was born);
 *             it must get a trace of its own, the parent's staying intact
 *   abort     abort() after its calls, as std::terminate does for an uncaught
 *             C++ exception: the ops made before must not be lost
 *   no-fd     a forked child uses up its file descriptors before its first
 *             heap call, so its trace cannot be created (EMFILE): that must
 *             be said, not pass as a process that never allocated
 *   drop-privileges  (run as root) a forked child becomes user and group
 *             65534 (nobody) before its first heap call: it may not create
 *             its trace in a directory of root's (EACCES)
 *   stderr-reused FILE  closes stderr, opens FILE (it gets descriptor 2),
 *             writes "DATA\n" to it, then makes a heap call
 *   no-fd-then-exec  as no-fd, but the child then closes what it took and
 *             execs itself (heap-call): the later image of that pid can
 *             create the trace the first one could not
 *   exec-with-one-fd  a forked child creates its trace, takes every file
 *             descriptor but one and execs itself (heap-call): the list takes
 *             that one, and the later image cannot create a trace of its own
 *   quick-exit  as abort, but quick_exit(0), which ends in glibc's own _exit
 *   execveat  as abort, but then execveat(AT_FDCWD, itself, heap-call)
 *   background  forks a child that makes a heap call and sleeps 3 s, and exits
 *             once the child has made it
 *   background-idle  forks a child that sleeps 3 s before any heap call (and
 *             then makes none), and exits once the child has started
 *   raw-fork-threads  three threads make heap calls without a pause while the
 *             main thread makes 20 children by _Fork, one after another, each
 *             making one heap call (every second one forks a child of its own
 *             first, which makes none): a child whose parent's recorder lock
 *             was held by a thread at the fork (which the child does not have)
 *             must still make it; exit 7 when one has not ended within 10 s
 *   exit-127   exits 127 at once, as the dynamic loader does when it cannot
 *             start a program
 *   heap-call  one heap call
 *   recorder-fds  after a heap call (its trace made), prints the descriptors
 *             that are the recorder's (its trace, ARENA_RECORD_FILE..., and
 *             ARENA_RECORD_LIST), lowest first, one a line
 *   lose-trace-fd  after a heap call (its trace made), closes the recorder's
 *             descriptor of its trace, takes every descriptor left, then
 *             makes enough calls to flush: the trace cannot be opened again
 *   exec-self N  a heap call, then execs itself with N - 1, down to 0: N + 1
 *             images of one pid, each with a trace of its own
 *   exec PROGRAM  a heap call, then execs PROGRAM heap-call (exit 0 when
 *             there is no such file: the exec failed and this image goes on)
 *   many-calls  more heap calls than a buffer of ops holds
 * Prints nothing but for recorder-fds; exit 0 (raw-fork, raw-fork-threads, no-fd, drop-privileges, stderr-reused,
 * quick-exit, execveat, background, background-idle,
 * no-fd-then-exec, exec-with-one-fd, heap-call, recorder-fds, lose-trace-fd,
 * exec-self, exec, many-calls) or SIGABRT. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

enum { KEPT = 100, CHILD_CALLS = 20000, ABORT_CALLS = 1000 };

/* Takes every free file descriptor under a limit of 64 (a few dups reach it
 * whatever the default); returns the last one taken. */
static int take_every_fd(void) {
    struct rlimit few = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &few) != 0) _exit(5);
    int fd, last = -1;
    while ((fd = dup(0)) >= 0) last = fd;
    return last;
}

/* The descriptors that are the recorder's, lowest first, at most `most` of
 * them: its trace (a file ARENA_RECORD_FILE...) and, with_list, its list
 * (ARENA_RECORD_LIST). No heap call, no descriptor of its own. */
static int recorder_fds(int *ours, int most, int with_list) {
    const char *trace = getenv("ARENA_RECORD_FILE"), *list = getenv("ARENA_RECORD_LIST");
    struct rlimit limit;
    if (!trace || !list || getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    int found = 0;
    for (int fd = 0; fd < (int)limit.rlim_cur && found < most; fd++) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        const ssize_t n = readlink(link, path, sizeof path - 1);
        if (n <= 0) continue;
        path[n] = 0;
        if (strncmp(path, trace, strlen(trace)) == 0 || (with_list && strcmp(path, list) == 0)) ours[found++] = fd;
    }
    return found;
}

static atomic_int workers_started, workers_stop;

static void *heap_calls_until_stopped(void *arg) {
    size_t i = (size_t)(uintptr_t)arg;
    atomic_fetch_add(&workers_started, 1);
    while (!atomic_load(&workers_stop)) free(malloc(64 + i++ % 200));
    return NULL;
}

/* raw-fork-threads (above). */
static int raw_forks_beside_threads(void) {
    enum { WORKERS = 3, CHILDREN = 20, WAIT_MS = 10000 };
    pthread_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&workers[i], NULL, heap_calls_until_stopped, (void *)(uintptr_t)i) != 0) return 3;
    while (atomic_load(&workers_started) < WORKERS) sched_yield();
    int result = 0;
    for (int k = 0; k < CHILDREN && result == 0; k++) {
        pid_t pid = _Fork();
        if (pid < 0) {
            result = 4;
            break;
        }
        if (pid == 0) {
            if (k % 2) {
                pid_t grandchild = fork();
                if (grandchild < 0) _exit(8);
                if (grandchild == 0) _exit(0);
                if (waitpid(grandchild, NULL, 0) != grandchild) _exit(9);
            }
            free(malloc(10));
            _exit(0);
        }
        int status = 0, waited_ms = 0;
        pid_t done;
        while ((done = waitpid(pid, &status, WNOHANG)) == 0 && waited_ms++ < WAIT_MS) usleep(1000);
        if (done == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            result = 7;
        } else if (done != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            result = 5;
        }
    }
    atomic_store(&workers_stop, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
    return result;
}

/* This program again, as a new image of this process: one heap call. */
static void exec_heap_call(const char *self) {
    execl(self, self, "heap-call", (char *)NULL);
    _exit(7);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "stderr-reused") == 0) {
        close(2);
        if (open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644) != 2 || write(2, "DATA\n", 5) != 5) return 3;
        free(malloc(44444));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "exec-self") == 0) { /* an allocation in each of N + 1 images */
        free(malloc(33335));
        const int left = atoi(argv[2]);
        if (left > 0) {
            char n[16];
            snprintf(n, sizeof n, "%d", left - 1);
            execl(argv[0], argv[0], "exec-self", n, (char *)NULL);
            return 7;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "exec") == 0) { /* a heap call, then the program named */
        free(malloc(33336));
        execl(argv[2], argv[2], "heap-call", (char *)NULL);
        return errno == ENOENT ? 0 : 7; /* a failed exec: this image goes on */
    }
    if (argc != 2) return 2;
    if (strcmp(argv[1], "recorder-fds") == 0) {
        free(malloc(33335));
        int ours[2];
        const int found = recorder_fds(ours, 2, 1);
        for (int i = 0; i < found; i++) printf("%d\n", ours[i]); /* after the scan: stdio opens nothing */
        return 0;
    }
    if (strcmp(argv[1], "lose-trace-fd") == 0) {
        free(malloc(33336));
        int trace_fd;
        if (recorder_fds(&trace_fd, 1, 0) != 1) return 3;
        close(trace_fd);
        take_every_fd();
        for (int i = 0; i < CHILD_CALLS; i++) free(malloc(5000)); /* more than a buffer of ops */
        return 0;
    }
    const int idle = strcmp(argv[1], "background-idle") == 0;
    if (idle || strcmp(argv[1], "background") == 0) {
        int ready[2];
        if (pipe(ready) != 0) return 3;
        pid_t pid = fork();
        if (pid < 0) return 4;
        if (pid == 0) {
            if (!idle) free(malloc(100)); /* its trace is made and listed */
            char c = 1;
            if (write(ready[1], &c, 1) != 1) _exit(5);
            sleep(3);
            _exit(0);
        }
        char c;
        return read(ready[0], &c, 1) == 1 ? 0 : 6;
    }
    if (strcmp(argv[1], "raw-fork-threads") == 0) return raw_forks_beside_threads();
    if (strcmp(argv[1], "many-calls") == 0) { /* more than a buffer of ops */
        for (int i = 0; i < CHILD_CALLS; i++) free(malloc(5000 + (size_t)i % 4000));
        return 0;
    }
    if (strcmp(argv[1], "exit-127") == 0) return 127;
    if (strcmp(argv[1], "heap-call") == 0) {
        free(malloc(33334));
        return 0;
    }
    /* One pid, two images: the first cannot make its trace (no descriptor left)
     * or makes it; the second gets every descriptor back, or one, which its
     * list takes (so it cannot make a trace either). */
    const int neither = strcmp(argv[1], "no-fd-then-exec-with-one-fd") == 0;
    const int then_exec = neither || strcmp(argv[1], "no-fd-then-exec") == 0;
    const int one_fd = neither || strcmp(argv[1], "exec-with-one-fd") == 0;
    if (then_exec || one_fd) {
        pid_t pid = fork();
        if (pid < 0) return 3;
        if (pid == 0) {
            if (!then_exec) free(malloc(33333)); /* the trace is made: FILE.PID */
            const int first = dup(0);
            close(first);
            const int last = take_every_fd();
            if (then_exec) free(malloc(33333)); /* cannot be made: no descriptor */
            for (int fd = one_fd ? last : first; fd <= last; fd++) close(fd);
            exec_heap_call(argv[0]);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
        return 0;
    }
    if (strcmp(argv[1], "raw-fork") == 0) {
        void *kept[KEPT];
        void *marker = malloc(11111);
        for (int i = 0; i < KEPT; i++) kept[i] = malloc(16 + (size_t)i); /* still in the buffer at fork */
        pid_t pid = _Fork();
        if (pid < 0) return 3;
        if (pid == 0) {
            for (int i = 0; i < KEPT / 2; i++) free(kept[i]); /* inherited */
            void *mine = malloc(3001);
            for (int i = 0; i < CHILD_CALLS; i++) free(malloc(5000)); /* more than a buffer of ops */
            free(mine);
            exit(0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
        for (int i = 0; i < KEPT; i++) free(kept[i]);
        free(marker);
        return 0;
    }
    const int no_fd = strcmp(argv[1], "no-fd") == 0;
    if (no_fd || strcmp(argv[1], "drop-privileges") == 0) {
        pid_t pid = fork();
        if (pid < 0) return 3;
        if (pid == 0) {
            if (no_fd) take_every_fd();
            if (!no_fd && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(6);
            free(malloc(33333));
            exit(0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
        return 0;
    }
    const int quick = strcmp(argv[1], "quick-exit") == 0, at = strcmp(argv[1], "execveat") == 0;
    if (strcmp(argv[1], "abort") == 0 || quick || at) {
        void *marker = malloc(22222);
        for (int i = 0; i < ABORT_CALLS; i++) free(malloc(100)); /* far less than a buffer */
        free(marker);
        if (quick) quick_exit(0);
        if (at) {
            char *const args[] = {argv[0], "heap-call", NULL};
            execveat(AT_FDCWD, argv[0], args, environ, 0);
            _exit(7);
        }
        abort();
    }
    return 2;
}
