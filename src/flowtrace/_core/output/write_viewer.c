/* write_viewer.c - the data of the viewer's page: the whole tree as
 * columns of numbers and one table of strings (docs/viewer.md).
 *
 *   {"format":"flowtrace-viewer","version":1,"timing":..,"results":..,
 *    "args":..,"clock":"ns"|"events","ncalls":N,
 *    "nodes":{"depth":[..],"fn":[..],"ke":[..],"a":[..],"r":[..],
 *             "o":[..],"t0":[..],"d":[..]},
 *    "functions":{"name":[..],"module":[..],"file":[..],"line":[..]},
 *    "threads":{"name":[..],"ident":[..],"first":[..],"dropped":[..]},
 *    "strings":[..]}
 *
 * Nodes are listed in storage order (each thread's in pre-order, threads
 * one after another: thread i has nodes [first[i], first[i+1])). Per node:
 * depth (0 for a root of its thread), fn (index in "functions"), ke (kind
 * | end << 3 | flags << 6 | timed << 9), a and r (1 + index in "strings"
 * of the arguments' text and of the result - or, for a call that raised
 * and an exception marker, the exception's text; 0: none), o (resumptions:
 * how many nodes back their generator's first call is; 0: none), and, in
 * a timed trace, t0 (the start in ns, as the difference from the previous
 * timed node's start) and d (the duration in ns, -1 when the node has no
 * end of its own). String indices are those of "strings", which lists
 * every distinct text once, in order of first use. Names, modules and
 * files are strings too (-1 when unknown).
 *
 * A view (flowtrace view --serve, viewer_select.h) holds part of a big
 * tree: "ncalls" counts the nodes held, two more columns give each node's
 * id in the whole tree (as the difference from the previous one) and, for
 * a frontier node (ke bit 10: its children are not held), the activations
 * below it ("n"); "view" says where the part is (its root, the ids and
 * functions of the calls it is in, the subtree's size, and the page of
 * the root's children it holds: "from", "shown" of "siblings").
 *
 * Every string is escaped so that the document can sit in an HTML
 * <script> element. Memory: one column's text at a time goes through the
 * sink; the string table (each distinct text once, as the values are) and
 * a map from (thread, payload) to its index.
 */
#include "output/write_viewer.h"

#include "common/u64map.h"
#include "output/clock.h"
#include "output/jsonbuf.h"
#include "output/sink.h"
#include "output/viewer_select.h"
#include "recording/record.h"
#include "recording/values.h"
#include "tree/walk.h"

typedef struct {
    const ft_tree *t;   /* borrowed */
    ft_sink k;          /* owned */
    PyObject *index;    /* owned dict: text -> its index in strings */
    PyObject *strings;  /* owned list of str: the string table */
    ft_u64map byvalue;  /* owned: (thread + 1) << 32 | payload -> index */
    uint32_t *fmap;     /* owned: code id -> function index, UINT32_MAX unused */
    PyObject *codes;    /* owned list of int: code id of each function */
    const ft_view *view; /* borrowed: the nodes held, NULL for every node */
} viewer;

/* How many nodes the page holds, and the node at position k. */
static size_t
held(const viewer *v)
{
    return v->view ? v->view->n : v->t->nnodes;
}

static size_t
node_at(const viewer *v, size_t k)
{
    return v->view ? v->view->node[k] : k;
}

#define UNUSED UINT32_MAX

/* The index of `text` (borrowed) in the string table, added if new. -1
 * with an exception. */
