/* replay_main.c: runs a libFuzzer target's inputs without libFuzzer, so that
 * every build (gcc's, and the sanitizer builds of ./test.sh) replays the
 * committed corpus as a regression test, not only the 30-second clang run.
 *
 * usage: PROGRAM FILE|DIR...   each argument an input, or a directory of them
 *
 * The target reports a finding by aborting. Exits 0 once every input ran, 2
 * when an input cannot be read or there is none. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Runs the target on the file at path; false when it cannot be read. */
static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 0;
    }
    uint8_t *data = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            uint8_t *grown = realloc(data, capacity);
            if (!grown) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(data);
                fclose(f);
                return 0;
            }
            data = grown;
        }
        size_t got = fread(data + size, 1, capacity - size, f);
        size += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: read error\n", path);
        free(data);
        return 0;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

static int not_hidden(const struct dirent *e) { return e->d_name[0] != '.'; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    size_t inputs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (!run_file(argv[i])) return 2;
            inputs++;
            continue;
        }
        /* alphasort in the C locale (never set here): the same order on every machine */
        struct dirent **entries;
        int n = scandir(argv[i], &entries, not_hidden, alphasort);
        if (n < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        for (int k = 0; k < n; k++) {
            char *path;
            if (asprintf(&path, "%s/%s", argv[i], entries[k]->d_name) < 0) {
                fprintf(stderr, "%s: out of memory\n", argv[i]);
                return 2;
            }
            if (!run_file(path)) return 2;
            free(path);
            free(entries[k]);
            inputs++;
        }
        free(entries);
    }
    if (!inputs) {
        fprintf(stderr, "no input\n");
        return 2;
    }
    printf("%zu inputs ran\n", inputs);
    return 0;
}
