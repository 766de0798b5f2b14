/* filter.c - glob patterns over file names and dotted names (see filter.h).
 *
 * A pattern is cut into tokens, then run as a small NFA over the text: the
 * set of tokens that could come next is kept as a byte per token, so time
 * is (tokens x characters) and memory is (tokens), whatever the pattern.
 */
#include "recording/filter.h"

#include <string.h>

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
