/* viewer_search.h - search a whole tree for the served viewer: the calls
 * whose function name, arguments or outcome (result, or exception text)
 * contain a text, case-insensitively. */
#ifndef FLOWTRACE_VIEWER_SEARCH_H
#define FLOWTRACE_VIEWER_SEARCH_H

#include "tree/tree.h"

/* The ids of the first `limit` matching nodes (a new list of int) and, in
 * *total, how many match in all; NULL with an exception. `needle` is a
 * str, already lower-cased by the caller. Each distinct value text is
 * lower-cased and tested once (a map from (thread, payload) to the
 * answer); each function name once. */
PyObject *ft_viewer_search(const ft_tree *t, PyObject *needle, size_t limit, size_t *total);

#endif
