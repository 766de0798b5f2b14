/* load_json.c - a Trace built from a parsed FlowTrace JSON document.
 *
 * The Python layer parses the file with the json module and checks the
 * header (format, version); everything else is checked here, field by
 * field, before it is used: types, ranges of every index, parents that
 * are earlier open calls of the same thread (never an exception marker:
 * markers have no children), calls grouped by thread in tree order,
 * kinds and ends by name (a marker or a task lane ends as "return"),
 * origins that name a call, flags that fit the node. A bad field gives a ValueError "calls[12].function: ..."; the
 * document is never trusted enough to crash or to build a tree the
 * writers could not walk. See docs/json-format.md.
 */
#include "tree/tree.h"

#include "recording/values.h"
#include "output/write_json.h"
#include "tree/walk.h"

typedef struct {
    PyObject *id, *name, *module, *file, *line, *ident, *dropped, *parent, *thread,
        *function, *kind, *end, *origin, *args, *result, *exception, *t0, *t1,
        *left_suspended, *began_before, *cut; /* owned: interned keys */
} keys;

static void
keys_clear(keys *k)
{
    PyObject **p = (PyObject **)k;
    for (size_t i = 0; i < sizeof(*k) / sizeof(PyObject *); i++) {
        Py_CLEAR(p[i]);
    }
}

static int
keys_init(keys *k)
{
    static const char *const names[] = {
        "id",     "name",   "module", "file",      "line",           "ident",
        "dropped", "parent", "thread", "function", "kind",           "end",
        "origin", "args",   "result", "exception", "t0",             "t1",
        "left_suspended",   "began_before",        "cut"};
    _Static_assert(sizeof(names) / sizeof(names[0]) == sizeof(keys) / sizeof(PyObject *),
                   "a name per key");
    PyObject **p = (PyObject **)k;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        p[i] = PyUnicode_InternFromString(names[i]);
        if (p[i] == NULL) {
            keys_clear(k);
            return -1;
        }
    }
    return 0;
}

static int
bad(const char *where, Py_ssize_t i, PyObject *key, const char *what)
{
    if (key != NULL) {
        PyErr_Format(PyExc_ValueError, "%s[%zd].%U: %s", where, i, key, what);
    }
    else {
        PyErr_Format(PyExc_ValueError, "%s[%zd]: %s", where, i, what);
    }
    return -1;
}

/* obj[key]: borrowed, NULL when missing or null (no exception then). */
static PyObject *
field(PyObject *obj, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(obj, key);
    return v == Py_None ? NULL : v;
}

static int
get_str(PyObject *obj, PyObject *key, const char *where, Py_ssize_t i, int required,
        PyObject **out)
{
    PyObject *v = field(obj, key);
    *out = NULL;
    if (v == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        return required ? bad(where, i, key, "missing (a string is needed)") : 0;
    }
    if (!PyUnicode_Check(v)) {
        return bad(where, i, key, "expected a string");
    }
    *out = v;
    return 0;
}

/* An integer in [lo, hi]; missing/null gives `dflt` unless required. */
static int
get_int(PyObject *obj, PyObject *key, const char *where, Py_ssize_t i, int required,
        long long lo, long long hi, long long dflt, long long *out)
{
    PyObject *v = field(obj, key);
    *out = dflt;
    if (v == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        return required ? bad(where, i, key, "missing (a number is needed)") : 0;
    }
    if (!PyLong_CheckExact(v)) {
        return bad(where, i, key, "expected an integer");
    }
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || x < lo || x > hi) {
        return bad(where, i, key, "out of range");
    }
    *out = x;
    return 0;
}

/* An optional flag: true, or false / null / missing (0). */
static int
get_flag(PyObject *obj, PyObject *key, const char *where, Py_ssize_t i, int *out)
{
    PyObject *v = field(obj, key);
    *out = 0;
    if (v == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!PyBool_Check(v)) {
        return bad(where, i, key, "expected true or false");
    }
    *out = v == Py_True;
    return 0;
}

