/* check_hooks.c: for check_test.cpp only: break one invariant that
 * arena_check verifies, through the library's internals, and put it back. */
#include "internal.h"

/* Stores `value` in the first live-map word of the SMALL segment that holds p
 * (the slice of a page under its header); returns the word it replaced. */
uint64_t check_hook_swap_header_live_word(const void *p, uint64_t value) {
    segment_t *s = segmap_lookup(p);
    uint64_t old = map_load(&s->live_map[0]);
    map_store(&s->live_map[0], value);
    return old;
}

/* Points the descriptor of p's page at `map` (NULL: one word past its own
 * slice); returns the pointer it replaced. */
uint64_t *check_hook_swap_page_live_map(const void *p, uint64_t *map) {
    page_t *pg = segment_page(segmap_lookup(p), p);
    uint64_t *old = pg->live_map;
    pg->live_map = map ? map : old + 1;
    return old;
}
