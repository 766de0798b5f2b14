/* codetable.c - code object -> id and filter verdict, decided once. */
#include "recording/codetable.h"

#include <string.h>

#include "recording/origin.h"
#include "common/ptrhash.h"

int
ft_codetable_init(ft_codetable *t)
{
    memset(t, 0, sizeof(*t));
    t->mask = 255;
    t->slots = PyMem_RawCalloc(t->mask + 1, sizeof(ft_code_slot));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void
ft_codetable_clear(ft_codetable *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        Py_XDECREF(t->entries[i].code);
        Py_XDECREF(t->entries[i].module);
    }
    PyMem_RawFree(t->entries);
    PyMem_RawFree(t->slots);
    memset(t, 0, sizeof(*t));
}

void
ft_codetable_move(ft_codetable *dst, ft_codetable *src)
{
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

static int
grow_slots(ft_codetable *t)
{
    size_t newmask = t->mask * 2 + 1;
    ft_code_slot *ns = PyMem_RawCalloc(newmask + 1, sizeof(ft_code_slot));
    if (ns == NULL) {
        return -1;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].key == NULL) {
            continue;
        }
        size_t j = ft_hash_ptr(t->slots[i].key) & newmask;
        while (ns[j].key != NULL) {
            j = (j + 1) & newmask;
        }
        ns[j] = t->slots[i];
    }
    PyMem_RawFree(t->slots);
    t->slots = ns;
    t->mask = newmask;
    return 0;
}

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
 * precedence rule of codetable.h. Runs no user code: string comparisons,
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

uint32_t
ft_codetable_lookup(ft_codetable *t, const ft_filter *f, PyObject *code)
{
    if (t->slots == NULL || !PyCode_Check(code)) {
        return FT_CODE_EXCLUDED;
    }
    size_t i = ft_hash_ptr(code) & t->mask;
    for (;;) {
        ft_code_slot *s = &t->slots[i];
        if (s->key == code) {
            return s->verdict;
        }
        if (s->key == NULL) {
            break;
        }
        i = (i + 1) & t->mask;
    }
    /* New code object. */
    if (t->count >= FT_CODE_ID_MASK) {
        return FT_CODE_EXCLUDED;
    }
    if (t->count == t->capacity) {
        uint32_t nc = t->capacity ? t->capacity * 2 : 256;
        ft_code_entry *ne = PyMem_RawRealloc(t->entries, nc * sizeof(ft_code_entry));
        if (ne == NULL) {
            return FT_CODE_EXCLUDED;
        }
        t->entries = ne;
        t->capacity = nc;
    }
    if ((size_t)(t->count + 1) * 2 > t->mask) {
        if (grow_slots(t) < 0) {
            return FT_CODE_EXCLUDED;
        }
        i = ft_hash_ptr(code) & t->mask;
        while (t->slots[i].key != NULL) {
            i = (i + 1) & t->mask;
        }
    }
    module_probe m = {code, NULL, 0};
    uint32_t verdict = t->count | decide(f, &m);
    if (!(verdict & FT_CODE_EXCLUDED)) {
        probe_module(&m); /* kept for the saved trace's functions table */
    }
    else {
        Py_CLEAR(m.module);
    }
    int co_flags = ((PyCodeObject *)code)->co_flags;
    if (co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)) {
        verdict |= FT_CODE_GEN;
    }
    if (co_flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR)) {
        verdict |= FT_CODE_CORO; /* may start a task's step (aclose runs in one) */
    }
    if (is_task_factory(code)) {
        verdict |= FT_CODE_TASKHOOK;
    }
    t->entries[t->count].code = Py_NewRef(code);
    t->entries[t->count].verdict = verdict;
    t->entries[t->count].module = m.module; /* owned */
    t->count++;
    t->slots[i].key = code;
    t->slots[i].verdict = verdict;
    return verdict;
}

void
ft_codetable_set_flags(ft_codetable *t, PyObject *code, uint32_t flags)
{
    if (t->slots == NULL) {
        return;
    }
    size_t i = ft_hash_ptr(code) & t->mask;
    while (t->slots[i].key != NULL) {
        if (t->slots[i].key == code) {
            uint32_t keep = t->slots[i].verdict &
                            (FT_CODE_ID_MASK | FT_CODE_GEN | FT_CODE_CORO | FT_CODE_TASKHOOK);
            uint32_t v = keep | (flags & (FT_CODE_FULLREPR | FT_CODE_TIMED));
            t->slots[i].verdict = v;
            t->entries[keep & FT_CODE_ID_MASK].verdict = v;
            return;
        }
        i = (i + 1) & t->mask;
    }
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
