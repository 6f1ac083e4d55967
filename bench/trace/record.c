/* libarena_record.so: preloaded into a program (LD_PRELOAD), it writes every
 * call of the malloc family as an allocation trace (docs/trace-format.md).
 *
 * Settings come from the environment, so that they survive exec:
 *   ARENA_RECORD_FILE      trace of the first process (required; unset: record nothing)
 *   ARENA_RECORD_ROOT_PID  pid whose first image writes ARENA_RECORD_FILE; every
 *                          other process, or a later image of that pid, writes
 *                          FILE.PID (FILE.PID.N when that exists). Unset: the
 *                          first process to create FILE gets it.
 *   ARENA_RECORD_LIST      file to which the name of every trace made is appended,
 *                          a line "! ERRNO PID NAME PATH" for every trace that
 *                          could not be created (why: errno; whose: pid and name),
 *                          and "~ ERRNO PID NAME PATH" for one cut short: the
 *                          program closed its descriptor (or put another file
 *                          there) and it could not be opened again; and "image
 *                          PID" as each image loads, "exec PID" before an exec,
 *                          "exec-failed PID" when one returns (an exec with
 *                          neither after it ran an image the recorder never
 *                          reached)
 *
 * How it stays out of the program's way:
 * - It never allocates through malloc: its tables come from mmap. The calloc
 *   that dlsym makes while the real functions are being looked up is served
 *   from a static buffer, and frees of those blocks are recognised and dropped.
 * - One lock is held across each real call and its record, so the trace order
 *   is the order the calls really happened in (a block freed by one thread and
 *   handed out again to another is always written f before a).
 * - Output is buffered and written with write(2), flushed when full, before
 *   fork and exec, at _exit and at exit. File descriptors of its own (the
 *   trace, and the list), moved high: from 512 up, or where none is free
 *   there (a soft RLIMIT_NOFILE of 513 or less) to the highest free ones
 *   below 512 and the limit; if the program closes one, it is opened again
 *   (append). A trace that cannot be (no descriptor left) ends there, and
 *   the list says why.
 * - Pointers become ids that take the lowest free id, which keeps files small.
 * - A forked child starts a trace of its own. Blocks it inherited are not in it:
 *   their frees are skipped, their reallocs written as new allocations, and a
 *   closing comment counts both (and frees of pointers never seen). A child
 *   that ran no atfork handler (_Fork, a raw fork system call) is told by a
 *   page the kernel zeroes in every forked child (MADV_WIPEONFORK), at its
 *   first heap call: it would otherwise write the parent's unflushed ops, and
 *   its own under the parent's ids, into the parent's trace.
 * - abort() (which std::terminate calls) flushes first, as _exit does; a
 *   process killed by a signal loses what was still in the buffer.
 * - A trace that a write fails on (a full disk; a file size limit, where
 *   SIGXFSZ is ignored) is removed, not left cut short; the program goes on
 *   unrecorded, and `record` reports it.
 * - A trace that cannot be created (no descriptor left, privileges dropped, a
 *   directory it may not write) is said so in the list, which each process
 *   image opens at its start for that: by then the open may fail for the same
 *   reason. With no list to tell, the recorder says it on stderr itself.
 * - After the library's destructor has run (late in exit) calls pass through
 *   unrecorded; those blocks are simply live at the end of the trace.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "id_table.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_THREAD 1023 /* trace::kMaxThread */

/* ---- the real functions --------------------------------------------------- */

static struct {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    int (*execveat)(int, const char *, char *const[], char *const[], int);
    void (*exit_now)(int);
    void (*abort_now)(void);
    pid_t (*fork)(void);
    pid_t (*fork_no_handlers)(void); /* _Fork */
} real;

enum { UNSET, RESOLVING, RECORDING, PASSING };
static _Atomic int state = UNSET;

/* What dlsym allocates while RESOLVING: a bump buffer, never given back. */
static _Alignas(64) char boot_buffer[64 * 1024];
static _Atomic size_t boot_used;

static int is_boot(const void *p) {
    return (const char *)p >= boot_buffer && (const char *)p < boot_buffer + sizeof boot_buffer;
}

static void *boot_alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    size_t old = atomic_load(&boot_used), start;
    do {
        start = (old + sizeof(size_t) + align - 1) & ~(align - 1);
        if (start + size > sizeof boot_buffer || start + size < start) return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &old, start + size));
    memcpy(boot_buffer + start - sizeof(size_t), &size, sizeof size); /* for realloc */
    memset(boot_buffer + start, 0, size);
    return boot_buffer + start;
}

static size_t boot_size(const void *p) {
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof size);
    return size;
}

/* ---- recorder state (all under `lock`) ------------------------------------ */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int busy __attribute__((tls_model("initial-exec"))); /* inside the recorder */
static __thread uint64_t my_thread __attribute__((tls_model("initial-exec"))); /* generation << 16 | id + 1 */

