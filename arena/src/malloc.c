/* malloc.c: the drop-in malloc: the C allocation functions with glibc's
 * semantics, on one process arena with a heap per thread. Built into
 * libarena_malloc.so (LD_PRELOAD) and libarena_malloc.a (to link), never into
 * libarena.a.
 *
 * It must work from the very first call, which may come from the dynamic
 * loader before main, and must never call malloc itself: set-up uses mmap,
 * getenv and pthread calls that do not allocate.
 */
#define _GNU_SOURCE
#include "fastpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Built with ARENA_MALLOC_PREFIX=p, the functions are named p_malloc, p_free,
 * ...: the same code, callable beside the process's real malloc, so that tests
 * can run it under ThreadSanitizer (whose runtime owns malloc). */
#ifdef ARENA_MALLOC_PREFIX
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define API(name) CAT(ARENA_MALLOC_PREFIX, name)
#else
#define API(name) name
#endif

static arena_t *process_arena;
enum {
    PROCESS_NONE,       /* not set up yet */
    PROCESS_SETTING_UP, /* by one thread (process_arena_slow); the others wait */
    PROCESS_READY,      /* process_arena is there */
};
/* A set-up that failed (no memory for the arena, under an address-space limit
 * or strict overcommit) leaves the state at PROCESS_NONE: that call fails with
 * ENOMEM, as glibc's would, and the next one tries again. Sticky, it made
 * every later call of every thread fail for the life of the process. */
static _Atomic bool set_up_failure_said;
static _Atomic int process_state;
/* The thread setting the process arena up: a call of malloc from inside the
 * set-up fails instead of waiting for the set-up to end (nothing there
 * allocates today). */
static __thread bool setting_up __attribute__((tls_model("initial-exec")));
static pthread_key_t heap_key;
static bool heap_key_made; /* once: a set-up that failed after it keeps it for the next */
/* Read from the environment once: a set-up tried again after a failure
 * repeats no warning about a bad setting. */
static arena_config process_config;
static bool process_config_known;
static bool print_stats_at_exit;
/* Where they go: a copy of stderr taken when the arena is set up, since a
 * program may close stderr before the destructors run (coreutils' close_stdout,
 * an atexit handler, does); stderr itself when no copy could be made. */
static int stats_fd = STDERR_FILENO;
static dev_t stats_dev; /* what stats_fd was: a program that closes every descriptor */
static ino_t stats_ino; /* (closefrom) may open another file under its number */
static __thread heap_t *thread_heap __attribute__((tls_model("initial-exec")));
/* Runs of the thread's heap_key destructor (thread_heap_exit): 0 while the
 * thread runs. Other key destructors may allocate after arena's, and glibc
 * frees its own per-thread buffers (strerror's, for one) after every round of
 * them (__libc_thread_freeres). So the destructor gives the thread's heap
 * back in every round and sets the key again, up to the last round: a call
 * from a later destructor binds a heap again, given back by the next round,
 * and calls after the last round's run (thread_done) get a heap adopted for
 * each alone (call_heap), abandoned again once it is done: bound to the
 * thread, no destructor would give it back, a whole heap lost with every
 * thread. Not a heap per call from the first round on: a destructor that
 * frees a thread's cache of blocks paid an adoption for each (78 ns a free
 * against 4.7). */
static __thread unsigned thread_exit_rounds __attribute__((tls_model("initial-exec")));
#define EXIT_ROUNDS PTHREAD_DESTRUCTOR_ITERATIONS
_Static_assert(EXIT_ROUNDS >= 1, "a thread's destructors run at least once");
static __thread heap_t *call_heap __attribute__((tls_model("initial-exec")));
/* Calls made during a call on call_heap (by the error handler it reported
 * to): they run on the same heap, and the outer call gives it back. Before,
 * a handler's malloc took a second heap over the first, and the first was
 * never given back (a heap and segment lost with every such thread). */
static __thread unsigned call_nested __attribute__((tls_model("initial-exec")));
/* The thread's first call kept no heap (thread_heap_unkept). */
static __thread bool thread_unkept __attribute__((tls_model("initial-exec")));

/* ---- configuration from the environment ---------------------------------- */

