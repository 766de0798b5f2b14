/* values.c - safe capture and display of values. */
#include "recording/values.h"

#include "common/compat.h"
#include "recording/handback.h"
#include "common/sbuf.h"

#include <string.h>

static inline PyObject *
untag(PyObject *p)
{
    return (PyObject *)((uintptr_t)p & ~(uintptr_t)FT_TAG_MASK);
}

static inline unsigned
tag_of(PyObject *p)
{
    return (unsigned)((uintptr_t)p & FT_TAG_MASK);
}

/* Texts made on this thread are kept once: an equal text stored again
 * shares the first one's object, and costs its 8-byte entry only (a test
 * suite formats the same datetime or exception thousands of times: on
 * python-dateutil's, 208,667 texts had 2,617 distinct values). A cache, so
 * bounded: emptied when full, which only stops sharing with older texts. */
#define FT_SHARED_TEXTS_MAX 16384

static PyObject *
shared_text(ft_threadbuf *tb, PyObject *text)
{
    if (!PyUnicode_CheckExact(text)) {
        return text;
    }
    if (tb->texts == NULL) {
        tb->texts = PyDict_New();
    }
    else if (PyDict_GET_SIZE(tb->texts) >= FT_SHARED_TEXTS_MAX) {
        PyDict_Clear(tb->texts);
    }
    PyObject *kept = tb->texts ? PyDict_SetDefault(tb->texts, text, text) : NULL; /* borrowed */
    if (kept == NULL) {
        PyErr_Clear(); /* no memory: kept unshared */
        return text;
    }
    if (kept != text) {
        Py_INCREF(kept);
        Py_DECREF(text);
    }
    return kept;
}

static uint32_t
store_tagged(ft_threadbuf *tb, PyObject *owned, unsigned tag)
{
    if (tag == FT_TAG_TEXT) {
        owned = shared_text(tb, owned);
    }
    return ft_threadbuf_store(tb, (PyObject *)((uintptr_t)owned | tag));
}

uint32_t
ft_store_text(ft_threadbuf *tb, PyObject *text)
{
    if (text == NULL) {
        return FT_VAL_ABSENT;
    }
    return store_tagged(tb, text, FT_TAG_TEXT);
}

/* Cut `s` (a str, stolen) to `limit` characters, ending with "…". */
static PyObject *
bound(PyObject *s, Py_ssize_t limit)
{
    if (s == NULL || PyUnicode_GET_LENGTH(s) <= limit) {
        return s;
    }
    PyObject *head = PyUnicode_Substring(s, 0, limit - 1);
    Py_DECREF(s);
    PyObject *ellipsis = PyUnicode_FromString("\xe2\x80\xa6");
    PyObject *r = head && ellipsis ? PyUnicode_Concat(head, ellipsis) : NULL;
    Py_XDECREF(head);
    Py_XDECREF(ellipsis);
    return r;
}

/* One line: a newline in a value would break the tree's layout, so it is
 * shown as the two characters "\\n". Steals `s`. */
static PyObject *
one_line(PyObject *s)
{
    if (s == NULL || PyUnicode_FindChar(s, '\n', 0, PyUnicode_GET_LENGTH(s), 1) < 0) {
        return s;
    }
    PyObject *nl = PyUnicode_FromString("\n");
    PyObject *esc = PyUnicode_FromString("\\n");
    PyObject *r = (nl && esc) ? PyUnicode_Replace(s, nl, esc, -1) : NULL;
    Py_XDECREF(nl);
    Py_XDECREF(esc);
    Py_DECREF(s);
    return r;
}

static PyObject *
failed_placeholder(const char *what, PyObject *exc)
{
    ft_handback_keep(exc); /* a Ctrl-C is the program's, not the repr's */
    PyObject *name = exc ? PyType_GetName(Py_TYPE(exc)) : NULL;
    PyErr_Clear();
    PyObject *r = PyUnicode_FromFormat("<%s failed: %S>", what, name ? name : Py_None);
    Py_XDECREF(name);
    return r;
}

PyObject *
ft_safe_repr(PyObject *v, Py_ssize_t limit)
{
    if (ft_handback_pending()) {
        return ft_builtin_repr(v, limit); /* the program is being interrupted */
    }
    PyObject *saved = PyErr_GetRaisedException();
    PyObject *r = PyObject_Repr(v);
    if (r == NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        r = failed_placeholder("repr", exc);
        Py_XDECREF(exc);
    }
    r = bound(r, limit);
    PyErr_SetRaisedException(saved);
    return r;
}