static char trace_base[4096], list_path[4096], trace_path[4200];
static pid_t root_pid, owner_pid; /* owner: the process whose trace this state is */
static uint64_t generation = 1;   /* bumped in every forked child */
static uint32_t threads_seen;
static unsigned written_thread;   /* thread of the last op written */
/* Which file a descriptor was: a program may close one of ours, or its
 * stderr, and open a file of its own under the number. */
typedef struct {
    dev_t dev;
    ino_t ino;
    bool known;
} file_id;
static int out_fd = -1;
static file_id out_file;
/* The list's line by which the command's first process says it recorded;
 * arena-trace record reads it (bench/trace/arena_trace.cpp). */
#define RECORD_LOADED_LINE "loaded\n"
/* The list's lines "image PID" (an image of PID loaded the recorder), "exec
 * PID" (PID is about to exec) and "exec-failed PID" (the exec returned): an
 * exec followed by neither of the others ran an image without the recorder (a
 * static, setuid or setgid program), whose heap calls record reports lost. */
#define RECORD_IMAGE_WORD "image"
#define RECORD_EXEC_WORD "exec"
#define RECORD_EXEC_FAILED_WORD "exec-failed"
/* "fork PID": PID is a forked child, which makes its trace at its first heap
 * call; one still running when the command ends is named by record, trace or
 * none. Written by the parent, as fork and _Fork return (a parent that exits
 * at once may end the command before its child has run), and by the child as
 * its trace begins (a raw fork system call, or a fork inside libc such as
 * daemon(3)'s, which no wrapper sees). */
#define RECORD_FORK_WORD "fork"
static int list_fd = -1; /* ARENA_RECORD_LIST, opened at the start of the image */
static file_id list_file;
static file_id stderr_file; /* the program's stderr at the start of the image */
static char out_buf[1 << 16];
static size_t out_len;
static id_map live;      /* pointer -> id, blocks this process made */
static id_map inherited; /* pointers live in the parent at fork */
static id_pool ids;
/* One byte on a page of its own that the kernel zeroes in a forked child
 * (MADV_WIPEONFORK); 1 in the process that owns the recorder state, 2 while
 * a child forked without the atfork handlers begins its trace (lock_for_call).
 * NULL when the kernel cannot do that: then only children made by fork() are
 * told. */
static volatile unsigned char *same_process;

static struct {
    uint64_t ops, inherited_frees, inherited_reallocs, unknown_frees, unknown_reallocs, untracked, thread_overflow;
} counts;
/* Calls made while their thread was inside the recorder: a signal handler's,
 * which interrupted it, or the real allocator's own (a preloaded one's calloc
 * for a pthread_setspecific of its own, say). Passed through unrecorded, since
 * the thread holds the lock; counted here, with no lock, so that the trace
 * says what it lacks (a block a handler's call freed stays live in it). */
static _Atomic uint64_t passed_while_busy;

/* The functions below that make system calls keep errno as it was: the
 * program sees the errno of its own call, never one of ours (an EEXIST from
 * opening a trace, say). */
static void *map_zeroed(size_t bytes) {
    int saved = errno;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved;
    return p == MAP_FAILED ? NULL : p;
}
static void unmap(void *p, size_t bytes) { munmap(p, bytes); }
static const id_memory mapped = {map_zeroed, unmap};

/* ---- output ----------------------------------------------------------------- */

/* True when all n bytes were written. */
static bool write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static char *put_u64(char *p, uint64_t v) {
    char digits[20];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) *p++ = digits[--n];
    return p;
}

static void put_str(const char *s) {
    size_t n = strlen(s);
    if (n > sizeof out_buf - out_len) n = sizeof out_buf - out_len;
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

static void put_num(uint64_t v) { out_len = (size_t)(put_u64(out_buf + out_len, v) - out_buf); }

static file_id file_id_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return (file_id){0, 0, false};
    return (file_id){st.st_dev, st.st_ino, true};
}

/* True when fd is still the file `was`. */
static bool fd_is(int fd, file_id was) {
    file_id now = file_id_of(fd);
    return was.known && now.known && now.dev == was.dev && now.ino == was.ino;
}

enum { HIGH_FD = 512 }; /* where the recorder's descriptors go: above the ones programs use */

/* fd copied to the highest free descriptor below HIGH_FD and the soft
 * RLIMIT_NOFILE (it is one of those above fd), or -1. For when none from
 * HIGH_FD up is free: a limit of HIGH_FD or less, or one just above it whose
 * top the recorder's other descriptor took (a limit of 513: the list at 512).
 * A program that dup2s onto 3, or closes all from 3 up, must not find the
 * recorder's there. */
