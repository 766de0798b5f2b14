/* lanes.h - asyncio tasks as lanes of the tree.
 *
 * The event loop runs a few steps of one task, then of another: in time
 * order their calls interleave at the top of the thread. Each task gets a
 * lane root node (FT_NODE_TASK), a child of the frame that runs the event
 * loop, under which its steps are placed; this file then lays each
 * thread's nodes out again in pre-order (every node followed by its whole
 * subtree, children in time order): what the writers walk.
 */
#ifndef FLOWTRACE_LANES_H
#define FLOWTRACE_LANES_H

#include "tree/tree.h"

/* Reorder the nodes of each thread that has a lane in pre-order, children
 * in index order, in place, remapping parent and origin indices of every
 * node; `spans` (NULL, or one per node) move with their nodes. 0, or -1
 * on memory failure (the nodes are then unchanged). */
int ft_regroup_by_root(ft_node *nodes, ft_span *spans, size_t n, const size_t *first,
                       uint32_t nthreads);

/* The same for nodes [lo, hi) only: whole subtrees (the nodes under the
 * frame that ran an event loop, once it returned), referred to from
 * outside by nothing but what the caller remaps with *map_out (owned, to
 * PyMem_RawFree: node lo + k moved to map[k]). 0, or -1 on memory failure
 * (nothing changed). */
int ft_regroup_range(ft_node *nodes, ft_span *spans, size_t lo, size_t hi, uint32_t **map_out);

#endif
