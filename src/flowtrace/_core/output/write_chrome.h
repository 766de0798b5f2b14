/* write_chrome.h - a trace as Chrome Trace Event JSON. */
#ifndef FLOWTRACE_WRITE_CHROME_H
#define FLOWTRACE_WRITE_CHROME_H

#include "tree/tree.h"

typedef struct {
    int binary;             /* file.write takes bytes */
    long pid;               /* "pid" of every event */
    PyObject *process_name; /* borrowed str or NULL: process_name metadata */
    PyObject *meta;         /* borrowed str (a JSON object) or NULL: merged
                               into "otherData" as "meta" */
} ft_chrome_opts;

/* Stream `t` to `file`. 0, or -1 with an exception. */
int ft_write_chrome(const ft_tree *t, PyObject *file, const ft_chrome_opts *o);

#endif
