/* Misuse under the drop-in malloc: must end in a one-line report and abort(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: misuse double-free|invalid-free|interior-free|invalid-realloc\n");
        return 2;
    }
    char *p = malloc(64);
    static char not_ours[64];
    if (!strcmp(argv[1], "double-free")) {
        free(p);
        free(p);
    } else if (!strcmp(argv[1], "invalid-free")) {
        free(not_ours);
    } else if (!strcmp(argv[1], "interior-free")) {
        free(p + 16);
    } else if (!strcmp(argv[1], "invalid-realloc")) {
        p = realloc(not_ours, 100);
    } else {
        return 2;
    }
    printf("misuse went unnoticed\n");
    return 0;
}
