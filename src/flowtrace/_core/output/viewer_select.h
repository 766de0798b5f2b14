/* viewer_select.h - the part of a big tree one page of the served viewer
 * holds (flowtrace view --serve): a subtree, level by level from its top,
 * as deep as a budget of nodes allows.
 *
 * The view of node `root` (or of every thread, root -1) holds every node
 * of that subtree down to depth D, the deepest level that keeps the count
 * within the budget, then the children of the first nodes at depth D (all
 * of a node's children or none) while the budget lasts; a held node whose
 * children are not held is a frontier node, and the page shows how many calls are below it and
 * opens the view of that node when asked. When the root's children (or,
 * without a root, the top level) alone pass the budget, the view holds a
 * page of them: `shown` of the `siblings`, from the `from`-th, each with
 * what fits below it. Two passes over the subtree, no memory per node
 * beyond the held ones: what the engine holds stays what it was.
 */
#ifndef FLOWTRACE_VIEWER_SELECT_H
#define FLOWTRACE_VIEWER_SELECT_H

#include "tree/tree.h"

typedef struct {
    size_t *node;         /* owned (PyMem_Raw): held nodes, ascending */
    uint32_t *depth;      /* owned: depth of each, 0 for the view's top level */
    uint64_t *below;      /* owned: activations below a frontier node, else 0 */
    uint8_t *frontier;    /* owned: 1 when its children are not held */
    size_t n;             /* held nodes */
    size_t *thread_first; /* owned: nthreads + 1 positions in `node` */
    int64_t *path;        /* owned: ancestors of root, outermost first */
    size_t npath;         /* length of path */
    int64_t root;         /* the view's node, -1 for every thread */
    size_t total;         /* nodes in the subtree, held or not */
    size_t siblings;      /* nodes of the window level: the root's children,
                             or the top level without a root */
    size_t from, shown;   /* the page of them held: [from, from + shown) */
} ft_view;

/* Choose the nodes of the view of `root` within `budget` nodes (>= 2),
 * the window level's page starting at its `from`-th node. 0, or -1 with
 * an exception (ValueError for a root out of range). */
int ft_view_select(const ft_tree *t, int64_t root, size_t from, size_t budget, ft_view *v);

/* The position of node `i` among the held nodes, or -1. */
int64_t ft_view_position(const ft_view *v, size_t i);

/* Is the node an activation (a call, resumption or throw)? */
static inline int
ft_node_is_activation(const ft_node *nd)
{
    return nd->kind <= FT_NODE_THROW;
}

void ft_view_free(ft_view *v);

#endif