int
ft_is_scalar(PyObject *v)
{
    return v == Py_None || PyBool_Check(v) || PyLong_CheckExact(v) ||
           PyFloat_CheckExact(v) || PyComplex_CheckExact(v) ||
           PyUnicode_CheckExact(v) || PyBytes_CheckExact(v);
}

static void put_builtin(ft_sbuf *s, PyObject *v, size_t limit, int depth);

static void
put_type_name(ft_sbuf *s, PyTypeObject *t)
{
    PyObject *q = PyType_GetQualName(t);
    if (q == NULL) {
        PyErr_Clear();
        ft_sbuf_puts(s, "?");
        return;
    }
    ft_sbuf_put_str(s, q);
    Py_DECREF(q);
}

static void
put_int(ft_sbuf *s, Py_ssize_t x)
{
    char buf[24];
    char *p = buf + sizeof(buf);
    size_t u = x < 0 ? (size_t)0 - (size_t)x : (size_t)x;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0) {
        *--p = '-';
    }
    ft_sbuf_put(s, p, (size_t)(buf + sizeof(buf) - p));
}

static void
put_scalar(ft_sbuf *s, PyObject *v, size_t limit)
{
    PyObject *r;
    if (v == Py_None) {
        ft_sbuf_put(s, "None", 4);
        return;
    }
    if (v == Py_True || v == Py_False) {
        ft_sbuf_puts(s, v == Py_True ? "True" : "False");
        return;
    }
    if (PyLong_CheckExact(v) && PyUnstable_Long_IsCompact((PyLongObject *)v)) {
        put_int(s, PyUnstable_Long_CompactValue((PyLongObject *)v));
        return;
    }
    if (PyUnicode_CheckExact(v) && (size_t)PyUnicode_GET_LENGTH(v) > limit) {
        PyObject *head = PyUnicode_Substring(v, 0, (Py_ssize_t)limit);
        r = head ? PyObject_Repr(head) : NULL;
        Py_XDECREF(head);
    }
    else if (PyBytes_CheckExact(v) && (size_t)PyBytes_GET_SIZE(v) > limit) {
        PyObject *head = PyBytes_FromStringAndSize(PyBytes_AS_STRING(v), (Py_ssize_t)limit);
        r = head ? PyObject_Repr(head) : NULL;
        Py_XDECREF(head);
    }
    else {
        r = PyObject_Repr(v); /* C code only for these exact types */
    }
    if (r == NULL) {
        PyObject *exc = PyErr_GetRaisedException(); /* e.g. int too large */
        PyObject *p = failed_placeholder("repr", exc);
        Py_XDECREF(exc);
        if (p) {
            ft_sbuf_put_str(s, p);
            Py_DECREF(p);
        }
        else {
            PyErr_Clear();
        }
        return;
    }
    ft_sbuf_put_str(s, r);
    Py_DECREF(r);
}

static void
put_items(ft_sbuf *s, PyObject *seq, const char *open, const char *close,
          size_t limit, int depth)
{
    /* seq is an exact list or tuple: items read without running user code */
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    ft_sbuf_puts(s, open);
    Py_ssize_t shown = 0;
    while (shown < n && shown < FT_CONTAINER_ITEMS && s->len < limit) {
        if (shown) {
            ft_sbuf_puts(s, ", ");
        }
        put_builtin(s, items[shown], limit, depth + 1);
        shown++;
    }
    if (n > shown) {
        char tail[64];
        snprintf(tail, sizeof(tail), ", \xe2\x80\xa6 (%zd items)", n);
        ft_sbuf_puts(s, tail);
    }
    else if (n == 1 && PyTuple_CheckExact(seq)) {
        ft_sbuf_puts(s, ",");
    }
    ft_sbuf_puts(s, close);
}

static void
put_dict(ft_sbuf *s, PyObject *d, size_t limit, int depth)
{
    Py_ssize_t n = PyDict_GET_SIZE(d), pos = 0, i = 0;
    PyObject *k, *v;
    ft_sbuf_puts(s, "{");
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (i >= FT_CONTAINER_ITEMS || s->len >= limit) {
            break;
        }
        if (i) {
            ft_sbuf_puts(s, ", ");
        }
        put_builtin(s, k, limit, depth + 1);
        ft_sbuf_puts(s, ": ");
        put_builtin(s, v, limit, depth + 1);
        i++;
    }
    if (n > i) {
        char tail[64];
        snprintf(tail, sizeof(tail), "%s\xe2\x80\xa6 (%zd items)", i ? ", " : "", n);
        ft_sbuf_puts(s, tail);
    }
    ft_sbuf_puts(s, "}");
}

