/* sbuf.h - a small growable UTF-8 byte buffer used to build text. */
#ifndef FLOWTRACE_SBUF_H
#define FLOWTRACE_SBUF_H

#include <Python.h>
#include <string.h>

typedef struct {
    char *buf;  /* owned (PyMem_Raw), may be NULL while len == 0 */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int oom;    /* a growth failed: content is incomplete */
} ft_sbuf;

static inline int
ft_sbuf_reserve(ft_sbuf *s, size_t extra)
{
    if (s->len + extra <= s->cap) {
        return 0;
    }
    size_t nc = s->cap ? s->cap : 256;
    while (nc < s->len + extra) {
        nc *= 2;
    }
    char *nb = PyMem_RawRealloc(s->buf, nc);
    if (nb == NULL) {
        s->oom = 1;
        return -1;
    }
    s->buf = nb;
    s->cap = nc;
    return 0;
}

static inline void
ft_sbuf_put(ft_sbuf *s, const char *p, size_t n)
{
    if (n == 0 || ft_sbuf_reserve(s, n) < 0) {
        return;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static inline void
ft_sbuf_puts(ft_sbuf *s, const char *p)
{
    ft_sbuf_put(s, p, strlen(p));
}

/* Append a str object's UTF-8 text (surrogates become '?'). */
static inline void
ft_sbuf_put_str(ft_sbuf *s, PyObject *str)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(str, &n);
    if (u == NULL) {
        /* a lone surrogate (a file name's undecodable byte, a damaged
         * saved trace): shown as its escape, \udcff, never replaced */
        PyErr_Clear();
        PyObject *b = PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace");
        if (b == NULL) {
            PyErr_Clear();
            ft_sbuf_puts(s, "?");
            return;
        }
        ft_sbuf_put(s, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        return;
    }
    ft_sbuf_put(s, u, (size_t)n);
}

static inline void
ft_sbuf_free(ft_sbuf *s)
{
    PyMem_RawFree(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}

#endif
