/* id_table.h: the two small structures that turn sparse ids into dense ones,
 * shared by the trace reader (C++) and the recorder (C), which cannot call
 * malloc for its own tables. Header-only, in the common subset of C11 and C++17.
 *
 * - id_map: open addressing map from a uint64 key to a uint64 value, linear
 *   probing, deletion by backward shift (no tombstones, so lookups stay short
 *   however many objects come and go).
 * - id_pool: hands out the lowest free id first (a binary min-heap of released
 *   ids above a high-water mark). Low ids keep slot tables small in a replay
 *   and traces small on disk.
 *
 * Memory comes from the caller's id_memory (malloc in the reader, mmap in the
 * recorder); an allocation failure is reported as a 0 return.
 */
#ifndef ARENA_TRACE_ID_TABLE_H
#define ARENA_TRACE_ID_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct id_memory {
    void *(*alloc)(size_t bytes); /* zeroed memory, or NULL */
    void (*release)(void *p, size_t bytes);
} id_memory;

typedef struct id_map {
    uint64_t *keys;
    uint64_t *values; /* value + 1; 0 marks an empty cell */
    size_t mask;      /* capacity - 1; capacity is a power of two */
    size_t count;
    id_memory mem;
} id_map;

static inline size_t id_map_home(const id_map *m, uint64_t key) {
    /* splitmix64 finaliser: pointers and small ids both spread well */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & m->mask;
}

static inline int id_map_resize(id_map *m, size_t capacity) {
    uint64_t *keys = (uint64_t *)m->mem.alloc(capacity * sizeof(uint64_t));
    uint64_t *values = (uint64_t *)m->mem.alloc(capacity * sizeof(uint64_t));
    if (!keys || !values) {
        if (keys) m->mem.release(keys, capacity * sizeof(uint64_t));
        if (values) m->mem.release(values, capacity * sizeof(uint64_t));
        return 0;
    }
    id_map old = *m;
    m->keys = keys;
    m->values = values;
    m->mask = capacity - 1;
    if (old.keys) {
        for (size_t i = 0; i <= old.mask; i++) {
            if (!old.values[i]) continue;
            size_t j = id_map_home(m, old.keys[i]);
            while (m->values[j]) j = (j + 1) & m->mask;
            m->keys[j] = old.keys[i];
            m->values[j] = old.values[i];
        }
        m->mem.release(old.keys, (old.mask + 1) * sizeof(uint64_t));
        m->mem.release(old.values, (old.mask + 1) * sizeof(uint64_t));
    }
    return 1;
}

static inline int id_map_init(id_map *m, id_memory mem) {
    memset(m, 0, sizeof *m);
    m->mem = mem;
    return id_map_resize(m, 1024);
}

static inline void id_map_destroy(id_map *m) {
    if (m->keys) {
        m->mem.release(m->keys, (m->mask + 1) * sizeof(uint64_t));
        m->mem.release(m->values, (m->mask + 1) * sizeof(uint64_t));
    }
    m->keys = m->values = NULL;
    m->count = 0;
}

/* Index of the cell holding key, or of the empty cell where it would go. */
static inline size_t id_map_find(const id_map *m, uint64_t key) {
    size_t i = id_map_home(m, key);
    while (m->values[i] && m->keys[i] != key) i = (i + 1) & m->mask;
    return i;
}

/* 1 and *value set when key is present. */
static inline int id_map_get(const id_map *m, uint64_t key, uint64_t *value) {
    size_t i = id_map_find(m, key);
    if (!m->values[i]) return 0;
    *value = m->values[i] - 1;
    return 1;
}

/* Inserts or overwrites; 0 when the table could not grow. */
static inline int id_map_put(id_map *m, uint64_t key, uint64_t value) {
    if ((m->count + 1) * 2 > m->mask + 1 && !id_map_resize(m, (m->mask + 1) * 2)) return 0;
    size_t i = id_map_find(m, key);
    if (!m->values[i]) m->count++;
    m->keys[i] = key;
    m->values[i] = value + 1;
    return 1;
}

/* Removes key; 1 and *value set when it was present. */
static inline int id_map_take(id_map *m, uint64_t key, uint64_t *value) {
    size_t hole = id_map_find(m, key);
    if (!m->values[hole]) return 0;
    *value = m->values[hole] - 1;
    m->count--;
    /* backward shift: pull later cells of the probe run into the hole when
     * their home position does not lie cyclically in (hole, cell] */
    for (size_t i = (hole + 1) & m->mask; m->values[i]; i = (i + 1) & m->mask) {
        size_t home = id_map_home(m, m->keys[i]);
        int stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (stays) continue;
        m->keys[hole] = m->keys[i];
        m->values[hole] = m->values[i];
        hole = i;
    }
    m->values[hole] = 0;
    return 1;
}

typedef struct id_pool {
    uint64_t *heap; /* released ids below next, as a min-heap */
    size_t count, capacity;
    uint64_t next; /* ids >= next were never handed out */
    id_memory mem;
} id_pool;

static inline void id_pool_init(id_pool *p, id_memory mem) {
    memset(p, 0, sizeof *p);
    p->mem = mem;
}

static inline void id_pool_destroy(id_pool *p) {
    if (p->heap) p->mem.release(p->heap, p->capacity * sizeof(uint64_t));
    p->heap = NULL;
    p->count = p->capacity = 0;
}

static inline uint64_t id_pool_acquire(id_pool *p) {
    if (p->count == 0) return p->next++;
    uint64_t lowest = p->heap[0];
    uint64_t last = p->heap[--p->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= p->count) break;
        if (child + 1 < p->count && p->heap[child + 1] < p->heap[child]) child++;
        if (p->heap[child] >= last) break;
        p->heap[i] = p->heap[child];
        i = child;
    }
    if (p->count) p->heap[i] = last;
    return lowest;
}

/* 0 when the heap could not grow (the id is then simply never reused). */
static inline int id_pool_release(id_pool *p, uint64_t id) {
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? p->capacity * 2 : 1024;
        uint64_t *heap = (uint64_t *)p->mem.alloc(capacity * sizeof(uint64_t));
        if (!heap) return 0;
        if (p->heap) {
            memcpy(heap, p->heap, p->count * sizeof(uint64_t));
            p->mem.release(p->heap, p->capacity * sizeof(uint64_t));
        }
        p->heap = heap;
        p->capacity = capacity;
    }
    size_t i = p->count++;
    while (i > 0 && p->heap[(i - 1) / 2] > id) {
        p->heap[i] = p->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    p->heap[i] = id;
    return 1;
}

#endif