static void
put_set(ft_sbuf *s, PyObject *set, size_t limit, int depth)
{
    Py_ssize_t n = PySet_GET_SIZE(set), i = 0;
    PyObject *k;
    if (n == 0) {
        ft_sbuf_puts(s, PyFrozenSet_CheckExact(set) ? "frozenset()" : "set()");
        return;
    }
    ft_sbuf_puts(s, PyFrozenSet_CheckExact(set) ? "frozenset({" : "{");
    PyObject *it = PyObject_GetIter(set); /* exact set: C iteration only */
    if (it == NULL) {
        PyErr_Clear();
    }
    while (it != NULL && i < FT_CONTAINER_ITEMS && s->len < limit &&
           (k = PyIter_Next(it)) != NULL) {
        if (i) {
            ft_sbuf_puts(s, ", ");
        }
        put_builtin(s, k, limit, depth + 1);
        Py_DECREF(k);
        i++;
    }
    Py_XDECREF(it);
    PyErr_Clear();
    if (n > i) {
        char tail[64];
        snprintf(tail, sizeof(tail), ", \xe2\x80\xa6 (%zd items)", n);
        ft_sbuf_puts(s, tail);
    }
    ft_sbuf_puts(s, PyFrozenSet_CheckExact(set) ? "})" : "}");
}

static void
put_builtin(ft_sbuf *s, PyObject *v, size_t limit, int depth)
{
    if (ft_is_scalar(v)) {
        put_scalar(s, v, limit);
        return;
    }
    if (depth > 3) {
        ft_sbuf_puts(s, "\xe2\x80\xa6");
        return;
    }
    if (PyList_CheckExact(v)) {
        put_items(s, v, "[", "]", limit, depth);
    }
    else if (PyTuple_CheckExact(v)) {
        put_items(s, v, "(", ")", limit, depth);
    }
    else if (PyDict_CheckExact(v)) {
        put_dict(s, v, limit, depth);
    }
    else if (PySet_CheckExact(v) || PyFrozenSet_CheckExact(v)) {
        put_set(s, v, limit, depth);
    }
    else if (PyType_Check(v)) {
        ft_sbuf_puts(s, "<class '");
        put_type_name(s, (PyTypeObject *)v);
        ft_sbuf_puts(s, "'>");
    }
    else if (v == Py_NotImplemented || v == Py_Ellipsis) {
        ft_sbuf_puts(s, v == Py_Ellipsis ? "Ellipsis" : "NotImplemented");
    }
    else if (PyFunction_Check(v)) {
        ft_sbuf_puts(s, "<function ");
        ft_sbuf_put_str(s, ((PyFunctionObject *)v)->func_qualname);
        ft_sbuf_puts(s, ">");
    }
    else {
        ft_sbuf_puts(s, "<");
        put_type_name(s, Py_TYPE(v));
        ft_sbuf_puts(s, " object>");
    }
}

/* Turn the buffer into a str of at most `limit` characters. */
static PyObject *
sbuf_to_str(ft_sbuf *s, Py_ssize_t limit)
{
    PyObject *r = PyUnicode_DecodeUTF8(s->buf ? s->buf : "", (Py_ssize_t)s->len, "replace");
    ft_sbuf_free(s);
    return one_line(bound(r, limit));
}

PyObject *
ft_builtin_repr(PyObject *v, Py_ssize_t limit)
{
    ft_sbuf s = {0};
    PyObject *saved = PyErr_GetRaisedException();
    put_builtin(&s, v, (size_t)limit * 2, 0);
    PyObject *r = sbuf_to_str(&s, limit);
    PyErr_SetRaisedException(saved);
    return r;
}

/* Layout of CPython's _PyAsyncGenWrappedValue (Objects/genobject.c, the
 * same in 3.12-3.14): the object header, then the wrapped value. */
typedef struct {
    PyObject_HEAD
    PyObject *agw_val; /* borrowed here: owned by the wrapper */
} async_gen_wrapped;

/* The wrapper's type, found by name on first sight. A static type of the
 * interpreter, the same for the whole process: caching it globally is safe
 * (written under the GIL, only ever set to that one value). */
static PyTypeObject *async_gen_wrapped_type = NULL;

PyObject *
ft_unwrap_async_yield(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == async_gen_wrapped_type) {
        return ((async_gen_wrapped *)v)->agw_val;
    }
    if (async_gen_wrapped_type == NULL && !(t->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
        strcmp(t->tp_name, "async_generator_wrapped_value") == 0 &&
        t->tp_basicsize == sizeof(async_gen_wrapped)) {
        async_gen_wrapped_type = t;
        return ((async_gen_wrapped *)v)->agw_val;
    }
    return v;
}

