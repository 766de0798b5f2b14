/* walk.c - the pre-order walk of a thread's nodes (see walk.h). */
#include "tree/walk.h"

#include "common/growable.h"

void
ft_walk_begin(ft_walk *w, const ft_node *nodes, size_t first, size_t last)
{
    w->nodes = nodes;
    w->next = first;
    w->last = last;
    w->depth = 0;
}

static int
push(ft_walk *w, size_t i)
{
    if (FT_GROW(w->open, w->cap, w->depth + 1, 64) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    w->open[w->depth++] = (int64_t)i;
    return 0;
}

int
ft_walk_next(ft_walk *w, ft_walk_step *s)
{
    if (w->next < w->last) {
        int64_t parent = w->nodes[w->next].parent;
        if (w->depth > 0 && w->open[w->depth - 1] != parent) {
            w->depth--; /* not an ancestor of the next node: left */
            s->event = FT_WALK_LEAVE;
            s->node = (size_t)w->open[w->depth];
            s->depth = w->depth;
            return 1;
        }
        s->event = FT_WALK_ENTER;
        s->node = w->next;
        s->depth = w->depth;
        if (push(w, w->next) < 0) {
            return -1;
        }
        w->next++;
        return 1;
    }
    if (w->depth > 0) { /* the range is over: what is open is left */
        w->depth--;
        s->event = FT_WALK_LEAVE;
        s->node = (size_t)w->open[w->depth];
        s->depth = w->depth;
        return 1;
    }
    return 0;
}

Py_ssize_t
ft_walk_enter(ft_walk *w, size_t i)
{
    int64_t parent = w->nodes[i].parent;
    while (w->depth > 0 && w->open[w->depth - 1] != parent) {
        w->depth--;
    }
    Py_ssize_t depth = (Py_ssize_t)w->depth;
    if (push(w, i) < 0) {
        return -1;
    }
    w->next = i + 1;
    if (w->last < w->next) {
        w->last = w->next;
    }
    return depth;
}

void
ft_walk_free(ft_walk *w)
{
    PyMem_RawFree(w->open);
    w->open = NULL;
    w->cap = w->depth = 0;
}
