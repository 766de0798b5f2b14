/* stats.h - per-function counts and times of a trace. */
#ifndef FLOWTRACE_STATS_H
#define FLOWTRACE_STATS_H

#include "trace.h"

/* List of (name, module, file, line, calls, resumes, raised, total_s,
 * self_s), one per function that has nodes, in code-id order (the caller
 * sorts). total_s / self_s are None unless every finished node is timed.
 * New reference, or NULL with an exception. */
PyObject *ft_trace_stats(ft_trace *t);

#endif
