/* huge.c: blocks too large for a MEDIUM segment get a mapping of their own,
 * resized with mremap (no copy) and handed straight back to the OS on free. */
#include "internal.h"

#include <errno.h>

/* Bytes from the segment start to the block: the header, padded to the alignment. */
static size_t huge_offset(const heap_t *h, size_t align) {
    size_t a = align > h->classes.granule ? align : h->classes.granule;
    return align_up(segment_header_size(h->arena, SEG_HUGE, 0), a);
}

void *huge_malloc(heap_t *h, size_t size, size_t align) {
    size_t offset = huge_offset(h, align);
    size_t total = offset + size;
    if (total < size || total > SIZE_MAX - OS_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    total = align_up(total, OS_PAGE);
    size_t map_align = align > SEGMENT_ALIGN ? align : SEGMENT_ALIGN;
    segment_t *s = segment_new(h, SEG_HUGE, total, map_align);
    if (!s) return NULL;
    s->huge_align = map_align;
    s->huge_block = (uintptr_t)s + offset;
    s->huge_requested = size;
    s->huge_usable = total - offset;
    return (void *)s->huge_block;
}

void huge_free(heap_t *h, segment_t *s) {
    h->huge_freed[h->huge_freed_next++ % 8] = s->huge_block;
    segment_release(h, s);
}

/* Points the heap's list at a segment that moved from `old` to `s`. */
static void huge_relink(heap_t *h, segment_t *s) {
    if (s->prev) s->prev->next = s;
    else h->segments[SEG_HUGE] = s;
    if (s->next) s->next->prev = s;
}

void *huge_realloc(heap_t *h, segment_t *s, size_t size) {
    size_t offset = s->huge_block - (uintptr_t)s;
    size_t total = offset + size;
    if (total < size || total > SIZE_MAX - OS_PAGE) return NULL;
    total = align_up(total, OS_PAGE);
    size_t old = s->size;
    if (total > old && arena_charge(h->arena, total - old)) return NULL;
    if (total == old) {
    } else if (!os_resize(s, old, total)) {
        if (total > old && segmap_insert(s, total)) {
            os_resize(s, total, old); /* shrinking in place cannot fail */
            arena_uncharge(h->arena, total - old);
            return NULL;
        }
        if (total < old) {
            segmap_remove(s, old);
            segmap_insert(s, total); /* its leaves exist: cannot fail */
        }
    } else {
        /* Move: the kernel remaps the pages onto an aligned place we reserved and
         * registered first, so the block is never unfindable and the old one stays
         * intact on failure. */
        segment_t *dest = total > old ? os_map(total, s->huge_align) : NULL;
        if (!dest || segmap_insert(dest, total)) {
            os_unmap(dest, total);
            if (total > old) arena_uncharge(h->arena, total - old);
            return NULL;
        }
        if (os_move(s, old, total, dest)) {
            segmap_remove(dest, total);
            os_unmap(dest, total);
            arena_uncharge(h->arena, total - old);
            return NULL;
        }
        segmap_remove(s, old);
        s = dest;
        huge_relink(h, s);
    }
    if (total < old) arena_uncharge(h->arena, old - total);
    s->size = total;
    s->huge_block = (uintptr_t)s + offset;
    s->huge_requested = size;
    s->huge_usable = total - offset;
    return (void *)s->huge_block;
}
