/* limits.c: the drop-in where memory runs short or sits with a thread that
 * ended (run with libarena_malloc.so preloaded; each case found in review):
 *   unattached  a thread whose first calls are frees, made when the address
 *               space has no room for a heap of its own: the blocks still go
 *               back (they were dropped, and live bytes never fell);
 *   ended       a thread allocates 40 MB and ends; another frees every block
 *               and goes on with small calls: the memory goes back to the OS
 *               (it stayed resident until a segment was mapped or a thread
 *               started);
 *   medium      4 MiB asked for with 24 MiB of address space to spare, and
 *               12 MiB with 40: both served (a medium segment sized for four
 *               such blocks was refused, and no smaller one tried);
 *   idle K      256 MiB of address space to spare, filled with small blocks
 *               and freed, twice, then a 40 MiB block (K huge) or medium
 *               blocks (medium); or 20 MiB blocks, then small ones (small):
 *               each kind gets the room another left idle (the OS's refusal
 *               was ENOMEM with hundreds of MB free in the heap: only the
 *               max_bytes cap's gave idle memory back; `small` held already,
 *               the huge cache going back on its own before).
 * `limits` runs every case but idle, `limits idle K` that one alone, in a
 * process of its own. Exits 0 when every case holds, 1 with a line per
 * failure. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int failures;
static void fail(const char *what) {
    fprintf(stderr, "FAIL: %s\n", what);
    failures++;
}

/* Pages of address space and resident pages (/proc/self/statm). */
static void statm(unsigned long *size, unsigned long *resident) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu %lu", size, resident) != 2) {
        fprintf(stderr, "cannot read /proc/self/statm\n");
        exit(2);
    }
    fclose(f);
}

/* An address space limit that leaves `room` bytes above what is mapped now. */
static void limit_room(size_t room, struct rlimit *old) {
    unsigned long size, resident;
    getrlimit(RLIMIT_AS, old);
    statm(&size, &resident);
    struct rlimit lim = {size * 4096 + room, old->rlim_max};
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
        perror("setrlimit");
        exit(2);
    }
}

static size_t live_bytes(void) { return mallinfo2().uordblks; }

#define UNATTACHED_BLOCKS 1000
#define UNATTACHED_SIZE 50000
static void *unattached_blocks[UNATTACHED_BLOCKS];
static pthread_barrier_t limit_set;
static size_t usable_seen;

static void *free_without_a_heap(void *unused) {
    (void)unused;
    pthread_barrier_wait(&limit_set); /* this thread's first calls come under the limit */
    usable_seen = malloc_usable_size(unattached_blocks[0]);
    for (int i = 0; i < UNATTACHED_BLOCKS; i++) free(unattached_blocks[i]);
    return NULL;
}

static void unattached(void) {
    for (int i = 0; i < UNATTACHED_BLOCKS; i++) {
        unattached_blocks[i] = malloc(UNATTACHED_SIZE);
        if (!unattached_blocks[i]) exit(2);
        memset(unattached_blocks[i], 1, UNATTACHED_SIZE);
    }
    size_t before = live_bytes();
    pthread_barrier_init(&limit_set, NULL, 2);
    pthread_t t;
    if (pthread_create(&t, NULL, free_without_a_heap, NULL)) exit(2);
    struct rlimit old;
    limit_room(4096, &old); /* after the thread's stack: room for no mapping */
    pthread_barrier_wait(&limit_set);
    pthread_join(t, NULL);
    setrlimit(RLIMIT_AS, &old);
    size_t after = live_bytes();
    printf("unattached: live bytes %zu before the frees, %zu after; usable size seen %zu\n", before, after,
           usable_seen);
    if (before < (size_t)UNATTACHED_BLOCKS * UNATTACHED_SIZE) fail("unattached: the blocks were not counted live");
    if (after > before - (size_t)UNATTACHED_BLOCKS * UNATTACHED_SIZE + ((size_t)1 << 20))
        fail("unattached: the frees of a thread without a heap were dropped");
    if (usable_seen < UNATTACHED_SIZE) fail("unattached: malloc_usable_size without a heap");
}

#define ENDED_BLOCKS 400
#define ENDED_SIZE 100000
static void *ended_blocks[ENDED_BLOCKS];

static void *allocate_and_end(void *unused) {
    (void)unused;
    for (int i = 0; i < ENDED_BLOCKS; i++) {
        ended_blocks[i] = malloc(ENDED_SIZE);
        if (!ended_blocks[i]) exit(2);
        memset(ended_blocks[i], 1, ENDED_SIZE);
    }
    return NULL;
}

