/* frame_args.c - arguments of a call read from its frame at PY_START.
 *
 * Layout of the argument names in co_varnames: co_argcount positional
 * parameters (positional-only included), co_kwonlyargcount keyword-only
 * ones, then *args if CO_VARARGS, then **kwargs if CO_VARKEYWORDS. Each is
 * read with PyFrame_GetVar (no locals dict is built). Shown like a call:
 * positional values bare, keyword-only ones as name=value, *args spread,
 * **kwargs as key=value.
 */
#include "frame_args.h"

/* CPython 3.12 and 3.13: the running frame's fast locals are read in place
 * (interpreter frame layout from CPython's installed internal header), so
 * no frame object is made per call: materialising one and freeing it cost
 * ~500 instructions per call, most of --args. Other versions go through
 * PyFrame_GetVar. */
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
#define FT_DIRECT_LOCALS 1
#define FT_FAST_CELL 0x40 /* CO_FAST_CELL of internal/pycore_code.h */
#endif

#include "record.h"
#include "sbuf.h"
#include "values.h"

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

PyObject *
ft_frame_args_text(PyObject *code, int full)
{
    PyFrameObject *f = PyEval_GetFrame(); /* borrowed */
    if (f == NULL) {
        return NULL;
    }
    PyCodeObject *fc = PyFrame_GetCode(f);
    Py_DECREF(fc);
    if ((PyObject *)fc != code) {
        return NULL;
    }
    PyCodeObject *co = (PyCodeObject *)code;
    PyObject *names = PyCode_GetVarnames(co);
    if (names == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_ssize_t npos = co->co_argcount, nkw = co->co_kwonlyargcount;
    Py_ssize_t i = 0, nnames = PyTuple_GET_SIZE(names);
    ft_sbuf s = {0};
    PyObject *star = NULL, *dstar = NULL;
    Py_ssize_t after = npos + nkw;
    if ((co->co_flags & CO_VARARGS) && after < nnames) {
        star = PyTuple_GET_ITEM(names, after++);
    }
    if ((co->co_flags & CO_VARKEYWORDS) && after < nnames) {
        dstar = PyTuple_GET_ITEM(names, after);
    }
    for (; i < npos && i < nnames && s.len < ARGS_TEXT_LIMIT; i++) {
        PyObject *v = PyFrame_GetVar(f, PyTuple_GET_ITEM(names, i));
        sep(&s);
        if (v == NULL) {
            PyErr_Clear();
            ft_sbuf_puts(&s, "?");
            continue;
        }
        put_value(&s, v, full);
        Py_DECREF(v);
    }
    if (star != NULL && s.len < ARGS_TEXT_LIMIT) {
        PyObject *v = PyFrame_GetVar(f, star);
        if (v != NULL && PyTuple_Check(v)) {
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(v) && s.len < ARGS_TEXT_LIMIT; k++) {
                sep(&s);
                put_value(&s, PyTuple_GET_ITEM(v, k), full);
            }
        }
        Py_XDECREF(v);
        PyErr_Clear();
    }
    for (i = npos; i < npos + nkw && i < nnames && s.len < ARGS_TEXT_LIMIT; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *v = PyFrame_GetVar(f, name);
        sep(&s);
        ft_sbuf_put_str(&s, name);
        ft_sbuf_puts(&s, "=");
        if (v == NULL) {
            PyErr_Clear();
            ft_sbuf_puts(&s, "?");
            continue;
        }
        put_value(&s, v, full);
        Py_DECREF(v);
    }
    if (dstar != NULL && s.len < ARGS_TEXT_LIMIT) {
        PyObject *v = PyFrame_GetVar(f, dstar);
        if (v != NULL && PyDict_CheckExact(v)) {
            Py_ssize_t pos = 0;
            PyObject *k, *val;
            while (PyDict_Next(v, &pos, &k, &val) && s.len < ARGS_TEXT_LIMIT) {
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
        }
        Py_XDECREF(v);
        PyErr_Clear();
    }
    if (s.len >= ARGS_TEXT_LIMIT) {
        ft_sbuf_puts(&s, ", \xe2\x80\xa6");
    }
    Py_DECREF(names);
    PyObject *r = PyUnicode_DecodeUTF8(s.buf ? s.buf : "", (Py_ssize_t)s.len, "replace");
    ft_sbuf_free(&s);
    if (r == NULL) {
        PyErr_Clear();
    }
    return r;
}

/* **kwargs as "k=v, k2=v2" (rare: formatted now). */
static PyObject *
kwargs_text(PyObject *d)
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
        put_value(&s, val, 0);
    }
    PyObject *r = PyUnicode_DecodeUTF8(s.buf ? s.buf : "", (Py_ssize_t)s.len, "replace");
    ft_sbuf_free(&s);
    return r;
}

