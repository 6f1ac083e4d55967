/* Allocates and frees a few blocks and exits 0. With --purge it fills and
 * frees 8 MiB of small blocks and trims, so that the library hands free pages
 * back, then prints "pidfd N" for each pidfd the process holds, "fdsize N M"
 * for its descriptor table's size (FDSize) before and after, and "batch
 * works" when the kernel takes a batched purge (process_madvise of
 * MADV_DONTNEED on the process itself). With --close-stderr it closes stderr
 * in an atexit handler first, as coreutils' close_stdout does, before the
 * library destructors run. With --reuse-descriptors FILE it closes every
 * descriptor above 2 there and opens FILE under numbers 3 to 255, as a program
 * that closes all and opens its own may. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void close_stderr(void) { close(STDERR_FILENO); }

static const char *reuse_path;
static void reuse_descriptors(void) {
    for (int fd = 3; fd < 256; fd++) close(fd);
    int file = open(reuse_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (int fd = 3; file >= 0 && fd < 256; fd++)
        if (fd != file) dup2(file, fd);
}

static int fd_table_size(void) {
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    int size = 0;
    while (status && fgets(line, sizeof line, status))
        if (sscanf(line, "FDSize: %d", &size) == 1) break;
    if (status) fclose(status);
    return size;
}

static int purge_and_list_pidfds(void) {
    enum { BLOCKS = 8 << 16 };
    const int before = fd_table_size();
    void **blocks = mmap(NULL, BLOCKS * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (blocks == MAP_FAILED) return 1;
    for (int i = 0; i < BLOCKS; i++) blocks[i] = memset(malloc(128), 1, 128);
    for (int i = 0; i < BLOCKS; i++) free(blocks[i]);
    malloc_trim(0);
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0 && (target[n] = '\0', strcmp(target, "anon_inode:[pidfd]") == 0)) printf("pidfd %s\n", e->d_name);
    }
    if (d) closedir(d);
    printf("fdsize %d %d\n", before, fd_table_size());
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    struct iovec range[2] = {{blocks, 4096}, {(char *)blocks + 8192, 4096}};
    if (self >= 0 && syscall(SYS_process_madvise, self, range, 2, MADV_DONTNEED, 0) == 8192) printf("batch works\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--purge") == 0) return purge_and_list_pidfds();
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