/* Parses "123", "64k", "4M", "1g" into *out; returns false, *out untouched,
 * when s is not such a number. */
static bool env_size(const char *s, size_t *out) {
    size_t v = 0;
    if (!s || *s < '0' || *s > '9') return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (SIZE_MAX - 9) / 10) return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s || (shift && v > (SIZE_MAX >> shift))) return false;
    *out = v << shift;
    return true;
}

static bool env_flag(const char *name) {
    const char *s = getenv(name);
    return s && *s && strcmp(s, "0") != 0;
}

/* Starts the line that says a setting is ignored: "arena: ignoring NAME=VALUE: ",
 * the reason to follow. */
static void env_ignoring(fmtbuf *f, const char *name, const char *value) {
    fmt_str(f, "arena: ignoring ");
    fmt_str(f, name);
    fmt_str(f, "=");
    fmt_str(f, value);
    fmt_str(f, ": ");
}

/* Reads a size variable; a bad value gets one line on stderr and the default (0). */
static size_t env_config_size(const char *name, size_t lo, size_t hi) {
    const char *s = getenv(name);
    if (!s) return 0;
    size_t v = 0;
    if (env_size(s, &v) && is_pow2(v) && v >= lo && v <= hi) return v;
    fmtbuf f = {.len = 0};
    env_ignoring(&f, name, s);
    fmt_str(&f, "not a power of two from ");
    fmt_dec(&f, lo);
    fmt_str(&f, " to ");
    fmt_dec(&f, hi);
    fmt_str(&f, " (suffixes k, m, g); using the default\n");
    error_write(f.buf);
    return 0;
}

/* ARENA_HUGE_PAGES_FROM: a size (suffixes k, m, g) or `never`; 0 is the
 * default, as arena_config's (README says so); a bad value gets one line on
 * stderr and the default. */
static size_t env_huge_pages_from(void) {
    const char *s = getenv("ARENA_HUGE_PAGES_FROM");
    if (!s) return 0;
    if (strcmp(s, "never") == 0) return ARENA_HUGE_PAGES_NEVER;
    size_t v;
    if (env_size(s, &v)) return v;
    fmtbuf f = {.len = 0};
    env_ignoring(&f, "ARENA_HUGE_PAGES_FROM", s);
    fmt_str(&f, "not a size (suffixes k, m, g) or never; using the default\n");
    error_write(f.buf);
    return 0;
}

/* ARENA_POPULATE_MAX: a size (suffixes k, m, g), 0 for none: medium blocks up
 * to it come in whole when handed out (tlsf_populate_ahead). SIZE_MAX when
 * unset, or bad (one line on stderr): the default. */
static size_t env_populate_max(void) {
    const char *s = getenv("ARENA_POPULATE_MAX");
    if (!s) return SIZE_MAX;
    size_t v;
    if (env_size(s, &v) && v <= MEDIUM_MAX) return v;
    fmtbuf f = {.len = 0};
    env_ignoring(&f, "ARENA_POPULATE_MAX", s);
    fmt_str(&f, "not a size from 0 to ");
    fmt_dec(&f, MEDIUM_MAX);
    fmt_str(&f, " (suffixes k, m, g); using the default\n");
    error_write(f.buf);
    return SIZE_MAX;
}

static void write_config(const arena_t *a) {
    fmtbuf f = {.len = 0};
    fmt_str(&f, "arena: drop-in malloc, block_size ");
    fmt_dec(&f, a->block_size);
    fmt_str(&f, ", region_size ");
    fmt_dec(&f, a->region_size);
    fmt_str(&f, ", huge pages from ");
    if (a->config.huge_pages_from == ARENA_HUGE_PAGES_NEVER) fmt_str(&f, "never");
    else fmt_dec(&f, a->config.huge_pages_from);
    fmt_str(&f, ", populate up to ");
    fmt_dec(&f, a->populate_max);
    if (a->config.flags & ARENA_CHECKED) fmt_str(&f, ", checked");
    if (a->config.flags & ARENA_SECURE) fmt_str(&f, ", secure");
    fmt_str(&f, ", pid ");
    fmt_dec(&f, (uint64_t)getpid());
    fmt_str(&f, "\n");
    error_write(f.buf);
}

