/* from_events.c - a Trace rebuilt from CallEvent-like objects.
 *
 * print_tree() takes any sequence of CallEvent (a filtered list, events
 * loaded from a file): they are turned back into the same nodes the
 * recorder's traces have, so one C writer serves both. Input is treated as
 * untrusted: wrong types give a TypeError, parent links that do not point
 * to an earlier event of the same thread make the event a root, and an
 * event whose parent is an exception marker belongs to the marker's frame
 * (markers have no children, as in every other tree).
 */
#include "tree/tree.h"

#include "common/growable.h"
#include "recording/values.h"
#include "tree/walk.h"

/* The number whose name (ft_node_kind_name / ft_node_end_name) is `s`. */
static int
lookup_word(PyObject *s, const char *(*name)(unsigned), int n, int dflt)
{
    if (s == NULL || !PyUnicode_Check(s)) {
        return dflt;
    }
    for (int i = 0; i < n; i++) {
        if (PyUnicode_CompareWithASCIIString(s, name((unsigned)i)) == 0) {
            return i;
        }
    }
    return dflt;
}

/* Attribute as new reference, or NULL (no exception) when missing/None. */
static PyObject *
attr(PyObject *o, const char *name)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    if (v == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (v == Py_None) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

/* Text payload of an optional str attribute (stored in tb). */
static int
text_payload(ft_threadbuf *tb, PyObject *o, const char *name, uint32_t *out)
{
    PyObject *v = attr(o, name);
    *out = FT_VAL_ABSENT;
    if (v == NULL) {
        return 0;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "CallEvent.%s must be str or None, not %.200s", name, Py_TYPE(v)->tp_name);
        Py_DECREF(v);
        return -1;
    }
    *out = ft_store_text(tb, v);
    return 0;
}

/* What the rebuild holds while it reads the events. */
typedef struct {
    ft_tree *t;          /* borrowed: the tree being filled */
    PyObject *seq;       /* owned: the events (PySequence_Fast) */
    Py_ssize_t n;        /* number of events */
    PyObject *origins;   /* owned dict node index -> origin_id given */
    PyObject *names;     /* owned dict (func_name, filename, lineno) -> code id */
    PyObject *threads;   /* owned dict thread_id -> thread index */
    PyObject *ids;       /* owned dict event id -> node index */
    uint32_t *thread_of; /* owned: thread index of each event, input order */
    uint32_t *order;     /* owned: input index of each node (final order) */
    size_t capcodes;     /* entries allocated in t->names, files, lines,
                            modules (t->nnames used) */
    Py_ssize_t ntimed;   /* events with a duration */
} rebuild;

/* Event i's thread: its index, a buffer made at its first event (for the
 * values and names of its events). */
static int
find_thread(rebuild *rb, PyObject *ev, ft_threadbuf **lastp, Py_ssize_t i)
{
    ft_tree *t = rb->t;
    PyObject *tid = attr(ev, "thread_id");
    if (tid == NULL) {
        tid = PyLong_FromLong(0);
    }
    if (tid == NULL) {
        return -1;
    }
    PyObject *idx = PyDict_GetItemWithError(rb->threads, tid);
    if (idx == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(tid);
            return -1;
        }
        ft_threadbuf *tb = ft_threadbuf_new_empty();
        if (tb == NULL) {
            Py_DECREF(tid);
            PyErr_NoMemory();
            return -1;
        }
        tb->ident = PyLong_AsUnsignedLongMask(tid);
        PyErr_Clear();
        PyObject *tname = attr(ev, "thread");
        tb->name = tname && PyUnicode_Check(tname) ? tname : NULL;
        if (tb->name == NULL) {
            Py_XDECREF(tname);
        }
        if (*lastp == NULL) {
            t->threads = tb;
        }
        else {
            (*lastp)->next = tb;
        }
        *lastp = tb;
        idx = PyLong_FromUnsignedLong(t->nthreads++);
        if (idx == NULL || PyDict_SetItem(rb->threads, tid, idx) < 0) {
            Py_XDECREF(idx);
            Py_DECREF(tid);
            return -1;
        }
        Py_DECREF(idx);
        idx = PyDict_GetItem(rb->threads, tid);
    }
    Py_DECREF(tid);
    rb->thread_of[i] = (uint32_t)PyLong_AsUnsignedLong(idx);
    return 0;
}