static int record_dup_highest_free(int fd) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    const int top = limit.rlim_cur < HIGH_FD ? (int)limit.rlim_cur : HIGH_FD;
    for (int n = top - 1; n > fd; n--)
        if (fcntl(n, F_GETFD) < 0 && errno == EBADF) return fcntl(fd, F_DUPFD_CLOEXEC, n);
    return -1;
}

/* Keeps our descriptor above the ones programs use, and remembers the file so a
 * descriptor the program closed and reused is never written to. */
static int adopt_fd(int fd, file_id *file) {
    if (fd < 0) return -1;
    int saved = errno;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (high < 0) high = record_dup_highest_free(fd);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    *file = file_id_of(fd);
    errno = saved;
    return fd;
}

/* fd, or the file at path opened again (append) when the program closed fd and
 * perhaps reused its number. */
static int reopened_fd(int fd, const char *path, file_id *file) {
    if (fd >= 0 && fd_is(fd, *file)) return fd;
    return adopt_fd(open(path, O_WRONLY | O_APPEND | O_CLOEXEC), file);
}

static void record_report_unrecorded(bool lost, int error);

static void flush_output(void) {
    if (out_fd < 0 || out_len == 0) {
        out_len = 0;
        return;
    }
    int saved = errno;
    out_fd = reopened_fd(out_fd, trace_path, &out_file);
    if (out_fd < 0) {
        /* The program closed ours, or put a file of its own there, and the
         * trace cannot be opened again: it ends at the last flush (whole
         * lines, no closing one), and the list says why, so that `record`
         * does not take it for a process killed by a signal. */
        record_report_unrecorded(true, errno);
    } else if (!write_all(out_fd, out_buf, out_len)) {
        /* A full disk loses the trace, never the program. One cut short (a
         * line torn in the middle, a value cut, the closing line missing)
         * would still read as a trace of a shorter run: it goes, and the
         * program goes on unrecorded. `record` finds it listed and gone. */
        unlink(trace_path);
        close(out_fd);
        out_fd = -1;
    }
    out_len = 0;
    errno = saved;
}

/* Opened while the process can: a trace that cannot be created later (no
 * descriptor left, privileges dropped) is still told. A forked child shares it. */
static void record_open_list(void) {
    if (list_path[0]) list_fd = adopt_fd(open(list_path, O_WRONLY | O_APPEND | O_CLOEXEC), &list_file);
}

/* One line, in one write: processes append side by side. True when written. */
static bool append_to_list(const char *line, size_t n) {
    if (!list_path[0]) return false;
    list_fd = reopened_fd(list_fd, list_path, &list_file);
    return list_fd >= 0 && write_all(list_fd, line, n);
}

/* This process records, and its trace is its own: not a vfork child, which
 * shares our memory (our state) but is another process. */
static bool recording_this_image(void) {
    return atomic_load_explicit(&state, memory_order_acquire) == RECORDING && owner_pid == getpid();
}

/* Appends "WORD PID" to the list; errno is kept. */
static void record_list_line(const char *word, pid_t pid) {
    int saved = errno;
    char line[64], *p = line;
    size_t n = strlen(word);
    memcpy(p, word, n);
    p += n;
    *p++ = ' ';
    p = put_u64(p, (uint64_t)pid);
    *p++ = '\n';
    append_to_list(line, (size_t)(p - line));
    errno = saved;
}

/* Appends "WORD PID" for this process to the list. */
static void record_list_pid_line(const char *word) { record_list_line(word, getpid()); }

/* Before and after an exec (record_list_pid_line's words). Not from a vfork
 * child: it shares our memory (the list's descriptor, should it be opened
 * again) but not our descriptors; its image's own "image" line still comes. */
static void record_exec_line(const char *word) {
    if (recording_this_image()) record_list_pid_line(word);
}

/* The name the kernel keeps for the process (no file to open: there may be no
 * descriptor left), blanks and control characters made '?' so that it stays
 * one field of the list's line. */
static char *record_put_process_name(char *p) {
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0 || !name[0]) strcpy(name, "?");
    for (char *c = name; *c; c++) *p++ = (unsigned char)*c <= ' ' || *c == 0x7f ? '?' : *c;
    return p;
}

static char *put_text(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* What errno error means, without strerror: it may allocate (an unknown
 * number, a message catalogue), and this runs where the heap is not ours. */
static char *record_put_error(char *p, int error) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *text = strerrordesc_np(error);
    if (text) return put_text(p, text);
#endif
    return put_u64(put_text(p, "errno "), (uint64_t)error);
}

/* trace_path could not be created, or (lost) its descriptor was taken from
 * the recorder and it could not be opened again (errno error): the list says
 * so, for `record` to report; with no list, or none that takes the line,
 * stderr does. The process goes on unrecorded. */
