/* filter.c - the verdict of a code object and the glob patterns it
 * matches, over file names and dotted names (see filter.h).
 *
 * A pattern is cut into tokens, then run as a small NFA over the text: the
 * set of tokens that could come next is kept as a byte per token, so time
 * is (tokens x characters) and memory is (tokens), whatever the pattern.
 */
#include "recording/filter.h"

#include <string.h>

#include "recording/origin.h"

enum { TK_LIT, TK_ANY1, TK_STAR, TK_DSTAR, TK_CLASS };

typedef struct {
    int type;           /* TK_* */
    Py_UCS4 ch;         /* TK_LIT: the character */
    Py_ssize_t lo, hi;  /* TK_CLASS: items are pattern[lo:hi] */
    int negate;         /* TK_CLASS: [!...] */
    int skip_slash;     /* TK_DSTAR followed by '/': may also match nothing
                           at all, that slash included */
} token;

typedef struct {
    int kind;           /* PyUnicode kind of the pattern */
    const void *data;   /* borrowed: the pattern's characters */
    Py_ssize_t len;
} ustr;

static ustr
ustr_of(PyObject *s)
{
    ustr u = {PyUnicode_KIND(s), PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s)};
    return u;
}

#define UCH(u, i) PyUnicode_READ((u).kind, (u).data, (i))

static int
is_sep(Py_UCS4 c)
{
#ifdef _WIN32
    return c == '/' || c == '\\';
#else
    return c == '/';
#endif
}

/* Cut `p` into tokens (array of at least p.len entries). Returns the count. */
static Py_ssize_t
tokenize(ustr p, token *out)
{
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < p.len; i++) {
        Py_UCS4 c = UCH(p, i);
        token t = {0};
        if (c == '*') {
            if (i + 1 < p.len && UCH(p, i + 1) == '*') {
                t.type = TK_DSTAR;
                while (i + 1 < p.len && UCH(p, i + 1) == '*') {
                    i++;
                }
                t.skip_slash = i + 1 < p.len && is_sep(UCH(p, i + 1));
            }
            else {
                t.type = TK_STAR;
            }
            /* "***" and "* *" collapse: two stars in a row add nothing */
            if (n > 0 && out[n - 1].type == TK_STAR && t.type == TK_STAR) {
                continue;
            }
        }
        else if (c == '?') {
            t.type = TK_ANY1;
        }
        else if (c == '[') {
            Py_ssize_t j = i + 1;
            int negate = 0;
            if (j < p.len && UCH(p, j) == '!') {
                negate = 1;
                j++;
            }
            Py_ssize_t lo = j;
            if (j < p.len && UCH(p, j) == ']') {
                j++; /* a leading ']' is a member */
            }
            while (j < p.len && UCH(p, j) != ']') {
                j++;
            }
            if (j >= p.len) {
                t.type = TK_LIT; /* no closing bracket: a plain '[' */
                t.ch = c;
            }
            else {
                t.type = TK_CLASS;
                t.lo = lo;
                t.hi = j;
                t.negate = negate;
                i = j;
            }
        }
        else {
            t.type = TK_LIT;
            t.ch = c;
        }
        out[n++] = t;
    }
    return n;
}

static int
class_match(ustr p, const token *t, Py_UCS4 c)
{
    int in = 0;
    for (Py_ssize_t j = t->lo; j < t->hi && !in; j++) {
        Py_UCS4 a = UCH(p, j);
        if (j + 2 < t->hi && UCH(p, j + 1) == '-') {
            Py_UCS4 b = UCH(p, j + 2);
            in = a <= c && c <= b;
            j += 2;
        }
        else {
            in = a == c;
        }
    }
    return in != t->negate;
}

/* Add the states reachable without consuming a character. */
static void
closure(const token *tk, Py_ssize_t m, unsigned char *st)
{
    for (Py_ssize_t i = 0; i < m; i++) {
        if (!st[i]) {
            continue;
        }
        if (tk[i].type == TK_STAR || tk[i].type == TK_DSTAR) {
            st[i + 1] = 1;
            if (tk[i].skip_slash && i + 2 <= m) {
                st[i + 2] = 1;
            }
        }
    }
}

