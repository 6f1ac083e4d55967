/* measure.c: realprog_measure, the small process bench_realprog starts each
 * real program through, so that the program's resource usage is its own.
 *
 * usage: realprog_measure [--preload=LIBRARY] [--timeout=SECONDS] -- PROGRAM [ARG]...
 *
 * Runs PROGRAM (looked up in PATH) with LD_PRELOAD set to LIBRARY, or unset
 * without --preload, waits for it and writes on fd 3 (bench/common/child.h):
 *   wall_ns=      spawn to wait4, monotonic clock
 *   maxrss_kb= utime_us= stime_us= minflt=   wait4's usage of the program
 *   exit=N or signal=N                        how it ended
 *   timed_out=SECONDS                         killed (SIGKILL) after --timeout
 * or error=TEXT when it could not be started. Exits 0 once it has reported.
 *
 * Why a process of its own: Linux gives a new process's max RSS the high-water
 * mark of the memory it ran in before its exec. bench_realprog starts
 * children with posix_spawn (a vfork: they run in its memory until the exec),
 * so every program reported at least bench_realprog's own peak (12 MB: a
 * program smaller than that, prodcons, read 12288000 bytes under every
 * allocator). This process is small, and it is what the program starts in.
 * It runs without the preloaded allocator itself for the same reason. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define RESULT_FD 3

static void usage(void) {
    fputs("usage: realprog_measure [--preload=LIBRARY] [--timeout=SECONDS] -- PROGRAM [ARG]...\n"
          "Runs PROGRAM with LD_PRELOAD=LIBRARY (unset without --preload) and writes its wall\n"
          "time, max RSS, CPU time, minor faults and exit status on fd 3 (bench_realprog);\n"
          "a program still running after SECONDS (1 to 86400) is killed.\n",
          stderr);
    exit(2);
}

/* The program runs in a process group of its own (its pid), so that a
 * timeout kills what it started too: g++'s work, and any hang, is in cc1plus,
 * which killing g++ alone left running, writing into the next run's output.
 * Set before the signals below are let in. */
static volatile pid_t program_group;
static volatile sig_atomic_t alarm_rang;
static void on_alarm(int signal_number) {
    (void)signal_number;
    alarm_rang = 1;
    if (program_group > 0) kill(-program_group, SIGKILL);
}
/* A ctrl-C, hang-up, quit or terminate that reaches this process goes on to
 * the program's group, which the terminal no longer reaches. */
static void on_forwarded(int signal_number) {
    if (program_group > 0) kill(-program_group, signal_number);
}

/* Runs `handler` on `signal_number`, which interrupts a system call (no SA_RESTART). */
static void handle(int signal_number, void (*handler)(int)) {
    struct sigaction on = {0};
    on.sa_handler = handler;
    sigemptyset(&on.sa_mask);
    sigaction(signal_number, &on, NULL);
}

/* Writes "error=TEXT" (printf's format) as the report; the exit status once it is written. */
__attribute__((format(printf, 2, 3))) static int report_error(FILE *out, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("error=", out);
    vfprintf(out, format, args);
    fputc('\n', out);
    va_end(args);
    return fclose(out) == 0 ? 0 : 2;
}

static long long monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

static long long microseconds(struct timeval t) { return (long long)t.tv_sec * 1000000 + t.tv_usec; }

