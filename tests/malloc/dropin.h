// The drop-in malloc's functions under the names the test build gives them
// (ARENA_MALLOC_PREFIX=arena_test): the same code as libarena_malloc, callable
// beside the process's own malloc.
#pragma once

#include <cstddef>
#include <cstdio>

#include <malloc.h>

#include "arena.h"

extern "C" {
void *arena_test_malloc(size_t size);
void arena_test_free(void *p);
void arena_test_cfree(void *p);
void *arena_test_calloc(size_t n, size_t size);
void *arena_test_realloc(void *p, size_t size);
void *arena_test_reallocarray(void *p, size_t n, size_t size);
void *arena_test_memalign(size_t align, size_t size);
void *arena_test_aligned_alloc(size_t align, size_t size);
int arena_test_posix_memalign(void **out, size_t align, size_t size);
void *arena_test_valloc(size_t size);
void *arena_test_pvalloc(size_t size);
size_t arena_test_malloc_usable_size(void *p);
int arena_test_malloc_trim(size_t pad);
struct mallinfo2 arena_test_mallinfo2(void);
struct mallinfo arena_test_mallinfo(void);
int arena_test_mallopt(int param, int value);
void arena_test_malloc_stats(void);
int arena_test_malloc_info(int options, FILE *fp);
// The test build's alone: whether the calling thread has a heap bound to it.
bool arena_test_thread_has_heap(void);
}