/* Match tokens against text[0:tlen]. `work` has room for 2 * (m + 1). */
static int
run(ustr p, const token *tk, Py_ssize_t m, ustr text, Py_ssize_t tlen, int path_mode,
    unsigned char *work)
{
    unsigned char *cur = work, *nxt = work + m + 1;
    memset(cur, 0, (size_t)m + 1);
    cur[0] = 1;
    closure(tk, m, cur);
    for (Py_ssize_t k = 0; k < tlen; k++) {
        Py_UCS4 c = UCH(text, k);
        int sep = path_mode && is_sep(c);
        int alive = 0;
        memset(nxt, 0, (size_t)m + 1);
        for (Py_ssize_t i = 0; i < m; i++) {
            if (!cur[i]) {
                continue;
            }
            const token *t = &tk[i];
            switch (t->type) {
            case TK_STAR:
                if (!sep) {
                    nxt[i] = alive = 1;
                }
                break;
            case TK_DSTAR:
                nxt[i] = alive = 1;
                break;
            case TK_ANY1:
                if (!sep) {
                    nxt[i + 1] = alive = 1;
                }
                break;
            case TK_LIT:
                if (t->ch == c || (sep && is_sep(t->ch))) {
                    nxt[i + 1] = alive = 1;
                }
                break;
            default: /* TK_CLASS */
                if (!sep && class_match(p, t, c)) {
                    nxt[i + 1] = alive = 1;
                }
                break;
            }
        }
        if (!alive) {
            return 0;
        }
        closure(tk, m, nxt);
        unsigned char *tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    return cur[m];
}

typedef struct {
    ustr p;               /* the pattern */
    token *tk;            /* owned (or the stack buffer below) */
    Py_ssize_t m;         /* number of tokens */
    unsigned char *work;  /* owned (or the stack buffer below) */
    token tk_small[64];
    unsigned char work_small[2 * 65];
} compiled;

static int
compile(compiled *c, PyObject *pattern)
{
    c->p = ustr_of(pattern);
    c->tk = c->tk_small;
    c->work = c->work_small;
    if (c->p.len > 64) {
        c->tk = PyMem_RawMalloc((size_t)c->p.len * sizeof(token));
        c->work = PyMem_RawMalloc(2 * ((size_t)c->p.len + 1));
        if (c->tk == NULL || c->work == NULL) {
            return -1;
        }
    }
    c->m = tokenize(c->p, c->tk);
    return 0;
}

static void
release(compiled *c)
{
    if (c->tk != c->tk_small) {
        PyMem_RawFree(c->tk);
    }
    if (c->work != c->work_small) {
        PyMem_RawFree(c->work);
    }
}

int
ft_glob_match(PyObject *pattern, PyObject *text, int path_mode)
{
    if (!PyUnicode_Check(pattern) || !PyUnicode_Check(text)) {
        return 0;
    }
    compiled c;
    int r = 0;
    if (compile(&c, pattern) == 0) {
        ustr t = ustr_of(text);
        r = run(c.p, c.tk, c.m, t, t.len, path_mode, c.work);
    }
    release(&c);
    return r;
}

/* A name pattern against the module, each of its parent packages, the
 * function's name, its qualified name, and module.qualname. */
static int
match_name(compiled *c, PyObject *code, PyObject *module)
{
    PyCodeObject *co = (PyCodeObject *)code;
    if (module != NULL && PyUnicode_Check(module)) {
        ustr mu = ustr_of(module);
        for (Py_ssize_t k = 1; k <= mu.len; k++) {
            if ((k == mu.len || UCH(mu, k) == '.') &&
                run(c->p, c->tk, c->m, mu, k, 0, c->work)) {
                return 1;
            }
        }
    }
    PyObject *names[2] = {co->co_name, co->co_qualname};
    for (int i = 0; i < 2; i++) {
        if (names[i] != NULL && PyUnicode_Check(names[i])) {
            ustr u = ustr_of(names[i]);
            if (run(c->p, c->tk, c->m, u, u.len, 0, c->work)) {
                return 1;
            }
        }
    }
    if (module != NULL && PyUnicode_Check(module) && PyUnicode_Check(co->co_qualname)) {
        PyObject *full = PyUnicode_FromFormat("%U.%U", module, co->co_qualname);
        if (full == NULL) {
            PyErr_Clear();
            return 0;
        }
        ustr u = ustr_of(full);
        int r = run(c->p, c->tk, c->m, u, u.len, 0, c->work);
        Py_DECREF(full);
        return r;
    }
    return 0;
}

int
ft_patterns_match(const ft_patterns *p, PyObject *code, PyObject *module)
{
    PyObject *filename = ((PyCodeObject *)code)->co_filename;
    for (Py_ssize_t i = 0; i < p->count; i++) {
        compiled c;
        int r = 0;
        if (compile(&c, p->items[i].text) == 0) {
            if (p->items[i].kind == FT_PAT_PATH) {
                if (PyUnicode_Check(filename)) {
                    ustr t = ustr_of(filename);
                    r = run(c.p, c.tk, c.m, t, t.len, 1, c.work);
                }
            }
            else {
                r = match_name(&c, code, module);
            }
        }
        release(&c);
        if (r) {
            return 1;
        }
    }
    return 0;
}

int
ft_patterns_set(ft_patterns *p, PyObject *tuple)
{
    memset(p, 0, sizeof(*p));
    if (tuple == NULL || tuple == Py_None) {
        return 0;
    }
    if (!PyTuple_Check(tuple)) {
        PyErr_SetString(PyExc_TypeError, "patterns must be a tuple of str");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n == 0) {
        return 0;
    }
    p->items = PyMem_RawCalloc((size_t)n, sizeof(ft_pattern));
    if (p->items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(tuple, i);
        if (!PyUnicode_Check(s)) {
            PyErr_Format(PyExc_TypeError, "a pattern must be str, not %.200s", Py_TYPE(s)->tp_name);
            ft_patterns_clear(p);
            return -1;
        }
        int path = 0;
        ustr u = ustr_of(s);
        for (Py_ssize_t k = 0; k < u.len && !path; k++) {
            path = UCH(u, k) == '/' || UCH(u, k) == '\\';
        }
        p->items[i].text = Py_NewRef(s);
        p->items[i].kind = path ? FT_PAT_PATH : FT_PAT_NAME;
        p->need_module |= !path;
        p->count = i + 1;
    }
    return 0;
}

void
ft_patterns_clear(ft_patterns *p)
{
    for (Py_ssize_t i = 0; i < p->count; i++) {
        Py_XDECREF(p->items[i].text);
    }
    PyMem_RawFree(p->items);
    memset(p, 0, sizeof(*p));
}

/* --- the verdict ---------------------------------------------------- */

static int
has_prefix(PyObject *filename, PyObject *prefixes)
{
    if (prefixes == NULL) {
        return 0;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(prefixes);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyTuple_GET_ITEM(prefixes, i);
        Py_ssize_t r = PyUnicode_Tailmatch(filename, p, 0, PY_SSIZE_T_MAX, -1);
        if (r == 1) {
            return 1;
        }
        if (r < 0) {
            PyErr_Clear();
        }
    }
    return 0;
}

/* What decide() knows of a code object's module: read from the frame being
 * started, at most once, and only when something needs it. */
typedef struct {
    PyObject *code;   /* borrowed: the code object being decided */
    PyObject *module; /* owned or NULL: its globals' __name__ (a str) */
    int tried;        /* the frame was looked at */
} module_probe;

/* The callee's frame is the current frame inside a PY_START/PY_RESUME
 * callback; outside one (the @trace wrapper announcing a call) it is the
 * caller's, and the module stays unknown. */
static PyObject *
probe_module(module_probe *m)
{
    if (m->tried) {
        return m->module;
    }
    m->tried = 1;
    PyFrameObject *f = PyEval_GetFrame(); /* borrowed */
    if (f == NULL) {
        return NULL;
    }
    PyCodeObject *fc = PyFrame_GetCode(f);
    int ours = (PyObject *)fc == m->code;
    Py_DECREF(fc);
    if (!ours) {
        return NULL;
    }
    PyObject *globals = PyFrame_GetGlobals(f);
    PyObject *name = globals && PyDict_Check(globals)
                         ? PyDict_GetItemString(globals, "__name__") /* borrowed */
                         : NULL;
    if (name != NULL && PyUnicode_Check(name)) {
        m->module = Py_NewRef(name);
    }
    Py_XDECREF(globals);
    PyErr_Clear();
    return m->module;
}

/* The stdlib's compilers of text a user typed or wrote: codeop (the code
 * module's consoles, IDLE, 3.13's REPL and IPython's cells all compile
 * through it) and doctest (the examples of docstrings). */
static int
compiles_user_text(PyObject *file)
{
    static const char *const tails[] = {"/codeop.py", "/doctest.py"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        PyObject *t = PyUnicode_FromString(tails[i]);
        Py_ssize_t r = t ? PyUnicode_Tailmatch(file, t, 0, PY_SSIZE_T_MAX, 1) : -1;
        Py_XDECREF(t);
        if (r == 1) {
            return 1;
        }
        if (r < 0) {
            PyErr_Clear();
        }
    }
    return 0;
}

/* Code compiled from a string (exec/eval, filename "<string>") has no
 * file to judge by: judge it by the file of the code that created it, then
 * by the module whose globals it runs in (namedtuple's generated __new__
 * runs in a "namedtuple_<Name>" namespace of collections: the stdlib). */
static int
generated_by_excluded(module_probe *m, const ft_filter *f)
{
    PyObject *prefixes = f->exclude_prefixes;
    /* dataclasses builds __init__, __repr__, __eq__... with exec() in the
     * user's module: recognisable by the factory they are made in. */
    PyObject *qual = ((PyCodeObject *)m->code)->co_qualname;
    PyObject *factory = PyUnicode_FromString("__create_fn__.<locals>.");
    if (factory != NULL && PyUnicode_Check(qual) &&
        PyUnicode_Tailmatch(qual, factory, 0, PY_SSIZE_T_MAX, -1) == 1) {
        Py_DECREF(factory);
        return 1;
    }
    Py_XDECREF(factory);
    PyErr_Clear();
    /* Created by the stdlib, site-packages or FlowTrace (origin.h), it is
     * theirs, wherever it runs (dataclasses and attrs run theirs in the
     * user's module); unless it is text the user wrote, compiled for them. */
    PyObject *origin = ft_origin_file(m->code); /* borrowed */
    if (origin != NULL && (has_prefix(origin, prefixes) || has_prefix(origin, f->always_excluded)) &&
        !compiles_user_text(origin)) {
        return 1;
    }
    PyObject *name = probe_module(m); /* borrowed */
    if (name == NULL) {
        return 0; /* called from the @trace wrapper: not the callee's frame */
    }
    int excluded = 0;
    PyObject *pfx = PyUnicode_FromString("namedtuple_");
    if (pfx != NULL) {
        if (PyUnicode_Tailmatch(name, pfx, 0, PY_SSIZE_T_MAX, -1) == 1) {
            excluded = 1;
        }
        else {
            PyObject *mod = PyDict_GetItemWithError(PyImport_GetModuleDict(), name);
            PyObject *file = mod && PyModule_Check(mod) ? PyModule_GetFilenameObject(mod) : NULL;
            if (file != NULL && PyUnicode_Check(file)) {
                excluded = has_prefix(file, prefixes);
            }
            Py_XDECREF(file);
        }
    }
    Py_XDECREF(pfx);
    PyErr_Clear();
    return excluded;
}

/* A @trace decoration: flags and module name, from the decorated dict
 * (value: (flags, module name or None)). 1 if decorated. */
static int
decoration(const ft_filter *f, PyObject *code, uint32_t *flags, PyObject **module)
{
    if (f->decorated == NULL) {
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(f->decorated, code); /* borrowed */
    if (v == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *fl = PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2 ? PyTuple_GET_ITEM(v, 0) : v;
    long x = PyLong_AsLong(fl);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        x = 0;
    }
    *flags = (uint32_t)x & (FT_CODE_FULLREPR | FT_CODE_TIMED);
    if (PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2 && PyUnicode_Check(PyTuple_GET_ITEM(v, 1))) {
        *module = PyTuple_GET_ITEM(v, 1);
    }
    return 1;
}

/* Decide the flags of a code object seen for the first time, by the
 * precedence rule of filter.h. Runs no user code: string comparisons,
 * glob matching, and dict lookups keyed by the code object or by str. */
static uint32_t
decide(const ft_filter *f, module_probe *m)
{
    PyObject *code = m->code;
    PyObject *filename = ((PyCodeObject *)code)->co_filename;
    if (!PyUnicode_Check(filename)) {
        return FT_CODE_EXCLUDED;
    }
    if (has_prefix(filename, f->always_excluded)) {
        return FT_CODE_EXCLUDED;
    }
    uint32_t flags = 0;
    PyObject *dmod = NULL; /* borrowed from the decorated dict */
    if (decoration(f, code, &flags, &dmod)) {
        if (probe_module(m) == NULL && dmod != NULL) {
            m->module = Py_NewRef(dmod);
        }
        return flags;
    }
    if (f->exclude.count > 0 &&
        ft_patterns_match(&f->exclude, code, f->exclude.need_module ? probe_module(m) : NULL)) {
        return FT_CODE_EXCLUDED;
    }
    if (f->include.count > 0) {
        return ft_patterns_match(&f->include, code,
                                 f->include.need_module ? probe_module(m) : NULL)
                   ? 0
                   : FT_CODE_EXCLUDED;
    }
    if (!f->include_stdlib) {
        /* The Python side puts "<frozen" among the prefixes: frozen
         * modules are the stdlib; <string>, <stdin> are user code. */
        if (has_prefix(filename, f->exclude_prefixes)) {
            return FT_CODE_EXCLUDED;
        }
        if (PyUnicode_GET_LENGTH(filename) > 0 && PyUnicode_READ_CHAR(filename, 0) == '<' &&
            generated_by_excluded(m, f)) {
            return FT_CODE_EXCLUDED;
        }
    }
    return 0;
}

/* asyncio's BaseEventLoop.create_task, where every task is made (gather,
 * create_task, TaskGroup, ensure_future): its return tells who made whom. */
static int
is_task_factory(PyObject *code)
{
    PyCodeObject *co = (PyCodeObject *)code;
    if (!PyUnicode_Check(co->co_qualname) || !PyUnicode_Check(co->co_filename) ||
        PyUnicode_CompareWithASCIIString(co->co_qualname, "BaseEventLoop.create_task") != 0) {
        return 0;
    }
    PyObject *tail = PyUnicode_FromString("base_events.py");
    int r = tail ? PyUnicode_Tailmatch(co->co_filename, tail, 0, PY_SSIZE_T_MAX, 1) : 0;
    Py_XDECREF(tail);
    if (r < 0) {
        PyErr_Clear();
        r = 0;
    }
    return r;
}

/* The kinds of code the recorder treats apart, whatever the verdict. */
static uint32_t
kind_flags(PyObject *code)
{
    uint32_t flags = 0;
    int co_flags = ((PyCodeObject *)code)->co_flags;
    if (co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)) {
        flags |= FT_CODE_GEN;
    }
    if (co_flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR)) {
        flags |= FT_CODE_CORO; /* may start a task's step (aclose runs in one) */
    }
    if (is_task_factory(code)) {
        flags |= FT_CODE_TASKHOOK;
    }
    return flags;
}

uint32_t
ft_filter_decide(const ft_filter *f, PyObject *code, PyObject **module_out)
{
    module_probe m = {code, NULL, 0};
    uint32_t flags = decide(f, &m);
    if (!(flags & FT_CODE_EXCLUDED)) {
        probe_module(&m); /* kept for the saved trace's functions table */
    }
    else {
        Py_CLEAR(m.module);
    }
    *module_out = m.module; /* owned */
    return flags | kind_flags(code);
}

void
ft_filter_clear(ft_filter *f)
{
    Py_CLEAR(f->exclude_prefixes);
    Py_CLEAR(f->decorated);
    Py_CLEAR(f->always_excluded);
    ft_patterns_clear(&f->include);
    ft_patterns_clear(&f->exclude);
    f->include_stdlib = 0;
}
