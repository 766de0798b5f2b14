/* frame_args.c - arguments of a call read from its frame at PY_START.
 *
 * Layout of the argument names in co_varnames: co_argcount positional
 * parameters (positional-only included), co_kwonlyargcount keyword-only
 * ones, then *args if CO_VARARGS, then **kwargs if CO_VARKEYWORDS. Each is
 * read from the frame's fast locals (no locals dict is built), captured,
 * and made into text when the trace is built. Shown like a call:
 * positional values bare, keyword-only ones as name=value, *args spread,
 * **kwargs as key=value.
 */
#include "recording/frame_args.h"

#include "common/compat.h"
#include "recording/record.h"
#include "recording/threads.h"
#include "common/sbuf.h"
#include "recording/values.h"

#define ARGS_TEXT_LIMIT (2 * FT_REPR_LIMIT)

static void
put_value(ft_sbuf *s, PyObject *v, int full)
{
    PyObject *r = full ? ft_full_text(v) : ft_builtin_repr(v, FT_REPR_LIMIT);
    if (r == NULL) {
        PyErr_Clear();
        ft_sbuf_puts(s, "?");
        return;
    }
    ft_sbuf_put_str(s, r);
    Py_DECREF(r);
}

static void
sep(ft_sbuf *s)
{
    if (s->len) {
        ft_sbuf_puts(s, ", ");
    }
}

/* **kwargs as "k=v, k2=v2" (rare: formatted when captured). */
static PyObject *
kwargs_text(PyObject *d, int full)
{
    ft_sbuf s = {0};
    Py_ssize_t pos = 0;
    PyObject *k, *val;
    while (PyDict_Next(d, &pos, &k, &val) && s.len < ARGS_TEXT_LIMIT) {
        sep(&s);
        if (PyUnicode_Check(k)) {
            ft_sbuf_put_str(&s, k);
        }
        else {
            ft_sbuf_puts(&s, "?");
        }
        ft_sbuf_puts(&s, "=");
        put_value(&s, val, full);
    }
    PyObject *r = PyUnicode_DecodeUTF8(s.buf ? s.buf : "", (Py_ssize_t)s.len, "replace");
    ft_sbuf_free(&s);
    return r;
}

/* Value of local `i` (borrowed, or NULL when unbound); a parameter that a
 * closure captures already sits in its cell at PY_START. */
