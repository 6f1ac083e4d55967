/* segmap.c: the segment map, from any address to the segment that covers it.
 *
 * A two-level radix table over the 47-bit user address space at 64 KiB
 * granularity: the top level is a static array indexed by address bits 32-46,
 * each leaf (mapped on first use, never freed) holds one segment pointer per
 * 64 KiB chunk of a 4 GiB span. Lookup is two loads, so free() can validate any
 * pointer, even one arena never saw, without touching memory it does not own.
 * Entries are atomics: in the drop-in malloc, threads map segments concurrently
 * while others look pointers up.
 */
#include "internal.h"

_Atomic(segmap_entry *) segmap_top[SEGMAP_TOP_COUNT];

/* The leaf for address a, mapped when missing; NULL when the OS refuses. */
static segmap_entry *segmap_leaf(uintptr_t a) {
    _Atomic(segmap_entry *) *slot = &segmap_top[a >> SEGMAP_LEAF_SHIFT];
    segmap_entry *leaf = atomic_load_explicit(slot, memory_order_acquire);
    if (leaf) return leaf;
    segmap_entry *fresh = os_map(SEGMAP_LEAF_COUNT * sizeof(segmap_entry), OS_PAGE);
    if (!fresh) return NULL;
    if (!atomic_compare_exchange_strong(slot, &leaf, fresh)) {
        os_unmap(fresh, SEGMAP_LEAF_COUNT * sizeof(segmap_entry)); /* another thread won */
        return leaf;
    }
    return fresh;
}

static void segmap_set(uintptr_t begin, size_t size, segment_t *value) {
    for (uintptr_t a = begin; a < begin + size; a += SEGMENT_ALIGN) {
        segmap_entry *leaf = atomic_load_explicit(&segmap_top[a >> SEGMAP_LEAF_SHIFT], memory_order_acquire);
        atomic_store_explicit(&leaf[(a >> SEGMAP_SHIFT) & (SEGMAP_LEAF_COUNT - 1)], value,
                              memory_order_release);
    }
}

bool segmap_insert(segment_t *seg, size_t size) {
    uintptr_t begin = (uintptr_t)seg;
    ARENA_ASSERT(begin % SEGMENT_ALIGN == 0);
    if ((begin + size) >> SEGMAP_ADDRESS_BITS) return true;
    for (uintptr_t a = begin; a < begin + size; a += (uintptr_t)1 << SEGMAP_LEAF_SHIFT)
        if (!segmap_leaf(a)) return true;
    if (!segmap_leaf(begin + size - 1)) return true;
    segmap_set(begin, size, seg);
    return false;
}

void segmap_remove(const segment_t *seg, size_t size) {
    segmap_set((uintptr_t)seg, size, NULL);
}