static Py_ssize_t
intern_text(viewer *v, PyObject *text)
{
    PyObject *found = PyDict_GetItemWithError(v->index, text);
    if (found != NULL) {
        return PyLong_AsSsize_t(found);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    Py_ssize_t i = PyList_GET_SIZE(v->strings);
    PyObject *num = PyLong_FromSsize_t(i);
    int rc = num == NULL ? -1 : PyDict_SetItem(v->index, text, num);
    Py_XDECREF(num);
    if (rc < 0 || PyList_Append(v->strings, text) < 0) {
        return -1;
    }
    return i;
}

/* 1 + the string index of a value payload of thread `thread`, 0 for
 * none; -1 with an exception. Equal payloads are looked up once. */
static int64_t
intern_payload(viewer *v, uint32_t thread, uint32_t payload)
{
    if (payload == FT_VAL_ABSENT) {
        return 0;
    }
    uint64_t key = ((uint64_t)thread + 1) << 32 | payload;
    int64_t found = ft_u64map_get(&v->byvalue, key);
    if (found >= 0) {
        return found;
    }
    PyObject *text = ft_value_text(v->t->thread_vec[thread], payload);
    if (text == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_ssize_t i = intern_text(v, text);
    Py_DECREF(text);
    if (i < 0) {
        return -1;
    }
    if (ft_u64map_put(&v->byvalue, key, (int64_t)i + 1) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return (int64_t)i + 1;
}

/* The string index of a str or None (-1 for None), or -2 with an exception. */
static Py_ssize_t
intern_or_none(viewer *v, PyObject *text)
{
    if (text == NULL || !PyUnicode_Check(text)) {
        return PyErr_Occurred() ? -2 : -1;
    }
    Py_ssize_t i = intern_text(v, text);
    return i < 0 ? -2 : i;
}

static void
open_column(viewer *v, const char *name, int first)
{
    ft_sbuf_puts(&v->k.out, first ? "\n\"" : ",\n\"");
    ft_sbuf_puts(&v->k.out, name);
    ft_sbuf_puts(&v->k.out, "\":[");
}

/* A number of a column: comma before all but the first. */
static void
put_item(viewer *v, size_t i, int64_t x)
{
    if (i) {
        ft_sbuf_put(&v->k.out, ",", 1);
    }
    ft_json_put_i64(&v->k.out, x);
}

/* Which payload's text stands after a node: its exception when it raised
 * (or is an exception marker), else its result. */
static uint32_t
outcome(const ft_node *nd)
{
    if (FT_NODE_IS_MARKER(nd->kind) || nd->end == FT_END_RAISE) {
        return nd->exc;
    }
    if (nd->kind == FT_NODE_TASK || nd->end == FT_END_RETURN || nd->end == FT_END_YIELD) {
        return nd->result;
    }
    return FT_VAL_ABSENT;
}

/* The function index of a node, numbering code ids in order of first use. */
static int64_t
function_of(viewer *v, const ft_node *nd)
{
    uint32_t c = nd->code_id < v->t->nnames ? nd->code_id : 0;
    if (v->fmap[c] == UNUSED) {
        PyObject *num = PyLong_FromUnsignedLong(c);
        if (num == NULL || PyList_Append(v->codes, num) < 0) {
            Py_XDECREF(num);
            return -1;
        }
        Py_DECREF(num);
        v->fmap[c] = (uint32_t)(PyList_GET_SIZE(v->codes) - 1);
    }
    return v->fmap[c];
}

enum { COL_DEPTH, COL_FN, COL_KE, COL_A, COL_R, COL_O, COL_T0, COL_D, COL_ID, COL_N, NCOLS };
static const char *const COLUMN[NCOLS] = {"depth", "fn", "ke", "a", "r", "o", "t0", "d", "id", "n"};

/* How many positions back the generator's first call of a resumption is
 * (0: none, or not held). */
static int64_t
origin_back(const viewer *v, size_t k, size_t i, const ft_node *nd)
{
    if (nd->origin < 0 || (size_t)nd->origin >= i) {
        return 0;
    }
    if (v->view == NULL) {
        return (int64_t)(i - (size_t)nd->origin);
    }
    int64_t pos = ft_view_position(v->view, (size_t)nd->origin);
    return pos < 0 ? 0 : (int64_t)k - pos;
}

/* One column of every node held (depth of the whole tree: write_depths). */
static int
write_column(viewer *v, int col, uint64_t origin)
{
    const ft_tree *t = v->t;
    uint64_t prev = origin;
    size_t prev_id = 0;
    open_column(v, COLUMN[col], col == 0);
    for (size_t k = 0; k < held(v); k++) {
        size_t i = node_at(v, k);
        const ft_node *nd = &t->nodes[i];
        int64_t x = 0;
        switch (col) {
        case COL_DEPTH:
            x = v->view->depth[k];
            break;
        case COL_FN:
            x = function_of(v, nd);
            break;
        case COL_KE:
            x = nd->kind | nd->end << 3 | (nd->flags & 7u) << 6 | (nd->timed ? 1 : 0) << 9 |
                (v->view && v->view->frontier[k] ? 1 : 0) << 10;
            break;
        case COL_A:
            x = intern_payload(v, nd->thread, nd->args);
            break;
        case COL_R:
            x = intern_payload(v, nd->thread, outcome(nd));
            break;
        case COL_O:
            x = origin_back(v, k, i, nd);
            break;
        case COL_T0:
            if (nd->timed) {
                x = (int64_t)(ft_node_t0(t, nd) - prev);
                prev = ft_node_t0(t, nd);
            }
            break;
        case COL_D:
            x = nd->timed && !FT_NODE_IS_MARKER(nd->kind) && nd->end != FT_END_UNFINISHED
                    ? (int64_t)(ft_node_t1(t, nd) - ft_node_t0(t, nd))
                    : -1;
            break;
        case COL_ID:
            x = (int64_t)(i - prev_id);
            prev_id = i;
            break;
        default: /* COL_N */
            x = (int64_t)v->view->below[k];
            break;
        }
        if (x < 0 && col != COL_T0 && col != COL_D) {
            return -1;
        }
        put_item(v, k, x);
        if (ft_sink_maybe_flush(&v->k) < 0) {
            return -1;
        }
    }
    ft_sbuf_puts(&v->k.out, "]");
    return 0;
}

/* The depth of every node (the whole tree: the walk gives it). */
static int
write_depths(viewer *v)
{
    const ft_tree *t = v->t;
    open_column(v, "depth", 1);
    for (uint32_t th = 0; th < t->nthreads; th++) {
        ft_walk w = {0};
        ft_walk_thread(&w, t, th);
        for (size_t i = t->thread_first[th]; i < t->thread_first[th + 1]; i++) {
            Py_ssize_t depth = ft_walk_enter(&w, i);
            if (depth < 0) {
                ft_walk_free(&w);
                return -1;
            }
            put_item(v, i, depth);
            if (ft_sink_maybe_flush(&v->k) < 0) {
                ft_walk_free(&w);
                return -1;
            }
        }
        ft_walk_free(&w);
    }
    ft_sbuf_puts(&v->k.out, "]");
    return 0;
}

static int
write_nodes(viewer *v)
{
    uint64_t origin = 0, last = 0;
    int real = ft_output_clock(v->t, &origin, &last);
    ft_sbuf_puts(&v->k.out, ",\"clock\":");
    ft_sbuf_puts(&v->k.out, real ? "\"ns\"" : "\"events\"");
    ft_sbuf_puts(&v->k.out, ",\n\"nodes\":{");
    if (v->view ? write_column(v, COL_DEPTH, origin) < 0 : write_depths(v) < 0) {
        return -1;
    }
    for (int col = COL_FN; col < NCOLS; col++) {
        if ((col == COL_T0 || col == COL_D) && !real) {
            continue; /* the page counts events itself */
        }
        if ((col == COL_ID || col == COL_N) && v->view == NULL) {
            continue; /* every node: the id is the position, nothing is below */
        }
        if (write_column(v, col, origin) < 0) {
            return -1;
        }
    }
    ft_sbuf_puts(&v->k.out, "}");
    return 0;
}

static int
write_functions(viewer *v)
{
    const ft_tree *t = v->t;
    Py_ssize_t n = PyList_GET_SIZE(v->codes);
    ft_sbuf_puts(&v->k.out, ",\n\"functions\":{");
    for (int col = 0; col < 4; col++) {
        static const char *const name[4] = {"name", "module", "file", "line"};
        open_column(v, name[col], col == 0);
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t c = (uint32_t)PyLong_AsUnsignedLong(PyList_GET_ITEM(v->codes, i));
            Py_ssize_t x;
            if (col == 0) {
                PyObject *fname = ft_tree_name(t, c);
                x = fname == NULL ? -2 : intern_or_none(v, fname);
            }
            else if (col == 1) {
                x = intern_or_none(v, ft_tree_module(t, c));
            }
            else if (col == 2) {
                x = intern_or_none(v, ft_tree_file(t, c));
            }
            else {
                x = ft_tree_line(t, c);
            }
            if (x == -2 && col < 3) {
                return -1;
            }
            put_item(v, (size_t)i, x);
        }
        ft_sbuf_puts(&v->k.out, "]");
    }
    ft_sbuf_puts(&v->k.out, "}");
    return 0;
}

static int
write_threads(viewer *v)
{
    const ft_tree *t = v->t;
    ft_sbuf_puts(&v->k.out, ",\n\"threads\":{");
    for (int col = 0; col < 4; col++) {
        static const char *const name[4] = {"name", "ident", "first", "dropped"};
        open_column(v, name[col], col == 0);
        uint32_t n = col == 2 ? t->nthreads + 1 : t->nthreads;
        for (uint32_t i = 0; i < n; i++) {
            int64_t x;
            if (col == 0) {
                PyObject *tname = ft_tree_thread_name(t, i);
                Py_ssize_t s = tname == NULL ? -2 : intern_or_none(v, tname);
                if (s == -2) {
                    return -1;
                }
                x = s;
            }
            else if (col == 1) {
                x = (int64_t)t->thread_vec[i]->ident;
            }
            else if (col == 2) {
                x = (int64_t)(v->view ? v->view->thread_first[i] : t->thread_first[i]);
            }
            else {
                x = (int64_t)t->thread_vec[i]->dropped;
            }
            put_item(v, i, x);
        }
        ft_sbuf_puts(&v->k.out, "]");
    }
    ft_sbuf_puts(&v->k.out, "}");
    return 0;
}

/* A view's place in the whole tree: its node, the calls it is in
 * (outermost first: ids and functions), how many nodes its subtree has
 * and how many top-level nodes did not fit. */
static int
write_view(viewer *v)
{
    const ft_view *w = v->view;
    ft_sbuf *s = &v->k.out;
    ft_sbuf_puts(s, ",\n\"view\":{\"root\":");
    ft_json_put_i64(s, w->root);
    ft_sbuf_puts(s, ",\"total\":");
    ft_json_put_u64(s, w->total);
    ft_sbuf_puts(s, ",\"siblings\":");
    ft_json_put_u64(s, w->siblings);
    ft_sbuf_puts(s, ",\"from\":");
    ft_json_put_u64(s, w->from);
    ft_sbuf_puts(s, ",\"shown\":");
    ft_json_put_u64(s, w->shown);
    ft_sbuf_puts(s, ",\"path\":[");
    for (size_t k = 0; k < w->npath; k++) {
        put_item(v, k, w->path[k]);
    }
    ft_sbuf_puts(s, "],\"path_fn\":[");
    for (size_t k = 0; k < w->npath; k++) {
        const ft_node *nd = &v->t->nodes[w->path[k]];
        int64_t f = nd->kind == FT_NODE_TASK ? -1 : function_of(v, nd);
        if (nd->kind != FT_NODE_TASK && f < 0) {
            return -1;
        }
        put_item(v, k, f);
    }
    ft_sbuf_puts(s, "]}");
    return 0;
}

static int
write_strings(viewer *v)
{
    ft_sbuf_puts(&v->k.out, ",\n\"strings\":[");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v->strings); i++) {
        if (i) {
            ft_sbuf_put(&v->k.out, ",\n", 2);
        }
        ft_json_put_str_html(&v->k.out, PyList_GET_ITEM(v->strings, i));
        if (ft_sink_maybe_flush(&v->k) < 0) {
            return -1;
        }
    }
    ft_sbuf_puts(&v->k.out, "]");
    return 0;
}