static void record_report_unrecorded(bool lost, int error) {
    char line[sizeof trace_path + 512], *p = line;
    p = put_text(p, lost ? "~ " : "! ");
    p = put_u64(p, (uint64_t)error);
    *p++ = ' ';
    p = put_u64(p, (uint64_t)owner_pid);
    *p++ = ' ';
    p = record_put_process_name(p);
    *p++ = ' ';
    p = put_text(p, trace_path);
    *p++ = '\n';
    if (append_to_list(line, (size_t)(p - line))) return;
    p = put_text(line, "libarena_record: process ");
    p = put_u64(p, (uint64_t)owner_pid);
    p = put_text(p, " (");
    p = record_put_process_name(p);
    p = put_text(p, lost ? ") lost the descriptor of its trace " : ") cannot create its trace ");
    p = put_text(p, trace_path);
    p = put_text(p, lost ? " and cannot open it again: " : ": ");
    p = record_put_error(p, error);
    p = put_text(p, lost ? "; its later heap calls go unrecorded\n" : "; its heap calls go unrecorded\n");
    /* Only to the stderr the program started with: one that closed it and
     * opened a file of its own there must not find this in its data. */
    if (fd_is(2, stderr_file)) write_all(2, line, (size_t)(p - line));
}

/* The header comment names the process: pid and command line. */
static void put_command_line(void) {
    char cmd[512];
    ssize_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, cmd, sizeof cmd - 1);
        close(fd);
    }
    if (n < 0) n = 0;
    while (n > 0 && cmd[n - 1] == 0) n--;
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f) cmd[i] = ' ';
    cmd[n] = 0;
    put_str(cmd);
}

/* Creates this process's trace: FILE for the root's first image, else FILE.PID,
 * FILE.PID.2, ... whichever does not exist yet. Called before the first op is
 * put in the (then empty) buffer. */
static int trace_opened;

static void open_trace(void) {
    int saved = errno;
    trace_opened = 1;
    const int is_root = root_pid == 0 || root_pid == owner_pid;
    /* No cap short of the names themselves: a program that execs itself
     * 102 times has 102 traces (at 100 the later ones were said to fail with
     * "File exists"). */
    for (unsigned attempt = 0; attempt < UINT_MAX && out_fd < 0; attempt++) {
        size_t n = strlen(trace_base);
        memcpy(trace_path, trace_base, n);
        char *p = trace_path + n;
        const unsigned k = attempt - (unsigned)is_root; /* FILE.PID is k 0, FILE.PID.2 is k 1 */
        if (!(is_root && attempt == 0)) {
            *p++ = '.';
            p = put_u64(p, (uint64_t)owner_pid);
            if (k > 0) *p++ = '.', p = put_u64(p, k + 1);
        }
        *p = 0;
        out_fd = open(trace_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (out_fd < 0 && errno != EEXIST) break;
    }
    if (out_fd < 0) record_report_unrecorded(false, errno);
    if (out_fd >= 0) {
        out_fd = adopt_fd(out_fd, &out_file);
        char line[sizeof trace_path + 1], *end = put_text(line, trace_path);
        *end++ = '\n';
        append_to_list(line, (size_t)(end - line));
        put_str("arena-trace 1\n# recorded by libarena_record, pid ");
        put_num((uint64_t)owner_pid);
        put_str(": ");
        put_command_line();
        put_str("\n");
        flush_output(); /* a process killed before its next flush still leaves a valid trace */
    }
    errno = saved;
}

/* The closing comment: what could not be written as it happened. */
static void put_summary(const char *why) {
    if (!trace_opened) {
        if (!counts.inherited_frees && !counts.unknown_frees && !counts.inherited_reallocs &&
            !counts.unknown_reallocs)
            return; /* nothing to say: a process that only execs leaves no file */
        open_trace();
    }
    static const char *const names[] = {"ops", "frees of inherited blocks skipped",
                                        "reallocs of inherited blocks written as allocations",
                                        "frees of pointers never seen skipped",
                                        "reallocs of pointers never seen written as allocations",
                                        "blocks not tracked (no memory for the table)",
                                        "threads beyond 1023 written as thread 1023",
                                        "calls from inside the recorder (a signal handler's, or the allocator's own) not recorded"};
    const uint64_t values[] = {counts.ops,          counts.inherited_frees,  counts.inherited_reallocs,
                               counts.unknown_frees, counts.unknown_reallocs, counts.untracked,
                               counts.thread_overflow, atomic_load(&passed_while_busy)};
    _Static_assert(sizeof values / sizeof values[0] == sizeof names / sizeof names[0], "a name for each count");
    if (sizeof out_buf - out_len < 1024) flush_output(); /* the whole line fits: put_num does not check */
    put_str("# ");
    put_str(why);
    put_str(":");
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (i > 0 && !values[i]) continue;
        put_str(i ? ", " : " ");
        put_num(values[i]);
        put_str(" ");
        put_str(names[i]);
    }
    put_str("\n");
    flush_output();
}

