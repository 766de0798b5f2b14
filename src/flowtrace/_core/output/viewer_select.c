/* viewer_select.c - the nodes one page of the served viewer holds
 * (viewer_select.h). */
#include "output/viewer_select.h"

#include "common/growable.h"
#include "tree/walk.h"

/* End (exclusive) of the subtree of node `i`: in pre-order, the first
 * later node of its thread whose parent comes before `i`. */
static size_t
subtree_end(const ft_tree *t, size_t i)
{
    size_t last = t->thread_first[t->nodes[i].thread + 1];
    size_t j = i + 1;
    while (j < last && t->nodes[j].parent >= (int64_t)i) {
        j++;
    }
    return j;
}

typedef struct {
    size_t first, last; /* a range of nodes walked */
} range;

/* The ranges of the view: the root's subtree, or each thread's nodes. */
static int
view_ranges(const ft_tree *t, int64_t root, range *r, uint32_t *nr)
{
    if (root >= 0) {
        r[0].first = (size_t)root;
        r[0].last = subtree_end(t, (size_t)root);
        *nr = 1;
        return 0;
    }
    for (uint32_t th = 0; th < t->nthreads; th++) {
        r[th].first = t->thread_first[th];
        r[th].last = t->thread_first[th + 1];
    }
    *nr = t->nthreads;
    return 0;
}

/* Pass 1: nodes per depth, and the deepest level within the budget. */
static int
choose_depth(const ft_tree *t, const range *r, uint32_t nr, size_t budget, size_t *depth_out,
             size_t *left, size_t *total)
{
    uint64_t *count = NULL; /* owned: nodes per depth */
    size_t cap = 0, deepest = 0;
    ft_walk w = {0};
    *total = 0;
    for (uint32_t k = 0; k < nr; k++) {
        ft_walk_begin(&w, t->nodes, r[k].first, r[k].last);
        for (size_t i = r[k].first; i < r[k].last; i++) {
            Py_ssize_t d = ft_walk_enter(&w, i);
            if (d < 0 || FT_GROW(count, cap, (size_t)d + 1, 64) < 0) {
                ft_walk_free(&w);
                PyMem_RawFree(count);
                PyErr_NoMemory();
                return -1;
            }
            while (deepest <= (size_t)d) {
                count[deepest++] = 0;
            }
            count[d]++;
            (*total)++;
        }
    }
    ft_walk_free(&w);
    size_t held = 0, depth = 0;
    for (size_t d = 0; d < deepest; d++) {
        if (held + count[d] > budget) {
            break;
        }
        held += count[d];
        depth = d;
    }
    PyMem_RawFree(count);
    *depth_out = depth;
    *left = held < budget ? budget - held : 0;
    return 0;
}

static int
hold(ft_view *v, size_t *cap, size_t i, size_t depth, int frontier)
{
    size_t nc = ft_grown_capacity(*cap, v->n + 1, 1024);
    if (nc == 0 || (nc != *cap && (FT_RESIZE(v->node, nc) < 0 || FT_RESIZE(v->depth, nc) < 0 ||
                                   FT_RESIZE(v->below, nc) < 0 ||
                                   FT_RESIZE(v->frontier, nc) < 0))) {
        return -1;
    }
    *cap = nc;
    v->node[v->n] = i;
    v->depth[v->n] = (uint32_t)depth;
    v->below[v->n] = 0;
    v->frontier[v->n] = (uint8_t)frontier;
    v->n++;
    return 0;
}

/* Pass 2: hold the nodes down to `maxd`, and the children of the first
 * nodes at `maxd` while `left` allows (all of a node's children or none);
 * count the activations below each frontier node. */
