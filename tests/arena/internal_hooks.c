/* internal_hooks.c: for internal_test.cpp only: what arena.h does not reach,
 * through the library's internals (it is linked statically). */
#include "internal.h"

/* Where the segment that holds medium block p ends (its last block ends
 * there); 0 when p is not in a MEDIUM segment. */
uintptr_t internal_hook_medium_segment_end(const void *p) {
    segment_t *s = segmap_lookup(p);
    return s && s->kind == SEG_MEDIUM ? s->sentinel : 0;
}

/* Hands back every dirty free byte of explicit arena a's heap, whatever the
 * purge budget says. */
void internal_hook_purge_all(arena_t *a) { heap_purge_all(&a->heap); }
