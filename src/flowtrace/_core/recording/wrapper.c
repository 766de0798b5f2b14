/* wrapper.c - flowtrace._core.TracedFunction: the callable @trace returns.
 *
 * A vectorcall object, so a decorated call costs one C call on top of the
 * function itself. It writes the call's arguments as written ("6, 7",
 * "4, b=5", full reprs) to the running session, and when no session is
 * running it starts one for the call and ends it when the call ends; the
 * trace then goes to the finish hook, which prints it. For generator and
 * coroutine functions the session ends when the generator or coroutine
 * really finishes: the drive hook wraps the object to see that.
 */
#include "recording/wrapper.h"

#include <stddef.h>

#include "recording/filter.h"
#include "recording/handback.h"
#include "recording/recorder.h"
#include "recording/state.h"
#include "recording/threads.h"
#include "recording/values.h"

typedef struct {
    PyObject_HEAD
    PyObject *func;          /* owned: the decorated callable */
    PyObject *code;          /* owned: func.__code__, or NULL when func is not
                                a Python function (then: plain pass-through) */
    PyObject *module;        /* owned: flowtrace._core (for its state) */
    PyObject *dict;          /* owned or NULL: __dict__ (functools.wraps) */
    PyObject *weakreflist;   /* owned: weak references list */
    PyObject *include;       /* owned or NULL: tuple of include patterns for
                                the session an outermost call starts */
    PyObject *exclude;       /* owned or NULL: tuple of exclude patterns,
                                likewise */
    uint32_t flags;          /* FT_CODE_FULLREPR | FT_CODE_TIMED */
    int gen_kind;            /* 0 plain, 1 generator, 2 coroutine, 3 async gen */
    vectorcallfunc vectorcall; /* tf_vectorcall */
} ft_traced_function;

void
ft_finish_implicit(PyObject *module)
{
    ft_state *st = ft_get_state(module);
    PyObject *exc = PyErr_GetRaisedException(); /* the program's, untouched */
    if (st->gen != 0 && st->implicit) {
        PyObject *trace = ft_recorder_stop_lingering(module, st);
        if (trace == NULL) {
            PyErr_WriteUnraisable(module);
        }
        else {
            if (st->hook_finish != NULL) {
                PyObject *r = PyObject_CallOneArg(st->hook_finish, trace);
                if (r == NULL) {
                    PyErr_WriteUnraisable(st->hook_finish);
                }
                Py_XDECREF(r);
            }
            Py_DECREF(trace);
        }
    }
    PyErr_SetRaisedException(exc);
}

static PyObject *
tf_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ft_traced_function *tf = (ft_traced_function *)self;
    ft_state *st = ft_get_state(tf->module);
    if (tf->code == NULL) {
        return PyObject_Vectorcall(tf->func, args, nargsf, kwnames);
    }
    int outer = 0;
    if (st->gen == 0) {
        ft_session_config cfg = {
            .results = 1, .implicit = 1, .include = tf->include, .exclude = tf->exclude};
        if (ft_recorder_start(tf->module, st, &cfg) < 0) {
            /* Tracing is not possible (no free tool id...): say so, and
             * run the function as if it were not decorated. */
            PyObject *exc = PyErr_GetRaisedException();
            PyObject *msg = PyObject_Str(exc);
            Py_DECREF(exc);
            int w = msg ? PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "%U", msg) : -1;
            Py_XDECREF(msg);
            if (w < 0) {
                return NULL; /* warnings are errors here */
            }
            return PyObject_Vectorcall(tf->func, args, nargsf, kwnames);
        }
        outer = 1;
    }
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb != NULL && tf->gen_kind == 0 && ft_record_scalar_args(st, tf->code, tf->flags, args, nargsf, kwnames)) {
        /* recorded as values: no text made per call */
    }
    else if (tb != NULL) {
        uint64_t gen = st->gen;
        tb->paused++; /* the reprs below are FlowTrace's, not the program's */
        PyObject *text = ft_format_call_args(args, nargsf, kwnames);
        /* A repr may let another thread run and stop the session: touch
         * the buffer only if it is still this session's. */
        if (ft_tl_gen == gen && st->gen == gen) {
            tb->paused--;
            if (ft_handback_pending()) {
                Py_CLEAR(text); /* the call will not happen: no arguments for it */
            }
            ft_record_args(st, tf->code, tf->flags, text);
        }
        else {
            Py_XDECREF(text);
        }
        if (ft_handback_pending()) {
            /* a Ctrl-C while its arguments were shown: the program is
             * interrupted before the call, as it would have been untraced */
            PyObject *exc = ft_handback_take();
            if (outer) {
                ft_finish_implicit(tf->module);
            }
            PyErr_SetRaisedException(exc);
            return NULL;
        }
    }
    PyObject *res = PyObject_Vectorcall(tf->func, args, nargsf, kwnames);
    if (!outer) {
        return res;
    }
    if (res != NULL && tf->gen_kind != 0 && st->hook_drive != NULL) {
        PyObject *d = PyObject_CallFunction(st->hook_drive, "Oi", res, tf->gen_kind);
        Py_DECREF(res);
        if (d == NULL) {
            ft_finish_implicit(tf->module);
        }
        return d;
    }
    ft_finish_implicit(tf->module);
    return res;
}