static int
hold_nodes(const ft_tree *t, const range *r, uint32_t nr, size_t maxd, size_t left,
           size_t budget, ft_view *v)
{
    size_t cap = 0;
    ft_walk w = {0};
    for (uint32_t k = 0; k < nr; k++) {
        int64_t front = -1; /* position of the last held node, if frontier */
        int opened = 0;     /* the open node at maxd has its children held */
        ft_walk_begin(&w, t->nodes, r[k].first, r[k].last);
        for (size_t i = r[k].first; i < r[k].last; i++) {
            const ft_node *nd = &t->nodes[i];
            Py_ssize_t d = ft_walk_enter(&w, i);
            if (d < 0) {
                goto oom;
            }
            size_t du = (size_t)d;
            if (du > maxd + 1 || (du == maxd + 1 && !opened)) {
                if (front >= 0 && ft_node_is_activation(nd)) {
                    v->below[front]++;
                }
                continue;
            }
            if (du == 0 && v->n >= budget) {
                v->cut++; /* the top level alone passes the budget */
                front = -1;
                continue;
            }
            if (du == maxd) {
                opened = nd->nchildren > 0 && nd->nchildren <= left;
                if (opened) {
                    left -= nd->nchildren;
                }
            }
            int frontier = nd->nchildren > 0 && (du == maxd + 1 || (du == maxd && !opened));
            if (hold(v, &cap, i, du, frontier) < 0) {
                goto oom;
            }
            front = frontier ? (int64_t)v->n - 1 : -1;
        }
    }
    ft_walk_free(&w);
    /* positions of each thread's first held node */
    size_t pos = 0;
    for (uint32_t th = 0; th < t->nthreads; th++) {
        v->thread_first[th] = pos;
        while (pos < v->n && t->nodes[v->node[pos]].thread == th) {
            pos++;
        }
    }
    v->thread_first[t->nthreads] = v->n;
    return 0;
oom:
    ft_walk_free(&w);
    PyErr_NoMemory();
    return -1;
}

static int
root_path(const ft_tree *t, int64_t root, ft_view *v)
{
    size_t n = 0;
    for (int64_t p = root >= 0 ? t->nodes[root].parent : -1; p >= 0; p = t->nodes[p].parent) {
        n++;
    }
    v->path = PyMem_RawMalloc((n ? n : 1) * sizeof(int64_t));
    if (v->path == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    v->npath = n;
    for (int64_t p = root >= 0 ? t->nodes[root].parent : -1; p >= 0; p = t->nodes[p].parent) {
        v->path[--n] = p;
    }
    return 0;
}

int
ft_view_select(const ft_tree *t, int64_t root, size_t budget, ft_view *v)
{
    memset(v, 0, sizeof(*v));
    v->root = root;
    if (root >= (int64_t)t->nnodes || root < -1) {
        PyErr_Format(PyExc_ValueError, "no node %lld in a trace of %zu nodes", (long long)root,
                     t->nnodes);
        return -1;
    }
    if (budget < 1) {
        budget = 1;
    }
    uint32_t nr = 0;
    range *r = PyMem_RawMalloc(((size_t)t->nthreads + 1) * sizeof(range));
    v->thread_first = PyMem_RawMalloc(((size_t)t->nthreads + 1) * sizeof(size_t));
    if (r == NULL || v->thread_first == NULL) {
        PyMem_RawFree(r);
        PyErr_NoMemory();
        return -1;
    }
    size_t maxd = 0, left = 0;
    int rc = -1;
    if (view_ranges(t, root, r, &nr) == 0 &&
        choose_depth(t, r, nr, budget, &maxd, &left, &v->total) == 0 &&
        hold_nodes(t, r, nr, maxd, left, budget, v) == 0 && root_path(t, root, v) == 0) {
        rc = 0;
    }
    PyMem_RawFree(r);
    return rc;
}

int64_t
ft_view_position(const ft_view *v, size_t i)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->node[mid] < i) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < v->n && v->node[lo] == i ? (int64_t)lo : -1;
}

void
ft_view_free(ft_view *v)
{
    PyMem_RawFree(v->node);
    PyMem_RawFree(v->depth);
    PyMem_RawFree(v->below);
    PyMem_RawFree(v->frontier);
    PyMem_RawFree(v->thread_first);
    PyMem_RawFree(v->path);
    memset(v, 0, sizeof(*v));
}
