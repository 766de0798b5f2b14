/* fold.c - which calls of a run are folded, and what the fold line counts
 * (fold.h). The nodes are in pre-order (tree.h), so the calls after a
 * node are found by skipping its subtree: the nodes that follow it whose
 * parent index is not below its own. */
#include "output/fold.h"

#include <string.h>

#include "recording/values.h"

#define NO_PARENT INT64_MIN /* a run entry that matches no node */

static const char *const WORDS[FT_OUT_N] = {
    "returned", "raised", "yielded", "left suspended", "closed", "unfinished",
    "began before tracing",
};

const char *
ft_fold_outcome_word(unsigned outcome)
{
    return outcome < FT_OUT_N ? WORDS[outcome] : "?";
}

static unsigned
outcome_of(const ft_node *nd)
{
    if (nd->flags & FT_NF_BEGAN_BEFORE) {
        return FT_OUT_BEGAN_BEFORE;
    }
    switch (nd->end) {
    case FT_END_RETURN:
        return FT_OUT_RETURNED;
    case FT_END_RAISE:
        return FT_OUT_RAISED;
    case FT_END_YIELD:
        return (nd->flags & FT_NF_LEFT_SUSPENDED) ? FT_OUT_LEFT_SUSPENDED : FT_OUT_YIELDED;
    case FT_END_CLOSED:
        return FT_OUT_CLOSED;
    default:
        return FT_OUT_UNFINISHED;
    }
}

/* Calls and resumptions make runs; markers and task lanes do not. */
static int
is_call(const ft_node *nd)
{
    return nd->kind == FT_NODE_CALL || nd->kind == FT_NODE_RESUME || nd->kind == FT_NODE_THROW;
}

static uint8_t
is_resume(const ft_node *nd)
{
    return nd->kind != FT_NODE_CALL;
}

/* Is node j made, with nodes [.., *last) known to be (a lazy tree is
 * built further when needed)? 1, 0, or -1 with an exception. */
static int
have(const ft_tree *t, uint32_t thread, size_t j, size_t *last)
{
    if (j < *last) {
        return 1;
    }
    if (t->lazy == NULL || ft_tree_walkable(t, thread, j, last) < 0) {
        return t->lazy == NULL ? 0 : -1;
    }
    return j < *last;
}

/* The outcome of the run's latest shown call joins `seen` (closed by now,
 * or closed here). 0, or -1 with an exception. */
static int
settle(ft_fold_run *r, const ft_tree *t)
{
    if (r->pending == 0) {
        return 0;
    }
    size_t j = r->pending - 1;
    if (ft_tree_closed(t, j) < 0) {
        return -1;
    }
    r->seen |= (uint8_t)(1u << outcome_of(&t->nodes[j]));
    r->pending = 0;
    return 0;
}

/* Is node j a call of run `r`, ending in a way one of its shown calls
 * did? 1, 0, or -1 with an exception. */
static int
hideable(ft_fold_run *r, const ft_tree *t, size_t j)
{
    const ft_node *nd = &t->nodes[j];
    if (!(is_call(nd) && nd->parent == r->parent && nd->code_id == r->code_id &&
          is_resume(nd) == r->resume)) {
        return 0;
    }
    if (settle(r, t) < 0 || ft_tree_closed(t, j) < 0) {
        return -1;
    }
    return (r->seen & (1u << outcome_of(nd))) != 0;
}

/* *out: the first node after node i's subtree, in [i+1, *last]. 0, or -1
 * with an exception. */
static int
after_subtree(const ft_tree *t, size_t i, size_t *last, size_t *out)
{
    uint32_t thread = t->nodes[i].thread;
    size_t j = i + 1;
    int h;
    while ((h = have(t, thread, j, last)) > 0 && t->nodes[j].parent >= (int64_t)i) {
        j++;
    }
    *out = j;
    return h < 0 ? -1 : 0;
}

void
ft_fold_init(ft_fold *f, int focus)
{
    memset(f, 0, sizeof(*f));
    f->focus = focus;
    f->depth = FT_FOLD_NONE;
}

void
ft_fold_close(ft_fold *f)
{
    for (int k = 0; k < FT_FOLD_NEXC; k++) {
        Py_CLEAR(f->excs[k].name);
        f->excs[k].count = 0;
    }
    memset(f->outcomes, 0, sizeof(f->outcomes));
    f->other_excs = f->calls = f->inner = 0;
    f->tail_caught = 0;
    f->depth = FT_FOLD_NONE;
}

void
ft_fold_reset(ft_fold *f)
{
    ft_fold_close(f);
    for (size_t d = 0; d < f->nruns; d++) {
        f->runs[d].parent = NO_PARENT;
        f->runs[d].pending = 0;
    }
}

void
ft_fold_free(ft_fold *f)
{
    ft_fold_close(f);
    PyMem_RawFree(f->runs);
    f->runs = NULL;
    f->nruns = 0;
}

size_t
ft_fold_pins(const ft_fold *f, int64_t *out)
{
    size_t n = 0;
    if (f->depth != FT_FOLD_NONE) {
        out[n++] = (int64_t)f->first;
    }
    for (size_t d = 0; d < f->nruns; d++) {
        if (f->runs[d].pending != 0) {
            out[n++] = (int64_t)f->runs[d].pending - 1;
        }
    }
    return n;
}

/* "ValueError" of "ValueError: bad input": new reference, NULL with an
 * exception, or None when the text is unknown. */
