/* trace.h - flowtrace._core.Trace, the Python type over a call tree.
 *
 * It holds an ft_tree (tree/tree.h) and only dispatches: its sequence
 * protocol gives the event tuples the Python layer wraps in CallEvent, its
 * methods call the writers of output/.
 */
#ifndef FLOWTRACE_PY_TRACE_H
#define FLOWTRACE_PY_TRACE_H

#include <Python.h>

#include "tree/tree.h"

typedef struct {
    PyObject_HEAD
    ft_tree tree;          /* owned: the recording and its nodes */
    PyObject *weakreflist; /* owned: weak references list */
} ft_trace;

/* A Trace of `type` taking `tree` (moved: `tree` is left empty). New
 * reference, or NULL having cleared `tree`. */
PyObject *ft_trace_wrap(PyTypeObject *type, ft_tree *tree);

extern PyType_Spec ft_trace_spec;

#endif