static PyObject *
local_value(PyCodeObject *co, PyObject **locals, PyFrameObject *f, PyObject *names, Py_ssize_t i)
{
    if (locals != NULL) {
        return ft_compat_fast_local(co, locals, i);
    }
    PyObject *v = PyFrame_GetVar(f, PyTuple_GET_ITEM(names, i)); /* new reference */
    if (v == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_DECREF(v); /* still owned by the frame's locals */
    return v;
}

/* The arguments of the starting call, gathered before anything is
 * formatted (a user repr, with full reprs, may run any code). The
 * references are owned only then (`owned`); otherwise nothing runs between
 * gathering and capturing and they stay borrowed from the frame. */
typedef struct {
    int owned;                    /* the references below are owned */
    PyObject *named[FT_ARGV_MAX]; /* owned or borrowed; NULL: unbound */
    uint8_t named_text[FT_ARGV_MAX]; /* 1: replaced by its full repr */
    Py_ssize_t nnamed;
    PyObject *extra[FT_ARGV_MAX]; /* owned or borrowed: *args items */
    uint8_t extra_text[FT_ARGV_MAX]; /* 1: replaced by its full repr */
    Py_ssize_t nextra;
    PyObject *kwargs;             /* owned or borrowed, or NULL: a
                                     non-empty **kwargs */
    Py_ssize_t dropped;           /* parameters and *args items past
                                     FT_ARGV_MAX, not kept */
} gathered;

static void
gathered_clear(gathered *g)
{
    if (!g->owned) {
        return;
    }
    for (Py_ssize_t i = 0; i < g->nnamed; i++) {
        Py_XDECREF(g->named[i]);
    }
    for (Py_ssize_t i = 0; i < g->nextra; i++) {
        Py_DECREF(g->extra[i]);
    }
    Py_XDECREF(g->kwargs);
}

/* Read the arguments of `code`'s starting frame. 0, or -1 when the running
 * frame is not its. Runs no Python code. */
static int
gather(PyObject *code, gathered *g)
{
    PyCodeObject *co = (PyCodeObject *)code;
    PyObject **locals = ft_compat_fast_locals(co);
    PyFrameObject *f = NULL;
    if (locals == NULL) {
        f = PyEval_GetFrame(); /* borrowed */
        if (f == NULL) {
            return -1;
        }
        PyCodeObject *fc = PyFrame_GetCode(f);
        Py_DECREF(fc);
        if (fc != co) {
            return -1;
        }
    }
    PyObject *names = PyCode_GetVarnames(co); /* cached by the code object */
    if (names == NULL) {
        PyErr_Clear();
        return -1;
    }
    Py_ssize_t nnames = PyTuple_GET_SIZE(names);
    Py_ssize_t after = co->co_argcount + co->co_kwonlyargcount;
    for (Py_ssize_t i = 0; i < after && i < nnames; i++) {
        if (i >= FT_ARGV_MAX) {
            g->dropped++;
            continue;
        }
        g->named_text[g->nnamed] = 0;
        PyObject *v = local_value(co, locals, f, names, i);
        g->named[g->nnamed++] = g->owned ? Py_XNewRef(v) : v;
    }
    if ((co->co_flags & CO_VARARGS) && after < nnames) {
        PyObject *v = local_value(co, locals, f, names, after);
        if (v != NULL && PyTuple_Check(v)) {
            if (PyTuple_GET_SIZE(v) > FT_ARGV_MAX) {
                g->dropped += PyTuple_GET_SIZE(v) - FT_ARGV_MAX;
            }
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(v) && k < FT_ARGV_MAX; k++) {
                g->extra_text[g->nextra] = 0;
                PyObject *item = PyTuple_GET_ITEM(v, k);
                g->extra[g->nextra++] = g->owned ? Py_NewRef(item) : item;
            }
        }
        after++;
    }
    if ((co->co_flags & CO_VARKEYWORDS) && after < nnames) {
        PyObject *v = local_value(co, locals, f, names, after);
        if (v != NULL && PyDict_CheckExact(v) && PyDict_GET_SIZE(v) > 0) {
            g->kwargs = g->owned ? Py_NewRef(v) : v;
        }
    }
    Py_DECREF(names);
    return 0;
}

/* With full reprs, replace each value by its repr (user code): then every
 * item is a str to store as text. */
static void
to_full_text(gathered *g)
{
    for (Py_ssize_t i = 0; i < g->nnamed; i++) {
        if (g->named[i] != NULL && !ft_is_scalar(g->named[i])) {
            Py_XSETREF(g->named[i], ft_full_text(g->named[i]));
            g->named_text[i] = 1;
        }
    }
    for (Py_ssize_t i = 0; i < g->nextra; i++) {
        if (!ft_is_scalar(g->extra[i])) {
            PyObject *t = ft_full_text(g->extra[i]);
            Py_SETREF(g->extra[i], t != NULL ? t : Py_NewRef(Py_None));
            g->extra_text[i] = t != NULL;
        }
    }
    PyErr_Clear();
}

/* A gathered value's payload: a full repr is stored as text, anything
 * else captured by the builtin rules. */
static uint32_t
capture(ft_threadbuf *tb, PyObject *v, int is_text)
{
    if (v == NULL) {
        return FT_VAL_ABSENT;
    }
    return is_text ? ft_store_text(tb, Py_NewRef(v)) : ft_capture(tb, v);
}

/* The text of a captured value, "?" if it cannot be had. */
static void
put_payload(ft_sbuf *s, ft_threadbuf *tb, uint32_t payload)
{
    if (ft_value_put_inline(s, payload)) {
        return;
    }
    PyObject *t = ft_value_text(tb, payload);
    if (t == NULL) {
        PyErr_Clear();
        ft_sbuf_puts(s, "?");
        return;
    }
    ft_sbuf_put_str(s, t);
    Py_DECREF(t);
}