/* ---- writing ops -------------------------------------------------------------- */

/* Threads are numbered in order of first call; the generation tells a thread
 * that forked (and so starts a new trace) from one already numbered. */
static unsigned current_thread(void) {
    if (my_thread >> 16 != generation) {
        if (threads_seen > MAX_THREAD) counts.thread_overflow++;
        my_thread = generation << 16 | (threads_seen < MAX_THREAD ? threads_seen : MAX_THREAD);
        threads_seen++;
    }
    return (unsigned)(my_thread & 0xffff);
}

/* One op line: letter, id, then nargs numbers. */
static void put_op(char letter, uint64_t id, int nargs, uint64_t a, uint64_t b) {
    if (!trace_opened) open_trace();
    if (sizeof out_buf - out_len < 128) flush_output();
    unsigned thread = current_thread();
    if (thread != written_thread) {
        put_str("t ");
        put_num(thread);
        put_str("\n");
        written_thread = thread;
    }
    char *p = out_buf + out_len;
    *p++ = letter;
    *p++ = ' ';
    p = put_u64(p, id);
    if (nargs > 0) *p++ = ' ', p = put_u64(p, a);
    if (nargs > 1) *p++ = ' ', p = put_u64(p, b);
    *p++ = '\n';
    out_len = (size_t)(p - out_buf);
    counts.ops++;
}

/* A new block: it takes the lowest free id. */
static void record_new(void *p, char letter, int nargs, uint64_t a, uint64_t b) {
    uint64_t id = id_pool_acquire(&ids);
    if (!id_map_put(&live, (uint64_t)(uintptr_t)p, id)) {
        id_pool_release(&ids, id);
        counts.untracked++;
        return;
    }
    put_op(letter, id, nargs, a, b);
}

/* 1 when p was ours (and is now forgotten, its id written as f); else counts
 * it as inherited or never seen. */
static int record_free(void *p, uint64_t *inherited_count, uint64_t *unknown_count) {
    uint64_t id;
    if (id_map_take(&live, (uint64_t)(uintptr_t)p, &id)) {
        put_op('f', id, 0, 0, 0);
        id_pool_release(&ids, id);
        return 1;
    }
    if (inherited.keys && id_map_take(&inherited, (uint64_t)(uintptr_t)p, &id)) (*inherited_count)++;
    else (*unknown_count)++;
    return 0;
}

/* ---- setup, fork, exit ------------------------------------------------------ */

static void copy_env(char *dst, size_t cap, const char *name) {
    const char *v = getenv(name);
    if (v && strlen(v) < cap) strcpy(dst, v);
}

/* From the prepare handler to the parent's or child's, the forking thread
 * holds the lock (`forking`): fork handlers registered before these (by a
 * library whose constructor ran first) run inside that window, and their heap
 * calls are recorded under the lock already held instead of waiting for it
 * for good. (Passed through unrecorded, a free there of a recorded block left
 * that block live in the trace to its end.) */
static __thread int forking __attribute__((tls_model("initial-exec")));

static void lock_for_call(void);

static void on_fork_prepare(void) {
    busy = 1; /* a signal handler's malloc passes through while the lock is taken */
    lock_for_call(); /* a _Fork child's first fork may come before its first heap call */
    if (owner_pid == getpid()) flush_output(); /* the child must not write it again */
    forking = 1;
    busy = 0;
}

static void on_fork_parent(void) {
    forking = 0;
    pthread_mutex_unlock(&lock);
}

/* The child keeps one thread and a copy of the parent's blocks: those become
 * "inherited", and its trace starts empty (the parent's unflushed ops are the
 * parent's to write). */
static void start_child_trace(void) {
    if (same_process) __atomic_store_n(same_process, 1, __ATOMIC_RELEASE);
    if (!inherited.keys) id_map_init(&inherited, mapped);
    for (size_t i = 0; live.keys && i <= live.mask; i++)
        if (live.values[i]) id_map_put(&inherited, live.keys[i], 0);
    id_map_destroy(&live);
    id_map_init(&live, mapped);
    id_pool_destroy(&ids);
    id_pool_init(&ids, mapped);
    int saved = errno;
    if (out_fd >= 0 && fd_is(out_fd, out_file)) close(out_fd); /* the parent's; a number the program reused is its own */
    out_fd = -1;
    out_len = 0;
    trace_opened = 0;
    memset(&counts, 0, sizeof counts);
    atomic_store(&passed_while_busy, 0);
    owner_pid = getpid();
    generation++;
    threads_seen = 0;
    written_thread = 0;
    record_list_pid_line(RECORD_FORK_WORD);
    errno = saved;
}