/* ---- set-up --------------------------------------------------------------- */

/* True once no destructor round comes to give a bound heap back. */
static inline bool thread_done(void) { return thread_exit_rounds >= EXIT_ROUNDS; }

static void thread_heap_exit(void *unused) {
    (void)unused;
    heap_t *h = thread_heap;
    thread_heap = NULL;
    if (h) heaps_abandon(h);
    /* Any non-NULL value: the truth is thread_heap. */
    if (++thread_exit_rounds < EXIT_ROUNDS) pthread_setspecific(heap_key, &thread_exit_rounds);
}

/* The process arena once set up, else NULL (it never was: no block is arena's). */
static arena_t *process_arena_ready(void) {
    return atomic_load_explicit(&process_state, memory_order_acquire) == PROCESS_READY ? process_arena : NULL;
}

static arena_t *process_arena_slow(void);

/* The fork handlers are registered when the library is loaded (below), not
 * by the set-up: the set-up runs inside whatever call first allocated, and
 * glibc's pthread_atfork allocates once its built-in slots are taken, under
 * its lock. A program whose first malloc came from its own pthread_atfork
 * hung for good there, the set-up's pthread_atfork waiting on that lock.
 * Handlers registered earlier (by a library whose constructor ran first: the
 * loader runs a needed library's before a preloaded one's, and a static link
 * runs the program's first) run after fork_prepare and before fork_parent or
 * fork_child, and may allocate all the same: the forking thread takes the
 * locks fork_prepare took as held (arena_mutex). A fork before the first malloc
 * sets the process arena up (a set-up in the child would find another
 * thread's half done); glibc forks one at a time, holding its atfork lock from
 * the prepare handlers to the parent's or child's, so one variable carries
 * the arena from one to the other. */
static arena_t *fork_locked; /* locked by fork_prepare; NULL when set-up failed */

static void fork_prepare(void) {
    arena_t *a = process_arena_ready();
    if (!a) a = process_arena_slow();
    if (a) heaps_fork_prepare(a);
    fork_locked = a;
}

static void fork_parent(void) {
    if (fork_locked) heaps_fork_parent(fork_locked);
}

/* When fork_prepare's set-up failed, another thread may have begun one before
 * the fork: in the child that thread is gone, and every call would wait for
 * its set-up for ever (a review's find). The child sets up again, reading the
 * environment again, since that thread may have been writing process_config;
 * what it had made is lost. */
static void fork_child_set_up_again(void) {
    int state = PROCESS_SETTING_UP;
    if (atomic_compare_exchange_strong(&process_state, &state, PROCESS_NONE)) process_config_known = false;
}

static void fork_child(void) {
    if (fork_locked) heaps_fork_child(fork_locked, thread_heap);
    else fork_child_set_up_again();
}

