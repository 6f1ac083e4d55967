/* os.c: pages from the OS (mmap, munmap, madvise, mremap), and the failure
 * injection that lets tests make the OS refuse memory or refuse to drop it. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

static _Atomic unsigned long os_fail_after;  /* mappings that still succeed */
static _Atomic unsigned long os_fail_every;  /* then every N-th one fails; 0 = never */
static _Atomic unsigned long os_fail_count;

void os_fail_inject(unsigned long after, unsigned long every) {
    atomic_store(&os_fail_after, after);
    atomic_store(&os_fail_count, 0);
    atomic_store(&os_fail_every, every);
}

/* Returns true when an injected failure says this mapping must fail. */
static bool os_should_fail(void) {
    unsigned long every = atomic_load_explicit(&os_fail_every, memory_order_relaxed);
    if (likely(every == 0)) return false;
    if (atomic_load(&os_fail_after) > 0) {
        atomic_fetch_sub(&os_fail_after, 1);
        return false;
    }
    return atomic_fetch_add(&os_fail_count, 1) % every == 0;
}

static void *os_mmap(void *hint, size_t size, int flags) {
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *os_map(size_t size, size_t align) {
    ARENA_ASSERT(size % OS_PAGE == 0 && is_pow2(align) && align >= OS_PAGE);
    if (os_should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    if (align == OS_PAGE) return os_mmap(NULL, size, 0);
    /* Over-map by the alignment and trim both ends. */
    size_t over = size + align - OS_PAGE;
    if (over < size) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *raw = os_mmap(NULL, over, 0);
    if (!raw) return NULL;
    uint8_t *p = (uint8_t *)align_up((uintptr_t)raw, align);
    size_t front = (size_t)(p - raw);
    if (front) munmap(raw, front);
    size_t back = over - front - size;
    if (back) munmap(p + size, back);
    return p;
}

void os_unmap(void *p, size_t size) {
    if (p) munmap(p, size);
}

static _Atomic bool os_purge_refused;

void os_purge_refuse(bool refuse) { atomic_store(&os_purge_refused, refuse); }

bool os_purge(void *p, size_t size) {
    ARENA_ASSERT((uintptr_t)p % OS_PAGE == 0 && size % OS_PAGE == 0);
    if (!size) return false;
    if (unlikely(atomic_load_explicit(&os_purge_refused, memory_order_relaxed))) return true;
    return madvise(p, size, MADV_DONTNEED) != 0;
}

bool os_resize(void *p, size_t old_size, size_t new_size) {
    ARENA_ASSERT(old_size % OS_PAGE == 0 && new_size % OS_PAGE == 0);
    if (new_size > old_size && os_should_fail()) return true;
    int saved = errno;
    bool failed = mremap(p, old_size, new_size, 0) == MAP_FAILED;
    errno = saved; /* no room in place is no error: the caller moves the block */
    return failed;
}

bool os_move(void *p, size_t old_size, size_t new_size, void *dest) {
    return mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dest) == MAP_FAILED;
}
