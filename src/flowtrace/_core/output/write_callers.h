/* write_callers.h - where matching functions were called from (show
 * --callers): an inverted call graph, merged. */
#ifndef FLOWTRACE_WRITE_CALLERS_H
#define FLOWTRACE_WRITE_CALLERS_H

#include "tree/tree.h"

/* Write to `file` (.write(str)) the callers of every call whose function
 * name matches `pattern` (a glob, borrowed str), merged, at most
 * `max_depth` levels of callers (0: all). 0 or -1. */
int ft_write_callers(const ft_tree *t, PyObject *file, PyObject *pattern, size_t max_depth,
                     int ascii);

#endif