__attribute__((constructor)) static void fork_handlers_register(void) {
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static size_t process_populate_max = SIZE_MAX; /* ARENA_POPULATE_MAX; SIZE_MAX: the arena's default */

static void process_config_read_env(void) {
    arena_config *cfg = &process_config;
    cfg->flags = (env_flag("ARENA_CHECKED") ? ARENA_CHECKED : 0) | (env_flag("ARENA_SECURE") ? ARENA_SECURE : 0);
    /* From 16, not the arena's 8: malloc promises alignment for any type, 16
     * bytes on x86-64. */
    cfg->block_size = env_config_size("ARENA_BLOCK_SIZE", 16, MAX_BLOCK_SIZE);
    cfg->region_size = env_config_size("ARENA_REGION_SIZE", MIN_REGION, MAX_REGION);
    cfg->huge_pages_from = env_huge_pages_from();
    process_populate_max = env_populate_max();
}

static NOINLINE arena_t *process_arena_slow(void) {
    if (setting_up) return NULL;
    for (int state = PROCESS_NONE; !atomic_compare_exchange_strong(&process_state, &state, PROCESS_SETTING_UP);
         state = PROCESS_NONE) {
        if (state == PROCESS_READY) return process_arena;
        sched_yield(); /* set up by another thread */
    }
    setting_up = true;
    if (!process_config_known) {
        process_config_read_env();
        process_config_known = true;
    }
    if (!heap_key_made) heap_key_made = pthread_key_create(&heap_key, thread_heap_exit) == 0;
    arena_t *a = NULL;
    if (heap_key_made) a = arena_create(&process_config);
    else errno = ENOMEM; /* malloc's word for it, not the key's EAGAIN */
    if (a && heaps_init(a)) {
        arena_destroy(a);
        a = NULL;
    }
    if (!a) {
        int saved = errno;
        if (!atomic_exchange(&set_up_failure_said, true))
            error_write("arena: cannot set up the process arena (no memory?); calls fail until it can\n");
        setting_up = false;
        atomic_store(&process_state, PROCESS_NONE);
        errno = saved;
        return NULL;
    }
    a->fast = false; /* its calls go through thread heaps, never a->heap's fast path */
    if (process_populate_max != SIZE_MAX) a->populate_max = process_populate_max;
    process_arena = a;
    /* A sandbox whose seccomp filter kills a process on pidfd_open or
     * process_madvise (instead of failing the call) needs the plain madvise. */
    const char *batch = getenv("ARENA_PURGE_BATCH");
    if (batch && strcmp(batch, "0") == 0) os_purge_batching_off();
    print_stats_at_exit = env_flag("ARENA_STATS");
    if (print_stats_at_exit) {
        int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 100); /* out of the way of a program's own */
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            stats_fd = fd;
            stats_dev = st.st_dev;
            stats_ino = st.st_ino;
        }
    }
    if (env_flag("ARENA_VERBOSE")) write_config(a);
    setting_up = false;
    atomic_store_explicit(&process_state, PROCESS_READY, memory_order_release);
    return a;
}

/* The key's value did not take (no memory), or may not last: glibc made the
 * thread's array of values for the key's index by a calloc just now, which
 * only a key of index 32 or more needs (one made after 32 others: the key is
 * made at the process's first call), and when this call is that calloc for a
 * pthread_setspecific of the program's, on a key of the same array, glibc
 * stores its own array over the one just made once this call returns. Bound,
 * the heap would be lost with the thread, its destructor never run. So this
 * call runs on the heap alone, given back after it (call_done), and the next
 * binds a heap with the array there for good. */
static NOINLINE heap_t *thread_heap_unkept(heap_t *h) {
    thread_unkept = true;
    int saved = errno;
    pthread_setspecific(heap_key, NULL); /* no calloc: the array is there */
    errno = saved;
    thread_heap = NULL;
    return call_heap = h;
}

/* `freeing`: for a free or a usable size, which need no heap bound. In a
 * thread whose first call kept no heap, such a call runs on a heap alone too:
 * most likely it is glibc freeing, at the thread's end and after the last
 * round of destructors, the array of key values that first call made, and a
 * heap bound by it would have its key value in that array, never given back
 * (1000 threads that made no other call left 4 GB mapped, in review). A
 * malloc binds; such a thread that only frees takes a heap for each free. */
static NOINLINE heap_t *thread_heap_slow(bool freeing) {
    arena_t *a = process_arena_ready();
    if (!a) a = process_arena_slow();
    if (!a) return NULL;
    if (unlikely(call_heap != NULL)) { /* a call made during the call on it (thread_done, thread_heap_unkept) */
        call_nested++;
        return call_heap;
    }
    heap_t *h = heaps_adopt(a, thread_exit_rounds > 0, !thread_done());
    if (!h) return NULL;
    if (unlikely(thread_done() || (freeing && thread_unkept))) return call_heap = h; /* abandoned again by call_done */
    if (unlikely(thread_heap != NULL)) {
        /* Bound by a call the adoption's error report made (the handler's):
         * bound over it, that heap would be lost. */
        int saved = errno;
        heaps_abandon(h);
        errno = saved;
        return thread_heap;
    }
    thread_heap = h;
    uint64_t allocs = h->stats.allocs;
    /* Non-NULL: its destructor abandons the heap. */
    if (likely(pthread_setspecific(heap_key, h) == 0 && h->stats.allocs == allocs)) return h;
    return thread_heap_unkept(h);
}