uint32_t
ft_argv_text(ft_threadbuf *tb, Py_ssize_t npos, PyObject *varnames, const ft_argv *a)
{
    /* One positional argument (a parameter, or an item of *args / of a
     * decorated call): its text is the text of its value, so the value
     * itself stands for the arguments (no string made). */
    if (a->nnamed == 1 && npos >= 1 && a->nextra == 0 && a->named[0] != FT_VAL_ABSENT) {
        return a->named[0];
    }
    if (a->nnamed == 0 && a->nextra == 1 && !a->extra_kw[0] && a->extra[0] != FT_VAL_ABSENT) {
        return a->extra[0];
    }
    /* the names are needed for keyword-only parameters only */
    PyObject *names = (Py_ssize_t)a->nnamed > npos ? varnames : NULL;
    if ((Py_ssize_t)a->nnamed > npos && names == NULL) {
        return FT_VAL_ABSENT;
    }
    ft_sbuf s = {0};
    /* positional, *args items, keyword-only as name=value, **kwargs */
    for (uint32_t i = 0; i < a->nnamed && (Py_ssize_t)i < npos; i++) {
        sep(&s);
        put_payload(&s, tb, a->named[i]);
    }
    for (uint32_t i = 0; i < a->nextra; i++) {
        if (a->extra_kw[i]) {
            continue;
        }
        sep(&s);
        put_payload(&s, tb, a->extra[i]);
    }
    for (uint32_t i = (uint32_t)npos; names != NULL && i < a->nnamed; i++) {
        if ((Py_ssize_t)i >= PyTuple_GET_SIZE(names)) {
            break;
        }
        sep(&s);
        ft_sbuf_put_str(&s, PyTuple_GET_ITEM(names, i));
        ft_sbuf_puts(&s, "=");
        put_payload(&s, tb, a->named[i]);
    }
    for (uint32_t i = 0; i < a->nextra; i++) {
        if (!a->extra_kw[i]) {
            continue;
        }
        PyObject *t = ft_value_text(tb, a->extra[i]);
        if (t != NULL && PyUnicode_GET_LENGTH(t) > 0) {
            sep(&s);
            ft_sbuf_put_str(&s, t);
        }
        Py_XDECREF(t);
        PyErr_Clear();
    }
    PyObject *r = PyUnicode_DecodeUTF8(s.buf ? s.buf : "", (Py_ssize_t)s.len, "replace");
    ft_sbuf_free(&s);
    if (r == NULL) {
        PyErr_Clear();
        return FT_VAL_ABSENT;
    }
    return ft_store_text(tb, r);
}

int
ft_record_frame_args(ft_state *st, ft_threadbuf *tb, PyObject *code, uint32_t verdict)
{
    uint32_t id = verdict & FT_CODE_ID_MASK;
    int full = st->full_repr;
    gathered g; /* not zeroed whole: only what gather() fills is read */
    g.nnamed = g.nextra = 0;
    g.kwargs = NULL;
    g.dropped = 0;
    g.owned = full;
    PyObject *saved = PyErr_GetRaisedException();
    if (gather(code, &g) < 0) {
        PyErr_SetRaisedException(saved);
        return 0;
    }
    PyObject *kw = NULL;
    uint64_t gen = st->gen;
    if (full) {
        tb->paused++; /* the user reprs are FlowTrace's, not the program's */
        to_full_text(&g);
    }
    if (g.kwargs != NULL) {
        kw = kwargs_text(g.kwargs, full);
        PyErr_Clear();
    }
    PyErr_SetRaisedException(saved);
    if (full) {
        if (st->gen != gen || ft_tl_gen != gen) {
            Py_XDECREF(kw); /* stopped meanwhile: tb was handed over */
            gathered_clear(&g);
            return -1;
        }
        tb->paused--;
    }
    for (Py_ssize_t i = 0; i < g.nnamed; i++) {
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGV, id, capture(tb, g.named[i], g.named_text[i])));
    }
    for (Py_ssize_t i = 0; i < g.nextra; i++) {
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGX, id, capture(tb, g.extra[i], g.extra_text[i])));
    }
    if (kw != NULL) {
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGX | FT_REC_FRAME, id, ft_store_text(tb, kw)));
    }
    if (g.dropped > 0) { /* said, so the call never reads as a shorter one */
        PyObject *more = PyUnicode_FromFormat("%s +%zd more", "\xe2\x80\xa6", g.dropped);
        if (more != NULL) {
            ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGX | FT_REC_FRAME, id, ft_store_text(tb, more)));
        }
        PyErr_Clear();
    }
    gathered_clear(&g);
    return 0;
}
