/* u64map.h - a map from non-zero 64-bit keys (addresses, frame and task
 * identities) to int64 values: open addressing, doubling, never on a
 * per-event path (the tree builder, the .ftrace writer). */
#ifndef FLOWTRACE_U64MAP_H
#define FLOWTRACE_U64MAP_H

#include <Python.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys; /* owned (PyMem_Raw); 0 = empty slot */
    int64_t *vals;  /* owned (PyMem_Raw) */
    size_t mask;    /* slots - 1; 0 before the first put */
    size_t count;   /* keys in use */
} ft_u64map;

static inline size_t
ft_u64map_slot(uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 24);
}

/* key -> val (replacing). 0, or -1 when out of memory (map unchanged). */
static inline int
ft_u64map_put(ft_u64map *m, uint64_t key, int64_t val)
{
    if ((m->count + 1) * 2 > m->mask) {
        size_t nsize = m->mask ? (m->mask + 1) * 2 : 256;
        uint64_t *nk = PyMem_RawCalloc(nsize, sizeof(uint64_t));
        int64_t *nv = PyMem_RawCalloc(nsize, sizeof(int64_t));
        if (nk == NULL || nv == NULL) {
            PyMem_RawFree(nk);
            PyMem_RawFree(nv);
            return -1;
        }
        for (size_t i = 0; m->keys && i <= m->mask; i++) {
            if (m->keys[i]) {
                size_t j = ft_u64map_slot(m->keys[i]) & (nsize - 1);
                while (nk[j]) {
                    j = (j + 1) & (nsize - 1);
                }
                nk[j] = m->keys[i];
                nv[j] = m->vals[i];
            }
        }
        PyMem_RawFree(m->keys);
        PyMem_RawFree(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->mask = nsize - 1;
    }
    size_t j = ft_u64map_slot(key) & m->mask;
    while (m->keys[j] && m->keys[j] != key) {
        j = (j + 1) & m->mask;
    }
    if (!m->keys[j]) {
        m->count++;
    }
    m->keys[j] = key;
    m->vals[j] = val;
    return 0;
}

/* The value of `key`, or -1 when absent. */
static inline int64_t
ft_u64map_get(const ft_u64map *m, uint64_t key)
{
    if (m->keys == NULL || key == 0) {
        return -1;
    }
    size_t j = ft_u64map_slot(key) & m->mask;
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            return m->vals[j];
        }
        j = (j + 1) & m->mask;
    }
    return -1;
}

static inline void
ft_u64map_free(ft_u64map *m)
{
    PyMem_RawFree(m->keys);
    PyMem_RawFree(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->mask = m->count = 0;
}

#endif
