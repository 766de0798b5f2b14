/* stats.h - per-function counts and times of a trace. */
#ifndef FLOWTRACE_STATS_H
#define FLOWTRACE_STATS_H

#include "tree/tree.h"

/* List of (name, module, file, line, calls, resumes, raised, total_s,
 * self_s), one per function that has activations (calls, resumptions),
 * in the order of each one's first activation in the tree (pre-order,
 * thread by thread): the same for a recorded trace and its saved copy.
 * total_s / self_s are None unless every finished activation is timed
 * (frames that began before tracing aside). Markers and task lanes are
 * not activations. New reference, or NULL with an exception. */
PyObject *ft_stats(const ft_tree *t);

#endif
