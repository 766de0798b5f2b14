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
static void
view_ranges(const ft_tree *t, int64_t root, range *r, uint32_t *nr)
{
    if (root >= 0) {
        r[0].first = (size_t)root;
        r[0].last = subtree_end(t, (size_t)root);
        *nr = 1;
        return;
    }
    for (uint32_t th = 0; th < t->nthreads; th++) {
        r[th].first = t->thread_first[th];
        r[th].last = t->thread_first[th + 1];
    }
    *nr = t->nthreads;
}

/* The nodes of a view's ranges that are inside its window: the nodes of
 * the window level (the root's children; the top level without a root)
 * numbered in order, only those in [from, upto) with their subtrees. */
typedef struct {
    const ft_tree *t;  /* borrowed */
    const range *r;    /* borrowed: the ranges */
    uint32_t nr, k;    /* ranges, and the one being walked */
    size_t i;          /* the next node of range k */
    ft_walk w;         /* owned: the walk of range k */
    size_t level;      /* the window level: 1 under a root, else 0 */
    size_t from, upto; /* the window, in window-level nodes */
    size_t seen;       /* window-level nodes met so far */
} window;

static void
window_begin(window *it, const ft_tree *t, const range *r, uint32_t nr, size_t level,
             size_t from, size_t upto)
{
    memset(it, 0, sizeof(*it));
    it->t = t;
    it->r = r;
    it->nr = nr;
    it->level = level;
    it->from = from;
    it->upto = upto;
    it->i = nr > 0 ? r[0].first : 0;
    if (nr > 0) {
        ft_walk_begin(&it->w, t->nodes, r[0].first, r[0].last);
    }
}

/* The next node inside the window: 1 (*i, *d set), 0 at the end, -1 with
 * MemoryError. */
static int
window_next(window *it, size_t *i, size_t *d)
{
    while (it->k < it->nr) {
        if (it->i >= it->r[it->k].last) {
            if (++it->k < it->nr) {
                it->i = it->r[it->k].first;
                ft_walk_begin(&it->w, it->t->nodes, it->r[it->k].first, it->r[it->k].last);
            }
            continue;
        }
        size_t n = it->i;
        Py_ssize_t depth = ft_walk_enter(&it->w, n);
        if (depth < 0) {
            PyErr_NoMemory();
            return -1;
        }
        if ((size_t)depth == it->level) {
            size_t k = it->seen++;
            if (k < it->from || k >= it->upto) {
                it->i = subtree_end(it->t, n); /* outside the window: skipped whole */
                continue;
            }
        }
        it->i = n + 1;
        *i = n;
        *d = (size_t)depth;
        return 1;
    }
    return 0;
}

static void
window_free(window *it)
{
    ft_walk_free(&it->w);
}

/* Pass 1: nodes per depth inside the window, and the deepest level within
 * the budget. */
static int
choose_depth(const ft_tree *t, const range *r, uint32_t nr, const ft_view *v, size_t budget,
             size_t *depth_out, size_t *left)
{
    uint64_t *count = NULL; /* owned: nodes per depth */
    size_t cap = 0, deepest = 0, i, d;
    window it;
    int rc;
    window_begin(&it, t, r, nr, v->root >= 0, v->from, v->from + v->shown);
    while ((rc = window_next(&it, &i, &d)) > 0) {
        if (FT_GROW(count, cap, d + 1, 64) < 0) {
            PyErr_NoMemory();
            rc = -1;
            break;
        }
        while (deepest <= d) {
            count[deepest++] = 0;
        }
        count[d]++;
    }
    window_free(&it);
    if (rc < 0) {
        PyMem_RawFree(count);
        return -1;
    }
    size_t held = 0, depth = 0;
    for (size_t k = 0; k < deepest; k++) {
        if (held + count[k] > budget) {
            break;
        }
        held += count[k];
        depth = k;
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
           ft_view *v)
{
    size_t cap = 0, i, du;
    int64_t front = -1; /* position of the last held node, if frontier */
    int opened = 0;     /* the open node at maxd has its children held */
    window it;
    int rc;
    window_begin(&it, t, r, nr, v->root >= 0, v->from, v->from + v->shown);
    while ((rc = window_next(&it, &i, &du)) > 0) {
        const ft_node *nd = &t->nodes[i];
        if (du > maxd + 1 || (du == maxd + 1 && !opened)) {
            if (front >= 0 && ft_node_is_activation(nd)) {
                v->below[front]++;
            }
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
            PyErr_NoMemory();
            rc = -1;
            break;
        }
        front = frontier ? (int64_t)v->n - 1 : -1;
    }
    window_free(&it);
    if (rc < 0) {
        return -1;
    }
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
}

/* How many nodes the window level has (the root's children, or the top
 * level of every thread). */
static size_t
window_level_size(const ft_tree *t, int64_t root, const range *r, uint32_t nr)
{
    if (root >= 0) {
        return t->nodes[root].nchildren;
    }
    size_t n = 0;
    for (uint32_t k = 0; k < nr; k++) {
        for (size_t i = r[k].first; i < r[k].last; i++) {
            n += t->nodes[i].parent < 0;
        }
    }
    return n;
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
ft_view_select(const ft_tree *t, int64_t root, size_t from, size_t budget, ft_view *v)
{
    memset(v, 0, sizeof(*v));
    v->root = root;
    if (root >= (int64_t)t->nnodes || root < -1) {
        PyErr_Format(PyExc_ValueError, "no node %lld in a trace of %zu nodes", (long long)root,
                     t->nnodes);
        return -1;
    }
    if (budget < 2) {
        budget = 2;
    }
    uint32_t nr = 0;
    range *r = PyMem_RawMalloc(((size_t)t->nthreads + 1) * sizeof(range));
    v->thread_first = PyMem_RawMalloc(((size_t)t->nthreads + 1) * sizeof(size_t));
    if (r == NULL || v->thread_first == NULL) {
        PyMem_RawFree(r);
        PyErr_NoMemory();
        return -1;
    }
    view_ranges(t, root, r, &nr);
    for (uint32_t k = 0; k < nr; k++) {
        v->total += r[k].last - r[k].first;
    }
    /* the window: a page of the window level when it alone passes the
     * budget (the root takes one place of it) */
    v->siblings = window_level_size(t, root, r, nr);
    v->from = from < v->siblings ? from : (v->siblings ? v->siblings - 1 : 0);
    size_t room = budget - (root >= 0);
    v->shown = v->siblings - v->from < room ? v->siblings - v->from : room;
    size_t maxd = 0, left = 0;
    int rc = -1;
    if (choose_depth(t, r, nr, v, budget, &maxd, &left) == 0 &&
        hold_nodes(t, r, nr, maxd, left, v) == 0 && root_path(t, root, v) == 0) {
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
