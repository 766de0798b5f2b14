/* walk.h - the one pre-order walk of a thread's nodes, with each node's
 * depth and the moment it is entered and left.
 *
 * A thread's nodes are stored in pre-order (tree.h): each node follows
 * its parent and its parent's earlier children's subtrees. Walking them
 * needs only the stack of open nodes (the ancestors of the next node):
 * before a node is entered, the open nodes that are not its parent are
 * left, innermost first. A node whose parent is not open (a root, or a
 * parent link the order does not allow) is entered at depth 0.
 *
 *     ft_walk w = {0};
 *     ft_walk_step s;
 *     int r;
 *     ft_walk_thread(&w, t, thread);
 *     while ((r = ft_walk_next(&w, &s)) > 0) {
 *         if (s.event == FT_WALK_ENTER) ... t->nodes[s.node] at s.depth
 *         else ... its subtree is done
 *     }
 *     ft_walk_free(&w);   // r < 0: MemoryError
 *
 * Every node is entered and then left, exception markers and nodes
 * without children included (left just before the next node is entered):
 * a writer that keeps something per open node keeps it in an array
 * indexed by depth. The walk reads `parent` only, never `nchildren`, so
 * the rebuilders use it while they are still counting children
 * (ft_walk_enter, for a walk that does not need the leaving).
 *
 * Used by the text, Chrome and stats writers (output/) and by the
 * rebuilders' checks of the order (from_events.c, load_json.c). The JSON
 * writer lists nodes in storage order and needs no walk.
 */
#ifndef FLOWTRACE_WALK_H
#define FLOWTRACE_WALK_H

#include "tree/tree.h"

enum { FT_WALK_ENTER = 0, FT_WALK_LEAVE = 1 };

typedef struct {
    int event;    /* FT_WALK_ENTER, FT_WALK_LEAVE */
    size_t node;  /* index of the node entered or left */
    size_t depth; /* its depth: 0 for a root of its thread */
} ft_walk_step;

typedef struct {
    const ft_node *nodes; /* borrowed: the nodes walked */
    size_t next;          /* the next node to enter */
    size_t last;          /* end of the range walked: [next, last) to come */
    int64_t *open;        /* owned (PyMem_Raw): the open nodes, outermost
                             first; kept from one range to the next */
    size_t depth;         /* open nodes */
    size_t cap;           /* entries allocated in `open` */
    const ft_tree *pull;  /* borrowed, or NULL: a lazy tree (lazy.c) built
                             further as the walk reaches `last` */
    uint32_t thread;      /* the thread walked, when pulling */
} ft_walk;

/* Walk nodes [first, last) of `nodes` (one thread's). What was open is
 * forgotten, not left. `w` is zeroed before its first use. */
void ft_walk_begin(ft_walk *w, const ft_node *nodes, size_t first, size_t last);

/* The nodes of thread `thread` of a built tree. */
static inline void
ft_walk_thread(ft_walk *w, const ft_tree *t, uint32_t thread)
{
    ft_walk_begin(w, t->nodes, t->thread_first[thread], t->thread_first[thread + 1]);
}

/* The nodes of thread `thread` of a tree built or being built as the walk
 * reads it (ft_tree_build_lazily). 0, or -1 with an exception. */
int ft_walk_thread_pull(ft_walk *w, const ft_tree *t, uint32_t thread);

/* A lazy tree's next nodes (walk.c). 0, or -1 with an exception. */
int ft_walk_pull_(ft_walk *w);

/* Room for one more open node (walk.c). 0, or -1 with MemoryError. */
int ft_walk_grow_(ft_walk *w);

/* The next step: 1 (*s filled), 0 when every node of the range has been
 * entered and left, -1 with MemoryError. Inline: the writers take two
 * steps per node. */
static inline int
ft_walk_next(ft_walk *w, ft_walk_step *s)
{
    if (w->next >= w->last && w->pull != NULL && ft_walk_pull_(w) < 0) {
        return -1;
    }
    if (w->next < w->last &&
        (w->depth == 0 || w->open[w->depth - 1] == w->nodes[w->next].parent)) {
        if (w->depth == w->cap && ft_walk_grow_(w) < 0) {
            return -1;
        }
        s->event = FT_WALK_ENTER;
        s->node = w->next;
        s->depth = w->depth;
        w->open[w->depth++] = (int64_t)w->next++;
        return 1;
    }
    if (w->depth == 0) {
        return 0; /* the range is over, nothing is open */
    }
    /* the top is not the next node's parent (or the range is over): left */
    w->depth--;
    s->event = FT_WALK_LEAVE;
    s->node = (size_t)w->open[w->depth];
    s->depth = w->depth;
    return 1;
}

/* Enter node `i` at once (the next one, for a caller that reads nodes as
 * it walks them): the open nodes that are not its parent are left without
 * a step. Its depth, or -1 with MemoryError. */
Py_ssize_t ft_walk_enter(ft_walk *w, size_t i);

/* Free the stack; `w` can begin again. */
void ft_walk_free(ft_walk *w);

#endif
