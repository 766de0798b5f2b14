/* stats.c - per-function summary of a trace, in one pass over its nodes.
 *
 * Only activations of a function count: calls, resumptions and throws.
 * Exception markers (raise / reraise / handled) and task lanes are not
 * calls: they add to no row. A task lane's steps count as the coroutine's
 * activations; their time is taken from the self time of the frame that
 * runs the event loop (the lane's parent), as any callee's would be.
 *
 * - calls: nodes that are calls (a generator's later resumptions are
 *   counted apart, as resumes); raised: activations that ended by an
 *   exception (an exception raised and caught inside the function is a
 *   marker, not counted).
 * - total: time inside the function, counting each outermost activation
 *   once: a recursive call's time is already in its caller's (as
 *   cProfile's cumtime). Resumptions of a generator add their own time.
 * - self: total minus the time of the direct children of each node.
 * - times are given when every finished activation is timed, except the
 *   frames that began before tracing (their start was never seen).
 *
 * Memory: one row per function and the walk's stack (tree/walk.h), as
 * deep as the tree.
 */
#include "output/stats.h"

#include "tree/walk.h"

typedef struct {
    uint64_t calls, resumes, raised; /* activations: see above */
    uint64_t total_ns;  /* outermost activations only */
    int64_t self_ns;    /* own time: node time minus children's */
    uint32_t active;    /* open nodes of this function (recursion depth) */
    int seen;           /* the function has an activation */
    size_t first;       /* index of its first activation (when seen) */
} row;

/* Rows go out in the order of the functions' first activations in the
 * tree, whatever the code ids (a recorded trace numbers functions as the
 * recorder met them, a loaded one as the file lists them). */
typedef struct {
    size_t first;  /* row.first */
    uint32_t code; /* its code id */
} order_item;

static int
by_first(const void *a, const void *b)
{
    size_t x = ((const order_item *)a)->first, y = ((const order_item *)b)->first;
    return x < y ? -1 : x > y;
}

/* A node that is an activation of its function (it has a row). */
static int
is_activation(const ft_tree *t, const ft_node *nd)
{
    return nd->code_id < t->nnames &&
           (nd->kind == FT_NODE_CALL || nd->kind == FT_NODE_RESUME ||
            nd->kind == FT_NODE_THROW);
}

static int
node_time(const ft_tree *t, const ft_node *nd, uint64_t *ns)
{
    if (!nd->timed || nd->end == FT_END_UNFINISHED) {
        return 0;
    }
    uint64_t t0 = ft_node_t0(t, nd), t1 = ft_node_t1(t, nd);
    *ns = t1 >= t0 ? t1 - t0 : 0;
    return 1;
}

/* Add activation `nd` (being left) to its function's row, and its time to
 * its own and its caller's. -1 when it should have been timed and was not. */
static int
count(const ft_tree *t, row *rows, const ft_node *nd)
{
    row *r = &rows[nd->code_id];
    r->calls += nd->kind == FT_NODE_CALL;
    r->resumes += nd->kind != FT_NODE_CALL;
    r->raised += nd->end == FT_END_RAISE;
    uint64_t ns = 0;
    if (!node_time(t, nd, &ns)) {
        return nd->end != FT_END_UNFINISHED && !(nd->flags & FT_NF_BEGAN_BEFORE) ? -1 : 0;
    }
    if (r->active == 0) {
        r->total_ns += ns; /* outermost activation (active: open ones) */
    }
    r->self_ns += (int64_t)ns;
    /* a task's steps are inside the frame that runs the event loop: not
     * its own time */
    const ft_node *p = nd->parent >= 0 ? &t->nodes[nd->parent] : NULL;
    while (p != NULL && p->kind == FT_NODE_TASK) {
        p = p->parent >= 0 ? &t->nodes[p->parent] : NULL;
    }
    if (p != NULL && is_activation(t, p)) {
        rows[p->code_id].self_ns -= (int64_t)ns;
    }
    return 0;
}

static PyObject *
seconds_or_none(int timed, double ns)
{
    if (!timed) {
        Py_RETURN_NONE;
    }
    return PyFloat_FromDouble(ns / 1e9);
}

PyObject *
ft_stats(const ft_tree *t)
{
    row *rows = PyMem_RawCalloc(t->nnames ? t->nnames : 1, sizeof(row));
    ft_walk walk = {0};
    order_item *order = NULL;
    PyObject *out = NULL;
    if (rows == NULL) {
        return PyErr_NoMemory();
    }
    int timed = ft_tree_nodes_over(t, 0);
    if (timed < 0) {
        PyMem_RawFree(rows);
        return NULL;
    }
    size_t steps = 0;
    for (uint32_t th = 0; th < t->nthreads; th++) {
        ft_walk_step s;
        int r;
        if (ft_walk_thread_pull(&walk, t, th) < 0) {
            goto done;
        }
        while ((r = ft_walk_next(&walk, &s)) > 0) {
            const ft_node *nd = &t->nodes[s.node];
            if (s.event == FT_WALK_ENTER && ++steps % 4096 == 0) {
                /* a lazy tree's walked nodes go back as one is entered (no
                 * node just left is read after it), but for the open ones:
                 * read again as their callees are left */
                ft_tree_give_back(t, walk.next - 1, walk.open, walk.depth);
            }
            if (!is_activation(t, nd)) {
                continue; /* markers, task lanes: no row */
            }
            row *rw = &rows[nd->code_id];
            if (s.event == FT_WALK_ENTER) {
                if (!rw->seen) {
                    rw->seen = 1;
                    rw->first = s.node;
                }
                rw->active++;
                continue;
            }
            /* counted as it is left: closed (a lazy tree's outcome and time
             * are known by then), its open ancestors of the same function
             * still counted in `active` */
            rw->active--;
            if (count(t, rows, nd) < 0) {
                timed = 0;
            }
        }
        if (r < 0) {
            goto done;
        }
    }
    size_t nseen = 0;
    for (uint32_t c = 0; c < t->nnames; c++) {
        nseen += rows[c].seen != 0;
    }
    order = PyMem_RawMalloc((nseen ? nseen : 1) * sizeof(order_item));
    if (order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    nseen = 0;
    for (uint32_t c = 0; c < t->nnames; c++) {
        if (rows[c].seen) {
            order[nseen].first = rows[c].first;
            order[nseen].code = c;
            nseen++;
        }
    }
    qsort(order, nseen, sizeof(order_item), by_first);
    out = PyList_New(0);
    if (out == NULL) {
        goto done;
    }
    for (size_t k = 0; k < nseen; k++) {
        uint32_t c = order[k].code;
        row *r = &rows[c];
        PyObject *name = ft_tree_name(t, c);
        if (name == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyObject *module = ft_tree_module(t, c), *file = ft_tree_file(t, c);
        PyObject *total = seconds_or_none(timed, (double)r->total_ns);
        PyObject *self = seconds_or_none(timed, (double)(r->self_ns > 0 ? r->self_ns : 0));
        PyObject *item = total && self
                             ? Py_BuildValue("(OOOiKKKOO)", name, module ? module : Py_None,
                                             file ? file : Py_None, ft_tree_line(t, c),
                                             (unsigned long long)r->calls,
                                             (unsigned long long)r->resumes,
                                             (unsigned long long)r->raised, total, self)
                             : NULL;
        Py_XDECREF(total);
        Py_XDECREF(self);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(item);
    }
done:
    PyMem_RawFree(order);
    PyMem_RawFree(rows);
    ft_walk_free(&walk);
    return out;
}
