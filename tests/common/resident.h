// resident.h: how much memory this process holds resident, for the tests that
// check that freed memory goes back to the OS. Read with open/read into fixed
// buffers: no malloc, so a test can call them between its own allocations.
//
// Under AddressSanitizer the process's figure includes the sanitizer's shadow
// memory (x86-64: one byte per 8 bytes of address space, mapped at
// [0x7fff8000, 0x10007fff8000)), which grows with every address range the
// process maps and touches and is not the allocator's. The figures here leave
// it out. On this machine it held 12-20 MiB more after the soak's later phases
// than after its first, and with it DefaultPolicy.FreedMemoryGoesBackToTheOs
// read 21-23 MB resident after freeing everything (under 12 MiB without it).
#ifndef ARENA_TESTS_RESIDENT_H
#define ARENA_TESTS_RESIDENT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// Resident and file-backed resident bytes from /proc/self/statm; false when
// it cannot be read.
static inline bool resident_statm(size_t *resident, size_t *file) {
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return false;
    text[n] = '\0';
    unsigned long size = 0, pages = 0, file_pages = 0;
    if (sscanf(text, "%lu %lu %lu", &size, &pages, &file_pages) != 3) return false;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *resident = (size_t)pages * page;
    *file = (size_t)file_pages * page;
    return true;
}

#if defined(__SANITIZE_ADDRESS__) && defined(__x86_64__)
// The resident bytes of the mappings inside ASan's shadow, from
// /proc/self/smaps (a mapping's line, then its fields, Rss among them).
static inline size_t resident_shadow_bytes(void) {
    const uintptr_t shadow_begin = 0x7fff8000, shadow_end = 0x10007fff8000;
    // Any mapping that overlaps it: ASan maps the low shadow from a page below
    // its start (7fff7000 here).
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    static char buf[1 << 16];
    size_t total = 0, kept = 0;
    bool in_shadow = false;
    for (;;) {
        ssize_t n = read(fd, buf + kept, sizeof buf - 1 - kept);
        if (n <= 0) break;
        kept += (size_t)n;
        buf[kept] = 0;
        char *line = buf, *end;
        while ((end = strchr(line, '\n')) != NULL) {
            *end = 0;
            unsigned long begin, last, kb;
            if (sscanf(line, "%lx-%lx ", &begin, &last) == 2)
                in_shadow = last > shadow_begin && begin < shadow_end;
            else if (in_shadow && sscanf(line, "Rss: %lu kB", &kb) == 1)
                total += (size_t)kb * 1024;
            line = end + 1;
        }
        kept = (size_t)(buf + kept - line);
        memmove(buf, line, kept);
    }
    close(fd);
    return total;
}
#else
static inline size_t resident_shadow_bytes(void) { return 0; }
#endif

// Resident bytes of the process, the sanitizer's shadow aside; 0 when unknown.
static inline size_t resident_bytes(void) {
    size_t shadow = resident_shadow_bytes(), resident = 0, file = 0;
    if (!resident_statm(&resident, &file)) return 0;
    return resident > shadow ? resident - shadow : 0;
}

// The same, file-backed pages left out too (the program's code, mapped libraries).
static inline size_t resident_anonymous_bytes(void) {
    size_t shadow = resident_shadow_bytes(), resident = 0, file = 0;
    if (!resident_statm(&resident, &file)) return 0;
    return resident > file + shadow ? resident - file - shadow : 0;
}

#endif
