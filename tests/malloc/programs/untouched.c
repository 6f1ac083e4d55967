/* untouched MIN_KIB MAX_KIB: allocates 1000 blocks of 64 KiB and writes the
 * first byte of each (buffers a program fills in part), then prints how much
 * resident memory grew, in KiB, and exits 1 unless that lies in [MIN, MAX].
 * Under the drop-in a medium block of up to ARENA_POPULATE_MAX bytes (256 KiB
 * by default) comes in whole when handed out, once the heap holds 1 MiB:
 * about 64 MiB here; with ARENA_POPULATE_MAX=0 and ARENA_HUGE_PAGES_FROM=never,
 * only the pages written (and the next block's header, on the same pages). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { BLOCKS = 1000, BLOCK_SIZE = 64 << 10 };

/* Resident bytes (/proc/self/statm), read without malloc. */
static long resident_bytes(void) {
    char text[128];
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    long size = 0, resident = 0;
    if (sscanf(text, "%ld %ld", &size, &resident) != 2) return -1;
    return resident * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: untouched MIN_KIB MAX_KIB\n");
        return 2;
    }
    const long min_kib = atol(argv[1]), max_kib = atol(argv[2]);
    static volatile char *blocks[BLOCKS];
    const long before = resident_bytes();
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(BLOCK_SIZE);
        if (!blocks[i]) {
            perror("malloc");
            return 1;
        }
        blocks[i][0] = 1;
    }
    const long rise_kib = (resident_bytes() - before) / 1024;
    printf("%d blocks of %d bytes, first byte written: resident memory rose by %ld KiB\n", BLOCKS, BLOCK_SIZE,
           rise_kib);
    for (int i = 0; i < BLOCKS; i++) free((void *)blocks[i]);
    if (before < 0 || rise_kib < min_kib || rise_kib > max_kib) {
        fprintf(stderr, "untouched: expected a rise of %ld to %ld KiB\n", min_kib, max_kib);
        return 1;
    }
    return 0;
}