static int
is_c_task(PyObject *v)
{
    /* the first letter first: every user object returned comes here */
    const char *n = Py_TYPE(v)->tp_name;
    return n[0] == '_' && strcmp(n, "_asyncio.Task") == 0;
}

PyObject *
ft_task_name(PyObject *task, PyObject *get_name)
{
    PyObject *saved = PyErr_GetRaisedException();
    PyObject *name = NULL;
    if (get_name != NULL) {
        /* the descriptor checks that `task` is an _asyncio.Task */
        name = PyObject_CallOneArg(get_name, task);
        if (name != NULL && !PyUnicode_Check(name)) {
            Py_CLEAR(name);
        }
    }
    else if (is_c_task(task)) {
        name = PyObject_CallMethod(task, "get_name", NULL);
        if (name != NULL && !PyUnicode_Check(name)) {
            Py_CLEAR(name);
        }
    }
    if (name == NULL) {
        PyErr_Clear();
        name = PyUnicode_FromFormat("%s@%p", Py_TYPE(task)->tp_name, (void *)task);
    }
    PyErr_SetRaisedException(saved);
    return name;
}

PyObject *
ft_full_text(PyObject *v)
{
    return one_line(ft_safe_repr(v, FT_REPR_LIMIT));
}

/* A small tuple of scalars is as immutable as its items: kept by
 * reference, formatted when shown. */
static int
is_frozen_tuple(PyObject *v)
{
    if (!PyTuple_CheckExact(v) || PyTuple_GET_SIZE(v) > FT_CONTAINER_ITEMS) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
        if (!ft_is_scalar(PyTuple_GET_ITEM(v, i))) {
            return 0;
        }
    }
    return 1;
}

/* A list whose first items are scalars: snapshot them (a tuple is far
 * cheaper to make than the text) with the list's length at the end. */
static PyObject *
list_snapshot(PyObject *v)
{
    Py_ssize_t n = PyList_GET_SIZE(v);
    Py_ssize_t k = n < FT_CONTAINER_ITEMS ? n : FT_CONTAINER_ITEMS;
    for (Py_ssize_t i = 0; i < k; i++) {
        if (!ft_is_scalar(PyList_GET_ITEM(v, i))) {
            return NULL;
        }
    }
    PyObject *t = PyTuple_New(k + 1);
    PyObject *len = t ? PyLong_FromSsize_t(n) : NULL;
    if (len == NULL) {
        Py_XDECREF(t);
        PyErr_Clear();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyTuple_SET_ITEM(t, i, Py_NewRef(PyList_GET_ITEM(v, i)));
    }
    PyTuple_SET_ITEM(t, k, len);
    return t;
}

static PyObject *
list_snapshot_text(PyObject *t)
{
    ft_sbuf s = {0};
    Py_ssize_t k = PyTuple_GET_SIZE(t) - 1;
    Py_ssize_t n = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, k));
    ft_sbuf_puts(&s, "[");
    for (Py_ssize_t i = 0; i < k; i++) {
        if (i) {
            ft_sbuf_puts(&s, ", ");
        }
        put_scalar(&s, PyTuple_GET_ITEM(t, i), FT_REPR_LIMIT * 2);
    }
    if (n > k) {
        char tail[64];
        snprintf(tail, sizeof(tail), "%s\xe2\x80\xa6 (%zd items)", k ? ", " : "", n);
        ft_sbuf_puts(&s, tail);
    }
    ft_sbuf_puts(&s, "]");
    return sbuf_to_str(&s, FT_REPR_LIMIT);
}

/* --- Values kept by value in the thread's arena (buffer.h) ---
 *
 * A float, an int of up to 64 bits, a complex, a short str or bytes, or a
 * small tuple of those costs its bytes in the arena (shared when equal),
 * not an object and a value-store entry. An entry is a 4-byte header (tag
 * in the low 8 bits, data length in bytes above) and the data, padded to
 * 4 bytes. Shown, it is made into the object again, exactly (str by its
 * kind's code units, floats by their bits), and formatted as the object
 * is: the text is the one the object would give. */
enum {
    A_FLOAT = 1,   /* 8 bytes: the double's bits */
    A_INT = 2,     /* 8 bytes: int64 */
    A_COMPLEX = 3, /* 16 bytes: real, imag */
    A_STR1 = 4,    /* a str's code units, 1, 2 or 4 bytes each */
    A_STR2 = 5,
    A_STR4 = 6,
    A_BYTES = 7,   /* the bytes */
    A_TUPLE = 8,   /* the items' entries, one after the other */
    A_NONE = 9,    /* no data (tuple items) */
    A_TRUE = 10,
    A_FALSE = 11,
};