static PyObject *
exc_type_name(const ft_tree *t, const ft_node *nd)
{
    PyObject *text = ft_value_text(t->thread_vec[nd->thread], nd->exc);
    if (text == NULL) {
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_ssize_t colon = PyUnicode_FindChar(text, ':', 0, n, 1);
    if (colon == -2) {
        Py_DECREF(text);
        return NULL;
    }
    if (colon < 0) {
        return text;
    }
    PyObject *name = PyUnicode_Substring(text, 0, colon);
    Py_DECREF(text);
    return name;
}

/* Count hidden call `nd` in the stretch. 0 or -1. */
static int
count(ft_fold *f, const ft_tree *t, const ft_node *nd)
{
    unsigned o = outcome_of(nd);
    f->tail_caught = o == FT_OUT_RAISED;
    f->calls++;
    f->outcomes[o]++;
    if (o != FT_OUT_RAISED) {
        return 0;
    }
    PyObject *name = exc_type_name(t, nd);
    if (name == NULL) {
        return -1;
    }
    int k = 0;
    for (; k < FT_FOLD_NEXC && f->excs[k].name != NULL; k++) {
        int eq = PyObject_RichCompareBool(f->excs[k].name, name, Py_EQ);
        if (eq < 0) {
            Py_DECREF(name);
            return -1;
        }
        if (eq) {
            break;
        }
    }
    if (k == FT_FOLD_NEXC) {
        f->other_excs++;
        Py_DECREF(name);
        return 0;
    }
    if (f->excs[k].name == NULL) {
        f->excs[k].name = name; /* steals */
    }
    else {
        Py_DECREF(name);
    }
    f->excs[k].count++;
    return 0;
}

int
ft_fold_continues(ft_fold *f, const ft_tree *t, size_t i, size_t depth, size_t last)
{
    const ft_node *nd = &t->nodes[i];
    if (depth > f->depth) { /* inside a hidden call */
        f->inner += is_call(nd);
        return 1;
    }
    if (depth < f->depth) {
        return 0;
    }
    ft_fold_run *r = &f->runs[depth];
    int h = hideable(r, t, i);
    if (h != 0) {
        return h < 0 || count(f, t, nd) < 0 ? -1 : 1;
    }
    if (FT_NODE_IS_MARKER(nd->kind) && nd->parent == r->parent) {
        /* the caller's exception lines between hidden calls go with them,
         * and so does the catching of the last one's exception; the
         * caller's other lines after the last one are shown */
        size_t j = i + 1;
        while ((h = have(t, nd->thread, j, &last)) > 0 && t->nodes[j].parent == r->parent &&
               FT_NODE_IS_MARKER(t->nodes[j].kind)) {
            j++;
        }
        if (h > 0) {
            h = hideable(r, t, j);
        }
        if (h != 0) {
            return h;
        }
        f->tail_caught = f->tail_caught && nd->kind == FT_NODE_HANDLED;
        return f->tail_caught;
    }
    return 0;
}

/* Would the call after node i of run `r` (at the depth where runs are
 * loose with --focus: after anything else) be hidden too? A stretch of
 * one call is not folded. 1, 0, or -1 with an exception. */
static int
second_hidden(ft_fold_run *r, const ft_tree *t, size_t i, size_t last, int loose)
{
    size_t j;
    int h;
    if (after_subtree(t, i, &last, &j) < 0) {
        return -1;
    }
    while ((h = have(t, t->nodes[i].thread, j, &last)) > 0 && t->nodes[j].parent == r->parent) {
        const ft_node *nj = &t->nodes[j];
        if (is_call(nj) && nj->code_id == r->code_id && is_resume(nj) == r->resume) {
            return hideable(r, t, j);
        }
        if (FT_NODE_IS_MARKER(nj->kind)) {
            j++;
        }
        else if (loose) {
            if (after_subtree(t, j, &last, &j) < 0) {
                return -1;
            }
        }
        else {
            return 0;
        }
    }
    return h < 0 ? -1 : 0;
}

int
ft_fold_starts(ft_fold *f, const ft_tree *t, size_t i, size_t depth, size_t last)
{
    const ft_node *nd = &t->nodes[i];
    if (FT_NODE_IS_MARKER(nd->kind)) {
        return 0; /* the caller's exception lines do not break a run */
    }
    if (depth >= f->nruns) {
        size_t n = f->nruns ? f->nruns : 16;
        while (n <= depth) {
            n *= 2;
        }
        ft_fold_run *runs = PyMem_RawRealloc(f->runs, n * sizeof(*runs));
        if (runs == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t d = f->nruns; d < n; d++) {
            runs[d].parent = NO_PARENT;
            runs[d].pending = 0;
        }
        f->runs = runs;
        f->nruns = n;
    }
    ft_fold_run *r = &f->runs[depth];
    if (!is_call(nd)) { /* a task lane: the calls after it start anew */
        r->parent = NO_PARENT;
        return 0;
    }
    if (r->parent != nd->parent || r->code_id != nd->code_id || r->resume != is_resume(nd)) {
        r->parent = nd->parent;
        r->code_id = nd->code_id;
        r->resume = is_resume(nd);
        r->seen = 0;
        r->shown = 0;
        r->pending = 0;
    }
    if (r->shown >= FT_FOLD_SHOWN) {
        int h = hideable(r, t, i);
        if (h > 0) {
            h = second_hidden(r, t, i, last, f->focus && depth == 0);
        }
        if (h < 0) {
            return -1;
        }
        if (h > 0) {
            f->depth = depth;
            f->first = i;
            return count(f, t, nd) < 0 ? -1 : 1;
        }
    }
    if (r->shown < FT_FOLD_SHOWN) {
        r->shown++;
    }
    /* shown: its outcome counts once it is known (settle) */
    if (settle(r, t) < 0) {
        return -1;
    }
    r->pending = i + 1;
    return 0;
}
