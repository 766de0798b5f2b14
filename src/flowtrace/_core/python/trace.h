/* trace.h - flowtrace._core.Trace, the Python type over a call tree.
 *
 * It holds an ft_tree (tree/tree.h) and only dispatches: its sequence
 * protocol gives one Event per node (a struct sequence whose fields are
 * named as CallEvent's, flowtrace/model.py, which is made from it by
 * name), its methods call the writers of output/.
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

/* flowtrace._core.Event, made once per module (module.c keeps it in the
 * state). New reference, or NULL with an exception. */
PyTypeObject *ft_event_type_new(void);

#endif