/* The entry's header (tag, data length) and its padding, so that equal
 * values are equal bytes: its size, or 0 when it exceeds `cap`. */
static FT_ALWAYS_INLINE size_t
arena_header(uint8_t *out, size_t cap, unsigned tag, size_t len)
{
    size_t n = 4 + ((len + 3) & ~(size_t)3);
    if (n > cap) {
        return 0;
    }
    uint32_t hdr = (uint32_t)tag | (uint32_t)len << 8;
    memset(out + n - 4, 0, 4);
    memcpy(out, &hdr, 4);
    return n;
}

/* An 8-byte datum after its header (floats and ints: their own code, as
 * they are the most frequent and the smallest), mixed into *h. */
static FT_ALWAYS_INLINE size_t
arena_put8(uint8_t *out, size_t cap, unsigned tag, uint64_t data, uint64_t *h)
{
    if (cap < 12) {
        return 0;
    }
    uint32_t hdr = (uint32_t)tag | 8u << 8;
    memcpy(out, &hdr, 4);
    memcpy(out + 4, &data, 8);
    *h = FT_ARENA_MIX(FT_ARENA_MIX(*h, hdr), data);
    return 12;
}

/* Encode the scalar `v` (a tuple's item when `item`: None and bools too)
 * into out[0..cap), its bytes mixed into *h: its size, or 0 when it cannot
 * be kept so. */
static FT_ALWAYS_INLINE size_t
arena_scalar(uint8_t *out, size_t cap, PyObject *v, int item, uint64_t *h)
{
    PyTypeObject *t = Py_TYPE(v);
    size_t n = 0;
    if (t == &PyLong_Type) {
        int64_t y;
        if (PyUnstable_Long_IsCompact((PyLongObject *)v)) {
            y = (int64_t)PyUnstable_Long_CompactValue((PyLongObject *)v);
        }
        else {
            int overflow = 0;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow || (x == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                return 0;
            }
            y = (int64_t)x;
        }
        return arena_put8(out, cap, A_INT, (uint64_t)y, h);
    }
    if (t == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(v);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return arena_put8(out, cap, A_FLOAT, bits, h);
    }
    if (t == &PyUnicode_Type) {
        int kind = PyUnicode_KIND(v);
        size_t len = (size_t)PyUnicode_GET_LENGTH(v) * (size_t)kind;
        if (len > cap || (n = arena_header(out, cap, kind == 1 ? A_STR1 : kind == 2 ? A_STR2 : A_STR4, len)) == 0) {
            return 0;
        }
        memcpy(out + 4, PyUnicode_DATA(v), len);
    }
    else if (item && (v == Py_None || v == Py_True || v == Py_False)) {
        n = arena_header(out, cap, v == Py_None ? A_NONE : v == Py_True ? A_TRUE : A_FALSE, 0);
    }
    else if (t == &PyComplex_Type) {
        Py_complex c = ((PyComplexObject *)v)->cval;
        if ((n = arena_header(out, cap, A_COMPLEX, 16)) != 0) {
            memcpy(out + 4, &c.real, 8);
            memcpy(out + 12, &c.imag, 8);
        }
    }
    else if (t == &PyBytes_Type) {
        size_t len = (size_t)PyBytes_GET_SIZE(v);
        if (len > cap || (n = arena_header(out, cap, A_BYTES, len)) == 0) {
            return 0;
        }
        memcpy(out + 4, PyBytes_AS_STRING(v), len);
    }
    if (n != 0) {
        *h = ft_arena_hash(*h, out, n);
    }
    return n;
}

/* Encode `v` (a scalar, or a tuple of at most FT_CONTAINER_ITEMS scalars)
 * into out[0..cap), and its hash into *h: its size, or 0 when it cannot
 * be kept so. */
static size_t
arena_encode(uint8_t *out, size_t cap, PyObject *v, uint64_t *h)
{
    if (!PyTuple_CheckExact(v)) {
        return arena_scalar(out, cap, v, 0, h);
    }
    Py_ssize_t k = PyTuple_GET_SIZE(v);
    if (k > FT_CONTAINER_ITEMS) {
        return 0;
    }
    *h = FT_ARENA_MIX(*h, A_TUPLE | (uint64_t)k << 8); /* the items' count: the length is theirs */
    size_t at = 4;
    for (Py_ssize_t i = 0; i < k; i++) {
        size_t n = arena_scalar(out + at, cap - at, PyTuple_GET_ITEM(v, i), 1, h);
        if (n == 0) {
            return 0;
        }
        at += n;
    }
    uint32_t hdr = (uint32_t)A_TUPLE | (uint32_t)(at - 4) << 8;
    memcpy(out, &hdr, 4);
    return at;
}

