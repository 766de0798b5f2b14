/* viewer_search.h - search a whole tree for the served viewer: the calls
 * whose function name, arguments or outcome (result, or exception text)
 * contain a text, case-insensitively. */
#ifndef FLOWTRACE_VIEWER_SEARCH_H
#define FLOWTRACE_VIEWER_SEARCH_H

#include "tree/tree.h"

/* The ids of the first `limit` matching nodes (a new list of int) and, in
 * *total, how many match in all (with `count`; without, the scan stops
 * at the `limit`-th match and *total is how many were found); NULL with
 * an exception. `needle` is a str, already lower-cased by the caller.
 * Each distinct value text is lower-cased and tested once (the answer
 * kept beside each entry of the thread's value store); each function
 * name once. */
PyObject *ft_viewer_search(const ft_tree *t, PyObject *needle, size_t limit, int count,
                           size_t *total);

#endif