/* Pass 1: the threads, their buffers (t->thread_vec) and the node order:
 * by thread, then as given (t->thread_first, rb->order). */
static int
index_threads(rebuild *rb)
{
    ft_tree *t = rb->t;
    ft_threadbuf *last = NULL;
    for (Py_ssize_t i = 0; i < rb->n; i++) {
        if (find_thread(rb, PySequence_Fast_GET_ITEM(rb->seq, i), &last, i) < 0) {
            return -1;
        }
    }
    PyMem_RawFree(t->thread_vec);
    t->thread_vec = PyMem_RawCalloc(t->nthreads ? t->nthreads : 1, sizeof(ft_threadbuf *));
    size_t *first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    size_t *fill = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    if (t->thread_vec == NULL || first == NULL || fill == NULL) {
        PyMem_RawFree(first);
        PyMem_RawFree(fill);
        PyErr_NoMemory();
        return -1;
    }
    uint32_t k = 0;
    for (ft_threadbuf *tb = t->threads; tb != NULL; tb = tb->next) {
        t->thread_vec[k++] = tb;
    }
    for (Py_ssize_t i = 0; i < rb->n; i++) {
        first[rb->thread_of[i] + 1]++;
    }
    for (k = 0; k < t->nthreads; k++) {
        first[k + 1] += first[k];
    }
    for (Py_ssize_t i = 0; i < rb->n; i++) {
        uint32_t th = rb->thread_of[i];
        rb->order[first[th] + fill[th]++] = (uint32_t)i;
    }
    PyMem_RawFree(fill);
    t->thread_first = first;
    return 0;
}

/* The code id of a function (name, file, line), a new one at its first
 * event. 0, or -1 with an exception. */
static int
code_id_of(rebuild *rb, PyObject *ev, Py_ssize_t input, uint32_t *out)
{
    ft_tree *t = rb->t;
    PyObject *name = attr(ev, "func_name");
    if (name == NULL || !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "event %zd has no func_name (str)", input);
        Py_XDECREF(name);
        return -1;
    }
    PyObject *file = attr(ev, "filename");
    PyObject *line = attr(ev, "lineno");
    PyObject *key = PyTuple_Pack(3, name, file ? file : Py_None, line ? line : Py_None);
    PyObject *cid = key ? PyDict_GetItemWithError(rb->names, key) : NULL;
    if (cid == NULL && !PyErr_Occurred()) {
        uint32_t ncodes = t->nnames;
        if (ncodes == rb->capcodes) { /* the four arrays share the capacity */
            size_t nc = ft_grown_capacity(rb->capcodes, (size_t)ncodes + 1, 64);
            if (nc == 0 || FT_RESIZE(t->names, nc) < 0 || FT_RESIZE(t->files, nc) < 0 ||
                FT_RESIZE(t->lines, nc) < 0 || FT_RESIZE(t->modules, nc) < 0) {
                PyErr_NoMemory();
            }
            else {
                rb->capcodes = nc;
            }
        }
        if (!PyErr_Occurred()) {
            t->names[ncodes] = Py_NewRef(name);
            t->files[ncodes] = file && PyUnicode_Check(file) ? Py_NewRef(file) : NULL;
            t->lines[ncodes] = line && PyLong_Check(line) ? (int)PyLong_AsLong(line) : 0;
            PyErr_Clear();
            PyObject *mod = attr(ev, "module");
            t->modules[ncodes] = mod && PyUnicode_Check(mod) ? mod : NULL;
            if (t->modules[ncodes] == NULL) {
                Py_XDECREF(mod);
            }
            t->nnames = ncodes + 1; /* keeps dealloc in step */
            cid = PyLong_FromUnsignedLong(ncodes);
            if (cid != NULL && PyDict_SetItem(rb->names, key, cid) == 0) {
                Py_DECREF(cid); /* the dict holds it */
            }
            else {
                Py_XDECREF(cid);
                cid = NULL;
            }
        }
    }
    Py_XDECREF(key);
    Py_DECREF(name);
    Py_XDECREF(file);
    Py_XDECREF(line);
    if (cid == NULL) {
        return -1;
    }
    *out = (uint32_t)PyLong_AsUnsignedLong(cid);
    return 0;
}

