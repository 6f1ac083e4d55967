/* first_call_fails.c: the process's first malloc made with no address space to
 * spare, so that the drop-in cannot set its process arena up (run with
 * libarena_malloc.so preloaded; found in review). That call fails with ENOMEM,
 * as glibc's does; once the limit is lifted, the next calls are served, on this
 * thread and on a new one. The failure used to stay: every later call of every
 * thread failed for the life of the process. No stdio before the first malloc:
 * its buffers would be the first allocation. Exits 0 when that holds, 1 with a
 * line per failure, 2 when the limit cannot be set. */
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

int main(void) {
    struct rlimit old, none;
    if (getrlimit(RLIMIT_AS, &old) != 0) return 2;
    none = (struct rlimit){mapped_bytes(), old.rlim_max};
    if (setrlimit(RLIMIT_AS, &none) != 0) return 2;
    errno = 0;
    void *first = malloc(100);
    int first_errno = errno;
    if (setrlimit(RLIMIT_AS, &old) != 0) return 2;
    if (first) fail("the first malloc, with no address space left, was served");
    else if (first_errno != ENOMEM) fail("the first malloc failed without ENOMEM");

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
