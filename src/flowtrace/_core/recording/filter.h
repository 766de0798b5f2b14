/* filter.h - include/exclude patterns, matched in C once per code object.
 *
 * A pattern is one of two kinds, told apart by its text:
 *
 *   path   contains '/' (or '\\'): a glob over the code's file name.
 *          '*' and '?' stop at '/', a double star crosses directories,
 *          and a double star followed by '/' also matches no directory at
 *          all ("src" "/" DSTAR "/x.py" matches "src/x.py"). The Python
 *          layer makes relative patterns absolute (from the current
 *          directory) before they get here.
 *   name   anything else: a glob over names, where '*' matches anything
 *          (dots too). It matches when it matches any of: the module
 *          ("myapp.models") or one of its parent packages ("myapp"), the
 *          function's name ("save"), its qualified name ("Order.save"),
 *          or module + "." + qualified name ("myapp.models.Order.save").
 *
 * Both kinds know '[abc]', '[a-z]' and '[!abc]'. Matching is on code
 * points, linear in (pattern length x text length): no backtracking, so a
 * hostile pattern cannot make the first sight of a code object slow.
 */
#ifndef FLOWTRACE_FILTER_H
#define FLOWTRACE_FILTER_H

#include <Python.h>

enum { FT_PAT_NAME = 0, FT_PAT_PATH = 1 };

typedef struct {
    PyObject *text; /* owned: the pattern (str) */
    int kind;       /* FT_PAT_* */
} ft_pattern;

typedef struct {
    ft_pattern *items; /* owned array (PyMem_Raw), NULL when empty */
    Py_ssize_t count;  /* used entries of items */
    int need_module;   /* some pattern is a name pattern */
} ft_patterns;

/* Fill `p` (empty) from a tuple of str (or NULL/None: no patterns).
 * 0, or -1 with an exception (TypeError for a non-str). */
int ft_patterns_set(ft_patterns *p, PyObject *tuple);
void ft_patterns_clear(ft_patterns *p);

/* Glob match of `pattern` against `text` (both str), path or name rules.
 * 1 match, 0 no match (also on any internal failure, no exception). */
int ft_glob_match(PyObject *pattern, PyObject *text, int path_mode);

/* Does any pattern of `p` match this code object? `module` (borrowed str
 * or NULL when unknown) is the module the code runs in. Never raises. */
int ft_patterns_match(const ft_patterns *p, PyObject *code, PyObject *module);

#endif
