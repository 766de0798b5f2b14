/* write_ftrace.h - a recording as a .ftrace file (docs/ftrace-format.md). */
#ifndef FLOWTRACE_WRITE_FTRACE_H
#define FLOWTRACE_WRITE_FTRACE_H

#include "tree/tree.h"

/* Stream the records and tables of `t` to `file` (.write(bytes)). A tree
 * rebuilt from CallEvents or JSON has no records: ValueError. 0 or -1. */
int ft_write_ftrace(const ft_tree *t, PyObject *file);

#endif
