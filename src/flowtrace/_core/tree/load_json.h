/* load_json.h - rebuild a Trace from a parsed FlowTrace JSON document. */
#ifndef FLOWTRACE_LOAD_JSON_H
#define FLOWTRACE_LOAD_JSON_H

#include "python/trace.h"

/* `functions`, `threads`, `calls`: the document's lists (of dicts, as the
 * json module makes them). New Trace, or NULL with ValueError naming the
 * first bad field ("calls[12].parent: ..."). */
PyObject *ft_trace_from_saved(PyTypeObject *type, PyObject *functions, PyObject *threads,
                              PyObject *calls, int results);

#endif