/* Index of the word `s` among the names `name(0..n-1)`, or -1. */
static int
word(PyObject *s, const char *(*name)(unsigned), unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        if (PyUnicode_CompareWithASCIIString(s, name(k)) == 0) {
            return (int)k;
        }
    }
    return -1;
}

static int
load_functions(ft_tree *t, PyObject *list, const keys *k)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n > (Py_ssize_t)FT_CODE_ID_MAX) {
        PyErr_SetString(PyExc_ValueError, "functions: too many");
        return -1;
    }
    size_t sz = n ? (size_t)n : 1;
    PyMem_RawFree(t->names);
    t->names = PyMem_RawCalloc(sz, sizeof(PyObject *));
    t->rebuilt = 1;
    t->files = PyMem_RawCalloc(sz, sizeof(PyObject *));
    t->modules = PyMem_RawCalloc(sz, sizeof(PyObject *));
    t->lines = PyMem_RawCalloc(sz, sizeof(int));
    t->nnames = (uint32_t)n;
    if (t->names == NULL || t->files == NULL || t->modules == NULL || t->lines == NULL) {
        t->nnames = 0;
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyList_GET_ITEM(list, i);
        PyObject *name, *module, *file;
        long long line;
        if (!PyDict_Check(f)) {
            return bad("functions", i, NULL, "expected an object");
        }
        if (get_str(f, k->name, "functions", i, 1, &name) < 0 ||
            get_str(f, k->module, "functions", i, 0, &module) < 0 ||
            get_str(f, k->file, "functions", i, 0, &file) < 0 ||
            get_int(f, k->line, "functions", i, 0, 0, INT_MAX, 0, &line) < 0) {
            return -1;
        }
        t->names[i] = Py_NewRef(name);
        t->modules[i] = Py_XNewRef(module);
        t->files[i] = Py_XNewRef(file);
        t->lines[i] = (int)line;
    }
    return 0;
}

static int
load_threads(ft_tree *t, PyObject *list, const keys *k)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n > 1000000) {
        PyErr_SetString(PyExc_ValueError, "threads: too many");
        return -1;
    }
    PyMem_RawFree(t->thread_vec);
    t->thread_vec = PyMem_RawCalloc(n ? (size_t)n : 1, sizeof(ft_threadbuf *));
    if (t->thread_vec == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ft_threadbuf *last = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(list, i);
        PyObject *name;
        long long ident, dropped;
        if (!PyDict_Check(o)) {
            return bad("threads", i, NULL, "expected an object");
        }
        if (get_str(o, k->name, "threads", i, 1, &name) < 0 ||
            get_int(o, k->ident, "threads", i, 1, 0, LLONG_MAX, 0, &ident) < 0 ||
            get_int(o, k->dropped, "threads", i, 0, 0, LLONG_MAX, 0, &dropped) < 0) {
            return -1;
        }
        ft_threadbuf *tb = ft_threadbuf_new_empty();
        if (tb == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        tb->ident = (unsigned long)ident;
        tb->name = Py_NewRef(name);
        tb->dropped = (uint64_t)dropped;
        if (last == NULL) {
            t->threads = tb;
        }
        else {
            last->next = tb;
        }
        last = tb;
        t->thread_vec[i] = tb;
        t->nthreads = (uint32_t)(i + 1);
    }
    return 0;
}

