/* model.c - the ft_tree's ownership and the names it gives its code ids
 * and threads (tree.h). */
#include "tree/tree.h"

#include "common/growable.h"

#include <string.h>

#include "recording/record.h"

/* Indexed by FT_NODE_* and FT_END_* (tree.h): the words of CallEvent. */
static const char *const KINDS[] = {"call", "resume", "throw", "raise", "reraise",
                                    "handled", "task"};
static const char *const ENDS[] = {"return", "raise", "yield", "unfinished", "closed"};
_Static_assert(sizeof(KINDS) / sizeof(KINDS[0]) == FT_NODE_NKINDS, "a name per FT_NODE_*");
_Static_assert(FT_NODE_TASK == FT_NODE_NKINDS - 1, "FT_NODE_NKINDS is out of date");
_Static_assert(sizeof(ENDS) / sizeof(ENDS[0]) == FT_END_NENDS, "a name per FT_END_*");
_Static_assert(FT_END_CLOSED == FT_END_NENDS - 1, "FT_END_NENDS is out of date");

const char *
ft_node_kind_name(unsigned kind)
{
    return kind < FT_NODE_NKINDS ? KINDS[kind] : NULL;
}

const char *
ft_node_end_name(unsigned end)
{
    return end < FT_END_NENDS ? ENDS[end] : NULL;
}


int
ft_tree_init(ft_tree *t, ft_codetable *codes, ft_threadbuf *threads, uint32_t nthreads,
             const ft_trace_config *cfg)
{
    memset(t, 0, sizeof(*t));
    ft_codetable_move(&t->codes, codes);
    t->threads = threads;
    t->cfg = *cfg;
    t->cfg.records_ns_per_tick = cfg->ns_per_tick;
    t->thread_vec = PyMem_RawCalloc(nthreads ? nthreads : 1, sizeof(ft_threadbuf *));
    t->nnames = t->codes.count;
    t->names = PyMem_RawCalloc(t->nnames ? t->nnames : 1, sizeof(PyObject *));
    if (t->thread_vec == NULL || t->names == NULL) {
        ft_tree_clear(t, NULL);
        PyErr_NoMemory();
        return -1;
    }
    uint32_t i = 0;
    for (ft_threadbuf *tb = threads; tb != NULL && i < nthreads; tb = tb->next) {
        t->thread_vec[i++] = tb;
    }
    t->nthreads = i;
    return 0;
}

static void
free_strings(PyObject **v, uint32_t n)
{
    if (v == NULL) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        Py_XDECREF(v[i]);
    }
    PyMem_RawFree(v);
}

void
ft_tree_clear(ft_tree *t, ft_chunkpool *pool)
{
    ft_lazy_free(t);
    free_strings(t->names, t->nnames);
    free_strings(t->files, t->nnames);
    free_strings(t->modules, t->nnames);
    free_strings(t->argnames, t->nnames);
    PyMem_RawFree(t->argpos);
    PyMem_RawFree(t->lines);
    PyMem_RawFree(t->nodes);
    PyMem_RawFree(t->spans);
    PyMem_RawFree(t->thread_first);
    PyMem_RawFree(t->thread_vec);
    ft_threadbuf_free_list(t->threads, pool);
    ft_codetable_clear(&t->codes);
    memset(t, 0, sizeof(*t));
}

/* The display name of a code object: its qualified name, as Python
 * shows it ("Account.deposit", "main.<locals>.<lambda>"), except for the
 * bodies that are not calls: a module's, "<module pkg.mod>" (the module
 * it ran in; "<module>" when unknown), and a class's, "class Account"
 * (its qualified name). New reference, NULL with an exception. */
static PyObject *
display_name(PyCodeObject *co, PyObject *module)
{
    PyObject *q = co->co_qualname;
    if (!PyUnicode_Check(q) || !PyUnicode_Check(co->co_name)) {
        return PyUnicode_FromString("?");
    }
    if (PyUnicode_CompareWithASCIIString(co->co_name, "<module>") == 0) {
        return module != NULL && PyUnicode_Check(module)
                   ? PyUnicode_FromFormat("<module %U>", module)
                   : PyUnicode_FromString("<module>");
    }
    /* a class body runs in a namespace of its own: not optimized, no new
     * locals (functions, lambdas, comprehensions and 3.12's annotation
     * scopes are optimized) */
    if (!(co->co_flags & (CO_OPTIMIZED | CO_NEWLOCALS))) {
        return PyUnicode_FromFormat("class %U", q);
    }
    return Py_NewRef(q);
}

PyObject *
ft_tree_name(const ft_tree *t, uint32_t code_id)
{
    if (code_id >= t->nnames) {
        PyErr_SetString(PyExc_SystemError, "flowtrace: bad code id in trace");
        return NULL;
    }
    if (t->names[code_id] == NULL) {
        PyObject *code = code_id < t->codes.count ? t->codes.entries[code_id].code : NULL;
        PyObject *q = code ? display_name((PyCodeObject *)code,
                                          ft_codetable_module(&t->codes, code_id))
                           : PyUnicode_FromString("?");
        if (q == NULL) {
            return NULL;
        }
        t->names[code_id] = q;
    }
    return t->names[code_id];
}

