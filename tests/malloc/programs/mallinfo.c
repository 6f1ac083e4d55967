/* glibc's reporting and tuning calls (mallinfo2, mallinfo, mallopt,
 * malloc_stats, malloc_info) in a program whose malloc is arena's. Run on
 * glibc, preloaded, and linked -static with libarena_malloc.a: glibc's own
 * versions would report its unused heap (all zero) to the preloaded run, and
 * bring glibc's whole malloc.o into the static link (malloc defined twice).
 * Prints "ok" and exits 0 when every figure follows the program's blocks. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

int main(void) {
    enum { COUNT = 200, SIZE = 1000 };
    expect(mallopt(M_ARENA_MAX, 2) == 1, "mallopt takes a setting");
    /* glibc's answers (2.36), which this program gets without arena too. */
    expect(mallopt(M_MXFAST, 0) == 1 && mallopt(M_MXFAST, 80 * sizeof(size_t) / 4) == 1,
           "mallopt takes an M_MXFAST up to 80 * sizeof(size_t) / 4");
    expect(mallopt(M_MXFAST, 80 * sizeof(size_t) / 4 + 1) == 0 && mallopt(M_MXFAST, -1) == 0,
           "mallopt refuses a larger or negative M_MXFAST");
    expect(mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 && mallopt(M_MMAP_THRESHOLD, -1) == 1,
           "mallopt takes any M_MMAP_THRESHOLD (glibc clamps it)");
    expect(mallopt(M_ARENA_MAX, 0) == 1 && mallopt(12345, 1) == 1,
           "mallopt answers 1 to an M_ARENA_MAX of 0 and to a parameter it does not know");
    struct mallinfo2 before = mallinfo2();
    void *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) blocks[i] = memset(malloc(SIZE), i, SIZE);
    struct mallinfo2 after = mallinfo2();
    expect(after.uordblks >= before.uordblks + COUNT * SIZE, "mallinfo2 counts the live blocks in uordblks");
    expect(after.arena + after.hblkhd >= after.uordblks, "mallinfo2's mappings hold its live bytes");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
    expect(old.uordblks >= COUNT * SIZE, "mallinfo counts the live blocks in uordblks");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    expect(malloc_info(0, f) == 0, "malloc_info(0, f) succeeds");
    fclose(f);
    expect(text && strstr(text, "<malloc version=") && strstr(text, "</malloc>"), "malloc_info writes its XML");
    free(text);
    f = fopen("/dev/null", "w");
    errno = 0;
    expect(malloc_info(1, f) == EINVAL && errno == 0, "malloc_info with options returns EINVAL");
    fclose(f);
    malloc_stats(); /* to stderr: the output is glibc's or arena's own */

    for (int i = 0; i < COUNT; i++) free(blocks[i]);
    expect(mallinfo2().uordblks < after.uordblks, "mallinfo2 sees the frees");
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
