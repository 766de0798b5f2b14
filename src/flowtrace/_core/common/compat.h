/* compat.h - every difference between the CPython versions FlowTrace runs
 * on (3.12, 3.13 and later), in one place. The rest of the engine calls
 * these and never tests PY_VERSION_HEX itself.
 */
#ifndef FLOWTRACE_COMPAT_H
#define FLOWTRACE_COMPAT_H

#include <Python.h>

#include <stdint.h>

/* Compiler hints for the callbacks' hot paths: each event's entry point
 * must get its own copy of on_entry/on_exit_value, specialised for its
 * event (a constant `kind`), whatever the size heuristics say; and a
 * rarer path kept out of its caller (FT_NOINLINE), so that the caller's
 * other paths do not pay for its registers. */
#if defined(__GNUC__) || defined(__clang__)
#define FT_ALWAYS_INLINE inline __attribute__((always_inline))
#define FT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FT_NOINLINE __attribute__((noinline))
#else
#define FT_ALWAYS_INLINE inline
#define FT_UNLIKELY(x) (x)
#define FT_NOINLINE
#endif

/* A thread-local variable of the engine (threads.h, handback.h). */
#if defined(__GNUC__) && !defined(_WIN32)
/* initial-exec: a direct %fs-relative load, no __tls_get_addr call */
#define FT_TLS __attribute__((tls_model("initial-exec"))) _Thread_local
#else
#define FT_TLS _Thread_local
#endif

/* The address of the running interpreter frame of this thread (0: none),
 * read from fields of the thread state in CPython's public headers: far
 * cheaper than PyEval_GetFrame(), which materialises a frame object. */
static inline uintptr_t
ft_compat_frame_address(void)
{
    PyThreadState *ts = _PyThreadState_UncheckedGet();
#if PY_VERSION_HEX >= 0x030D0000
    return (uintptr_t)ts->current_frame;
#else
    return (uintptr_t)ts->cframe->current_frame;
#endif
}

/* The number of bits of an int's absolute value (_PyLong_NumBits, private
 * in 3.12 and 3.13; O(1)). */
static inline size_t
ft_compat_long_bits(PyObject *v)
{
    size_t n = _PyLong_NumBits(v);
    if (n == (size_t)-1) {
        PyErr_Clear();
        return 0;
    }
    return n;
}

/* The fast locals of the running frame if it runs `co` (3.12, 3.13: read in
 * place, from the interpreter frame layout), else NULL: then the caller
 * goes through PyFrame_GetVar. Borrowed. */
PyObject **ft_compat_fast_locals(PyCodeObject *co);

/* Local `i` of those locals, a parameter a closure captures read through
 * its cell (borrowed, NULL when unbound). */
PyObject *ft_compat_fast_local(PyCodeObject *co, PyObject **locals, Py_ssize_t i);

/* PY_THROW of `exc` into the generator or coroutine running `code`, at
 * byte `offset`: true when it is a close() that runs none of its code
 * (suspended at a yield in no try block). CPython 3.13 reports no event
 * at all for such a close (its gen_close() returns at once); 3.12 reports
 * PY_THROW then PY_UNWIND. Recording neither on 3.12 gives the same tree
 * on both. */
int ft_compat_close_runs_nothing(PyObject *code, int offset, PyObject *exc);

#endif
