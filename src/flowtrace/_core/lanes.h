/* lanes.h - asyncio tasks as lanes of the tree.
 *
 * The event loop runs a few steps of one task, then of another: in time
 * order their calls interleave at the top of the thread. Each task gets a
 * lane root node (FT_NODE_TASK) under which its steps are placed; this file
 * then lays each thread's nodes out again so that every lane (and every
 * other root) is followed by its own subtree: the pre-order the writers
 * walk. Within a lane the steps keep their order.
 */
#ifndef FLOWTRACE_LANES_H
#define FLOWTRACE_LANES_H

#include "trace.h"

/* Reorder each thread's nodes by top-level ancestor (stable), remapping
 * parent and origin indices. Replaces *nodes. 0, or -1 on memory failure. */
int ft_regroup_by_root(ft_node **nodes, size_t n, const size_t *first, uint32_t nthreads);

#endif