/* Takes the lock. A child forked without the atfork handlers (_Fork, a raw
 * fork system call) of a threaded program may have copied it held by a thread
 * the child does not have: its first heap call makes the lock anew and begins
 * the child's trace. The thread that claims the wiped byte (0 to 2) does that;
 * another, started by the child meanwhile, waits for it (1). */
static void lock_for_call(void) {
    if (same_process && __atomic_load_n(same_process, __ATOMIC_ACQUIRE) != 1) {
        unsigned char unclaimed = 0;
        if (__atomic_compare_exchange_n(same_process, &unclaimed, 2, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            pthread_mutex_init(&lock, NULL);
            pthread_mutex_lock(&lock);
            if (state == RECORDING) start_child_trace();
            __atomic_store_n(same_process, 1, __ATOMIC_RELEASE);
            return;
        }
        while (__atomic_load_n(same_process, __ATOMIC_ACQUIRE) == 2) sched_yield();
    }
    pthread_mutex_lock(&lock);
}

static void on_fork_child(void) {
    pthread_mutex_init(&lock, NULL);
    /* A child handler registered before this one may have begun the child's
     * trace already (enter, by the wiped page): it goes on. */
    if (state == RECORDING && owner_pid != getpid()) start_child_trace();
    forking = 0;
}

/* quick_exit ends the process through glibc's own _exit, which the wrapper
 * below never sees: the handler registered first runs last, after the
 * program's own. */
static void finish(const char *why);
static void on_quick_exit(void) { finish("quick_exit"); }

static void watch_for_forks(void) {
#ifdef MADV_WIPEONFORK
    const long page = sysconf(_SC_PAGESIZE);
    unsigned char *p = map_zeroed((size_t)page);
    if (!p) return;
    int saved = errno;
    if (madvise(p, (size_t)page, MADV_WIPEONFORK) == 0) {
        *p = 1;
        same_process = p;
    } else {
        unmap(p, (size_t)page);
    }
    errno = saved;
#endif
}

static void resolve(void) {
#define FIND(field, name) real.field = (__typeof__(real.field))dlsym(RTLD_NEXT, name)
    FIND(malloc, "malloc");
    FIND(calloc, "calloc");
    FIND(realloc, "realloc");
    FIND(free, "free");
    FIND(posix_memalign, "posix_memalign");
    FIND(aligned_alloc, "aligned_alloc");
    FIND(memalign, "memalign");
    FIND(valloc, "valloc");
    FIND(pvalloc, "pvalloc");
    FIND(execve, "execve");
    FIND(execvpe, "execvpe");
    FIND(fexecve, "fexecve");
    FIND(execveat, "execveat");
    FIND(exit_now, "_exit");
    FIND(abort_now, "abort");
    FIND(fork, "fork");
    FIND(fork_no_handlers, "_Fork");
#undef FIND
}

/* Returns 1 when calls are to be recorded. The first caller resolves the real
 * functions; while it does, every caller is served from the boot buffer. */
static int ready(void) {
    int s = atomic_load_explicit(&state, memory_order_acquire);
    if (s == RECORDING) {
        if (!busy) return 1;
        atomic_fetch_add_explicit(&passed_while_busy, 1, memory_order_relaxed);
        return 0;
    }
    if (s != UNSET) return 0;
    int expected = UNSET;
    if (!atomic_compare_exchange_strong(&state, &expected, RESOLVING)) return 0;
    resolve();
    copy_env(trace_base, sizeof trace_base, "ARENA_RECORD_FILE");
    copy_env(list_path, sizeof list_path, "ARENA_RECORD_LIST");
    const char *root = getenv("ARENA_RECORD_ROOT_PID");
    root_pid = root ? (pid_t)atol(root) : 0;
    owner_pid = getpid();
    int record = trace_base[0] && real.malloc && real.free && id_map_init(&live, mapped);
    id_pool_init(&ids, mapped);
    if (record) {
        record_open_list();
        /* The command's own first image says it loaded the recorder: without
         * that line, record knows the preload never took (a setuid or static
         * program), rather than taking the command for one that never allocated. */
        if (getpid() == root_pid) append_to_list(RECORD_LOADED_LINE, sizeof RECORD_LOADED_LINE - 1);
        record_list_pid_line(RECORD_IMAGE_WORD);
        stderr_file = file_id_of(2);
        watch_for_forks();
        busy = 1; /* pthread_atfork and at_quick_exit may allocate: let that pass unrecorded */
        pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
        at_quick_exit(on_quick_exit);
        busy = 0;
    }
    atomic_store_explicit(&state, record ? RECORDING : PASSING, memory_order_release);
    return record && !busy;
}

__attribute__((constructor)) static void start(void) { ready(); }

/* Closes this process's trace; calls after this pass through. */
static void finish(const char *why) {
    if (busy || !ready()) return; /* busy: a handler's exit, not a heap call to count */
    /* A child forked without the atfork handlers that made no heap call has
     * nothing to close; not claiming its page here also keeps a vfork child
     * of it (sharing its memory) from taking its trace over. */
    if (same_process && __atomic_load_n(same_process, __ATOMIC_ACQUIRE) == 0) return;
    lock_for_call();
    if (owner_pid == getpid()) { /* not a vfork child sharing our memory */
        put_summary(why);
        if (strcmp(why, "exit") == 0) state = PASSING;
    }
    pthread_mutex_unlock(&lock);
}

__attribute__((destructor)) static void stop(void) { finish("exit"); }

/* ---- the malloc family ------------------------------------------------------ */

static int booting(void) { return atomic_load_explicit(&state, memory_order_acquire) == RESOLVING; }

/* 1 with the lock held when this call is to be recorded. */
static int enter(void) {
    if (!ready()) return 0;
    /* Set before the lock is taken and cleared after it is released: a signal
     * handler that calls _exit (or malloc) meanwhile must pass through, not
     * wait for a lock its own thread holds. */
    busy = 1;
    if (!forking) lock_for_call(); /* else this thread holds it from on_fork_prepare */
    if (state != RECORDING) {
        if (!forking) pthread_mutex_unlock(&lock);
        busy = 0;
        return 0;
    }
    /* A child handler registered before ours, in a child of fork(): the
     * child's trace begins here, under the lock its thread holds. */
    if (forking && same_process && !*same_process) start_child_trace();
    return 1;
}

static void leave(void) {
    if (!forking) pthread_mutex_unlock(&lock);
    busy = 0;
}

/* realloc(p, size) returned q. */
static void record_realloc(void *p, void *q, size_t size) {
    uint64_t id;
    if (!p) {
        if (q) record_new(q, 'a', 1, size, 0);
    } else if (!q || size == 0) { /* failed (nothing changed), or freed p */
        if (size == 0) record_free(p, &counts.inherited_frees, &counts.unknown_frees);
        if (q) record_new(q, 'a', 1, 0, 0); /* a libc whose realloc(p, 0) returns a block */
    } else if (id_map_take(&live, (uint64_t)(uintptr_t)p, &id)) {
        if (id_map_put(&live, (uint64_t)(uintptr_t)q, id)) {
            put_op('r', id, 1, size, 0);
        } else {
            put_op('f', id, 0, 0, 0);
            id_pool_release(&ids, id);
            counts.untracked++;
        }
    } else {
        if (inherited.keys && id_map_take(&inherited, (uint64_t)(uintptr_t)p, &id)) counts.inherited_reallocs++;
        else counts.unknown_reallocs++;
        record_new(q, 'a', 1, size, 0);
    }
}

/* glibc rounds an alignment that is not a power of two up to one. */
static size_t effective_alignment(size_t align) {
    size_t a = 1;
    while (a < align && a << 1) a <<= 1;
    return a;
}

EXPORT void *malloc(size_t size) {
    if (booting()) return boot_alloc(size, 16);
    if (!enter()) return real.malloc(size);
    void *p = real.malloc(size);
    if (p) record_new(p, 'a', 1, size, 0);
    leave();
    return p;
}

EXPORT void *calloc(size_t n, size_t size) {
    size_t bytes;
    if (booting()) return __builtin_mul_overflow(n, size, &bytes) ? NULL : boot_alloc(bytes, 16);
    if (!enter()) return real.calloc(n, size);
    void *p = real.calloc(n, size);
    if (p) record_new(p, 'c', 2, n, size);
    leave();
    return p;
}

EXPORT void free(void *p) {
    if (!p || is_boot(p)) return;
    if (!enter()) {
        if (real.free) real.free(p);
        return;
    }
    record_free(p, &counts.inherited_frees, &counts.unknown_frees);
    real.free(p); /* after the record, so no other thread can be handed p first */
    leave();
}

/* A block from the boot buffer moves to a real one (it is never freed). */
static void *move_boot_block(void *p, size_t size) {
    void *q = size ? malloc(size) : NULL;
    if (q) memcpy(q, p, size < boot_size(p) ? size : boot_size(p));
    return q;
}

EXPORT void *realloc(void *p, size_t size) {
    if (booting()) return p ? NULL : boot_alloc(size, 16); /* dlsym never reallocs */
    if (is_boot(p)) return move_boot_block(p, size);
    if (!enter()) return real.realloc(p, size);
    void *q = real.realloc(p, size);
    record_realloc(p, q, size);
    leave();
    return q;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, bytes);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    if (booting()) return (*out = boot_alloc(size, align)) ? 0 : ENOMEM;
    if (!enter()) return real.posix_memalign(out, align, size);
    int rc = real.posix_memalign(out, align, size);
    if (rc == 0) record_new(*out, 'm', 2, align, size);
    leave();
    return rc;
}

