/* filter.h - which code is traced: the verdict of a code object, decided
 * once, at its first event (ft_filter_decide), and the include/exclude
 * patterns that take part in it.
 *
 * The precedence rule (ft_filter_decide):
 *   1. FlowTrace's own code: never traced;
 *   2. @trace-decorated functions: always traced;
 *   3. an exclude pattern matches: not traced;
 *   4. include patterns given: traced if one matches (even the stdlib);
 *   5. otherwise the default: user code, not the stdlib or site-packages
 *      (unless include_stdlib). Code compiled from a string ("<string>")
 *      belongs to whoever created it (origin.h), or to the module it runs
 *      in: a library's generated functions are the library's.
 *
 * Patterns. A pattern is one of two kinds, told apart by its text:
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
#include <stdint.h>

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

/* --- the verdict ---------------------------------------------------- */

/* Flags of a code object's verdict. The code table (codetable.h) packs
 * them with the code's id (bits 0-25, FT_CODE_ID_MASK) in one uint32. */
#define FT_CODE_GEN (1u << 26)      /* generator, coroutine, async generator */
#define FT_CODE_EXCLUDED (1u << 27) /* not traced: DISABLE its events */
#define FT_CODE_FULLREPR (1u << 28) /* @trace: full reprs of its values */
#define FT_CODE_TIMED (1u << 29)    /* @trace(measure_time=True) */
#define FT_CODE_CORO (1u << 30)     /* a coroutine or async generator: its
                                       entries may start an asyncio task's
                                       step */
#define FT_CODE_TASKHOOK (1u << 31) /* asyncio's BaseEventLoop.create_task:
                                       never disabled, its return value is
                                       the new task */
#define FT_CODE_FLAGS                                                                          \
    (FT_CODE_GEN | FT_CODE_EXCLUDED | FT_CODE_FULLREPR | FT_CODE_TIMED | FT_CODE_CORO |      \
     FT_CODE_TASKHOOK)

/* What decides the verdict of a code object: set at session start. */
typedef struct {
    PyObject *exclude_prefixes; /* owned: tuple of str, path prefixes */
    PyObject *decorated;        /* owned: dict code -> (FT_CODE_* flags, module
                                   name or None) of @trace functions */
    int include_stdlib;         /* 1: stdlib/site-packages are traced */
    PyObject *always_excluded;  /* owned: tuple of str, FlowTrace's own dir */
    ft_patterns include;        /* owned: when not empty, only matching code
                                   is traced (stdlib too) */
    ft_patterns exclude;        /* owned: matching code is never traced */
} ft_filter;

/* The FT_CODE_* flags of a code object, by the precedence rule above; the
 * kind flags (GEN, CORO, TASKHOOK) are set whether traced or not. Runs no
 * user code: string comparisons, glob matching, and dict lookups keyed by
 * the code object or by str. Never raises.
 *
 * *module_out: for traced code, a new reference to the name of the module
 * it runs in (its globals' __name__, read from the frame being started:
 * call it from a PY_START/PY_RESUME callback of that code; from elsewhere
 * only a decorated function's recorded module is known), or NULL; always
 * NULL for excluded code. */
uint32_t ft_filter_decide(const ft_filter *f, PyObject *code, PyObject **module_out);

/* Release what the filter holds; it is then empty. */
void ft_filter_clear(ft_filter *f);

#endif