static void ended(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, allocate_and_end, NULL)) exit(2);
    pthread_join(t, NULL);
    unsigned long size, held, after;
    statm(&size, &held);
    for (int i = 0; i < ENDED_BLOCKS; i++) free(ended_blocks[i]);
    for (int i = 0; i < 1000; i++) free(malloc(64)); /* small calls, no new segment */
    statm(&size, &after);
    printf("ended: resident %lu KiB with the ended thread's blocks, %lu KiB after they were freed\n", held * 4,
           after * 4);
    /* 40 MB freed; what may stay is ENDED_RECLAIM_BYTES and a few pages. */
    if (after > held || (held - after) * 4096 < (size_t)ENDED_BLOCKS * ENDED_SIZE - ((size_t)8 << 20))
        fail("ended: the blocks of an ended thread's heap stayed resident after their frees");
}

static void medium(size_t room_mib, size_t request_kib) {
    struct rlimit old;
    free(malloc(16));
    limit_room(room_mib << 20, &old);
    errno = 0;
    void *p = malloc(request_kib << 10);
    int e = errno;
    if (p) memset(p, 1, request_kib << 10);
    free(p);
    setrlimit(RLIMIT_AS, &old);
    printf("medium: %zu KiB with %zu MiB of address space to spare: %s (errno %d)\n", request_kib, room_mib,
           p ? "served" : "refused", e);
    if (!p) fail("medium: a request refused that one mapping of its size would hold");
    if (p && e) fail("medium: a request served set errno");
}

#define IDLE_ROOM ((size_t)256 << 20)
#define IDLE_SERVED_MIN ((size_t)40 << 20) /* the huge block asked for, and what the others must get */
static void *idle_blocks[IDLE_ROOM / 1000];

/* Blocks of `size` until one is refused or the room is full, each written,
 * then all freed; returns the bytes served. */
static size_t fill_and_free(size_t size) {
    size_t n = 0;
    while (n < IDLE_ROOM / size && (idle_blocks[n] = malloc(size)) != NULL) memset(idle_blocks[n++], 1, 64);
    for (size_t i = 0; i < n; i++) free(idle_blocks[i]);
    return n * size;
}

/* Fills the room with blocks of one kind and frees them, twice (the first
 * teardown hands its memory back on its own; the second is kept mapped for
 * the next, purged memory having come back), then asks for another kind. */
static void idle(const char *kind) {
    bool small_first = strcmp(kind, "small") != 0;
    size_t first_size = small_first ? 1000 : (size_t)20 << 20; /* huge blocks: freed, they stay cached */
    struct rlimit old;
    free(malloc(16));
    limit_room(IDLE_ROOM, &old);
    size_t first = fill_and_free(first_size);
    first = fill_and_free(first_size);
    errno = 0;
    size_t served;
    if (strcmp(kind, "huge") == 0) {
        void *huge = malloc(IDLE_SERVED_MIN);
        if (huge) memset(huge, 1, IDLE_SERVED_MIN);
        free(huge);
        served = huge ? IDLE_SERVED_MIN : 0;
    } else {
        served = fill_and_free(small_first ? 100000 : 1000);
    }
    int e = errno;
    setrlimit(RLIMIT_AS, &old);
    printf("idle %s: with %zu MiB to spare, %zu MiB of %zu-byte blocks twice, then %zu MiB served (errno %d)\n",
           kind, IDLE_ROOM >> 20, first >> 20, first_size, served >> 20, e);
    if (first < IDLE_ROOM / 4 * 3) fail("idle: the first blocks filled under 3/4 of the room (the test's premise)");
    if (served < IDLE_SERVED_MIN) fail("idle: refused while the memory of another kind of block sat idle");
}

int main(int argc, char **argv) {
    /* Most of this holds under glibc's malloc too: it tests arena only there. */
    if (!dlsym(RTLD_DEFAULT, "arena_malloc_stats")) {
        fprintf(stderr, "not run under libarena_malloc.so: nothing tested\n");
        return 2;
    }
    if (argc == 3 && strcmp(argv[1], "idle") == 0 &&
        (!strcmp(argv[2], "huge") || !strcmp(argv[2], "medium") || !strcmp(argv[2], "small"))) {
        idle(argv[2]); /* alone: the other cases leave free segments it would use */
    } else if (argc == 1) {
        medium(24, 4096); /* first: later cases leave free segments that would serve it */
        medium(40, 12000);
        unattached();
        ended();
    } else {
        fprintf(stderr, "usage: limits [idle huge|medium|small]\n");
        return 2;
    }
    return failures ? 1 : 0;
}