static PyObject *
tf_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"func", "measure_time", "include", "exclude", NULL};
    PyObject *func, *include = NULL, *exclude = NULL;
    int measure_time = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pO!O!:TracedFunction", kwlist, &func,
                                     &measure_time, &PyTuple_Type, &include, &PyTuple_Type,
                                     &exclude)) {
        return NULL;
    }
    /* checked now, so that a bad pattern fails at decoration time */
    ft_patterns check;
    if (ft_patterns_set(&check, include) < 0) {
        return NULL;
    }
    ft_patterns_clear(&check);
    if (ft_patterns_set(&check, exclude) < 0) {
        return NULL;
    }
    ft_patterns_clear(&check);
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "@trace needs a callable, not %.200s", Py_TYPE(func)->tp_name);
        return NULL;
    }
    PyObject *module = PyType_GetModule(type); /* borrowed */
    if (module == NULL) {
        return NULL;
    }
    ft_state *st = ft_get_state(module);
    ft_traced_function *tf = (ft_traced_function *)type->tp_alloc(type, 0);
    if (tf == NULL) {
        return NULL;
    }
    tf->func = Py_NewRef(func);
    tf->module = Py_NewRef(module);
    tf->include = include && PyTuple_GET_SIZE(include) ? Py_NewRef(include) : NULL;
    tf->exclude = exclude && PyTuple_GET_SIZE(exclude) ? Py_NewRef(exclude) : NULL;
    tf->flags = FT_CODE_FULLREPR | (measure_time ? FT_CODE_TIMED : 0);
    tf->vectorcall = tf_vectorcall;
    if (PyFunction_Check(func)) {
        tf->code = Py_NewRef(PyFunction_GET_CODE(func));
        int co_flags = ((PyCodeObject *)tf->code)->co_flags;
        tf->gen_kind = (co_flags & CO_GENERATOR) ? 1
                       : (co_flags & CO_COROUTINE) ? 2
                       : (co_flags & CO_ASYNC_GENERATOR) ? 3 : 0;
        /* Remember the decoration: a session decides its verdict once per
         * code object, from this dict. Several decorations of one code:
         * the union of their flags. */
        PyObject *old = PyDict_GetItemWithError(st->decorated, tf->code);
        long fl = tf->flags;
        if (old != NULL && PyTuple_Check(old) && PyTuple_GET_SIZE(old) == 2) {
            fl |= PyLong_AsLong(PyTuple_GET_ITEM(old, 0));
        }
        /* the module name travels with the flags: the code table cannot
         * read it from a frame when @trace announces the call */
        PyObject *modname = PyFunction_GET_MODULE(func); /* borrowed */
        PyObject *v = PyErr_Occurred()
                          ? NULL
                          : Py_BuildValue("(lO)", fl,
                                          modname && PyUnicode_Check(modname) ? modname
                                                                              : Py_None);
        if (v == NULL || PyDict_SetItem(st->decorated, tf->code, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(tf);
            return NULL;
        }
        Py_DECREF(v);
        if (st->gen != 0) {
            ft_codetable_set_flags(&st->codes, tf->code, (uint32_t)fl);
        }
    }
    return (PyObject *)tf;
}

static PyObject *
tf_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

static int
tf_traverse(ft_traced_function *tf, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(tf));
    Py_VISIT(tf->func);
    Py_VISIT(tf->code);
    Py_VISIT(tf->module);
    Py_VISIT(tf->dict);
    Py_VISIT(tf->include);
    Py_VISIT(tf->exclude);
    return 0;
}

static int
tf_clear(ft_traced_function *tf)
{
    Py_CLEAR(tf->func);
    Py_CLEAR(tf->code);
    Py_CLEAR(tf->module);
    Py_CLEAR(tf->dict);
    Py_CLEAR(tf->include);
    Py_CLEAR(tf->exclude);
    return 0;
}

static void
tf_dealloc(ft_traced_function *tf)
{
    PyTypeObject *tp = Py_TYPE(tf);
    PyObject_GC_UnTrack(tf);
    if (tf->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)tf);
    }
    tf_clear(tf);
    tp->tp_free((PyObject *)tf);
    Py_DECREF(tp);
}

static PyObject *
tf_repr(ft_traced_function *tf)
{
    return PyUnicode_FromFormat("<flowtrace.trace of %R>", tf->func);
}

static PyMemberDef tf_members[] = {
    {"__dictoffset__", Py_T_PYSSIZET, offsetof(ft_traced_function, dict), Py_READONLY, NULL},
    {"__weaklistoffset__", Py_T_PYSSIZET, offsetof(ft_traced_function, weakreflist),
     Py_READONLY, NULL},
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(ft_traced_function, vectorcall),
     Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef tf_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tf_slots[] = {
    {Py_tp_new, tf_new},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_descr_get, tf_descr_get},
    {Py_tp_traverse, tf_traverse},
    {Py_tp_clear, tf_clear},
    {Py_tp_dealloc, tf_dealloc},
    {Py_tp_repr, tf_repr},
    {Py_tp_members, tf_members},
    {Py_tp_getset, tf_getset},
    {Py_tp_doc, "TracedFunction(func, measure_time=False, include=(), exclude=()): what @trace returns."},
    {0, NULL},
};

PyType_Spec ft_traced_function_spec = {
    .name = "flowtrace._core.TracedFunction",
    .basicsize = sizeof(ft_traced_function),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_METHOD_DESCRIPTOR | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tf_slots,
};
