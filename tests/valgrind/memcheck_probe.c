/* A program using the explicit API, for memcheck: in each mode it makes one
 * kind of mistake (or none) that memcheck must report on an arena block.
 *   memcheck_probe clean|use-after-free|overflow|leak|uninitialised */
#include "arena.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile char sink;

/* A block whose only pointer dies with this frame. */
__attribute__((noinline)) static void lose_a_block(arena_t *a) {
    char *lost = arena_malloc(a, 40);
    memset(lost, 1, 40);
}

static int misuse_reports;
static void count_misuse(void *ctx, arena_t *a, const void *p, arena_error kind, const char *message) {
    (void)ctx, (void)a, (void)p, (void)kind, (void)message;
    misuse_reports++;
}

/* Overwrites the stack the lost pointer lived on. */
__attribute__((noinline)) static void clobber_stack(void) {
    volatile char junk[256];
    memset((char *)junk, 0, sizeof junk);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: memcheck_probe clean|use-after-free|overflow|leak|uninitialised\n");
        return 2;
    }
    const char *mode = argv[1];
    arena_t *a = arena_create(NULL);
    char *keep = arena_malloc(a, 100);
    strcpy(keep, "kept");
    for (int i = 0; i < 1000; i++) arena_free(a, arena_malloc(a, (size_t)(i % 300) + 1));
    char *p = arena_malloc(a, 40);
    memset(p, 1, 40);
    if (!strcmp(mode, "use-after-free")) {
        arena_free(a, p);
        p[10] = 7; /* memcheck: invalid write */
    } else if (!strcmp(mode, "overflow")) {
        sink = p[40]; /* memcheck: invalid read, one past the block */
        arena_free(a, p);
    } else if (!strcmp(mode, "uninitialised")) {
        char *u = arena_malloc(a, 16);
        if (u[3] == 42) sink = 1; /* memcheck: conditional jump on uninitialised value */
        arena_free(a, u);
        arena_free(a, p);
    } else if (!strcmp(mode, "leak")) {
        lose_a_block(a); /* memcheck: definitely lost, 40 bytes */
        clobber_stack();
        arena_free(a, p);
    } else {
        p = arena_realloc(a, p, 5000);
        p = arena_realloc(a, p, 50);
        arena_free(a, p);
        /* realloc under memcheck takes a path of its own: misuse is reported
         * once a call and fails with EINVAL, whatever the size. */
        arena_set_error_handler(count_misuse, NULL);
        for (size_t size = 0; size <= 10; size += 10) {
            errno = 0;
            if (arena_realloc(a, p, size) != NULL || errno != EINVAL) {
                fprintf(stderr, "realloc(freed, %zu): not NULL with EINVAL (errno %d)\n", size, errno);
                return 1;
            }
        }
        arena_set_error_handler(NULL, NULL);
        if (misuse_reports != 2) {
            fprintf(stderr, "%d misuse reports, 2 expected\n", misuse_reports);
            return 1;
        }
        /* A block of 0 bytes in the checked mode has a usable size of 0: still
         * a live block, freed by realloc(p, 0) (it was taken for misuse). */
        arena_config checked_config = {.flags = ARENA_CHECKED};
        arena_t *checked = arena_create(&checked_config);
        void *empty = arena_malloc(checked, 0);
        errno = 0;
        arena_stats st = {0};
        if (!empty || arena_realloc(checked, empty, 0) != NULL || errno != 0 || arena_stats_get(checked, &st) != 0 ||
            st.live_blocks != 0) {
            fprintf(stderr, "realloc(malloc(0), 0), checked: errno %d, %zu blocks live\n", errno, st.live_blocks);
            return 1;
        }
        arena_destroy(checked);
    }
    if (strcmp(mode, "leak")) {
        arena_free(a, keep);
        if (arena_check(a) != 0) {
            fputs("arena_check failed\n", stderr);
            return 1;
        }
        arena_destroy(a);
    }
    puts("done");
    return 0;
}