/* A text field stored in the thread's value store. */
static int
text(ft_threadbuf *tb, PyObject *c, PyObject *key, Py_ssize_t i, uint32_t *out)
{
    PyObject *s;
    *out = FT_VAL_ABSENT;
    if (get_str(c, key, "calls", i, 0, &s) < 0) {
        return -1;
    }
    if (s != NULL) {
        *out = ft_store_text(tb, Py_NewRef(s));
        if (*out == FT_VAL_ABSENT) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

/* The words and flags of call i, checked against each other. */
static int
load_shape(ft_node *nd, PyObject *c, const keys *k, Py_ssize_t i)
{
    PyObject *kind, *end;
    int left, before, cut;
    if (get_str(c, k->kind, "calls", i, 1, &kind) < 0 ||
        get_str(c, k->end, "calls", i, 1, &end) < 0 ||
        get_flag(c, k->left_suspended, "calls", i, &left) < 0 ||
        get_flag(c, k->began_before, "calls", i, &before) < 0 ||
        get_flag(c, k->cut, "calls", i, &cut) < 0) {
        return -1;
    }
    int kd = word(kind, ft_node_kind_name, FT_NODE_NKINDS);
    int ed = word(end, ft_node_end_name, FT_END_NENDS);
    if (kd < 0 || ed < 0) {
        return bad("calls", i, kd < 0 ? k->kind : k->end, "unknown word");
    }
    if (FT_NODE_IS_MARKER(kd) && ed != FT_END_RETURN) {
        return bad("calls", i, k->end, "an exception marker ends as \"return\"");
    }
    if (kd == FT_NODE_TASK && ed != FT_END_RETURN) {
        /* the writers keep a lane's creator (its "result") only then */
        return bad("calls", i, k->end, "a task lane ends as \"return\"");
    }
    if (left && ed != FT_END_YIELD) {
        return bad("calls", i, k->left_suspended, "only a segment that ended by \"yield\"");
    }
    if ((before || cut) && kd != FT_NODE_CALL) {
        return bad("calls", i, before ? k->began_before : k->cut, "only a \"call\"");
    }
    if (cut && !before) {
        return bad("calls", i, k->cut, "only with \"began_before\"");
    }
    nd->kind = (uint8_t)kd;
    nd->end = (uint8_t)ed;
    nd->flags = (uint8_t)((left ? FT_NF_LEFT_SUSPENDED : 0) |
                          (before ? FT_NF_BEGAN_BEFORE : 0) | (cut ? FT_NF_CUT : 0));
    return 0;
}

static int
load_calls(ft_tree *t, PyObject *list, const keys *k)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    t->nodes = PyMem_RawCalloc(n ? (size_t)n : 1, sizeof(ft_node));
    t->thread_first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    if (t->nodes == NULL || t->thread_first == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ft_walk w = {0}; /* the tree order, checked as the calls are read */
    ft_walk_begin(&w, t->nodes, 0, 0);
    long long cur_thread = 0;
    Py_ssize_t nneed = 0, ntimed = 0;
    int rc = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = PyList_GET_ITEM(list, i);
        ft_node *nd = &t->nodes[i];
        long long id, th, fn, parent, origin, t0, t1;
        if (!PyDict_Check(c)) {
            bad("calls", i, NULL, "expected an object");
            goto done;
        }
        if (get_int(c, k->id, "calls", i, 1, i, i, 0, &id) < 0 ||
            get_int(c, k->thread, "calls", i, 1, 0, (long long)t->nthreads - 1, 0, &th) < 0 ||
            get_int(c, k->function, "calls", i, 1, 0, (long long)t->nnames - 1, 0, &fn) < 0 ||
            get_int(c, k->parent, "calls", i, 0, 0, i - 1, -1, &parent) < 0 ||
            load_shape(nd, c, k, i) < 0 ||
            get_int(c, k->origin, "calls", i, 0, 0, n - 1, -1, &origin) < 0 ||
            get_int(c, k->t0, "calls", i, 0, 0, LLONG_MAX, -1, &t0) < 0 ||
            get_int(c, k->t1, "calls", i, 0, 0, LLONG_MAX, -1, &t1) < 0) {
            goto done;
        }
        int marker = FT_NODE_IS_MARKER(nd->kind);
        if (th < cur_thread) {
            bad("calls", i, k->thread, "calls must be grouped by thread, in thread order");
            goto done;
        }
        while (cur_thread < th) {
            t->thread_first[++cur_thread] = (size_t)i;
            ft_walk_begin(&w, t->nodes, (size_t)i, (size_t)i);
        }
        nd->parent = parent;
        Py_ssize_t depth = ft_walk_enter(&w, (size_t)i);
        if (depth < 0) {
            goto done;
        }
        if (parent >= 0 && depth == 0) {
            bad("calls", i, k->parent, "not an open call of the same thread (calls must be "
                                       "in tree order)");
            goto done;
        }
        if (parent >= 0 && FT_NODE_IS_MARKER(t->nodes[parent].kind)) {
            bad("calls", i, k->parent, "an exception marker has no children");
            goto done;
        }
        /* origin: a resumption's generator (checked to be a call once all
         * calls are read: it may be on a later thread); null when unknown.
         * Anything else is its own origin. */
        if (nd->kind == FT_NODE_RESUME || nd->kind == FT_NODE_THROW) {
            if (origin == i) {
                bad("calls", i, k->origin, "a resumption is not its own generator");
                goto done;
            }
            nd->origin = origin;
        }
        else if (origin >= 0 && origin != i) {
            bad("calls", i, k->origin, "only a resumption refers to another call");
            goto done;
        }
        else {
            nd->origin = i;
        }
        if (t0 >= 0 && t1 >= 0 && t1 < t0) {
            bad("calls", i, k->t1, "ends before it starts");
            goto done;
        }
        nd->code_id = (uint32_t)fn;
        nd->thread = (uint32_t)th;
        ft_threadbuf *tb = t->thread_vec[th];
        if (text(tb, c, k->args, i, &nd->args) < 0 ||
            text(tb, c, k->result, i, &nd->result) < 0 ||
            text(tb, c, k->exception, i, &nd->exc) < 0) {
            goto done;
        }
        if (t0 >= 0 && (t1 >= 0 || marker || nd->end == FT_END_UNFINISHED)) {
            /* an instant for a marker, an open end for an unfinished call */
            nd->timed = 1;
            nd->t0 = (uint64_t)t0;
            nd->t1 = t1 >= 0 && !marker ? (uint64_t)t1 : (uint64_t)t0;
        }
        nneed += ft_node_needs_time(nd);
        ntimed += ft_node_needs_time(nd) && nd->timed;
        if (parent >= 0) {
            t->nodes[parent].nchildren++;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t o = t->nodes[i].origin;
        if (o >= 0 && o != i && t->nodes[o].kind != FT_NODE_CALL) {
            bad("calls", i, k->origin, "not the id of a \"call\"");
            goto done;
        }
    }
    while (cur_thread < (long long)t->nthreads) {
        t->thread_first[++cur_thread] = (size_t)n;
    }
    t->nnodes = (size_t)n;
    t->cfg.timing = nneed > 0 && ntimed == nneed;
    rc = 0;
done:
    ft_walk_free(&w);
    return rc;
}

int
ft_tree_from_saved(ft_tree *t, PyObject *functions, PyObject *threads, PyObject *calls,
                   int results)
{
    if (!PyList_Check(functions) || !PyList_Check(threads) || !PyList_Check(calls)) {
        PyErr_SetString(PyExc_ValueError, "functions, threads and calls must be arrays");
        return -1;
    }
    keys k;
    if (keys_init(&k) < 0) {
        return -1;
    }
    ft_codetable codes = {0};
    /* the nodes are built from the file: times are nanoseconds already */
    ft_trace_config cfg = {.ns_per_tick = 1.0, .timing = 0, .results = results};
    if (ft_tree_init(t, &codes, NULL, 0, &cfg) < 0) {
        keys_clear(&k);
        return -1;
    }
    /* Hold the lists: a str subclass key's __eq__ cannot run (the keys are
     * exact str), but keep the documents alive regardless. */
    Py_INCREF(functions);
    Py_INCREF(threads);
    Py_INCREF(calls);
    int rc = load_functions(t, functions, &k);
    if (rc == 0) {
        rc = load_threads(t, threads, &k);
    }
    if (rc == 0) {
        rc = load_calls(t, calls, &k);
    }
    Py_DECREF(functions);
    Py_DECREF(threads);
    Py_DECREF(calls);
    keys_clear(&k);
    if (rc < 0) {
        ft_tree_clear(t, NULL);
        return -1;
    }
    return 0;
}
