/* lanes.c - lay out each thread's nodes root by root (see lanes.h). */
#include "lanes.h"

int
ft_regroup_by_root(ft_node **nodes, size_t n, const size_t *first, uint32_t nthreads)
{
    ft_node *old = *nodes;
    ft_node *out = PyMem_RawMalloc((n ? n : 1) * sizeof(ft_node));
    size_t *top = PyMem_RawMalloc((n ? n : 1) * sizeof(size_t));
    size_t *slot = PyMem_RawCalloc(n ? n : 1, sizeof(size_t)); /* per root: next position */
    int64_t *map = PyMem_RawMalloc((n ? n : 1) * sizeof(int64_t));
    if (out == NULL || top == NULL || slot == NULL || map == NULL) {
        PyMem_RawFree(out);
        PyMem_RawFree(top);
        PyMem_RawFree(slot);
        PyMem_RawFree(map);
        return -1;
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        size_t lo = first[t], hi = first[t + 1];
        /* parents come before their children: one pass finds the roots */
        for (size_t i = lo; i < hi; i++) {
            int64_t p = old[i].parent;
            top[i] = (p >= 0 && (size_t)p >= lo && (size_t)p < i) ? top[p] : i;
            slot[top[i]]++; /* count members per root */
        }
        /* each root's block starts where the previous root's ends */
        size_t pos = lo;
        for (size_t i = lo; i < hi; i++) {
            if (top[i] == i) {
                size_t count = slot[i];
                slot[i] = pos;
                pos += count;
            }
        }
        for (size_t i = lo; i < hi; i++) {
            map[i] = (int64_t)slot[top[i]]++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        ft_node nd = old[i];
        nd.parent = nd.parent >= 0 ? map[nd.parent] : -1;
        nd.origin = nd.origin >= 0 ? map[nd.origin] : -1;
        out[map[i]] = nd;
    }
    PyMem_RawFree(top);
    PyMem_RawFree(slot);
    PyMem_RawFree(map);
    PyMem_RawFree(old);
    *nodes = out;
    return 0;
}
