/* A program linked with libarena_malloc: its malloc is arena's, so the
 * process arena counts the block. */
#include <arena.h>

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    void *p = malloc(1000);
    arena_stats st;
    if (!p || arena_malloc_stats(&st) != 0) return 1;
    if (st.live_bytes < 1000) {
        fprintf(stderr, "malloc is not arena's: %zu live bytes\n", st.live_bytes);
        return 2;
    }
    free(p);
    if (arena_malloc_check() != 0) return 3;
    puts("drop-in: ok");
    return 0;
}
