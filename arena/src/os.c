/* os.c: pages from the OS (mmap, munmap, madvise, mremap), and the failure
 * injection that lets tests make the OS refuse memory or refuse to drop it. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef ARENA_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

static _Atomic unsigned long os_fail_after;  /* mappings that still succeed */
static _Atomic unsigned long os_fail_every;  /* then every N-th one fails; 0 = never */
static _Atomic unsigned long os_fail_count;
static _Atomic unsigned long os_fail_refused_count; /* mappings refused since os_fail_inject */

void os_fail_inject(unsigned long after, unsigned long every) {
    atomic_store(&os_fail_after, after);
    atomic_store(&os_fail_count, 0);
    atomic_store(&os_fail_refused_count, 0);
    atomic_store(&os_fail_every, every);
}

unsigned long os_fail_refused(void) { return atomic_load(&os_fail_refused_count); }

/* Returns true when an injected failure says this mapping must fail. */
static bool os_should_fail(void) {
    unsigned long every = atomic_load_explicit(&os_fail_every, memory_order_relaxed);
    if (likely(every == 0)) return false;
    if (atomic_load(&os_fail_after) > 0) {
        atomic_fetch_sub(&os_fail_after, 1);
        return false;
    }
    if (atomic_fetch_add(&os_fail_count, 1) % every != 0) return false;
    atomic_fetch_add(&os_fail_refused_count, 1);
    return true;
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

bool os_size_unmappable(size_t size) {
    int saved = errno;
    struct rlimit limit;
    bool unmappable = getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && size > limit.rlim_cur;
    struct sysinfo machine;
    if (!unmappable && sysinfo(&machine) == 0)
        unmappable = size / machine.mem_unit > (uint64_t)machine.totalram + machine.totalswap;
    errno = saved;
    return unmappable;
}

bool os_huge_pages(void *p, size_t size, bool want) {
    ARENA_ASSERT((uintptr_t)p % OS_PAGE == 0 && size % OS_PAGE == 0);
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    int saved = errno; /* a kernel without them (EINVAL) is no error of the caller's */
    bool taken = madvise(p, size, want ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0;
    errno = saved;
    return taken;
#else
    (void)p, (void)size, (void)want;
    return false;
#endif
}

static _Atomic bool os_purge_refused;

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
static _Atomic bool os_populate_missing; /* the kernel said EINVAL once: it has no such advice */

void os_populate(void *p, size_t size) {
    ARENA_ASSERT((uintptr_t)p % OS_PAGE == 0 && size % OS_PAGE == 0);
    if (!size || atomic_load_explicit(&os_populate_missing, memory_order_relaxed)) return;
    int saved = errno;
    /* A failure faults nothing in, or part: the writes fault the rest in as
     * they would have. ENOMEM here is the kernel short of memory now, which the
     * writes will meet or not; it is no error of the caller's. */
    if (madvise(p, size, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
        atomic_store_explicit(&os_populate_missing, true, memory_order_relaxed);
    errno = saved;
}

void os_purge_refuse(bool refuse) { atomic_store(&os_purge_refused, refuse); }

bool os_purge(void *p, size_t size) {
    ARENA_ASSERT((uintptr_t)p % OS_PAGE == 0 && size % OS_PAGE == 0);
    if (!size) return false;
    if (unlikely(atomic_load_explicit(&os_purge_refused, memory_order_relaxed))) return true;
    int saved = errno; /* a refusal (locked memory) is no error of the caller's: free keeps errno */
    bool refused = madvise(p, size, MADV_DONTNEED) != 0;
    errno = saved;
    return refused;
}

/* This process's pidfd for process_madvise, with the pid it was opened for:
 * (pid << 32) | fd, one word so that no thread sees the one without the
 * other; 0 until opened. A forked child finds its parent's pid there and opens
 * its own (the parent's pidfd would be refused MADV_DONTNEED, and the child's
 * pages would stay). OS_PIDFD_NONE: the kernel has no batched purge for this
 * process (no pidfd_open, no process_madvise, or no MADV_DONTNEED through it
 * for the process itself, as before Linux 6.13; a MADV_COLD refused through it
 * means the same), or the descriptor was taken from under the library. */
#define OS_PIDFD_NONE UINT64_MAX
static _Atomic uint64_t os_pidfd;

/* Where the pidfd goes: above the descriptors programs number themselves, so
 * that a program that expects open() to return 3, or closes or dup2s onto low
 * descriptors, does not meet it; but inside the descriptor table the process
 * has, in its top quarter, at most OS_PIDFD_FLOOR. A number past the table's
 * end grows the table, and the kernel grows a table that threads share only
 * after an RCU grace period: at 512, the first batched purge of a threaded
 * process slept 7-15 ms in fcntl (python-threads' replay, whose other threads
 * waited for that one; 10-14 ms in a test program with 1 to 4 threads). */
#define OS_PIDFD_FLOOR 512
#define OS_FD_TABLE_MIN 64                     /* the smallest table a process has: one word of bits */
#define OS_PIDFD_LOWEST 16                     /* a floor below this: no pidfd, a madvise per range */
_Static_assert(OS_PIDFD_FLOOR >= OS_FD_TABLE_MIN && OS_PIDFD_LOWEST > 2,
               "the floor is lowered to fit the table, never raised, nor into the standard descriptors");

/* Descriptors the process's table holds now (FDSize in /proc/self/status), or
 * OS_FD_TABLE_MIN when it cannot tell (no /proc). No stdio, no malloc: a
 * purge calls it. */
static int os_fd_table_size(void) {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OS_FD_TABLE_MIN;
    char text[1024]; /* FDSize is among the first dozen lines */
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return OS_FD_TABLE_MIN;
    text[n] = '\0';
    static const char key[] = "\nFDSize:";
    const char *at = strstr(text, key);
    if (!at) return OS_FD_TABLE_MIN;
    at += sizeof key - 1;
    while (*at == ' ' || *at == '\t') at++;
    long size = 0;
    for (; *at >= '0' && *at <= '9' && size <= INT32_MAX / 10; at++) size = size * 10 + (*at - '0');
    return size >= OS_FD_TABLE_MIN && size <= INT32_MAX ? (int)size : OS_FD_TABLE_MIN;
}

/* The lowest number the pidfd may take: the top quarter of the table, or of
 * what RLIMIT_NOFILE lets the process open when that is less, at most
 * OS_PIDFD_FLOOR. Before, the limit was left out: under `ulimit -n 40` the
 * floor was 48, the move there failed, and the pidfd stayed where it was
 * opened, the program's first free descriptor (3, where its first open()
 * expected it). */
static int os_pidfd_floor(void) {
    int table = os_fd_table_size();
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t)table) table = (int)limit.rlim_cur;
    int floor = table - table / 4;
    return floor < OS_PIDFD_FLOOR ? floor : OS_PIDFD_FLOOR;
}

/* This process's pidfd, or -1 when there is none. Threads racing to open it
 * may each open one; one is kept and the others closed. */
static int os_self_pidfd(void) {
    uint64_t held = atomic_load_explicit(&os_pidfd, memory_order_acquire);
    if (held == OS_PIDFD_NONE) return -1;
#ifdef ARENA_HAVE_VALGRIND
    /* Valgrind 3.19 knows neither call: each would print a warning of five
     * lines into the output of the program under it (callgrind's counts of
     * `./bench.sh instructions` too) before it failed. */
    if (!held && RUNNING_ON_VALGRIND) {
        atomic_store(&os_pidfd, OS_PIDFD_NONE);
        return -1;
    }
#endif
    uint32_t pid = (uint32_t)getpid();
    if (held && (uint32_t)(held >> 32) == pid) return (int)(uint32_t)held;
    /* A table too small for a top quarter above the program's own numbers
     * gets no pidfd, and one that cannot go up there is closed: a purge then
     * takes a madvise per range. */
    int floor = os_pidfd_floor();
    int opened = floor >= OS_PIDFD_LOWEST ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1; /* close-on-exec */
    if (opened >= 0 && opened < floor) {
        int high = fcntl(opened, F_DUPFD_CLOEXEC, floor);
        close(opened);
        opened = high;
    }
    uint64_t now = opened >= 0 ? (uint64_t)pid << 32 | (uint32_t)opened : OS_PIDFD_NONE;
    if (!atomic_compare_exchange_strong(&os_pidfd, &held, now)) {
        if (opened >= 0) close(opened); /* another thread's is in */
        return held == OS_PIDFD_NONE ? -1 : (int)(uint32_t)held;
    }
    /* A parent's pidfd inherited over fork stays open (close-on-exec): the
     * child may have put a descriptor of its own under that number since. */
    return opened;
}

_Static_assert(sizeof(struct os_purge_range) == sizeof(struct iovec) &&
                   offsetof(struct os_purge_range, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(struct os_purge_range, len) == offsetof(struct iovec, iov_len),
               "a batch's ranges are what process_madvise reads: struct iovec");

void os_purge_batching_off(void) { atomic_store(&os_pidfd, OS_PIDFD_NONE); }

void os_purge_batch_add(os_purge_batch *b, void *p, size_t size, bool split) {
    ARENA_ASSERT((uintptr_t)p % OS_PAGE == 0 && size % OS_PAGE == 0);
    if (!size) return;
    if (b->count == OS_PURGE_BATCH) os_purge_batch_flush(b);
    b->range[b->count++] = (struct os_purge_range){p, size};
    b->split |= split;
}

void os_purge_batch_drop(os_purge_batch *b, const void *p, size_t size) {
    uintptr_t begin = (uintptr_t)p, end = begin + size;
    unsigned kept = 0;
    for (unsigned i = 0; i < b->count; i++) {
        uintptr_t base = (uintptr_t)b->range[i].base;
        if (base < begin || base >= end) b->range[kept++] = b->range[i];
        else ARENA_ASSERT(base + b->range[i].len <= end); /* no range straddles a segment's end */
    }
    b->count = kept;
}

/* Gives `advice` over ranges r[0..count), one process_madvise for all of them
 * where the kernel takes one, else a madvise each. Returns true when the kernel
 * refused some range (those are as they were), with errno as it was. */
static bool os_advise_ranges(struct os_purge_range *r, unsigned count, int advice) {
    unsigned done = 0;
    int saved = errno;
    bool refused = false;
    int fd = count > 1 ? os_self_pidfd() : -1;
    if (fd >= 0) {
        /* The bytes advised, the ranges in order; -1 when an error came first. */
        long advised = syscall(SYS_process_madvise, fd, r, (size_t)count, advice, 0u);
        if (advised < 0) {
            /* Locked memory in the first range, or no such call for this
             * process: a madvise of that range tells which. The descriptor
             * stays open: the number may be the program's by now (it closed
             * ours, or put its own there, the likeliest reasons for EBADF). */
            done = 1;
            if (madvise(r[0].base, r[0].len, advice) == 0) atomic_store(&os_pidfd, OS_PIDFD_NONE);
            else refused = true;
        }
        for (size_t bytes = advised > 0 ? (size_t)advised : 0; done < count && bytes >= r[done].len; done++)
            bytes -= r[done].len;
    }
    for (; done < count; done++) refused |= madvise(r[done].base, r[done].len, advice) != 0;
    errno = saved;
    return refused;
}

/* MADV_COLD over part of a huge page splits it; over the whole of one it
 * does not, and the purge then frees it whole. So only a range's two ends
 * are advised, the parts of it in a huge page it does not cover whole: the
 * advice walks every page it is given and moves each down the reclaim lists
 * (1.3 ms for 64 MiB of small pages here, against 4-9 ms for their
 * MADV_DONTNEED), work the purge right after makes pointless. */
static void os_split_ranges(const struct os_purge_range *r, unsigned count) {
#ifdef MADV_COLD
    struct os_purge_range ends[2 * OS_PURGE_BATCH];
    unsigned n = 0;
    for (unsigned i = 0; i < count; i++) {
        uintptr_t begin = (uintptr_t)r[i].base, end = begin + r[i].len;
        uintptr_t head_end = align_up(begin, OS_HUGE_PAGE), tail_begin = end & ~(OS_HUGE_PAGE - 1);
        if (head_end >= tail_begin) { /* within one huge page, or two that it cuts */
            if (begin != head_end || end != tail_begin) ends[n++] = r[i];
            continue;
        }
        if (begin != head_end) ends[n++] = (struct os_purge_range){(void *)begin, head_end - begin};
        if (end != tail_begin) ends[n++] = (struct os_purge_range){(void *)tail_begin, end - tail_begin};
    }
    if (n) os_advise_ranges(ends, n, MADV_COLD); /* refused (before Linux 5.4): they stay whole */
#else
    (void)r, (void)count;
#endif
}

void os_split_huge_pages(void *p, size_t size) {
    ARENA_ASSERT((uintptr_t)p % OS_PAGE == 0 && size % OS_PAGE == 0);
    struct os_purge_range r = {p, size};
    os_split_ranges(&r, 1);
}

bool os_purge_splitting(void *p, size_t size) {
    if (unlikely(atomic_load_explicit(&os_purge_refused, memory_order_relaxed))) return true; /* as the batch's flush */
    os_split_huge_pages(p, size);
    return os_purge(p, size);
}

bool os_purge_batch_flush(os_purge_batch *b) {
    unsigned count = b->count;
    bool split = b->split;
    b->count = 0;
    b->split = false;
    if (!count) return false;
    if (unlikely(atomic_load_explicit(&os_purge_refused, memory_order_relaxed))) return true;
    if (split) os_split_ranges(b->range, count);
    return os_advise_ranges(b->range, count, MADV_DONTNEED);
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
