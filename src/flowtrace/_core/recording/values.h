/* values.h - capturing argument/return values safely, and showing them.
 *
 * Capture never runs user code unless the function was decorated with
 * @trace (or full reprs were asked for): builtin values are formatted by C,
 * bounded in size; objects of user classes are shown by class name. Values
 * that are immutable are kept by reference and formatted when the trace is
 * written; mutable ones are formatted at capture time, so the trace shows
 * them as they were then.
 *
 * A stored value is a PyObject* whose low two bits say what it is:
 *   FT_TAG_RAW   an immutable builtin (int, float, complex, str, bytes, or a
 *                small tuple of those): repr it when showing
 *   FT_TAG_TYPE  a type object: show "<Name object>"
 *   FT_TAG_TEXT  a str to show as it is (already formatted)
 *   FT_TAG_LIST  a list of scalars, snapshot when captured: a tuple of its
 *                first items followed by the list's length
 */
#ifndef FLOWTRACE_VALUES_H
#define FLOWTRACE_VALUES_H

#include <Python.h>

#include "recording/buffer.h"
#include "recording/record.h"
#include "common/sbuf.h"

#define FT_TAG_RAW 0u
#define FT_TAG_TYPE 1u
#define FT_TAG_TEXT 2u
#define FT_TAG_LIST 3u
#define FT_TAG_MASK 3u

#define FT_REPR_LIMIT 120      /* characters of one shown value */
#define FT_EXC_LIMIT 200       /* characters of one exception message */
#define FT_CONTAINER_ITEMS 8   /* items shown of a list/dict/set/tuple */

uint32_t ft_capture_slow(ft_threadbuf *tb, PyObject *v);

/* Capture `v` (borrowed) for later display, running no user code. */
static inline uint32_t
ft_capture(ft_threadbuf *tb, PyObject *v)
{
    if (v == Py_None) {
        return FT_VAL_PYNONE;
    }
    if (v == Py_True) {
        return FT_VAL_TRUE;
    }
    if (v == Py_False) {
        return FT_VAL_FALSE;
    }
    if (PyLong_CheckExact(v) && PyUnstable_Long_IsCompact((PyLongObject *)v)) {
        Py_ssize_t x = PyUnstable_Long_CompactValue((PyLongObject *)v);
        if (x >= FT_INLINE_INT_MIN && x <= FT_INLINE_INT_MAX) {
            return FT_VAL_INLINE_INT | ((uint32_t)x & 0x7FFFFFFFu);
        }
    }
    return ft_capture_slow(tb, v);
}

/* None, bool, and exact int, float, complex, str, bytes: values whose repr
 * is C code and whose user-visible repr is the builtin one. */
int ft_is_scalar(PyObject *v);

/* The user's repr of `v`, safe, bounded, on one line (may run user code).
 * New reference, NULL only on memory failure. */
PyObject *ft_full_text(PyObject *v);

/* An async generator's PY_YIELD carries its value wrapped in an internal
 * object: the value itself (borrowed), or `v` unchanged. */
PyObject *ft_unwrap_async_yield(PyObject *v);

/* "Task-3": the name of an asyncio task of asyncio's own (C) class or a
 * subclass, read by calling `get_name` (the C method descriptor of
 * _asyncio.Task, borrowed) on it directly; without it (NULL), by looking up
 * get_name on tasks of the exact C class. Other task classes are named by
 * class and address, so that no user code runs. New reference, never an
 * exception. */
PyObject *ft_task_name(PyObject *task, PyObject *get_name);

/* Store an already formatted text (steals `text`). */
uint32_t ft_store_text(ft_threadbuf *tb, PyObject *text);

/* Write the text of a payload that needs no object (small int, None,
 * True, False) straight into `s`: 1 if done, 0 for any other payload. */
int ft_value_put_inline(ft_sbuf *s, uint32_t payload);

/* The text to show for a captured payload: new reference, or NULL with an
 * exception set on memory failure. FT_VAL_ABSENT gives NULL without one. */
PyObject *ft_value_text(const ft_threadbuf *tb, uint32_t payload);

/* repr(v) that never raises: a failing __repr__ gives
 * "<repr failed: ValueError>", a long one is cut with "…". New reference,
 * NULL only on memory failure (exception set). Saves and restores any
 * exception that was already set. */
PyObject *ft_safe_repr(PyObject *v, Py_ssize_t limit);

/* Show a value without running user code (builtin formatter). */
PyObject *ft_builtin_repr(PyObject *v, Py_ssize_t limit);

/* "ZeroDivisionError: division by zero", bounded, on one line. */
PyObject *ft_format_exception(PyObject *exc, int full);

/* Text of the arguments of a call as written: "6, 7", "4, b=5". */
PyObject *ft_format_call_args(PyObject *const *args, size_t nargsf, PyObject *kwnames);

#endif
