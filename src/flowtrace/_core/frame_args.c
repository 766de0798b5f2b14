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

int
ft_record_frame_args(ft_state *st, ft_threadbuf *tb, PyObject *code, uint32_t verdict)
{
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