/* The aligned functions that return the block. */
static void *aligned(void *(*fn)(size_t, size_t), size_t align, size_t size) {
    if (booting()) return boot_alloc(size, align);
    if (!enter()) return fn(align, size);
    void *p = fn(align, size);
    if (p) record_new(p, 'm', 2, effective_alignment(align), size);
    leave();
    return p;
}

static void *page_valloc(size_t align, size_t size) { (void)align; return real.valloc(size); }
static void *page_pvalloc(size_t align, size_t size) { (void)align; return real.pvalloc(size); }

/* real.* read when called: the first heap call of a process may be one of these,
 * before anything resolved them. */
static void *real_aligned_alloc(size_t align, size_t size) { return real.aligned_alloc(align, size); }
static void *real_memalign(size_t align, size_t size) { return real.memalign(align, size); }

EXPORT void *aligned_alloc(size_t align, size_t size) { return aligned(real_aligned_alloc, align, size); }
EXPORT void *memalign(size_t align, size_t size) { return aligned(real_memalign, align, size); }
EXPORT void *valloc(size_t size) { return aligned(page_valloc, (size_t)sysconf(_SC_PAGESIZE), size); }
EXPORT void *pvalloc(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = size ? (size + page - 1) & ~(page - 1) : page; /* what pvalloc gives */
    if (rounded < size) return real.pvalloc(size);                  /* overflow: let it fail */
    return aligned(page_pvalloc, page, rounded);
}