int
ft_name_is_body(PyObject *name)
{
    if (!PyUnicode_Check(name)) {
        return 0;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (n >= 8 && PyUnicode_READ_CHAR(name, 0) == '<' &&
        PyUnicode_READ_CHAR(name, n - 1) == '>') {
        /* "<module>", "<module pkg.mod>" */
        PyObject *head = PyUnicode_Substring(name, 0, 7);
        if (head == NULL) {
            PyErr_Clear();
            return 0;
        }
        int m = PyUnicode_CompareWithASCIIString(head, "<module") == 0 &&
                (n == 8 || PyUnicode_READ_CHAR(name, 7) == ' ');
        Py_DECREF(head);
        return m;
    }
    if (n > 6 && PyUnicode_READ_CHAR(name, 0) == 'c') {
        PyObject *head = PyUnicode_Substring(name, 0, 6);
        if (head == NULL) {
            PyErr_Clear();
            return 0;
        }
        int m = PyUnicode_CompareWithASCIIString(head, "class ") == 0;
        Py_DECREF(head);
        return m;
    }
    return 0;
}

PyObject *
ft_tree_file(const ft_tree *t, uint32_t code_id)
{
    PyObject *code = ft_codetable_code(&t->codes, code_id);
    if (code != NULL) {
        return ((PyCodeObject *)code)->co_filename;
    }
    return t->files != NULL && code_id < t->nnames ? t->files[code_id] : NULL;
}

int
ft_tree_line(const ft_tree *t, uint32_t code_id)
{
    PyObject *code = ft_codetable_code(&t->codes, code_id);
    if (code != NULL) {
        return ((PyCodeObject *)code)->co_firstlineno;
    }
    return t->lines != NULL && code_id < t->nnames ? t->lines[code_id] : 0;
}

PyObject *
ft_tree_module(const ft_tree *t, uint32_t code_id)
{
    if (code_id < t->codes.count) {
        return ft_codetable_module(&t->codes, code_id);
    }
    return t->modules != NULL && code_id < t->nnames ? t->modules[code_id] : NULL;
}

int
ft_tree_argspec(const ft_tree *t, uint32_t code_id, Py_ssize_t *npos, PyObject **names)
{
    PyObject *code = ft_codetable_code(&t->codes, code_id);
    if (code != NULL) {
        *npos = ((PyCodeObject *)code)->co_argcount;
        *names = PyCode_GetVarnames((PyCodeObject *)code);
        if (*names == NULL) {
            PyErr_Clear();
            return -1;
        }
        return 0;
    }
    if (t->argpos == NULL || t->argnames == NULL || code_id >= t->nnames ||
        t->argnames[code_id] == NULL) {
        return -1;
    }
    *npos = t->argpos[code_id];
    *names = Py_NewRef(t->argnames[code_id]);
    return 0;
}

PyObject *
ft_tree_thread_name(const ft_tree *t, uint32_t thread)
{
    ft_threadbuf *tb = t->thread_vec[thread];
    if (tb->name == NULL) {
        tb->name = PyUnicode_FromFormat("Thread-%lu", tb->ident);
    }
    return tb->name;
}

size_t
ft_tree_nrecords(const ft_tree *t)
{
    size_t n = 0;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        for (const ft_chunk *c = t->thread_vec[i]->head; c != NULL; c = c->next) {
            n += c->used;
        }
    }
    return n;
}

size_t
ft_tree_nbytes(const ft_tree *t)
{
    size_t n = 0;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        n += ft_threadbuf_nbytes(t->thread_vec[i]);
        if (t->records_released) { /* their pages were given back */
            for (const ft_chunk *c = t->thread_vec[i]->head; c != NULL; c = c->next) {
                size_t b = c->cap * sizeof(ft_record);
                n -= b < n ? b : n;
            }
        }
    }
    n += (size_t)t->nthreads * sizeof(ft_threadbuf *);
    if (t->nodes != NULL) {
        n += t->nnodes * sizeof(ft_node) + ((size_t)t->nthreads + 1) * sizeof(size_t);
    }
    return n + t->nspans * sizeof(ft_span);
}

ft_span *
ft_span_at(ft_span **spans, size_t *nspans, size_t need, size_t i)
{
    if (i >= need) {
        need = i + 1;
    }
    if (*nspans < need) {
        /* calloc's pages are mapped lazily: an estimate's tail costs nothing */
        ft_span *ns = *spans == NULL ? PyMem_RawCalloc(need, sizeof(ft_span))
                                     : PyMem_RawRealloc(*spans, need * sizeof(ft_span));
        if (ns == NULL) {
            return NULL;
        }
        if (*spans != NULL) {
            memset(ns + *nspans, 0, (need - *nspans) * sizeof(ft_span));
        }
        *spans = ns;
        *nspans = need;
    }
    return &(*spans)[i];
}

void
ft_spans_fit(ft_span **spans, size_t *nspans, size_t n)
{
    if (*nspans > n) {
        if (n > 0) {
            (void)FT_RESIZE(*spans, n); /* on failure the larger block is kept */
        }
        *nspans = n;
    }
}

void
ft_tree_count(const ft_tree *t, size_t *calls, size_t *events)
{
    if (t->records_released) {
        *calls = t->kept_calls;
        *events = t->kept_events;
        return;
    }
    size_t nc = 0, ne = 0, words = 0;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        size_t skip = 0; /* words that belong to the record before */
        for (const ft_chunk *c = t->thread_vec[i]->head; c != NULL; c = c->next) {
            words += c->used;
            for (size_t k = 0; k < c->used; k++) {
                if (skip > 0) {
                    skip--;
                    continue;
                }
                ft_record r = c->recs[k];
                unsigned kind = ft_rec_kind(r);
                skip = (size_t)ft_rec_has_ts(r) +
                       (kind == FT_REC_TASK || kind == FT_REC_TASK_NEW);
                nc += kind == FT_REC_START;
                ne += kind <= FT_REC_UNWIND ||
                      (kind >= FT_REC_RAISE && kind <= FT_REC_HANDLED);
            }
        }
    }
    if (words == 0 && t->nodes != NULL) {
        for (size_t n = 0; n < t->nnodes; n++) {
            nc += t->nodes[n].kind == FT_NODE_CALL;
        }
        ne = t->nnodes;
    }
    *calls = nc;
    *events = ne;
}