/* The running frame's fast locals if it is `co`'s (3.12, 3.13), else NULL. */
static PyObject **
direct_locals(PyCodeObject *co)
{
#ifdef FT_DIRECT_LOCALS
    PyThreadState *ts = _PyThreadState_UncheckedGet();
#if PY_VERSION_HEX >= 0x030D0000
    _PyInterpreterFrame *f = ts->current_frame;
    if (f == NULL || f->f_executable != (PyObject *)co) {
        return NULL;
    }
#else
    _PyInterpreterFrame *f = ts->cframe->current_frame;
    if (f == NULL || f->f_code != co) {
        return NULL;
    }
#endif
    return f->localsplus;
#else
    (void)co;
    return NULL;
#endif
}

/* Value of local `i` (borrowed, or NULL when unbound); a parameter that a
 * closure captures already sits in its cell at PY_START. */
static PyObject *
local_value(PyCodeObject *co, PyObject **locals, PyFrameObject *f, PyObject *names, Py_ssize_t i)
{
    if (locals != NULL) {
        PyObject *v = locals[i];
#ifdef FT_DIRECT_LOCALS
        if (v != NULL && (PyBytes_AS_STRING(co->co_localspluskinds)[i] & FT_FAST_CELL) &&
            PyCell_Check(v)) {
            v = PyCell_GET(v);
        }
#endif
        return v;
    }
    (void)co;
    PyObject *v = PyFrame_GetVar(f, PyTuple_GET_ITEM(names, i)); /* new reference */
    if (v == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_DECREF(v); /* still owned by the frame's locals */
    return v;
}

/* The fast path: values captured, text made when the trace is built. Runs
 * no Python code. */
static void
record_argv(ft_threadbuf *tb, PyObject *code, uint32_t id)
{
    PyCodeObject *co = (PyCodeObject *)code;
    PyObject **locals = direct_locals(co);
    PyFrameObject *f = NULL;
    if (locals == NULL) {
        f = PyEval_GetFrame(); /* borrowed */
        if (f == NULL) {
            return;
        }
        PyCodeObject *fc = PyFrame_GetCode(f);
        Py_DECREF(fc);
        if (fc != co) {
            return;
        }
    }
    PyObject *names = PyCode_GetVarnames(co); /* cached by the code object */
    if (names == NULL) {
        PyErr_Clear();
        return;
    }
    Py_ssize_t nnames = PyTuple_GET_SIZE(names);
    Py_ssize_t nnamed = co->co_argcount + co->co_kwonlyargcount;
    if (nnamed > nnames) {
        nnamed = nnames;
    }
    for (Py_ssize_t i = 0; i < nnamed && i < FT_ARGV_MAX; i++) {
        PyObject *v = local_value(co, locals, f, names, i);
        uint32_t p = v != NULL ? ft_capture(tb, v) : FT_VAL_ABSENT;
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGV, id, p));
    }
    Py_ssize_t after = co->co_argcount + co->co_kwonlyargcount;
    if ((co->co_flags & CO_VARARGS) && after < nnames) {
        PyObject *v = local_value(co, locals, f, names, after);
        if (v != NULL && PyTuple_Check(v)) {
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(v) && k < FT_ARGV_MAX; k++) {
                uint32_t p = ft_capture(tb, PyTuple_GET_ITEM(v, k));
                ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGX, id, p));
            }
        }
        after++;
    }
    if ((co->co_flags & CO_VARKEYWORDS) && after < nnames) {
        PyObject *v = local_value(co, locals, f, names, after);
        if (v != NULL && PyDict_CheckExact(v) && PyDict_GET_SIZE(v) > 0) {
            PyObject *text = kwargs_text(v);
            if (text == NULL) {
                PyErr_Clear();
            }
            uint32_t p = ft_store_text(tb, text);
            ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGX | FT_REC_FRAME, id, p));
        }
    }
    Py_DECREF(names);
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
ft_argv_text(ft_threadbuf *tb, PyObject *code, const ft_argv *a)
{
    PyCodeObject *co = (PyCodeObject *)code;
    PyObject *names = code ? PyCode_GetVarnames(co) : NULL;
    if (names == NULL) {
        PyErr_Clear();
        return FT_VAL_ABSENT;
    }
    Py_ssize_t npos = co->co_argcount;
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
    for (uint32_t i = (uint32_t)npos; i < a->nnamed; i++) {
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
    Py_DECREF(names);
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
    if (!st->full_repr) {
        PyObject *saved = PyErr_GetRaisedException();
        record_argv(tb, code, verdict & FT_CODE_ID_MASK);
        PyErr_SetRaisedException(saved);
        return 0;
    }
    uint64_t gen = st->gen;
    PyObject *saved = PyErr_GetRaisedException();
    tb->paused++; /* a user repr (full) is FlowTrace's, not the program's */
    PyObject *text = ft_frame_args_text(code, st->full_repr);
    PyErr_SetRaisedException(saved);
    if (st->gen != gen || ft_tl_gen != gen) {
        Py_XDECREF(text); /* stopped meanwhile: tb was handed over */
        return -1;
    }
    tb->paused--;
    if (text != NULL) {
        uint32_t payload = ft_store_text(tb, text);
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGS, verdict & FT_CODE_ID_MASK, payload));
    }
    return 0;
}