/* The files of the functions written (a new list of str, no repeats). */
static PyObject *
files_of(viewer *v)
{
    PyObject *seen = PySet_New(NULL);
    PyObject *files = PyList_New(0);
    if (seen == NULL || files == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v->codes); i++) {
        uint32_t c = (uint32_t)PyLong_AsUnsignedLong(PyList_GET_ITEM(v->codes, i));
        PyObject *f = ft_tree_file(v->t, c);
        if (f == NULL || !PyUnicode_Check(f)) {
            if (PyErr_Occurred()) {
                goto fail;
            }
            continue;
        }
        int has = PySet_Contains(seen, f);
        if (has < 0 || (!has && (PySet_Add(seen, f) < 0 || PyList_Append(files, f) < 0))) {
            goto fail;
        }
    }
    Py_DECREF(seen);
    return files;
fail:
    Py_XDECREF(seen);
    Py_XDECREF(files);
    return NULL;
}

PyObject *
ft_write_viewer(const ft_tree *t, PyObject *file, int binary, const ft_view *view)
{
    viewer v = {.t = t, .view = view};
    PyObject *files = NULL;
    if (ft_sink_open(&v.k, file, binary) < 0) {
        return NULL;
    }
    v.index = PyDict_New();
    v.strings = PyList_New(0);
    v.codes = PyList_New(0);
    v.fmap = PyMem_RawMalloc(((size_t)t->nnames + 1) * sizeof(uint32_t));
    if (v.index == NULL || v.strings == NULL || v.codes == NULL || v.fmap == NULL) {
        if (v.fmap == NULL) {
            PyErr_NoMemory();
        }
        goto done;
    }
    for (uint32_t i = 0; i <= t->nnames; i++) {
        v.fmap[i] = UNUSED;
    }
    ft_sbuf *s = &v.k.out;
    ft_sbuf_puts(s, "{\"format\":\"" FT_VIEWER_FORMAT "\",\"version\":");
    ft_json_put_u64(s, FT_VIEWER_VERSION);
    ft_sbuf_puts(s, ",\"timing\":");
    ft_sbuf_puts(s, t->cfg.timing ? "true" : "false");
    ft_sbuf_puts(s, ",\"results\":");
    ft_sbuf_puts(s, t->cfg.results ? "true" : "false");
    ft_sbuf_puts(s, ",\"args\":");
    ft_sbuf_puts(s, t->cfg.args ? "true" : "false");
    ft_sbuf_puts(s, ",\"ncalls\":");
    ft_json_put_u64(s, held(&v));
    if (write_nodes(&v) < 0 || (view != NULL && write_view(&v) < 0) ||
        write_functions(&v) < 0 || write_threads(&v) < 0 || write_strings(&v) < 0) {
        goto done;
    }
    ft_sbuf_puts(s, "}");
    if (ft_sink_flush(&v.k) == 0) {
        files = files_of(&v);
    }
done:
    Py_XDECREF(v.index);
    Py_XDECREF(v.strings);
    Py_XDECREF(v.codes);
    PyMem_RawFree(v.fmap);
    ft_u64map_free(&v.byvalue);
    ft_sink_close(&v.k);
    return files;
}