/* Kind, end, flags, values and duration of node j. 0 or -1. */
static int
read_shape(rebuild *rb, PyObject *ev, ft_node *nd)
{
    ft_threadbuf *tb = rb->t->thread_vec[nd->thread];
    PyObject *left = attr(ev, "left_suspended");
    if (left != NULL && PyObject_IsTrue(left) == 1) {
        nd->flags |= FT_NF_LEFT_SUSPENDED;
    }
    Py_XDECREF(left);
    PyObject *before = attr(ev, "began_before");
    if (before != NULL && PyObject_IsTrue(before) == 1) {
        nd->flags |= FT_NF_BEGAN_BEFORE;
    }
    Py_XDECREF(before);
    PyErr_Clear();
    PyObject *kind = attr(ev, "kind"), *end = attr(ev, "end");
    int has_end = end != NULL;
    nd->kind = (uint8_t)lookup_word(kind, ft_node_kind_name, FT_NODE_NKINDS, FT_NODE_CALL);
    if (end != NULL) {
        nd->end = (uint8_t)lookup_word(end, ft_node_end_name, FT_END_NENDS, FT_END_RETURN);
    }
    Py_XDECREF(kind);
    Py_XDECREF(end);
    if (text_payload(tb, ev, "args_repr", &nd->args) < 0 ||
        text_payload(tb, ev, "result_repr", &nd->result) < 0 ||
        text_payload(tb, ev, "exception", &nd->exc) < 0) {
        return -1;
    }
    if (nd->exc != FT_VAL_ABSENT && !has_end) {
        nd->end = FT_END_RAISE;
    }
    PyObject *dur = attr(ev, "duration");
    if (dur != NULL) {
        double d = PyFloat_AsDouble(dur);
        Py_DECREF(dur);
        if (d == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        if (d >= 0) {
            ft_tree *t = rb->t;
            ft_span *sp = ft_span_at(&t->spans, &t->nspans, t->nnodes, (size_t)(nd - t->nodes));
            if (sp == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            rb->ntimed++;
            nd->timed = 1;
            *sp = (ft_span){0, (uint64_t)(d * 1e9 + 0.5)};
        }
    }
    return 0;
}

/* Node j's parent: an earlier event of the same thread, else a root; an
 * exception marker has no children: then the marker's frame. Then its own
 * id is noted for the events after it. */
static int
link_event(rebuild *rb, PyObject *ev, Py_ssize_t j)
{
    ft_node *out = rb->t->nodes, *nd = &out[j];
    nd->parent = -1;
    PyObject *pid = attr(ev, "parent_id");
    if (pid != NULL) {
        PyObject *pidx = PyDict_GetItemWithError(rb->ids, pid);
        if (pidx != NULL) {
            int64_t p = PyLong_AsLongLong(pidx);
            if (p >= 0 && FT_NODE_IS_MARKER(out[p].kind)) {
                p = out[p].parent; /* itself never a marker */
            }
            if (p >= 0 && out[p].thread == nd->thread) {
                nd->parent = p;
                out[p].nchildren++;
            }
        }
        Py_DECREF(pid);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    PyObject *id = attr(ev, "id");
    if (id != NULL) {
        PyObject *me = PyLong_FromSsize_t(j);
        int rc = me ? PyDict_SetItem(rb->ids, id, me) : -1;
        Py_XDECREF(me);
        Py_DECREF(id);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* Pass 2: node j from its event, in the final order. */
static int
read_event(rebuild *rb, Py_ssize_t j)
{
    Py_ssize_t input = rb->order[j];
    PyObject *ev = PySequence_Fast_GET_ITEM(rb->seq, input);
    ft_node *nd = &rb->t->nodes[j];
    nd->thread = rb->thread_of[input];
    if (code_id_of(rb, ev, input, &nd->code_id) < 0) {
        return -1;
    }
    nd->origin = (int64_t)j;
    PyObject *oid = attr(ev, "origin_id");
    if (oid != NULL) {
        /* resolved at the end, once every event has its index */
        PyObject *key = PyLong_FromSsize_t(j);
        int rc = key ? PyDict_SetItem(rb->origins, key, oid) : -1;
        Py_XDECREF(key);
        Py_DECREF(oid);
        if (rc < 0) {
            return -1;
        }
    }
    if (read_shape(rb, ev, nd) < 0) {
        return -1;
    }
    return link_event(rb, ev, j);
}

/* The writers walk each thread's nodes as a pre-order: a child must
 * follow its parent's earlier children, which holds for any order where
 * parents come first and siblings' subtrees do not interleave. Subtrees
 * that interleave are cut into roots. */
static int
cut_interleaved(ft_tree *t)
{
    ft_walk w = {0};
    for (uint32_t th = 0; th < t->nthreads; th++) {
        ft_walk_thread(&w, t, th);
        for (size_t j = t->thread_first[th]; j < t->thread_first[th + 1]; j++) {
            Py_ssize_t depth = ft_walk_enter(&w, j);
            if (depth < 0) {
                ft_walk_free(&w);
                return -1;
            }
            ft_node *nd = &t->nodes[j];
            if (nd->parent >= 0 && depth == 0) { /* its parent is not open */
                t->nodes[nd->parent].nchildren--;
                nd->parent = -1;
            }
        }
    }
    ft_walk_free(&w);
    return 0;
}

/* A resumption's origin_id, as a node index (unknown: left as it is). */
static void
resolve_origins(rebuild *rb)
{
    Py_ssize_t pos = 0;
    PyObject *key, *oid;
    while (PyDict_Next(rb->origins, &pos, &key, &oid)) {
        PyObject *idx = PyDict_GetItemWithError(rb->ids, oid); /* borrowed */
        if (idx == NULL) {
            PyErr_Clear();
            continue; /* not among these events: unknown */
        }
        rb->t->nodes[PyLong_AsSsize_t(key)].origin = PyLong_AsLongLong(idx);
    }
}

static int
rebuild_passes(rebuild *rb)
{
    ft_tree *t = rb->t;
    size_t n = (size_t)rb->n;
    if (n > FT_NODES_MAX) {
        PyErr_SetString(PyExc_ValueError, "print_tree: more events than a trace can hold");
        return -1;
    }
    rb->origins = PyDict_New();
    rb->names = PyDict_New();
    rb->threads = PyDict_New();
    rb->ids = PyDict_New();
    rb->thread_of = PyMem_RawCalloc(n ? n : 1, sizeof(uint32_t));
    rb->order = PyMem_RawCalloc(n ? n : 1, sizeof(uint32_t));
    t->rebuilt = 1;
    /* ft_tree_init allocated one name: one file, line, module too */
    t->files = PyMem_RawCalloc(1, sizeof(PyObject *));
    t->lines = PyMem_RawCalloc(1, sizeof(int));
    t->modules = PyMem_RawCalloc(1, sizeof(PyObject *));
    rb->capcodes = 1;
    if (rb->origins == NULL || rb->names == NULL || rb->threads == NULL || rb->ids == NULL ||
        rb->thread_of == NULL || rb->order == NULL || t->files == NULL || t->lines == NULL ||
        t->modules == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (index_threads(rb) < 0) {
        return -1;
    }
    t->nodes = PyMem_RawCalloc(n ? n : 1, sizeof(ft_node));
    if (t->nodes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->nnodes = n;
    for (Py_ssize_t j = 0; j < rb->n; j++) {
        if (read_event(rb, j) < 0) {
            return -1;
        }
    }
    /* Timed when every finished event has a duration (a loaded trace that
     * was recorded with timing). */
    Py_ssize_t nfinished = 0;
    for (size_t j = 0; j < n; j++) {
        nfinished += t->nodes[j].end != FT_END_UNFINISHED;
    }
    t->cfg.timing = n > 0 && rb->ntimed >= nfinished;
    if (cut_interleaved(t) < 0) {
        return -1;
    }
    resolve_origins(rb);
    return 0;
}

int
ft_tree_from_events(ft_tree *t, PyObject *events)
{
    PyObject *seq = PySequence_Fast(events, "print_tree() needs a sequence of CallEvent");
    if (seq == NULL) {
        return -1;
    }
    ft_codetable codes = {0};
    ft_trace_config cfg = {.ns_per_tick = 1.0, .timing = 0, .results = 1};
    if (ft_tree_init(t, &codes, NULL, 0, &cfg) < 0) {
        Py_DECREF(seq);
        return -1;
    }
    rebuild rb = {.t = t, .seq = seq, .n = PySequence_Fast_GET_SIZE(seq)};
    int rc = rebuild_passes(&rb);
    PyMem_RawFree(rb.thread_of);
    PyMem_RawFree(rb.order);
    Py_XDECREF(rb.origins);
    Py_XDECREF(rb.names);
    Py_XDECREF(rb.threads);
    Py_XDECREF(rb.ids);
    Py_DECREF(seq);
    if (rc < 0) {
        ft_tree_clear(t, NULL);
        return -1;
    }
    return 0;
}
