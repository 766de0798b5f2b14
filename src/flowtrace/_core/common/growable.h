/* growable.h - typed arrays that grow by doubling (PyMem_Raw), with the
 * size arithmetic checked.
 *
 *     int64_t *stack = NULL;  // owned (PyMem_Raw)
 *     size_t cap = 0;         // entries allocated
 *     if (FT_GROW(stack, cap, depth + 1, 64) < 0) {
 *         return PyErr_NoMemory();
 *     }
 *     stack[depth++] = i;
 *
 * FT_GROW(array, cap, need, first): room for at least `need` items; the
 * capacity doubles (from `first` when it is 0) until they fit.
 * FT_RESIZE(array, n): exactly `n` items (also to shrink); for arrays
 * that share one capacity, with ft_grown_capacity:
 *
 *     size_t nc = ft_grown_capacity(cap, n + 1, 1024);
 *     if (nc == 0 || FT_RESIZE(a, nc) < 0 || FT_RESIZE(b, nc) < 0) ...
 *     cap = nc;
 *
 * `array` is a typed pointer (an lvalue: it is updated), `cap` a size_t
 * lvalue. A memory failure and a size that would overflow are the same
 * answer: -1, with the array and its capacity unchanged and no exception
 * set (the caller says what it means: a MemoryError, a dropped event).
 * For building trees and tables, never on a per-event path.
 */
#ifndef FLOWTRACE_GROWABLE_H
#define FLOWTRACE_GROWABLE_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The capacity that holds `need` items: `cap` doubled (starting from
 * `first`, or 1, when `cap` is 0) as often as needed; 0 if that
 * overflows. */
static inline size_t
ft_grown_capacity(size_t cap, size_t need, size_t first)
{
    size_t nc = cap ? cap : (first ? first : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2) {
            return 0;
        }
        nc *= 2;
    }
    return nc;
}

/* *arrayp (a T*, seen through its address) reallocated to `n` items of
 * `size` bytes. 0, or -1 with *arrayp unchanged. The pointer is read and
 * written with memcpy: one helper for every item type. */
static inline int
ft_resize_(void *arrayp, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return -1;
    }
    void *old;
    memcpy(&old, arrayp, sizeof(old));
    void *p = PyMem_RawRealloc(old, n * size);
    if (p == NULL) {
        return -1;
    }
    memcpy(arrayp, &p, sizeof(p));
    return 0;
}

static inline int
ft_grow_(void *arrayp, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap) {
        return 0;
    }
    size_t nc = ft_grown_capacity(*cap, need, first);
    if (nc == 0 || ft_resize_(arrayp, nc, size) < 0) {
        return -1;
    }
    *cap = nc;
    return 0;
}

#define FT_RESIZE(array, n) ft_resize_(&(array), (size_t)(n), sizeof(*(array)))
#define FT_GROW(array, cap, need, first)                                                      \
    ft_grow_(&(array), &(cap), (size_t)(need), sizeof(*(array)), (size_t)(first))

#endif
