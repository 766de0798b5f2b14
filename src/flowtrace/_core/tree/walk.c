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
    w->pull = NULL;
}

int
ft_walk_thread_pull(ft_walk *w, const ft_tree *t, uint32_t thread)
{
    size_t first, last;
    if (ft_tree_thread_start(t, thread, &first) < 0 ||
        ft_tree_walkable(t, thread, first, &last) < 0) {
        return -1;
    }
    ft_walk_begin(w, t->nodes, first, last);
    w->pull = t->lazy != NULL ? t : NULL; /* built further as the walk goes */
    w->thread = thread;
    return 0;
}

int
ft_walk_pull_(ft_walk *w)
{
    return ft_tree_walkable(w->pull, w->thread, w->next, &w->last);
}

int
ft_walk_grow_(ft_walk *w)
{
    if (FT_GROW(w->open, w->cap, w->depth + 1, 64) < 0) {
        PyErr_NoMemory();
        return -1;
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
    if (w->depth == w->cap && ft_walk_grow_(w) < 0) {
        return -1;
    }
    w->open[w->depth++] = (int64_t)i;
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