/* The object an arena entry stands for (new reference), reading at most
 * `avail` bytes; NULL, with no exception, for a damaged entry. *used: the
 * entry's size. */
static PyObject *
arena_decode(const uint8_t *e, size_t avail, size_t *used, int depth)
{
    uint32_t hdr;
    if (avail < 4) {
        return NULL;
    }
    memcpy(&hdr, e, 4);
    size_t len = hdr >> 8;
    size_t n = 4 + ((len + 3) & ~(size_t)3);
    if (n > avail) {
        return NULL;
    }
    *used = n;
    const uint8_t *d = e + 4;
    switch (hdr & 0xFFu) {
    case A_FLOAT: {
        double x;
        if (len != 8) {
            return NULL;
        }
        memcpy(&x, d, 8);
        return PyFloat_FromDouble(x);
    }
    case A_INT: {
        int64_t x;
        if (len != 8) {
            return NULL;
        }
        memcpy(&x, d, 8);
        return PyLong_FromLongLong((long long)x);
    }
    case A_COMPLEX: {
        double re, im;
        if (len != 16) {
            return NULL;
        }
        memcpy(&re, d, 8);
        memcpy(&im, d + 8, 8);
        return PyComplex_FromDoubles(re, im);
    }
    case A_STR1:
        return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, d, (Py_ssize_t)len);
    case A_STR2:
        return len % 2 ? NULL : PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, d, (Py_ssize_t)len / 2);
    case A_STR4:
        return len % 4 ? NULL : PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, d, (Py_ssize_t)len / 4);
    case A_BYTES:
        return PyBytes_FromStringAndSize((const char *)d, (Py_ssize_t)len);
    case A_NONE:
        return depth ? Py_NewRef(Py_None) : NULL;
    case A_TRUE:
        return depth ? Py_NewRef(Py_True) : NULL;
    case A_FALSE:
        return depth ? Py_NewRef(Py_False) : NULL;
    case A_TUPLE: {
        if (depth) {
            return NULL;
        }
        PyObject *items = PyList_New(0);
        size_t at = 0;
        while (items != NULL && at < len) {
            size_t k = 0;
            PyObject *item = arena_decode(d + at, len - at, &k, 1);
            if (item == NULL || PyList_Append(items, item) < 0) {
                Py_XDECREF(item);
                Py_CLEAR(items);
                break;
            }
            Py_DECREF(item);
            at += k;
        }
        PyObject *t = items ? PyList_AsTuple(items) : NULL;
        Py_XDECREF(items);
        return t;
    }
    default:
        return NULL;
    }
}

/* The text of an arena payload: its object's, formatted as a kept object
 * is (ft_value_text's FT_TAG_RAW); "…" when released (ring mode), "?" for
 * a damaged entry. */
static PyObject *
arena_text(const ft_threadbuf *tb, uint32_t payload)
{
    size_t avail = 0, used = 0;
    const uint8_t *e = tb ? ft_threadbuf_arena_at(tb, payload, &avail) : NULL;
    if (e == NULL) {
        return PyUnicode_FromString("\xe2\x80\xa6");
    }
    PyObject *o = arena_decode(e, avail, &used, 0);
    if (o == NULL) {
        return PyErr_Occurred() ? NULL : PyUnicode_FromString("?");
    }
    PyObject *r = ft_builtin_repr(o, FT_REPR_LIMIT);
    Py_DECREF(o);
    return r;
}

/* `v` (exact float, int, complex, str, bytes, or a small tuple of
 * scalars) kept in the arena: its payload, or FT_VAL_ABSENT when it does
 * not fit (kept as an object then). Not inlined: ft_capture_slow's other
 * paths (a user class's instance) would pay for its registers. */
static FT_NOINLINE uint32_t
arena_capture(ft_threadbuf *tb, PyObject *v)
{
    /* encoded in place at the arena's end: kept there, or shared */
    uint8_t *out = ft_threadbuf_arena_tail(tb);
    uint64_t h = 0;
    size_t n = out ? arena_encode(out, FT_ARENA_ENTRY_MAX, v, &h) : 0;
    return n ? ft_threadbuf_arena_commit(tb, n, h) : FT_VAL_ABSENT;
}

/* Ints of more bits than this (about 600 digits, under the lowest limit
 * sys.set_int_max_str_digits accepts, 640) get their text at capture. */
#define FT_INT_TEXT_BITS 2000

