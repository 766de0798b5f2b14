/* trace.c - flowtrace._core.Trace: a stopped recording, its lazy call tree,
 * and the read-only sequence of Events the Python layer wraps in CallEvent.
 */
#include "python/trace.h"

#include <stddef.h>
#include <string.h>

#include "recording/state.h"
#include "output/stats.h"
#include "recording/values.h"
#include "output/write_chrome.h"
#include "output/write_callers.h"
#include "output/write_ftrace.h"
#include "output/write_perfetto.h"
#include "output/write_json.h"
#include "output/write_text.h"
#include "output/viewer_search.h"
#include "output/write_viewer.h"

PyObject *
ft_trace_wrap(PyTypeObject *type, ft_tree *tree)
{
    ft_trace *t = (ft_trace *)type->tp_alloc(type, 0);
    if (t == NULL) {
        ft_tree_clear(tree, NULL);
        return NULL;
    }
    t->tree = *tree;
    memset(tree, 0, sizeof(*tree));
    ft_tree_moved(&t->tree); /* a lazy source follows it */
    return (PyObject *)t;
}

static void
trace_dealloc(ft_trace *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    if (t->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)t);
    }
    /* chunks go back to the module's pool (the type keeps the module, and
     * so its state, alive) */
    ft_state *st = (ft_state *)PyType_GetModuleState(tp);
    ft_tree_clear(&t->tree, st ? &st->pool : NULL);
    tp->tp_free((PyObject *)t);
    Py_DECREF(tp);
}

/* The tree, built: what every writer and reader is given. NULL with an
 * exception. */
static ft_tree *
built(ft_trace *t)
{
    return ft_tree_build(&t->tree) < 0 ? NULL : &t->tree;
}

static Py_ssize_t
trace_length(ft_trace *t)
{
    if (built(t) == NULL) {
        return -1;
    }
    return (Py_ssize_t)t->tree.nnodes;
}

static PyObject *
text_or_none(const ft_tree *t, const ft_node *nd, uint32_t payload)
{
    if (payload == FT_VAL_ABSENT) {
        Py_RETURN_NONE;
    }
    return ft_value_text(t->thread_vec[nd->thread], payload);
}

/* The fields of one event, in this order, named as CallEvent's fields
 * (flowtrace/model.py, which reads them by name). */
enum {
    EV_ID, EV_KIND, EV_FUNC_NAME, EV_PARENT_ID, EV_ARGS_REPR, EV_RESULT_REPR, EV_DURATION,
    EV_EXCEPTION, EV_END, EV_THREAD, EV_THREAD_ID, EV_FILENAME, EV_LINENO, EV_MODULE,
    EV_ORIGIN_ID, EV_LEFT_SUSPENDED, EV_BEGAN_BEFORE, EV_NFIELDS
};

static PyStructSequence_Field event_fields[] = {
    [EV_ID] = {"id", "index of the event in its trace (pre-order per thread)"},
    [EV_KIND] = {"kind", "call, resume, throw; raise, reraise, handled; task"},
    [EV_FUNC_NAME] = {"func_name", "the function's qualified name"},
    [EV_PARENT_ID] = {"parent_id", "id of the enclosing event, None for a root"},
    [EV_ARGS_REPR] = {"args_repr", "the arguments' text, None when not captured"},
    [EV_RESULT_REPR] = {"result_repr", "the returned or yielded value's text"},
    [EV_DURATION] = {"duration", "seconds, when timed"},
    [EV_EXCEPTION] = {"exception", "\"Type: message\" of a raise or a marker"},
    [EV_END] = {"end", "return, raise, yield, closed or unfinished"},
    [EV_THREAD] = {"thread", "the thread's name"},
    [EV_THREAD_ID] = {"thread_id", "the thread's ident"},
    [EV_FILENAME] = {"filename", "where the function is defined"},
    [EV_LINENO] = {"lineno", "its first line"},
    [EV_MODULE] = {"module", "the module it ran in, None when unknown"},
    [EV_ORIGIN_ID] = {"origin_id", "a resumption's generator's first event"},
    [EV_LEFT_SUSPENDED] = {"left_suspended", "the generator's last segment, suspended"},
    [EV_BEGAN_BEFORE] = {"began_before", "running when tracing started"},
    [EV_NFIELDS] = {NULL, NULL},
};

