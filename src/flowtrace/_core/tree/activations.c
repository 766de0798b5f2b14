/* activations.c - calls as a timeline shows them (tree.h): a call with
 * all its segments, from its start to the end of its last segment, and
 * the selection of those that lasted long enough.
 *
 * A plain call is one node. A generator or coroutine is its call node
 * (the first segment) and the resumptions whose origin is that node; its
 * time runs from the call's start to the latest end among them, the time
 * it spent suspended included (an awaited sleep is part of the request).
 * Nesting follows the nodes: the enclosing activation of a node is the
 * activation of its parent node (a resumption stands for the call it
 * resumes), or the next one up when that one is not selected.
 */
#include "tree/tree.h"

#include <string.h>

/* The activation a node belongs to: its own index for a call, the call it
 * resumes for a resumption (-1 when that began before the trace), -1 for
 * markers and task lanes. */
static int64_t
activation_of(const ft_node *nodes, size_t i)
{
    const ft_node *nd = &nodes[i];
    switch (nd->kind) {
    case FT_NODE_CALL:
        return (int64_t)i;
    case FT_NODE_RESUME:
    case FT_NODE_THROW:
        return nd->origin;
    default:
        return -1;
    }
}

/* Fill up[i] (the nearest selected activation at or above node i) and
 * lane[i] (its task lane) for i and the ancestors not done yet: an
 * explicit walk up, then down again (no recursion: a tree can be deep).
 * `stack` has room for every node. */
static void
resolve(const ft_node *nodes, size_t i, const uint8_t *selected, int64_t *up, int64_t *lane,
        uint8_t *done, size_t *stack)
{
    size_t sp = 0;
    int64_t j = (int64_t)i;
    while (j >= 0 && !done[j]) {
        stack[sp++] = (size_t)j;
        j = nodes[j].parent;
    }
    while (sp > 0) {
        size_t k = stack[--sp];
        int64_t p = nodes[k].parent;
        int64_t a = activation_of(nodes, k);
        if (a >= 0 && selected[a]) {
            up[k] = a;
        }
        else {
            up[k] = p >= 0 ? up[p] : -1;
        }
        lane[k] = nodes[k].kind == FT_NODE_TASK ? (int64_t)k : p >= 0 ? lane[p] : -1;
        done[k] = 1;
    }
}

int
ft_tree_activations(const ft_tree *t, uint64_t min_ns, ft_activation **out, size_t *nout)
{
    size_t n = t->nnodes;
    *out = NULL;
    *nout = 0;
    if (n == 0 || !t->cfg.timing) {
        return 0;
    }
    const ft_node *nodes = t->nodes;
    int64_t *last = PyMem_RawMalloc(n * sizeof(int64_t));
    uint64_t *end = PyMem_RawMalloc(n * sizeof(uint64_t));
    uint8_t *flags = PyMem_RawCalloc(n, 2); /* [0, n): selected; [n, 2n): done */
    int64_t *up = PyMem_RawMalloc(n * sizeof(int64_t));
    int64_t *lane = PyMem_RawMalloc(n * sizeof(int64_t));
    size_t *stack = PyMem_RawMalloc(n * sizeof(size_t));
    ft_activation *sel = NULL;
    int rc = -1;
    if (last == NULL || end == NULL || flags == NULL || up == NULL || lane == NULL ||
        stack == NULL) {
        goto done;
    }
    uint8_t *selected = flags, *resolved = flags + n;
    /* each activation's last segment; one still running (unfinished) or
     * untimed makes the whole activation unknown (last = -2) */
    for (size_t i = 0; i < n; i++) {
        last[i] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t a = activation_of(nodes, i);
        if (a < 0 || last[a] == -2) {
            continue;
        }
        const ft_node *nd = &nodes[i];
        if (!nd->timed || nd->end == FT_END_UNFINISHED || (nd->flags & FT_NF_BEGAN_BEFORE)) {
            last[a] = -2;
        }
        else if (last[a] < 0 || ft_node_t1(t, nd) >= end[a]) {
            last[a] = (int64_t)i;
            end[a] = ft_node_t1(t, nd);
        }
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = ft_node_t0(t, &nodes[i]);
        if (nodes[i].kind == FT_NODE_CALL && last[i] >= 0 && end[i] >= t0 &&
            end[i] - t0 >= min_ns) {
            selected[i] = 1;
            count++;
        }
    }
    sel = PyMem_RawMalloc((count ? count : 1) * sizeof(ft_activation));
    if (sel == NULL) {
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!selected[i]) {
            continue;
        }
        resolve(nodes, i, selected, up, lane, resolved, stack);
        int64_t p = nodes[i].parent;
        sel[k].call = i;
        sel[k].last = (size_t)last[i];
        sel[k].parent = p >= 0 ? up[p] : -1;
        sel[k].lane = lane[i];
        sel[k].t0 = ft_node_t0(t, &nodes[i]);
        sel[k].t1 = end[i];
        k++;
    }
    *out = sel;
    *nout = k;
    sel = NULL;
    rc = 0;
done:
    PyMem_RawFree(last);
    PyMem_RawFree(end);
    PyMem_RawFree(flags);
    PyMem_RawFree(up);
    PyMem_RawFree(lane);
    PyMem_RawFree(stack);
    PyMem_RawFree(sel);
    if (rc < 0) {
        PyErr_NoMemory();
    }
    return rc;
}
