/* first_call_fails.c: the process's first malloc made with no address space to
 * spare, so that the drop-in cannot set its process arena up (run with
 * libarena_malloc.so preloaded; found in review). That call fails with ENOMEM,
 * as glibc's does; once the limit is lifted, the next calls are served, on this
 * thread and on a new one. The failure used to stay: every later call of every
 * thread failed for the life of the process. No stdio before the first malloc:
 * its buffers would be the first allocation. Three calls fail before the limit
 * is lifted, and each set-up tried again must not repeat what the first said
 * on stderr: run with a bad ARENA_BLOCK_SIZE, its warning is there once (each
 * retry used to read the environment again and say it again). Exits 0 when
 * that holds, 1 with a line per failure, 2 when the limit cannot be set. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int failures;
static void fail(const char *what) {
    fprintf(stderr, "FAIL: %s\n", what);
    failures++;
}

/* Bytes of address space mapped now (/proc/self/statm), read without malloc. */
static unsigned long mapped_bytes(void) {
    char text[64] = {0};
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0 || read(fd, text, sizeof text - 1) <= 0) _exit(2);
    close(fd);
    return strtoul(text, NULL, 10) * 4096ul;
}

static void *allocate_on_a_thread(void *unused) {
    (void)unused;
    char *p = malloc(5000);
    if (p) memset(p, 7, 5000);
    return p;
}

/* Times needle occurs in text. */
static int occurrences(const char *text, const char *needle) {
    int n = 0;
    for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle)) n++;
    return n;
}

int main(void) {
    /* What the set-ups say goes to a pipe (made without malloc) until the
     * limit is lifted, then back to stderr. */
    int said[2], saved_stderr = dup(STDERR_FILENO);
    if (saved_stderr < 0 || pipe(said) != 0 || dup2(said[1], STDERR_FILENO) < 0) return 2;
    struct rlimit old, none;
    if (getrlimit(RLIMIT_AS, &old) != 0) return 2;
    none = (struct rlimit){mapped_bytes(), old.rlim_max};
    if (setrlimit(RLIMIT_AS, &none) != 0) return 2;
    errno = 0;
    void *first = malloc(100);
    int first_errno = errno;
    void *second = malloc(200), *third = malloc(300);
    if (setrlimit(RLIMIT_AS, &old) != 0) return 2;
    dup2(saved_stderr, STDERR_FILENO);
    close(said[1]);
    char text[4096] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof text - 1 && (n = read(said[0], text + got, sizeof text - 1 - got)) > 0) got += (size_t)n;
    fputs(text, stderr);
    if (first) fail("the first malloc, with no address space left, was served");
    else if (first_errno != ENOMEM) fail("the first malloc failed without ENOMEM");
    if (second || third) fail("a later malloc, with no address space left, was served");
    if (occurrences(text, "cannot set up the process arena") != 1)
        fail("the failed set-up was not said once on stderr");
    const char *block_size = getenv("ARENA_BLOCK_SIZE");
    if (block_size && strcmp(block_size, "3") == 0 && occurrences(text, "ignoring ARENA_BLOCK_SIZE=3") != 1)
        fail("the bad ARENA_BLOCK_SIZE was not said once over three set-ups");

    char *p = malloc(100);
    if (!p) fail("malloc after the limit was lifted returned NULL");
    else memset(p, 1, 100);
    char *z = calloc(10, 1000);
    if (!z) fail("calloc after the limit was lifted returned NULL");
    else
        for (int i = 0; i < 10000; i++)
            if (z[i]) {
                fail("calloc's block is not zero");
                break;
            }
    pthread_t t;
    void *from_thread = NULL;
    if (pthread_create(&t, NULL, allocate_on_a_thread, NULL) != 0 || pthread_join(t, &from_thread) != 0)
        fail("no thread");
    else if (!from_thread)
        fail("a new thread's malloc returned NULL");
    free(from_thread);
    free(z);
    free(p);
    /* Under glibc's malloc the same holds: this tests nothing there. */
    if (!dlsym(RTLD_DEFAULT, "arena_malloc_stats")) {
        fprintf(stderr, "not run under libarena_malloc.so: nothing tested\n");
        return 2;
    }
    return failures ? 1 : 0;
}