static PyStructSequence_Desc event_desc = {
    .name = "flowtrace._core.Event",
    .doc = "One event of a Trace, its fields named as flowtrace.CallEvent's.",
    .fields = event_fields,
    .n_in_sequence = EV_NFIELDS,
};

PyTypeObject *
ft_event_type_new(void)
{
    return PyStructSequence_NewType(&event_desc);
}

static PyObject *
str_or_none(PyObject *s)
{
    return Py_NewRef(s != NULL ? s : Py_None);
}

/* A kind's or end's word (NULL, a number out of range: None). */
static PyObject *
word_or_none(const char *word)
{
    return word != NULL ? PyUnicode_FromString(word) : Py_NewRef(Py_None);
}

/* Event i of the tree. */
static PyObject *
trace_item(ft_trace *self, Py_ssize_t i)
{
    const ft_tree *t = built(self);
    if (t == NULL) {
        return NULL;
    }
    if (i < 0 || (size_t)i >= t->nnodes) {
        PyErr_SetString(PyExc_IndexError, "trace index out of range");
        return NULL;
    }
    ft_state *st = (ft_state *)PyType_GetModuleState(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    const ft_node *nd = &t->nodes[i];
    PyObject *name = ft_tree_name(t, nd->code_id);
    PyObject *thread_name = ft_tree_thread_name(t, nd->thread);
    if (name == NULL || thread_name == NULL) {
        return NULL;
    }
    int marker = FT_NODE_IS_MARKER(nd->kind);
    PyObject *v[EV_NFIELDS];
    v[EV_ID] = PyLong_FromSsize_t(i);
    v[EV_KIND] = word_or_none(ft_node_kind_name(nd->kind));
    v[EV_FUNC_NAME] = Py_NewRef(name);
    v[EV_PARENT_ID] = nd->parent >= 0 ? PyLong_FromLongLong(nd->parent) : Py_NewRef(Py_None);
    v[EV_ARGS_REPR] = text_or_none(t, nd, nd->args);
    v[EV_RESULT_REPR] = nd->end == FT_END_RETURN || nd->end == FT_END_YIELD
                            ? text_or_none(t, nd, nd->result)
                            : Py_NewRef(Py_None);
    v[EV_DURATION] = nd->timed && nd->end != FT_END_UNFINISHED && !marker
                         ? PyFloat_FromDouble(ft_node_seconds(t, nd))
                         : Py_NewRef(Py_None);
    v[EV_EXCEPTION] = nd->end == FT_END_RAISE || marker ? text_or_none(t, nd, nd->exc)
                                                        : Py_NewRef(Py_None);
    v[EV_END] = word_or_none(marker ? "return" : ft_node_end_name(nd->end));
    v[EV_THREAD] = Py_NewRef(thread_name);
    v[EV_THREAD_ID] = PyLong_FromUnsignedLong(t->thread_vec[nd->thread]->ident);
    v[EV_FILENAME] = str_or_none(ft_tree_file(t, nd->code_id));
    v[EV_LINENO] = PyLong_FromLong(ft_tree_line(t, nd->code_id));
    v[EV_MODULE] = str_or_none(ft_tree_module(t, nd->code_id));
    v[EV_ORIGIN_ID] = nd->origin >= 0 ? PyLong_FromLongLong(nd->origin) : Py_NewRef(Py_None);
    v[EV_LEFT_SUSPENDED] = PyBool_FromLong(nd->flags & FT_NF_LEFT_SUSPENDED);
    v[EV_BEGAN_BEFORE] = PyBool_FromLong(nd->flags & FT_NF_BEGAN_BEFORE);
    PyObject *ev = NULL;
    int complete = 1;
    for (int k = 0; k < EV_NFIELDS; k++) {
        complete &= v[k] != NULL;
    }
    if (complete) {
        ev = PyStructSequence_New(st->event_type);
    }
    for (int k = 0; k < EV_NFIELDS; k++) {
        if (ev != NULL) {
            PyStructSequence_SetItem(ev, k, v[k]); /* steals */
        }
        else {
            Py_XDECREF(v[k]);
        }
    }
    return ev;
}

static PyObject *
trace_write_text(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "ascii", "thread_headers", "color", "max_depth", "raw",
                             "focus", "fold", NULL};
    PyObject *file, *raw = Py_None, *focus = Py_None;
    int ascii = 0, headers = -1, color = 0, max_depth = 0, fold = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pi$piOOi:write_text", kwlist, &file, &ascii,
                                     &headers, &color, &max_depth, &raw, &focus, &fold)) {
        return NULL;
    }
    if (fold < -1 || fold > 1) {
        PyErr_SetString(PyExc_ValueError, "fold must be 1, 0 or -1 (by the trace's size)");
        return NULL;
    }
    if (focus != Py_None && !PyUnicode_Check(focus)) {
        PyErr_SetString(PyExc_TypeError, "focus must be a str (a glob) or None");
        return NULL;
    }
    if (max_depth < 0) {
        PyErr_SetString(PyExc_ValueError, "max_depth must be >= 1 (0: no limit)");
        return NULL;
    }
    ft_text_opts o = {
        .ascii = ascii, .thread_headers = headers, .color = color, .max_depth = max_depth,
        .raw = raw == Py_None ? NULL : raw, .focus = focus == Py_None ? NULL : focus,
        .fold = fold};
    /* the text walks the tree once, in order: built as it is written, its
     * first lines come at once (lazy.c); the rest is built after */
    int lazy = ft_tree_build_lazily(&t->tree);
    const ft_tree *tree = lazy < 0 ? NULL : lazy ? &t->tree : built(t);
    if (tree == NULL || ft_write_text(tree, file, &o) < 0 || ft_tree_walked(&t->tree) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_write_json(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "binary", "meta", NULL};
    PyObject *file, *meta = NULL;
    int binary = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$pU:write_json", kwlist, &file, &binary,
                                     &meta)) {
        return NULL;
    }
    const ft_tree *tree = built(t);
    if (tree == NULL || ft_write_json(tree, file, binary, meta) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_write_chrome(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "binary", "pid", "process_name", "meta", NULL};
    PyObject *file, *pname = NULL, *meta = NULL;
    int binary = 0;
    long pid = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$plUU:write_chrome", kwlist, &file, &binary,
                                     &pid, &pname, &meta)) {
        return NULL;
    }
    ft_chrome_opts o = {.binary = binary, .pid = pid, .process_name = pname, .meta = meta};
    const ft_tree *tree = built(t);
    if (tree == NULL || ft_write_chrome(tree, file, &o) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_write_perfetto(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "pid", "process_name", NULL};
    PyObject *file, *pname = NULL;
    long pid = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$lU:write_perfetto", kwlist, &file, &pid,
                                     &pname)) {
        return NULL;
    }
    const ft_tree *tree = built(t);
    if (tree == NULL || ft_write_perfetto(tree, file, pid, pname) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_write_viewer(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "binary", "root", "budget", "start", NULL};
    PyObject *file;
    int binary = 0;
    long long root = -1;
    Py_ssize_t budget = 0, start = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$pLnn:write_viewer", kwlist, &file, &binary,
                                     &root, &budget, &start)) {
        return NULL;
    }
    const ft_tree *tree = built(t);
    if (tree == NULL) {
        return NULL;
    }
    if (budget <= 0 && root < 0) {
        return ft_write_viewer(tree, file, binary, NULL);
    }
    ft_view view;
    if (ft_view_select(tree, (int64_t)root, start > 0 ? (size_t)start : 0,
                       budget > 0 ? (size_t)budget : SIZE_MAX, &view) < 0) {
        ft_view_free(&view);
        return NULL;
    }
    PyObject *files = ft_write_viewer(tree, file, binary, &view);
    ft_view_free(&view);
    return files;
}

