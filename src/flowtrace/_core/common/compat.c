/* compat.c - what differs between CPython versions (see compat.h). */
#include "common/compat.h"

#if PY_VERSION_HEX < 0x030D0000
#include <opcode.h> /* YIELD_VALUE */
#endif

/* 3.12 and 3.13: the interpreter frame layout from CPython's installed
 * internal header, so that no frame object is made per call (materialising
 * one and freeing it cost ~500 instructions per call, most of --args). */
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
#define FT_DIRECT_LOCALS 1
#define FT_FAST_CELL 0x40 /* CO_FAST_CELL of internal/pycore_code.h */
#endif

PyObject **
ft_compat_fast_locals(PyCodeObject *co)
{
#ifdef FT_DIRECT_LOCALS
    _PyInterpreterFrame *f = (_PyInterpreterFrame *)ft_compat_frame_address();
#if PY_VERSION_HEX >= 0x030D0000
    if (f == NULL || f->f_executable != (PyObject *)co) {
        return NULL;
    }
#else
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

PyObject *
ft_compat_fast_local(PyCodeObject *co, PyObject **locals, Py_ssize_t i)
{
    PyObject *v = locals[i];
#ifdef FT_DIRECT_LOCALS
    if (v != NULL && (PyBytes_AS_STRING(co->co_localspluskinds)[i] & FT_FAST_CELL) &&
        PyCell_Check(v)) {
        v = PyCell_GET(v);
    }
#else
    (void)co;
#endif
    return v;
}

int
ft_compat_close_runs_nothing(PyObject *code, int offset, PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030D0000
    (void)code;
    (void)offset;
    (void)exc;
    return 0; /* such a close reports nothing to be dropped */
#else
    if (offset < 0) {
        PyErr_Clear(); /* not a valid offset */
        return 0;
    }
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_GeneratorExit)) {
        return 0;
    }
    /* 3.12 resumes a thrown-into frame at its YIELD_VALUE, whose argument
     * is the depth of the exception stack there: 1 is only the implicit
     * handler every generator has (the test 3.13's close() makes). */
    PyObject *bytes = PyCode_GetCode((PyCodeObject *)code); /* de-instrumented */
    if (bytes == NULL) {
        PyErr_Clear();
        return 0;
    }
    int silent = 0;
    if (offset + 1 < PyBytes_GET_SIZE(bytes)) {
        const unsigned char *c = (const unsigned char *)PyBytes_AS_STRING(bytes);
        silent = c[offset] == YIELD_VALUE && c[offset + 1] == 1;
    }
    Py_DECREF(bytes);
    return silent;
#endif
}
