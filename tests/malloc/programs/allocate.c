/* Allocates and frees a few blocks and exits 0. With --close-stderr it closes
 * stderr in an atexit handler first, as coreutils' close_stdout does, before
 * the library destructors run. With --reuse-descriptors FILE it closes every
 * descriptor above 2 there and opens FILE under numbers 3 to 255, as a program
 * that closes all and opens its own may. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void close_stderr(void) { close(STDERR_FILENO); }

static const char *reuse_path;
static void reuse_descriptors(void) {
    for (int fd = 3; fd < 256; fd++) close(fd);
    int file = open(reuse_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (int fd = 3; file >= 0 && fd < 256; fd++)
        if (fd != file) dup2(file, fd);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--close-stderr") == 0) atexit(close_stderr);
    if (argc > 2 && strcmp(argv[1], "--reuse-descriptors") == 0) {
        reuse_path = argv[2];
        atexit(reuse_descriptors);
    }
    void *blocks[64];
    for (int i = 0; i < 64; i++) blocks[i] = memset(malloc((size_t)16 << (i % 12)), i, 16);
    for (int i = 0; i < 64; i++) free(blocks[i]);
    return 0;
}