static PyObject *
trace_viewer_search(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "limit", "count", NULL};
    PyObject *text;
    Py_ssize_t limit = 1000;
    int count = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|n$p:viewer_search", kwlist, &text, &limit,
                                     &count)) {
        return NULL;
    }
    const ft_tree *tree = built(t);
    if (tree == NULL) {
        return NULL;
    }
    PyObject *needle = PyObject_CallMethod(text, "lower", NULL);
    if (needle == NULL) {
        return NULL;
    }
    size_t total = 0;
    PyObject *ids = ft_viewer_search(tree, needle, limit > 0 ? (size_t)limit : 0, count, &total);
    Py_DECREF(needle);
    if (ids == NULL) {
        return NULL;
    }
    return Py_BuildValue("nN", (Py_ssize_t)total, ids);
}

static PyObject *
trace_write_callers(ft_trace *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "pattern", "max_depth", "ascii", NULL};
    PyObject *file, *pattern;
    int max_depth = 0, ascii = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OU|$ip:write_callers", kwlist, &file, &pattern,
                                     &max_depth, &ascii)) {
        return NULL;
    }
    const ft_tree *tree = built(t);
    if (tree == NULL ||
        ft_write_callers(tree, file, pattern, max_depth > 0 ? (size_t)max_depth : 0, ascii) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_write_ftrace(ft_trace *t, PyObject *file)
{
    /* the records as they are: no tree is built */
    if (ft_write_ftrace(&t->tree, file) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_from_ftrace(PyObject *cls, PyObject *args)
{
    PyObject *data;
    int mapped = 0;
    if (!PyArg_ParseTuple(args, "O|p:_from_ftrace", &data, &mapped)) {
        return NULL;
    }
    /* only an mmap.mmap may be released page by page */
    PyObject *mmap_mod = mapped ? PyImport_ImportModule("mmap") : NULL;
    PyObject *mmap_type = mmap_mod ? PyObject_GetAttrString(mmap_mod, "mmap") : NULL;
    Py_XDECREF(mmap_mod);
    if (mapped && (mmap_type == NULL || !PyObject_TypeCheck(data, (PyTypeObject *)mmap_type))) {
        Py_XDECREF(mmap_type);
        PyErr_Clear();
        mapped = 0;
    }
    else {
        Py_XDECREF(mmap_type);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    ft_tree tree;
    int rc = ft_tree_from_ftrace(&tree, view.buf, (size_t)view.len, mapped);
    PyBuffer_Release(&view);
    if (rc < 0) {
        return NULL;
    }
    return ft_trace_wrap((PyTypeObject *)cls, &tree);
}

static PyObject *
trace_stats(ft_trace *t, PyObject *Py_UNUSED(ignored))
{
    /* one walk in order, as the text's: built as it goes (lazy.c) */
    int lazy = ft_tree_build_lazily(&t->tree);
    const ft_tree *tree = lazy < 0 ? NULL : lazy ? &t->tree : built(t);
    PyObject *rows = tree == NULL ? NULL : ft_stats(tree);
    if (rows != NULL && ft_tree_walked(&t->tree) < 0) {
        Py_CLEAR(rows);
    }
    return rows;
}

static PyObject *
trace_activations(ft_trace *self, PyObject *arg)
{
    unsigned long long min_ns = PyLong_AsUnsignedLongLong(arg);
    if (min_ns == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    const ft_tree *t = built(self);
    ft_activation *acts;
    size_t n;
    if (t == NULL || ft_tree_activations(t, min_ns, &acts, &n) < 0) {
        return NULL;
    }
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        const ft_activation *a = &acts[i];
        PyObject *item = Py_BuildValue("(nnLLKK)", (Py_ssize_t)a->call, (Py_ssize_t)a->last,
                                       (long long)a->parent, (long long)a->lane,
                                       (unsigned long long)a->t0, (unsigned long long)a->t1);
        if (item == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, item);
    }
    PyMem_RawFree(acts);
    return l;
}

static PyObject *
trace_threads(ft_trace *self, PyObject *Py_UNUSED(ignored))
{
    const ft_tree *t = built(self);
    if (t == NULL) {
        return NULL;
    }
    PyObject *l = PyList_New(0);
    if (l == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < t->nthreads; i++) {
        if (t->thread_first[i] == t->thread_first[i + 1]) {
            continue; /* ran only untraced code */
        }
        PyObject *name = ft_tree_thread_name(t, i);
        PyObject *item = name ? Py_BuildValue("(kO)", t->thread_vec[i]->ident, name) : NULL;
        if (item == NULL || PyList_Append(l, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(l);
            return NULL;
        }
        Py_DECREF(item);
    }
    return l;
}

static PyObject *
trace_get_timing(ft_trace *t, void *Py_UNUSED(c))
{
    return PyBool_FromLong(t->tree.cfg.timing);
}

static PyObject *
trace_get_nrecords(ft_trace *t, void *Py_UNUSED(c))
{
    return PyLong_FromSize_t(ft_tree_nrecords(&t->tree));
}

static PyObject *
trace_counts(ft_trace *t, PyObject *Py_UNUSED(arg))
{
    size_t calls, events;
    ft_tree_count(&t->tree, &calls, &events);
    return Py_BuildValue("nn", (Py_ssize_t)calls, (Py_ssize_t)events);
}

static PyObject *
trace_build_lazily(ft_trace *t, PyObject *Py_UNUSED(arg))
{
    int r = ft_tree_build_lazily(&t->tree);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
trace_release_records(ft_trace *t, PyObject *Py_UNUSED(arg))
{
    if (t->tree.nodes == NULL && !t->tree.rebuilt) {
        t->tree.release_records = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *
trace_get_nbytes(ft_trace *t, void *Py_UNUSED(c))
{
    return PyLong_FromSize_t(ft_tree_nbytes(&t->tree));
}

static PyObject *
trace_from_events(PyObject *cls, PyObject *events)
{
    ft_tree tree;
    if (ft_tree_from_events(&tree, events) < 0) {
        return NULL;
    }
    return ft_trace_wrap((PyTypeObject *)cls, &tree);
}

static PyObject *
trace_from_json(PyObject *cls, PyObject *args)
{
    PyObject *file, *prefix = NULL;
    Py_ssize_t chunk = 1 << 20;
    unsigned long long size = 0;
    if (!PyArg_ParseTuple(args, "O|OnK:_from_json", &file, &prefix, &chunk, &size)) {
        return NULL;
    }
    if (chunk < 1 || (prefix != NULL && prefix != Py_None && !PyBytes_Check(prefix))) {
        PyErr_SetString(PyExc_TypeError, "_from_json: prefix must be bytes, chunk >= 1");
        return NULL;
    }
    ft_tree tree;
    if (ft_tree_from_json(&tree, file, prefix == Py_None ? NULL : prefix, (size_t)chunk,
                          (uint64_t)size) < 0) {
        return NULL;
    }
    return ft_trace_wrap((PyTypeObject *)cls, &tree);
}

static PyObject *
trace_from_json_lazily(PyObject *cls, PyObject *args)
{
    PyObject *file;
    Py_ssize_t chunk = 1 << 20;
    unsigned long long size = 0;
    int release = 0;
    if (!PyArg_ParseTuple(args, "O|nKp:_from_json_lazily", &file, &chunk, &size, &release)) {
        return NULL;
    }
    if (chunk < 1) {
        PyErr_SetString(PyExc_TypeError, "_from_json_lazily: chunk >= 1");
        return NULL;
    }
    ft_tree tree;
    int r = ft_tree_from_json_lazily(&tree, file, NULL, (size_t)chunk, (uint64_t)size, release);
    if (r < 0) {
        return NULL;
    }
    if (r == 0) {
        Py_RETURN_NONE;
    }
    return ft_trace_wrap((PyTypeObject *)cls, &tree);
}

static PyMethodDef trace_methods[] = {
    {"_from_json_lazily", (PyCFunction)trace_from_json_lazily, METH_VARARGS | METH_CLASS,
     "_from_json_lazily(file, chunk=1<<20, size=0, release=False) -> Trace or None: a "
     "FlowTrace JSON file (read from its start) read only as far as a walk of its tree asks "
     "(the text, the stats); its errors come when they are read (ValueError). None: it "
     "cannot be read so (read it whole). release: the walked nodes are given back (the "
     "trace is then spent)."},
    {"_from_json", (PyCFunction)trace_from_json, METH_VARARGS | METH_CLASS,
     "_from_json(file, prefix=None, chunk=1<<20, size=0) -> Trace: from a FlowTrace JSON "
     "file read in pieces of `chunk` bytes with file.readinto (after `prefix`, bytes "
     "already read from it), every field checked (ValueError). size: the file's size "
     "when known."},
    {"_from_ftrace", (PyCFunction)trace_from_ftrace, METH_VARARGS | METH_CLASS,
     "_from_ftrace(data, mapped=False) -> Trace: from the bytes of a .ftrace file (any "
     "buffer), every block checked (ValueError). mapped: data is an mmap.mmap of the file "
     "opened read-only, whose pages are given back as they are read."},
    {"write_perfetto", (PyCFunction)(void (*)(void))trace_write_perfetto,
     METH_VARARGS | METH_KEYWORDS,
     "write_perfetto(file, *, pid=1, process_name=None)\nStream the trace as Perfetto's "
     "protobuf TracePackets (Perfetto UI, trace_processor): a track per thread and per "
     "asyncio task, every string interned."},
    {"write_viewer", (PyCFunction)(void (*)(void))trace_write_viewer,
     METH_VARARGS | METH_KEYWORDS,
     "write_viewer(file, *, binary=False, root=-1, budget=0, start=0) -> list of str\n"
     "Stream the data of the viewer's page (docs/viewer.md): columns of numbers and a "
     "string table, safe inside an HTML <script>. With budget > 0 (or a root), only the "
     "view of node root (-1: every thread) down to the deepest level within budget nodes, "
     "its children (or top level) paged from the start-th. Returns the source files of "
     "the functions written."},
    {"viewer_search", (PyCFunction)(void (*)(void))trace_viewer_search,
     METH_VARARGS | METH_KEYWORDS,
     "viewer_search(text, limit=1000, *, count=True) -> (total, ids)\nThe nodes whose "
     "function name, arguments or outcome contain text (case-insensitive): how many, and "
     "the ids of the first `limit`. count=False stops at the limit-th match (total is then "
     "how many were found)."},
    {"write_callers", (PyCFunction)(void (*)(void))trace_write_callers,
     METH_VARARGS | METH_KEYWORDS,
     "write_callers(file, pattern, *, max_depth=0, ascii=False)\nWhere the functions matching "
     "pattern were called from, merged like a profiler's call graph."},
    {"write_ftrace", (PyCFunction)trace_write_ftrace, METH_O,
     "write_ftrace(file)\nStream the recording as a .ftrace file (docs/ftrace-format.md) to "
     "file (.write(bytes))."},
    {"from_events", (PyCFunction)trace_from_events, METH_O | METH_CLASS,
     "from_events(events) -> Trace: rebuild a trace from CallEvent-like objects."},
    {"write_text", (PyCFunction)(void (*)(void))trace_write_text, METH_VARARGS | METH_KEYWORDS,
     "write_text(file, ascii=False, thread_headers=-1, *, color=False, max_depth=0, raw=None,\n"
     "           focus=None, fold=-1)\n"
     "Stream the call tree as text to file (anything with .write(str)); with raw (the\n"
     "binary stream under a UTF-8 text file), as UTF-8 bytes to raw after flushing file.\n"
     "fold: runs of repeated calls folded (1), not (0), or above a size (-1)."},
    {"write_json", (PyCFunction)(void (*)(void))trace_write_json, METH_VARARGS | METH_KEYWORDS,
     "write_json(file, *, binary=False, meta=None)\n"
     "Stream the trace as FlowTrace JSON (docs/json-format.md). binary: file takes "
     "bytes; meta: a JSON object (str) stored as the file's \"meta\"."},
    {"write_chrome", (PyCFunction)(void (*)(void))trace_write_chrome,
     METH_VARARGS | METH_KEYWORDS,
     "write_chrome(file, *, binary=False, pid=1, process_name=None, meta=None)\n"
     "Stream the trace as Chrome Trace Event JSON (Perfetto, chrome://tracing, "
     "speedscope)."},
    {"counts", (PyCFunction)trace_counts, METH_NOARGS,
     "counts()\n(calls, events): the calls (new frames) and the events (entries,\n"
     "resumptions, exits, exception events) recorded, read from the records without\n"
     "building the tree (a tree without records: its call nodes, and all its nodes)."},
    {"_build_lazily", (PyCFunction)trace_build_lazily, METH_NOARGS,
     "_build_lazily()\nTrue if the tree is now built as a text walk reads it (tree/lazy.c);\n"
     "False if it is built already or a lazy build cannot make it. For tests."},
    {"_release_records", (PyCFunction)trace_release_records, METH_NOARGS,
     "_release_records()\nFor a reader that needs only the tree: the records are given back as\n"
     "the tree is built from them (never both in memory at once); then the trace cannot be\n"
     "saved as ftrace. Nothing once the tree is built."},
    {"stats", (PyCFunction)trace_stats, METH_NOARGS,
     "stats() -> list of (name, module, file, line, calls, resumes, raised, total_s, "
     "self_s) per function; times are None when the trace has no timing."},
    {"_activations", (PyCFunction)trace_activations, METH_O,
     "_activations(min_ns) -> list of (call, last, parent, lane, t0, t1): the finished calls "
     "that lasted at least min_ns, a generator's or coroutine's resumptions included, in "
     "event order: the call's event id, the id of its segment that ended last, the call "
     "id of the nearest enclosing one listed (-1: none), the id of its asyncio task lane "
     "(-1: none), its start and end in ns of the trace's clock (see _anchor)."},
    {"threads", (PyCFunction)trace_threads, METH_NOARGS,
     "threads() -> list of (ident, name) of the threads that have events, in the "
     "order they were first seen."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
trace_get_dropped(ft_trace *t, void *Py_UNUSED(c))
{
    unsigned long long n = 0;
    for (uint32_t i = 0; i < t->tree.nthreads; i++) {
        n += t->tree.thread_vec[i]->dropped;
    }
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *
trace_get_anchor(ft_trace *self, void *Py_UNUSED(c))
{
    const ft_tree *t = built(self);
    if (t == NULL) {
        return NULL;
    }
    if (t->cfg.anchor_wall == 0) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(KL)", (unsigned long long)t->cfg.anchor,
                         (long long)t->cfg.anchor_wall);
}

static PyObject *
trace_get_building(ft_trace *t, void *Py_UNUSED(c))
{
    return PyBool_FromLong(t->tree.lazy != NULL);
}

static PyGetSetDef trace_getset[] = {
    {"_building", (getter)trace_get_building, NULL,
     "True while the tree is built only as far as a text walk read it (lazy.c):\n"
     "the next reader that needs all of it builds the rest.", NULL},
    {"_anchor", (getter)trace_get_anchor, NULL,
     "(clock, wall): a moment in the trace's clock (ns, as _activations gives) and the\n"
     "time.time_ns() of that moment, for a trace taken by _snapshot; else None.", NULL},
    {"dropped", (getter)trace_get_dropped, NULL,
     "Records not kept (ring mode, max_events): the oldest.", NULL},
    {"timing", (getter)trace_get_timing, NULL, "True if every event was timestamped.", NULL},
    {"nrecords", (getter)trace_get_nrecords, NULL, "Number of 8-byte words recorded.", NULL},
    {"nbytes", (getter)trace_get_nbytes, NULL,
     "Bytes of memory the engine holds for this trace: the threads' event records,\n"
     "value stores and buffers, and the call tree once built (not the Python objects\n"
     "they refer to). All of it is freed with the trace.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef trace_members[] = {
    {"__weaklistoffset__", Py_T_PYSSIZET, offsetof(ft_trace, weakreflist), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot trace_slots[] = {
    {Py_tp_dealloc, trace_dealloc},
    {Py_sq_length, trace_length},
    {Py_sq_item, trace_item},
    {Py_tp_methods, trace_methods},
    {Py_tp_getset, trace_getset},
    {Py_tp_members, trace_members},
    {Py_tp_doc, "A recorded trace: a sequence of Events, built on demand."},
    {0, NULL},
};

PyType_Spec ft_trace_spec = {
    .name = "flowtrace._core.Trace",
    .basicsize = sizeof(ft_trace),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = trace_slots,
};
