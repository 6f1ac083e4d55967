/* Allocates and frees a few blocks and exits 0. With --close-stderr it closes
 * stderr in an atexit handler first, as coreutils' close_stdout does, before
 * the library destructors run. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void close_stderr(void) { close(STDERR_FILENO); }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--close-stderr") == 0) atexit(close_stderr);
    void *blocks[64];
    for (int i = 0; i < 64; i++) blocks[i] = memset(malloc((size_t)16 << (i % 12)), i, 16);
    for (int i = 0; i < 64; i++) free(blocks[i]);
    return 0;
}