/* ---- exec and _exit: flush first, the buffer would be lost ------------------- */

extern char **environ;

/* Flushed and said before the exec; said again when it returns (failed). */
static void exec_starting(void) {
    finish("exec");
    record_exec_line(RECORD_EXEC_WORD);
}
static int exec_returned(int result) {
    record_exec_line(RECORD_EXEC_FAILED_WORD);
    return result;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    exec_starting();
    return exec_returned(real.execve(path, argv, envp));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    exec_starting();
    return exec_returned(real.execvpe(file, argv, envp));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    exec_starting();
    return exec_returned(real.fexecve(fd, argv, envp));
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
    finish("exec");
    if (!real.execveat) {
        errno = ENOSYS;
        return -1;
    }
    record_exec_line(RECORD_EXEC_WORD);
    return exec_returned(real.execveat(dirfd, path, argv, envp, flags));
}

EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

/* execl, execlp, execle: the arguments become an argv on the stack. */
#define ARGV_FROM_VARARGS(first, after)                   \
    va_list ap;                                           \
    size_t argc = 1;                                      \
    va_start(ap, first);                                  \
    while (va_arg(ap, char *)) argc++;                    \
    va_end(ap);                                           \
    char *argv[argc + 1];                                 \
    argv[0] = (char *)(first);                            \
    va_start(ap, first);                                  \
    for (size_t i = 1; i <= argc; i++) argv[i] = va_arg(ap, char *); \
    after;                                                \
    va_end(ap)

EXPORT int execl(const char *path, const char *arg, ...) {
    ARGV_FROM_VARARGS(arg, (void)0);
    return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...) {
    ARGV_FROM_VARARGS(arg, (void)0);
    return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...) {
    char *const *envp;
    ARGV_FROM_VARARGS(arg, envp = va_arg(ap, char *const *));
    return execve(path, argv, envp);
}

EXPORT void _exit(int status) {
    finish("_exit");
    real.exit_now(status);
    __builtin_unreachable();
}

EXPORT void _Exit(int status) { _exit(status); }

/* Forks by *real_fork (resolved by ready()), listing a child it makes: by the
 * parent, as the fork returns. */
static pid_t fork_listed(pid_t (*const *real_fork)(void)) {
    ready();
    if (!*real_fork) {
        errno = ENOSYS;
        return -1;
    }
    pid_t pid = (*real_fork)();
    if (pid > 0 && recording_this_image()) record_list_line(RECORD_FORK_WORD, pid);
    return pid;
}

EXPORT pid_t fork(void) { return fork_listed(&real.fork); }
EXPORT pid_t _Fork(void) { return fork_listed(&real.fork_no_handlers); }

/* std::terminate and assert-like checks in programs end here: no destructor
 * runs, so the buffer is written first. (glibc's own assert and malloc checks
 * call its abort directly and still lose it.) */
EXPORT void abort(void) {
    finish("abort");
    if (real.abort_now) real.abort_now();
    signal(SIGABRT, SIG_DFL); /* not resolved: do what abort does */
    raise(SIGABRT);
    for (;;) pause();
}
