/* The explicit API from the installed header and library, in C. */
#include <arena.h>

#include <stdio.h>

int main(void) {
    arena_config cfg = {.block_size = 32};
    arena_t *a = arena_create(&cfg);
    if (!a) return 1;
    char *p = arena_malloc(a, 100);
    if (!p || (uintptr_t)p % 32 != 0) return 2;
    arena_stats st;
    if (arena_stats_get(a, &st) != 0 || st.live_bytes != 100) return 3;
    arena_free(a, p);
    int broken = arena_check(a);
    arena_destroy(a);
    puts("explicit C: ok");
    return broken ? 4 : 0;
}
