/* lanes.c - lay out each thread's nodes in pre-order (see lanes.h).
 *
 * Only the threads that have a task lane are reordered, in place: a
 * permutation followed cycle by cycle, with uint32 work arrays the size of
 * that thread (16 bytes a node) and one uint32 map of every node (origins
 * may point into another thread). A copy of the whole tree, for what is
 * usually a few asyncio.run() calls in a test suite, doubled its memory.
 */
#include "tree/lanes.h"

#include <string.h>

static int
has_lane(const ft_node *nodes, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        if (nodes[i].kind == FT_NODE_TASK) {
            return 1;
        }
    }
    return 0;
}

/* map[i - lo] for i in [lo, hi): the pre-order position of each node of
 * one thread (or of a range that holds whole subtrees), its children in
 * index (time) order. Work arrays of hi - lo entries. */
static void
preorder(const ft_node *nodes, size_t lo, size_t hi, uint32_t *map, uint32_t *child,
         uint32_t *tail, uint32_t *next, uint32_t *stack)
{
    const uint32_t NONE = UINT32_MAX;
    size_t m = hi - lo;
    uint32_t roots = NONE, roots_tail = NONE;
    for (size_t i = 0; i < m; i++) {
        child[i] = tail[i] = next[i] = NONE;
    }
    /* children lists, in time (index) order */
    for (size_t i = 0; i < m; i++) {
        int64_t p = nodes[lo + i].parent;
        if (p >= (int64_t)lo && p < (int64_t)(lo + i)) {
            uint32_t pl = (uint32_t)(p - (int64_t)lo);
            if (tail[pl] == NONE) {
                child[pl] = (uint32_t)i;
            }
            else {
                next[tail[pl]] = (uint32_t)i;
            }
            tail[pl] = (uint32_t)i;
        }
        else {
            if (roots_tail == NONE) {
                roots = (uint32_t)i;
            }
            else {
                next[roots_tail] = (uint32_t)i;
            }
            roots_tail = (uint32_t)i;
        }
    }
    /* depth-first: each node followed by its whole subtree */
    size_t pos = lo, sp = 0;
    for (uint32_t r = roots; r != NONE; r = next[r]) {
        stack[sp++] = r;
        while (sp > 0) {
            uint32_t v = stack[--sp];
            map[v] = (uint32_t)pos++;
            /* push children in reverse so the first is taken first */
            size_t mark = sp;
            for (uint32_t c = child[v]; c != NONE; c = next[c]) {
                stack[sp++] = c;
            }
            for (size_t a = mark, b = sp ? sp - 1 : 0; a < b; a++, b--) {
                uint32_t tmp = stack[a];
                stack[a] = stack[b];
                stack[b] = tmp;
            }
        }
    }
}

/* Move node i to map[i - lo] for i in [lo, hi), cycle by cycle; `done` is
 * a zeroed bitset of hi - lo bits. */
static void
permute(ft_node *nodes, ft_span *spans, size_t lo, size_t hi, const uint32_t *map,
        uint64_t *done)
{
    for (size_t s = lo; s < hi; s++) {
        if (done[(s - lo) / 64] & (1ull << ((s - lo) % 64))) {
            continue;
        }
        ft_node carried = nodes[s];
        ft_span carried_span = spans != NULL ? spans[s] : (ft_span){0, 0};
        size_t j = s;
        do {
            done[(j - lo) / 64] |= 1ull << ((j - lo) % 64);
            size_t k = map[j - lo];
            ft_node tmp = nodes[k];
            nodes[k] = carried;
            carried = tmp;
            if (spans != NULL) {
                ft_span tsp = spans[k];
                spans[k] = carried_span;
                carried_span = tsp;
            }
            j = k;
        } while (j != s);
    }
}

int
ft_regroup_by_root(ft_node *nodes, ft_span *spans, size_t n, const size_t *first,
                   uint32_t nthreads)
{
    ft_node *all = nodes;
    size_t most = 0;
    int any = 0;
    for (uint32_t t = 0; t < nthreads; t++) {
        if (has_lane(all, first[t], first[t + 1])) {
            any = 1;
            size_t m = first[t + 1] - first[t];
            most = m > most ? m : most;
        }
    }
    if (!any) {
        return 0;
    }
    if (n > UINT32_MAX) {
        return -1; /* the work arrays count in 32 bits */
    }
    uint32_t *map = PyMem_RawMalloc((n ? n : 1) * sizeof(uint32_t));
    uint32_t *work = PyMem_RawMalloc((most ? most : 1) * 4 * sizeof(uint32_t));
    uint64_t *done = PyMem_RawMalloc((most / 64 + 1) * sizeof(uint64_t));
    if (map == NULL || work == NULL || done == NULL) {
        PyMem_RawFree(map);
        PyMem_RawFree(work);
        PyMem_RawFree(done);
        return -1;
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        size_t lo = first[t], hi = first[t + 1];
        if (has_lane(all, lo, hi)) {
            size_t m = hi - lo;
            preorder(all, lo, hi, map + lo, work, work + m, work + 2 * m, work + 3 * m);
        }
        else {
            for (size_t i = lo; i < hi; i++) {
                map[i] = (uint32_t)i;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        ft_node *nd = &all[i];
        nd->parent = nd->parent >= 0 ? (int64_t)map[nd->parent] : -1;
        nd->origin = nd->origin >= 0 ? (int64_t)map[nd->origin] : -1;
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        size_t lo = first[t], hi = first[t + 1];
        if (lo < hi && has_lane(all, lo, hi)) {
            memset(done, 0, ((hi - lo) / 64 + 1) * sizeof(uint64_t));
            permute(all, spans, lo, hi, map + lo, done);
        }
    }
    PyMem_RawFree(map);
    PyMem_RawFree(work);
    PyMem_RawFree(done);
    return 0;
}

int
ft_regroup_range(ft_node *nodes, ft_span *spans, size_t lo, size_t hi, uint32_t **map_out)
{
    size_t m = hi - lo;
    *map_out = NULL;
    if (hi > UINT32_MAX) {
        return -1; /* the work arrays count in 32 bits */
    }
    uint32_t *map = PyMem_RawMalloc((m ? m : 1) * sizeof(uint32_t));
    uint32_t *work = PyMem_RawMalloc((m ? m : 1) * 4 * sizeof(uint32_t));
    uint64_t *done = PyMem_RawCalloc(m / 64 + 1, sizeof(uint64_t));
    if (map == NULL || work == NULL || done == NULL) {
        PyMem_RawFree(map);
        PyMem_RawFree(work);
        PyMem_RawFree(done);
        return -1;
    }
    preorder(nodes, lo, hi, map, work, work + m, work + 2 * m, work + 3 * m);
    for (size_t i = lo; i < hi; i++) { /* references into the range move */
        ft_node *nd = &nodes[i];
        if (nd->parent >= (int64_t)lo && nd->parent < (int64_t)hi) {
            nd->parent = (int32_t)map[nd->parent - (int64_t)lo];
        }
        if (nd->origin >= (int64_t)lo && nd->origin < (int64_t)hi) {
            nd->origin = (int32_t)map[nd->origin - (int64_t)lo];
        }
    }
    permute(nodes, spans, lo, hi, map, done);
    PyMem_RawFree(work);
    PyMem_RawFree(done);
    *map_out = map;
    return 0;
}
