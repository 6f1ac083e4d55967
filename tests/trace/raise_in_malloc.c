/* raise_in_malloc.so: preloaded into a recorded program after the recorder
 * (arena-trace record puts its own library first and keeps the LD_PRELOAD it
 * was given), so the recorder's "real" malloc is this one. A malloc of
 * RAISE_IN_MALLOC_SIZE bytes raises SIGUSR1 before it allocates: while the
 * recorder holds its lock, the way a signal can come at any moment. */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>

void *__libc_malloc(size_t size);

void *malloc(size_t size) {
    static size_t trigger = 1; /* 1: not read yet; 0: none */
    if (trigger == 1) {
        const char *s = getenv("RAISE_IN_MALLOC_SIZE");
        trigger = s ? strtoull(s, NULL, 10) : 0;
    }
    if (trigger && size == trigger) raise(SIGUSR1);
    return __libc_malloc(size);
}
