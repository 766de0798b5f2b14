/* lanes.c - lay out each thread's nodes in pre-order (see lanes.h). */
#include "tree/lanes.h"

int
ft_regroup_by_root(ft_node **nodes, size_t n, const size_t *first, uint32_t nthreads)
{
    ft_node *old = *nodes;
    size_t cap = n ? n : 1;
    ft_node *out = PyMem_RawMalloc(cap * sizeof(ft_node));
    int64_t *child = PyMem_RawMalloc(cap * sizeof(int64_t)); /* first child */
    int64_t *tail = PyMem_RawMalloc(cap * sizeof(int64_t));  /* last child */
    int64_t *next = PyMem_RawMalloc(cap * sizeof(int64_t));  /* next sibling */
    int64_t *map = PyMem_RawMalloc(cap * sizeof(int64_t));
    int64_t *stack = PyMem_RawMalloc(cap * sizeof(int64_t));
    if (out == NULL || child == NULL || tail == NULL || next == NULL || map == NULL ||
        stack == NULL) {
        PyMem_RawFree(out);
        PyMem_RawFree(child);
        PyMem_RawFree(tail);
        PyMem_RawFree(next);
        PyMem_RawFree(map);
        PyMem_RawFree(stack);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        child[i] = tail[i] = next[i] = -1;
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        size_t lo = first[t], hi = first[t + 1];
        int64_t roots = -1, roots_tail = -1;
        /* children lists, in time (index) order */
        for (size_t i = lo; i < hi; i++) {
            int64_t p = old[i].parent;
            if (p >= (int64_t)lo && p < (int64_t)i) {
                if (tail[p] < 0) {
                    child[p] = (int64_t)i;
                }
                else {
                    next[tail[p]] = (int64_t)i;
                }
                tail[p] = (int64_t)i;
            }
            else {
                if (roots_tail < 0) {
                    roots = (int64_t)i;
                }
                else {
                    next[roots_tail] = (int64_t)i;
                }
                roots_tail = (int64_t)i;
            }
        }
        /* depth-first: each node followed by its whole subtree */
        size_t pos = lo, sp = 0;
        for (int64_t r = roots; r >= 0; r = next[r]) {
            stack[sp++] = r;
            while (sp > 0) {
                int64_t v = stack[--sp];
                map[v] = (int64_t)pos++;
                /* push children in reverse so the first is taken first */
                size_t mark = sp;
                for (int64_t c = child[v]; c >= 0; c = next[c]) {
                    stack[sp++] = c;
                }
                for (size_t a = mark, b = sp ? sp - 1 : 0; a < b; a++, b--) {
                    int64_t tmp = stack[a];
                    stack[a] = stack[b];
                    stack[b] = tmp;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        ft_node nd = old[i];
        nd.parent = nd.parent >= 0 ? map[nd.parent] : -1;
        nd.origin = nd.origin >= 0 ? map[nd.origin] : -1;
        out[map[i]] = nd;
    }
    PyMem_RawFree(child);
    PyMem_RawFree(tail);
    PyMem_RawFree(next);
    PyMem_RawFree(map);
    PyMem_RawFree(stack);
    PyMem_RawFree(old);
    *nodes = out;
    return 0;
}