int main(int argc, char **argv) {
    const char *preload = NULL;
    unsigned timeout = 0;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        char *end;
        if (strncmp(argv[i], "--preload=", 10) == 0 && argv[i][10] != '\0') {
            preload = argv[i] + 10;
        } else if (strncmp(argv[i], "--timeout=", 10) == 0 && argv[i][10] >= '0' && argv[i][10] <= '9') {
            unsigned long seconds = strtoul(argv[i] + 10, &end, 10);
            if (*end != '\0' || seconds < 1 || seconds > 86400) usage();
            timeout = (unsigned)seconds;
        } else {
            usage();
        }
    }
    if (i + 1 >= argc) usage();
    char **program = argv + i + 1;

    FILE *out = fdopen(RESULT_FD, "w");
    if (!out) {
        fprintf(stderr, "realprog_measure: fd %d: %s (it reports there)\n", RESULT_FD, strerror(errno));
        return 2;
    }
    /* The program does not inherit the report's pipe: the reader waits for
     * its end, which a program leaving a process behind would hold open. */
    if (fcntl(RESULT_FD, F_SETFD, FD_CLOEXEC) != 0) {
        fprintf(stderr, "realprog_measure: fd %d: %s\n", RESULT_FD, strerror(errno));
        return 2;
    }
    /* Read by the loader of the program, not of this process, which has
     * started already. */
    if (preload ? setenv("LD_PRELOAD", preload, 1) : unsetenv("LD_PRELOAD")) {
        return report_error(out, "LD_PRELOAD: %s", strerror(errno));
    }

    /* As system(3) does: while the program runs, a ctrl-C or hang-up is the
     * program's to act on, and this process stays to say how it ended
     * (dying first, it left the program running on, writing into the next
     * run's output file). The program gets them as this process got them:
     * forwarded to its group (on_forwarded), or ignored there too. They wait,
     * blocked, until the program's group is known; the program starts with
     * the mask this process had. */
    posix_spawnattr_t attr;
    sigset_t to_default, held, mask_before;
    sigemptyset(&to_default);
    sigemptyset(&held);
    sigaddset(&held, SIGALRM);
    const int forwarded[] = {SIGINT, SIGQUIT, SIGHUP, SIGTERM};
    for (size_t k = 0; k < sizeof forwarded / sizeof *forwarded; k++) {
        struct sigaction old;
        if (sigaction(forwarded[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaddset(&to_default, forwarded[k]);
        sigaddset(&held, forwarded[k]);
        handle(forwarded[k], on_forwarded);
    }
    sigprocmask(SIG_BLOCK, &held, &mask_before);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &to_default);
    posix_spawnattr_setsigmask(&attr, &mask_before);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    const long long start = monotonic_ns();
    pid_t pid;
    const int spawn_error = posix_spawnp(&pid, program[0], NULL, &attr, program, environ);
    posix_spawnattr_destroy(&attr);
    if (spawn_error != 0) return report_error(out, "cannot run %s: %s", program[0], strerror(spawn_error));
    program_group = pid;
    /* A program that hangs under one allocator would hang the whole run:
     * past the timeout its group is killed (on_alarm, which wait4 returns
     * from: no SA_RESTART), and the report says so. */
    if (timeout) {
        handle(SIGALRM, on_alarm);
        alarm(timeout);
    }
    sigprocmask(SIG_SETMASK, &mask_before, NULL);
    /* Waited for first without reaping: until it is reaped, the program's pid
     * (its group's id) cannot go to another process, so a signal to -pid
     * reaches what the program left behind and nothing else. */
    siginfo_t ended;
    while (waitid(P_PID, (id_t)pid, &ended, WEXITED | WNOWAIT) < 0)
        if (errno != EINTR) return report_error(out, "waitid: %s", strerror(errno));
    alarm(0);
    if (alarm_rang) kill(-pid, SIGKILL); /* a child it did not wait for goes too */
    program_group = 0;                   /* nothing to pass signals on to from here */
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0)
        if (errno != EINTR) return report_error(out, "wait4: %s", strerror(errno));
    const bool killed = alarm_rang && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    const long long wall = monotonic_ns() - start;
    fprintf(out, "wall_ns=%lld\nmaxrss_kb=%ld\nutime_us=%lld\nstime_us=%lld\nminflt=%ld\n", wall, usage.ru_maxrss,
            microseconds(usage.ru_utime), microseconds(usage.ru_stime), usage.ru_minflt);
    if (WIFSIGNALED(status)) fprintf(out, "signal=%d\n", WTERMSIG(status));
    else fprintf(out, "exit=%d\n", WEXITSTATUS(status));
    if (killed) fprintf(out, "timed_out=%u\n", timeout);
    return fclose(out) == 0 ? 0 : 2;
}
