/* error.c: misuse reports and the error handler; a tiny formatter so that no
 * error path ever calls printf or malloc. */
#include "internal.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fmt_str(fmtbuf *f, const char *s) {
    while (*s && f->len < sizeof f->buf - 1) f->buf[f->len++] = *s++;
    f->buf[f->len] = 0;
}

void fmt_hex(fmtbuf *f, uintptr_t v) {
    char tmp[2 + 2 * sizeof v + 1];
    size_t n = sizeof tmp - 1;
    tmp[n] = 0;
    do {
        tmp[--n] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    tmp[--n] = 'x';
    tmp[--n] = '0';
    fmt_str(f, tmp + n);
}

void fmt_dec(fmtbuf *f, uint64_t v) {
    char tmp[24];
    size_t n = sizeof tmp - 1;
    tmp[n] = 0;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fmt_str(f, tmp + n);
}

void error_write(const char *s) { error_write_to(STDERR_FILENO, s); }

void error_write_to(int fd, const char *s) {
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0) return;
        s += n;
        len -= (size_t)n;
    }
}

void assert_fail(const char *what, const char *file, int line) {
    fmtbuf f = {.len = 0};
    fmt_str(&f, "arena: internal assertion failed: ");
    fmt_str(&f, what);
    fmt_str(&f, " at ");
    fmt_str(&f, file);
    fmt_str(&f, ":");
    fmt_dec(&f, (uint64_t)line);
    fmt_str(&f, "\n");
    error_write(f.buf);
    abort();
}

void error_check_failed(const char *msg, uintptr_t value) {
    fmtbuf f = {.len = 0};
    fmt_str(&f, "arena: check failed: ");
    fmt_str(&f, msg);
    fmt_str(&f, " (");
    fmt_hex(&f, value);
    fmt_str(&f, ")\n");
    error_write(f.buf);
}

const char *arena_error_name(arena_error kind) {
    switch (kind) {
    case ARENA_ERR_DOUBLE_FREE: return "double free";
    case ARENA_ERR_INVALID_POINTER: return "invalid pointer";
    case ARENA_ERR_WRONG_ARENA: return "wrong arena";
    case ARENA_ERR_CORRUPTION: return "heap corruption";
    case ARENA_ERR_OVERFLOW: return "overflow";
    case ARENA_ERR_WRITE_AFTER_FREE: return "write after free";
    }
    return "unknown error";
}

static void error_default_handler(void *ctx, arena_t *a, const void *p, arena_error kind,
                                  const char *message) {
    (void)ctx, (void)a, (void)p, (void)kind;
    error_write(message);
    error_write("\n");
    abort();
}

static _Atomic(arena_error_fn) error_handler = error_default_handler;
static void *_Atomic error_ctx;

arena_error_fn arena_set_error_handler(arena_error_fn fn, void *ctx) {
    atomic_store(&error_ctx, ctx);
    arena_error_fn old = atomic_exchange(&error_handler, fn ? fn : error_default_handler);
    return old == error_default_handler ? NULL : old;
}

/* The words around the pointer and the arena in each kind's message. */
static const struct {
    const char *before_pointer, *before_arena, *after_arena;
} error_words[] = {
    [ARENA_ERR_DOUBLE_FREE] = {"double free of ", " in arena ", ""},
    [ARENA_ERR_INVALID_POINTER] = {"invalid pointer ", " (not a block of arena ", ")"},
    [ARENA_ERR_WRONG_ARENA] = {"pointer ", " given to arena ", " but it belongs to arena "},
    [ARENA_ERR_CORRUPTION] = {"heap corruption near ", " in arena ", ""},
    [ARENA_ERR_OVERFLOW] = {"overflow past the end of block ", " in arena ", ""},
    [ARENA_ERR_WRITE_AFTER_FREE] = {"write after free to block ", " in arena ", ""},
};

/* Reports held back by error_defer_begin, made in order by the outermost
 * error_defer_end; past DEFER_MAX in one stretch they are counted, and the
 * count written to stderr. A stretch covers one call (a free, an adoption
 * that takes in what others freed into every ended heap): a few at most.
 * Initial exec: the drop-in's TLS must not reach the dynamic loader's
 * allocator. */
#define DEFER_MAX 4
_Static_assert(DEFER_MAX >= 1, "a stretch holds at least the first report");
static __thread struct {
    unsigned deferring;              /* nesting depth of error_defer_begin */
    unsigned waiting;                /* reports held in `held` */
    unsigned dropped;                /* reports past DEFER_MAX */
    struct {
        arena_t *a;
        const void *p, *owner;
        arena_error kind;
    } held[DEFER_MAX];
} deferred __attribute__((tls_model("initial-exec")));

void error_defer_begin(void) { deferred.deferring++; }

void error_defer_end(void) {
    if (--deferred.deferring) return;
    /* A handler that calls the arena may defer and report again: take the
     * held reports out before making them. */
    unsigned waiting = deferred.waiting, dropped = deferred.dropped;
    deferred.waiting = deferred.dropped = 0;
    for (unsigned i = 0; i < waiting; i++)
        error_report(deferred.held[i].a, deferred.held[i].p, deferred.held[i].kind, deferred.held[i].owner);
    if (dropped) {
        fmtbuf f = {.len = 0};
        fmt_str(&f, "arena: ");
        fmt_dec(&f, dropped);
        fmt_str(&f, " more misuse reports found under a lock were dropped\n");
        error_write(f.buf);
    }
}

static void error_format(fmtbuf *f, arena_t *a, const void *p, arena_error kind, const void *owner) {
    fmt_str(f, "arena: ");
    fmt_str(f, error_words[kind].before_pointer);
    fmt_hex(f, (uintptr_t)p);
    fmt_str(f, error_words[kind].before_arena);
    fmt_hex(f, (uintptr_t)a);
    fmt_str(f, error_words[kind].after_arena);
    if (kind == ARENA_ERR_WRONG_ARENA) fmt_hex(f, (uintptr_t)owner);
}

void error_report(arena_t *a, const void *p, arena_error kind, const void *owner) {
    if (deferred.deferring) {
        if (deferred.waiting < DEFER_MAX) {
            unsigned i = deferred.waiting++;
            deferred.held[i].a = a, deferred.held[i].p = p, deferred.held[i].kind = kind;
            deferred.held[i].owner = owner;
        } else {
            deferred.dropped++;
        }
        return;
    }
    fmtbuf f = {.len = 0};
    error_format(&f, a, p, kind, owner);
    arena_error_fn fn = atomic_load(&error_handler);
    /* The handler's own calls must not show in errno: free leaves it alone,
     * and a call that fails sets it after its report. */
    int saved = errno;
    fn(atomic_load(&error_ctx), a, p, kind, f.buf);
    errno = saved;
}

void error_report_fatal(arena_t *a, const void *p, arena_error kind) {
    if (!deferred.deferring) {
        error_report(a, p, kind, NULL);
        return;
    }
    fmtbuf f = {.len = 0};
    error_format(&f, a, p, kind, NULL);
    error_write(f.buf);
    error_write("\n");
}