uint32_t
ft_capture_slow(ft_threadbuf *tb, PyObject *v)
{
    if (PyList_CheckExact(v)) {
        PyObject *snap = list_snapshot(v);
        if (snap != NULL) {
            return store_tagged(tb, snap, FT_TAG_LIST);
        }
    }
    if (PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) <= 1 &&
        PyUnicode_KIND(v) == PyUnicode_1BYTE_KIND) {
        /* "" and one Latin-1 character (a lexer's peek): no reference */
        return FT_VAL_CHAR_BASE +
               (PyUnicode_GET_LENGTH(v) ? (uint32_t)PyUnicode_READ_CHAR(v, 0) : 256u);
    }
    if (PyLong_CheckExact(v) && ft_compat_long_bits(v) > FT_INT_TEXT_BITS) {
        /* Its text may be refused later (sys.set_int_max_str_digits):
         * made now, as the event could show it. */
        PyObject *r = ft_builtin_repr(v, FT_REPR_LIMIT);
        if (r == NULL) {
            PyErr_Clear();
            return FT_VAL_ABSENT;
        }
        return store_tagged(tb, r, FT_TAG_TEXT);
    }
    if (PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyComplex_CheckExact(v) ||
        PyUnicode_CheckExact(v) || PyBytes_CheckExact(v) || PyTuple_CheckExact(v)) {
        /* a tuple is tried first: encoding it checks its items too */
        uint32_t p = arena_capture(tb, v);
        if (p != FT_VAL_ABSENT) {
            return p;
        }
        if (!PyTuple_CheckExact(v) || is_frozen_tuple(v)) {
            return store_tagged(tb, Py_NewRef(v), FT_TAG_RAW);
        }
    }
    PyTypeObject *t = Py_TYPE(v);
    if (is_c_task(v)) {
        /* awaiting another task: say which */
        PyObject *name = ft_task_name(v, NULL);
        PyObject *text = name ? PyUnicode_FromFormat("<Task %U>", name) : NULL;
        Py_XDECREF(name);
        if (text == NULL) {
            PyErr_Clear();
            return FT_VAL_ABSENT;
        }
        return store_tagged(tb, text, FT_TAG_TEXT);
    }
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* A user class: its name is enough, shown as "<Name object>". The
         * class goes into the thread's class table once; the instance is
         * not kept. */
        uint32_t p = ft_threadbuf_class(tb, t);
        return p != FT_VAL_ABSENT ? p : store_tagged(tb, Py_NewRef((PyObject *)t), FT_TAG_TYPE);
    }
    PyObject *r = ft_builtin_repr(v, FT_REPR_LIMIT);
    if (r == NULL) {
        PyErr_Clear();
        return FT_VAL_ABSENT;
    }
    return store_tagged(tb, r, FT_TAG_TEXT);
}

int
ft_value_put_inline(ft_sbuf *s, uint32_t payload)
{
    if (ft_val_is_inline_int(payload)) {
        put_int(s, ft_val_inline_int(payload));
        return 1;
    }
    switch (payload) {
    case FT_VAL_PYNONE:
        ft_sbuf_put(s, "None", 4);
        return 1;
    case FT_VAL_FALSE:
        ft_sbuf_put(s, "False", 5);
        return 1;
    case FT_VAL_TRUE:
        ft_sbuf_put(s, "True", 4);
        return 1;
    default:
        return 0;
    }
}

