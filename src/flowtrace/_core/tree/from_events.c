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

typedef struct {
    PyObject *origins; /* owned dict node index -> origin_id given */
    PyObject *names;   /* owned dict (func_name, filename, lineno) -> code id */
    PyObject *threads; /* owned dict thread_id -> thread index */
    PyObject *ids;     /* owned dict event id -> node index */
} indexes;

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
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    indexes ix = {PyDict_New(), PyDict_New(), PyDict_New(), PyDict_New()};
    ft_node *nodes = PyMem_RawCalloc(n ? (size_t)n : 1, sizeof(ft_node));
    uint32_t *order = PyMem_RawCalloc(n ? (size_t)n : 1, sizeof(uint32_t));
    if (ix.origins == NULL || ix.names == NULL || ix.threads == NULL || ix.ids == NULL ||
        nodes == NULL ||
        order == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    t->files = PyMem_RawCalloc(1, sizeof(PyObject *));
    t->lines = PyMem_RawCalloc(1, sizeof(int));
    t->modules = PyMem_RawCalloc(1, sizeof(PyObject *));
    if (t->files == NULL || t->lines == NULL || t->modules == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    /* Pass 1: threads (one buffer each, for values and names), code ids. */
    ft_threadbuf *last = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ev = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *tid = attr(ev, "thread_id");
        if (tid == NULL) {
            tid = PyLong_FromLong(0);
        }
        if (tid == NULL) {
            goto fail;
        }
        PyObject *idx = PyDict_GetItemWithError(ix.threads, tid);
        if (idx == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(tid);
                goto fail;
            }
            ft_threadbuf *tb = ft_threadbuf_new_empty();
            if (tb == NULL) {
                Py_DECREF(tid);
                PyErr_NoMemory();
                goto fail;
            }
            tb->ident = PyLong_AsUnsignedLongMask(tid);
            PyErr_Clear();
            PyObject *tname = attr(ev, "thread");
            tb->name = tname && PyUnicode_Check(tname) ? tname : NULL;
            if (tb->name == NULL) {
                Py_XDECREF(tname);
            }
            if (last == NULL) {
                t->threads = tb;
            }
            else {
                last->next = tb;
            }
            last = tb;
            idx = PyLong_FromUnsignedLong(t->nthreads++);
            if (idx == NULL || PyDict_SetItem(ix.threads, tid, idx) < 0) {
                Py_XDECREF(idx);
                Py_DECREF(tid);
                goto fail;
            }
            Py_DECREF(idx);
            idx = PyDict_GetItem(ix.threads, tid);
        }
        Py_DECREF(tid);
        nodes[i].thread = (uint32_t)PyLong_AsUnsignedLong(idx);
    }
    PyMem_RawFree(t->thread_vec);
    t->thread_vec = PyMem_RawCalloc(t->nthreads ? t->nthreads : 1, sizeof(ft_threadbuf *));
    if (t->thread_vec == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    {
        uint32_t k = 0;
        for (ft_threadbuf *tb = t->threads; tb != NULL; tb = tb->next) {
            t->thread_vec[k++] = tb;
        }
    }
    /* Node order: by thread, then as given (stable). */
    {
        size_t *first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
        if (first == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            first[nodes[i].thread + 1]++;
        }
        for (uint32_t k = 0; k < t->nthreads; k++) {
            first[k + 1] += first[k];
        }
        size_t *fill = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
        if (fill == NULL) {
            PyMem_RawFree(first);
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t th = nodes[i].thread;
            order[first[th] + fill[th]++] = (uint32_t)i;
        }
        PyMem_RawFree(fill);
        t->thread_first = first;
    }
    /* Pass 2: the nodes, in their final order. */
    ft_node *out = PyMem_RawCalloc(n ? (size_t)n : 1, sizeof(ft_node));
    if (out == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    t->nodes = out;
    t->nnodes = (size_t)n;
    uint32_t ncodes = 0;
    size_t capcodes = 1; /* ft_tree_init allocated one name, and above one of each */
    Py_ssize_t ntimed = 0;             /* events with a duration */
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *ev = PySequence_Fast_GET_ITEM(seq, order[j]);
        ft_node *nd = &out[j];
        nd->thread = nodes[order[j]].thread;
        ft_threadbuf *tb = t->thread_vec[nd->thread];
        PyObject *name = attr(ev, "func_name");
        if (name == NULL || !PyUnicode_Check(name)) {
            PyErr_Format(PyExc_TypeError, "event %zd has no func_name (str)", (Py_ssize_t)order[j]);
            Py_XDECREF(name);
            goto fail;
        }
        PyObject *file = attr(ev, "filename");
        PyObject *line = attr(ev, "lineno");
        PyObject *key = PyTuple_Pack(3, name, file ? file : Py_None, line ? line : Py_None);
        if (key == NULL) {
            Py_DECREF(name);
            Py_XDECREF(file);
            Py_XDECREF(line);
            goto fail;
        }
        PyObject *cid = PyDict_GetItemWithError(ix.names, key);
        if (cid == NULL && !PyErr_Occurred()) {
            if (ncodes == capcodes) { /* the four arrays share the capacity */
                size_t nc = ft_grown_capacity(capcodes, ncodes + 1, 64);
                if (nc == 0 || FT_RESIZE(t->names, nc) < 0 ||
                    FT_RESIZE(t->files, nc) < 0 || FT_RESIZE(t->lines, nc) < 0 ||
                    FT_RESIZE(t->modules, nc) < 0) {
                    PyErr_NoMemory();
                }
                else {
                    capcodes = nc;
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
                t->nnames = ++ncodes; /* keeps dealloc in step */
                cid = PyLong_FromUnsignedLong(ncodes - 1);
                if (cid != NULL && PyDict_SetItem(ix.names, key, cid) == 0) {
                    Py_DECREF(cid); /* the dict holds it */
                }
                else {
                    Py_XDECREF(cid);
                    cid = NULL;
                }
            }
        }
        Py_DECREF(key);
        Py_DECREF(name);
        Py_XDECREF(file);
        Py_XDECREF(line);
        if (cid == NULL) {
            goto fail;
        }
        nd->code_id = (uint32_t)PyLong_AsUnsignedLong(cid);
        nd->origin = (int64_t)j;
        PyObject *oid = attr(ev, "origin_id");
        if (oid != NULL) {
            /* resolved below, once every event has its index */
            PyObject *key = PyLong_FromSsize_t(j);
            int rc = key ? PyDict_SetItem(ix.origins, key, oid) : -1;
            Py_XDECREF(key);
            Py_DECREF(oid);
            if (rc < 0) {
                goto fail;
            }
        }
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
        nd->kind = (uint8_t)lookup_word(kind, ft_node_kind_name, FT_NODE_NKINDS, FT_NODE_CALL);
        if (end != NULL) {
            nd->end = (uint8_t)lookup_word(end, ft_node_end_name, FT_END_NENDS, FT_END_RETURN);
        }
        Py_XDECREF(kind);
        Py_XDECREF(end);
        if (text_payload(tb, ev, "args_repr", &nd->args) < 0 ||
            text_payload(tb, ev, "result_repr", &nd->result) < 0 ||
            text_payload(tb, ev, "exception", &nd->exc) < 0) {
            goto fail;
        }
        if (nd->exc != FT_VAL_ABSENT && end == NULL) {
            nd->end = FT_END_RAISE;
        }
        PyObject *dur = attr(ev, "duration");
        if (dur != NULL) {
            double d = PyFloat_AsDouble(dur);
            Py_DECREF(dur);
            if (d == -1.0 && PyErr_Occurred()) {
                goto fail;
            }
            if (d >= 0) {
                ntimed++;
                nd->timed = 1;
                nd->t0 = 0;
                nd->t1 = (uint64_t)(d * 1e9 + 0.5);
            }
        }
        /* parent: an earlier event of the same thread, else a root; an
         * exception marker has no children: then the marker's frame */
        nd->parent = -1;
        PyObject *pid = attr(ev, "parent_id");
        if (pid != NULL) {
            PyObject *pidx = PyDict_GetItemWithError(ix.ids, pid);
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
                goto fail;
            }
        }
        PyObject *id = attr(ev, "id");
        if (id != NULL) {
            PyObject *me = PyLong_FromSsize_t(j);
            int rc = me ? PyDict_SetItem(ix.ids, id, me) : -1;
            Py_XDECREF(me);
            Py_DECREF(id);
            if (rc < 0) {
                goto fail;
            }
        }
    }
    /* Timed when every finished event has a duration (a loaded trace that
     * was recorded with timing). */
    {
        Py_ssize_t nfinished = 0;
        for (Py_ssize_t j = 0; j < n; j++) {
            nfinished += out[j].end != FT_END_UNFINISHED;
        }
        t->cfg.timing = n > 0 && ntimed >= nfinished;
    }
    /* The writer walks each thread's nodes as a pre-order: a child must
     * follow its parent's earlier children, which holds for any order
     * where parents come first and siblings' subtrees do not interleave.
     * Subtrees that interleave are cut into roots. */
    {
        ft_walk w = {0};
        for (uint32_t th = 0; th < t->nthreads; th++) {
            ft_walk_thread(&w, t, th);
            for (size_t j = t->thread_first[th]; j < t->thread_first[th + 1]; j++) {
                Py_ssize_t depth = ft_walk_enter(&w, j);
                if (depth < 0) {
                    ft_walk_free(&w);
                    goto fail;
                }
                ft_node *nd = &out[j];
                if (nd->parent >= 0 && depth == 0) { /* its parent is not open */
                    out[nd->parent].nchildren--;
                    nd->parent = -1;
                }
            }
        }
        ft_walk_free(&w);
    }
    {
        Py_ssize_t pos = 0;
        PyObject *key, *oid;
        while (PyDict_Next(ix.origins, &pos, &key, &oid)) {
            PyObject *idx = PyDict_GetItemWithError(ix.ids, oid); /* borrowed */
            if (idx == NULL) {
                PyErr_Clear();
                continue; /* not among these events: unknown */
            }
            t->nodes[PyLong_AsSsize_t(key)].origin = PyLong_AsLongLong(idx);
        }
    }
    PyMem_RawFree(nodes);
    PyMem_RawFree(order);
    Py_DECREF(ix.origins);
    Py_DECREF(ix.names);
    Py_DECREF(ix.threads);
    Py_DECREF(ix.ids);
    Py_DECREF(seq);
    return 0;

fail:
    PyMem_RawFree(nodes);
    PyMem_RawFree(order);
    Py_XDECREF(ix.origins);
    Py_XDECREF(ix.names);
    Py_XDECREF(ix.threads);
    Py_XDECREF(ix.ids);
    ft_tree_clear(t, NULL);
    Py_DECREF(seq);
    return -1;
}