static NOINLINE void call_done_slow(void) {
    if (call_nested) {
        call_nested--; /* the outer call gives it back */
        return;
    }
    int saved = errno;
    heap_t *h = call_heap;
    call_heap = NULL;
    heaps_abandon(h);
    errno = saved;
}

/* After a call that may have run on a heap adopted for it alone (thread_done). */
static inline void call_done(void) {
    if (unlikely(call_heap != NULL)) call_done_slow();
}

static inline heap_t *my_heap(void) {
    heap_t *h = thread_heap;
    return likely(h != NULL) ? h : thread_heap_slow(false);
}

/* ---- the C allocation functions ------------------------------------------- */

/* The first call of a thread: its heap is set up here, out of the fast paths,
 * so that they make no call of their own and need no stack frame. */
static NOINLINE void *malloc_first(size_t size) {
    heap_t *h = thread_heap_slow(false);
    if (unlikely(!h)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = heap_malloc_fast(h, size);
    call_done();
    return p;
}

static NOINLINE void free_first(void *p) {
    int saved = errno; /* free leaves errno alone, a heap refused by the OS too */
    heap_t *h = thread_heap_slow(true);
    arena_t *a;
    if (likely(h != NULL)) heap_free_fast(h, p);
    /* No memory for a heap of its own: the arena's heap hands the block to its
     * owner, under the arena's lock (dropped here, it was never freed). */
    else if ((a = process_arena_ready()) != NULL) heaps_free_unattached(a, p);
    call_done();
    errno = saved;
}

EXPORT void *API(malloc)(size_t size) {
    heap_t *h = thread_heap;
    if (unlikely(!h)) return malloc_first(size);
    return heap_malloc_fast(h, size);
}

EXPORT void API(free)(void *p) {
    if (unlikely(!p)) return;
    heap_t *h = thread_heap;
    if (unlikely(!h)) return free_first(p);
    heap_free_fast(h, p);
}

EXPORT void API(cfree)(void *p) { API(free)(p); }

/* calloc, realloc and malloc_usable_size as malloc and free: the first call
 * of a thread out of line, so that the others go on to the heap without a
 * frame of their own (they saved a register and made one for the call_done
 * after the heap's call, which a thread with its heap never needs). */
static NOINLINE void *calloc_first(size_t n, size_t size) {
    heap_t *h = thread_heap_slow(false);
    if (unlikely(!h)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = heap_calloc(h, n, size);
    call_done();
    return p;
}

static NOINLINE void *realloc_first(void *p, size_t size) {
    heap_t *h = thread_heap_slow(false);
    if (unlikely(!h)) {
        errno = ENOMEM;
        return NULL;
    }
    void *q = heap_realloc(h, p, size);
    call_done();
    return q;
}

EXPORT void *API(calloc)(size_t n, size_t size) {
    heap_t *h = thread_heap;
    if (unlikely(!h)) return calloc_first(n, size);
    return heap_calloc_fast(h, n, size);
}

EXPORT void *API(realloc)(void *p, size_t size) {
    heap_t *h = thread_heap;
    if (unlikely(!h)) return realloc_first(p, size);
    return heap_realloc(h, p, size);
}

EXPORT void *API(reallocarray)(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return API(realloc)(p, total);
}

/* glibc's memalign and aligned_alloc take any alignment, rounding it up to a
 * power of two. */
static void *aligned(size_t align, size_t size) {
    if (!is_pow2(align)) {
        if (align > SIZE_MAX / 2) {
            errno = EINVAL;
            return NULL;
        }
        align = align ? (size_t)1 << (log2_floor(align) + 1) : 1;
    }
    heap_t *h = my_heap();
    if (unlikely(!h)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = heap_memalign(h, align, size);
    call_done();
    return p;
}

EXPORT void *API(memalign)(size_t align, size_t size) { return aligned(align, size); }
EXPORT void *API(aligned_alloc)(size_t align, size_t size) { return aligned(align, size); }

EXPORT int API(posix_memalign)(void **out, size_t align, size_t size) {
    if (!is_pow2(align) || align % sizeof(void *)) return EINVAL;
    int saved = errno;
    void *p = aligned(align, size);
    if (!p) {
        int e = errno;
        errno = saved;
        return e ? e : ENOMEM;
    }
    *out = p;
    return 0;
}

EXPORT void *API(valloc)(size_t size) { return aligned(OS_PAGE, size); }

EXPORT void *API(pvalloc)(size_t size) {
    size_t rounded = align_up(size ? size : 1, OS_PAGE);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(OS_PAGE, rounded);
}

static NOINLINE size_t malloc_usable_size_first(void *p) {
    int saved = errno;
    heap_t *h = thread_heap_slow(true);
    arena_t *a;
    size_t usable = 0;
    if (h) usable = heap_usable_size(h, p, true);
    else if ((a = process_arena_ready()) != NULL) usable = heaps_usable_size_unattached(a, p);
    call_done();
    errno = saved;
    return usable;
}

EXPORT size_t API(malloc_usable_size)(void *p) {
    if (!p) return 0;
    heap_t *h = thread_heap;
    if (unlikely(!h)) return malloc_usable_size_first(p);
    return heap_usable_size(h, p, true);
}

/* Hands the calling thread's free memory back to the OS. */
EXPORT int API(malloc_trim)(size_t pad) {
    (void)pad;
    heap_t *h = my_heap();
    if (!h) return 0;
    /* The blocks this thread freed of other heaps go to their owners first:
     * one left waiting in its batch kept an ended thread's heap, segment and
     * all, from being released below. */
    heap_flush_pending(h);
    heap_collect_remote(h);
    bool released = heap_trim(h);
    /* glibc's trims every arena. Here the heaps of ended threads too; a heap
     * whose thread still runs is that thread's alone (no lock), so what others
     * freed into it waits for its next slow path (README, docs/design.md). */
    if (h->arena->multi_heap && heaps_reclaim(h->arena, true)) released = true;
    call_done();
    return released;
}

/* ---- glibc's reporting and tuning calls ------------------------------------
 * glibc's own versions would report its unused heap (all zero) to a preloaded
 * program, and a program linked with -static that calls one gets glibc's whole
 * malloc.o beside this file: malloc defined twice, no link. */

/* The process arena's statistics; false when it is not set up. */
static bool process_stats(arena_stats *out) {
    arena_t *a = my_heap() ? process_arena : NULL;
    bool ok = a && arena_stats_of(a, thread_heap, out) == 0;
    call_done();
    return ok;
}

/* glibc's fields with arena's figures: every mapping in arena (none counted
 * as glibc's mmapped chunks), live bytes in uordblks, free bytes in fordblks
 * (the calling thread's heap, ended threads' heaps and huge blocks). */
EXPORT struct mallinfo2 API(mallinfo2)(void) {
    struct mallinfo2 m;
    memset(&m, 0, sizeof m);
    arena_stats s;
    if (process_stats(&s)) {
        m.arena = s.mapped_bytes;
        m.uordblks = s.live_bytes;
        m.fordblks = s.free_bytes;
    }
    return m;
}

/* As glibc's: mallinfo2's figures cut to int. */
EXPORT struct mallinfo API(mallinfo)(void) {
    struct mallinfo2 m2 = API(mallinfo2)();
    struct mallinfo m;
    memset(&m, 0, sizeof m);
    m.arena = (int)m2.arena;
    m.uordblks = (int)m2.uordblks;
    m.fordblks = (int)m2.fordblks;
    return m;
}

/* arena has none of glibc's tunables: a setting has no effect. The answer is
 * glibc's (2.36, as measured), for programs that check it: 0 for the one
 * value it refuses, an M_MXFAST above 80 * sizeof(size_t) / 4 (a negative
 * one among them: it takes a size_t), and 1 for everything else, parameters
 * it does not know included. */
EXPORT int API(mallopt)(int param, int value) {
    return param != M_MXFAST || (size_t)value <= 80 * sizeof(size_t) / 4;
}

static void write_stats(const arena_stats *s, int fd);

/* The figures ARENA_STATS=1 prints at exit, to stderr as glibc's are. */
EXPORT void API(malloc_stats)(void) {
    arena_stats s;
    if (process_stats(&s)) write_stats(&s, STDERR_FILENO);
}

/* glibc's XML layout, with the figures mallinfo2 gives. */
EXPORT int API(malloc_info)(int options, FILE *fp) {
    if (options != 0) return EINVAL;
    arena_stats s;
    if (!process_stats(&s)) memset(&s, 0, sizeof s);
    fprintf(fp,
            "<malloc version=\"1\">\n"
            "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<system type=\"max\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
            "</malloc>\n",
            s.free_bytes, s.mapped_bytes, s.peak_mapped_bytes, s.mapped_bytes, s.mapped_bytes);
    return 0;
}

#ifdef ARENA_MALLOC_PREFIX
/* The test build's alone: whether the calling thread has a heap bound to it
 * (the tests of its destructors' calls). */
EXPORT bool API(thread_has_heap)(void) { return thread_heap != NULL; }
#else
/* The names glibc itself and some programs use. (Aliases share the target's
 * code; the attributes glibc's header gives the originals do not matter here.) */
#ifndef __clang__ /* GCC's warning alone: clang warns of the unknown option instead */
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
EXPORT void *__libc_malloc(size_t size) __attribute__((alias("malloc")));
EXPORT void __libc_free(void *p) __attribute__((alias("free")));
EXPORT void *__libc_calloc(size_t n, size_t size) __attribute__((alias("calloc")));
EXPORT void *__libc_realloc(void *p, size_t size) __attribute__((alias("realloc")));
EXPORT void *__libc_memalign(size_t align, size_t size) __attribute__((alias("memalign")));
EXPORT void *__libc_valloc(size_t size) __attribute__((alias("valloc")));
EXPORT void *__libc_pvalloc(size_t size) __attribute__((alias("pvalloc")));
EXPORT struct mallinfo __libc_mallinfo(void) __attribute__((alias("mallinfo")));
EXPORT int __libc_mallopt(int param, int value) __attribute__((alias("mallopt")));
#endif

/* ---- the process arena for programs that ask -------------------------------- */

EXPORT int arena_malloc_stats(arena_stats *out) {
    arena_t *a = my_heap() ? process_arena : NULL;
    int result = -1;
    if (a && out) result = arena_stats_of(a, thread_heap, out);
    call_done();
    if (result) errno = EINVAL;
    return result;
}

EXPORT int arena_malloc_check(void) {
    arena_t *a = my_heap() ? process_arena : NULL;
    int result = a ? arena_check(a) : -1;
    call_done();
    return result;
}

static void fmt_stat(fmtbuf *f, const char *name, uint64_t v) {
    fmt_str(f, name);
    fmt_dec(f, v);
}

static void write_stats(const arena_stats *s, int fd) {
    fmtbuf f = {.len = 0};
    fmt_stat(&f, "arena: pid ", (uint64_t)getpid());
    fmt_stat(&f, ": live ", s->live_bytes);
    fmt_stat(&f, " bytes in ", s->live_blocks);
    fmt_stat(&f, " blocks (peak ", s->peak_live_bytes);
    fmt_stat(&f, "), mapped ", s->mapped_bytes);
    fmt_stat(&f, " (peak ", s->peak_mapped_bytes);
    fmt_stat(&f, ") in ", s->regions);
    fmt_stat(&f, " regions, free ", s->free_bytes);
    fmt_stat(&f, ", purged ", s->purged_bytes);
    fmt_str(&f, "\n");
    error_write_to(fd, f.buf);
    f.len = 0;
    fmt_stat(&f, "arena: pid ", (uint64_t)getpid());
    fmt_stat(&f, ": ", s->allocs);
    fmt_stat(&f, " allocations, ", s->frees);
    fmt_stat(&f, " frees, ", s->reallocs);
    fmt_str(&f, " reallocs\n");
    error_write_to(fd, f.buf);
}

__attribute__((destructor)) static void print_stats(void) {
    if (!print_stats_at_exit || atomic_load(&process_state) != PROCESS_READY) return;
    arena_stats s;
    arena_stats_of(process_arena, thread_heap, &s);
    struct stat st;
    bool ours = stats_fd == STDERR_FILENO ||
                (fstat(stats_fd, &st) == 0 && st.st_dev == stats_dev && st.st_ino == stats_ino);
    write_stats(&s, ours ? stats_fd : STDERR_FILENO);
}