/* "<Name object>": an instance of a user class. */
static PyObject *
type_text(PyTypeObject *t)
{
    PyObject *q = PyType_GetQualName(t);
    if (q == NULL) {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat("<%U object>", q);
    Py_DECREF(q);
    return r;
}

PyObject *
ft_value_text(const ft_threadbuf *tb, uint32_t payload)
{
    switch (payload) {
    case FT_VAL_ABSENT:
        return NULL;
    case FT_VAL_PYNONE:
        return PyUnicode_FromString("None");
    case FT_VAL_FALSE:
        return PyUnicode_FromString("False");
    case FT_VAL_TRUE:
        return PyUnicode_FromString("True");
    default:
        break;
    }
    if (ft_val_is_inline_int(payload)) {
        return PyUnicode_FromFormat("%ld", ft_val_inline_int(payload));
    }
    if (ft_val_is_char(payload)) {
        uint32_t c = payload - FT_VAL_CHAR_BASE;
        PyObject *str = c < 256 ? PyUnicode_FromOrdinal((int)c) : PyUnicode_New(0, 0);
        PyObject *r = str ? ft_builtin_repr(str, FT_REPR_LIMIT) : NULL;
        Py_XDECREF(str);
        return r;
    }
    if (ft_val_is_arena(payload)) {
        return arena_text(tb, payload);
    }
    if (ft_val_is_obj(payload)) {
        PyObject *cls = tb ? ft_threadbuf_class_of(tb, payload) : NULL;
        if (cls != NULL && PyUnicode_Check(cls)) {
            return Py_NewRef(cls); /* a loaded trace keeps the text */
        }
        return cls ? type_text((PyTypeObject *)cls) : PyUnicode_FromString("?");
    }
    PyObject *p = tb ? ft_threadbuf_value(tb, payload) : NULL;
    if (p == NULL) {
        return PyUnicode_FromString("\xe2\x80\xa6"); /* not kept (ring mode) */
    }
    PyObject *o = untag(p);
    switch (tag_of(p)) {
    case FT_TAG_TEXT:
        return Py_NewRef(o);
    case FT_TAG_LIST:
        return list_snapshot_text(o);
    case FT_TAG_TYPE:
        return type_text((PyTypeObject *)o);
    default:
        return ft_builtin_repr(o, FT_REPR_LIMIT);
    }
}

/* Is str(exc) free of user code? True when the class does not override
 * __str__ in Python and every argument is a builtin scalar. */
static int
exc_str_is_safe(PyObject *exc)
{
    PyTypeObject *t = Py_TYPE(exc);
    PyTypeObject *base = t;
    while (base != NULL && (base->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        base = base->tp_base;
    }
    if (base == NULL || t->tp_str != base->tp_str) {
        return 0;
    }
    PyObject *args = ((PyBaseExceptionObject *)exc)->args;
    if (args == NULL || !PyTuple_CheckExact(args)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        if (!ft_is_scalar(PyTuple_GET_ITEM(args, i))) {
            return 0;
        }
    }
    return 1;
}

PyObject *
ft_format_exception(PyObject *exc, int full)
{
    PyObject *saved = PyErr_GetRaisedException();
    PyObject *name = PyType_GetQualName(Py_TYPE(exc));
    PyObject *msg = NULL, *r = NULL;
    if (name == NULL) {
        goto done;
    }
    if ((full && !ft_handback_pending()) || exc_str_is_safe(exc)) {
        msg = PyObject_Str(exc);
        if (msg == NULL) {
            PyObject *e = PyErr_GetRaisedException();
            msg = failed_placeholder("str", e);
            Py_XDECREF(e);
        }
    }
    else {
        /* Do not run user code: show the arguments the way the builtin
         * BaseException.__str__ would, formatted by C. */
        PyObject *args = ((PyBaseExceptionObject *)exc)->args;
        Py_ssize_t n = (args && PyTuple_Check(args)) ? PyTuple_GET_SIZE(args) : 0;
        if (n == 0) {
            msg = PyUnicode_FromString("");
        }
        else if (n == 1 && PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0))) {
            msg = Py_NewRef(PyTuple_GET_ITEM(args, 0));
        }
        else {
            msg = ft_builtin_repr(n == 1 ? PyTuple_GET_ITEM(args, 0) : args, FT_EXC_LIMIT);
        }
    }
    if (msg == NULL) {
        goto done;
    }
    if (PyUnicode_GET_LENGTH(msg) == 0) {
        r = Py_NewRef(name);
    }
    else {
        r = PyUnicode_FromFormat("%U: %U", name, msg);
    }
    r = one_line(bound(r, FT_EXC_LIMIT));
done:
    Py_XDECREF(name);
    Py_XDECREF(msg);
    if (r == NULL) {
        PyErr_Clear();
    }
    PyErr_SetRaisedException(saved);
    return r;
}

PyObject *
ft_format_call_args(PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t npos = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    ft_sbuf s = {0};
    for (Py_ssize_t i = 0; i < npos + nkw; i++) {
        if (i) {
            ft_sbuf_puts(&s, ", ");
        }
        if (i >= npos) {
            ft_sbuf_put_str(&s, PyTuple_GET_ITEM(kwnames, i - npos));
            ft_sbuf_puts(&s, "=");
        }
        if (ft_is_scalar(args[i])) { /* their repr is C: no str made */
            put_scalar(&s, args[i], FT_REPR_LIMIT);
            continue;
        }
        PyObject *r = ft_safe_repr(args[i], FT_REPR_LIMIT);
        if (r == NULL) {
            PyErr_Clear();
            ft_sbuf_puts(&s, "?");
            continue;
        }
        ft_sbuf_put_str(&s, r);
        Py_DECREF(r);
        if (s.len > 4 * FT_REPR_LIMIT) {
            break;
        }
    }
    return sbuf_to_str(&s, 2 * FT_REPR_LIMIT);
}
