/* sink.c - a writer's text, streamed to file.write() (see sink.h). */
#include "output/sink.h"

#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

/* The descriptor of `file` if it is a pipe, else -1 (never an error). */
static int
pipe_of(PyObject *file)
{
    int fd = -1;
    if (PyObject_HasAttrString(file, "fileno")) {
        fd = PyObject_AsFileDescriptor(file);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
            fd = -1;
        }
    }
    PyErr_Clear(); /* a file without a descriptor is no pipe */
    return fd;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
ft_sink_open(ft_sink *k, PyObject *file, int binary)
{
    memset(k, 0, sizeof(*k));
    k->binary = binary;
    k->pipe = pipe_of(file);
    k->ticked = now_ns();
    k->write = PyObject_GetAttrString(file, "write");
    return k->write == NULL ? -1 : 0;
}

int
ft_sink_tick(ft_sink *k)
{
    uint64_t now = now_ns();
    if (now - k->ticked < 100000000u) {
        return 0;
    }
    k->ticked = now;
    if (k->out.len > 0) {
        return ft_sink_flush(k);
    }
    struct pollfd p = {.fd = k->pipe, .events = POLLOUT};
    if (k->pipe >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) {
        errno = EPIPE;
        PyErr_SetFromErrno(PyExc_OSError); /* BrokenPipeError */
        return -1;
    }
    return 0;
}

static int
write_once(PyObject *write, PyObject *chunk)
{
    PyObject *r = PyObject_CallOneArg(write, chunk);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* A binary file's write() may take only part of the bytes: a
   BufferedWriter whose pipe was closed after a partial write returns the
   count written rather than raising. The rest is offered again, so the
   error (EPIPE: `| head`) comes out where the caller can see it. */
static int
write_all(PyObject *write, PyObject *chunk)
{
    Py_ssize_t len = PyBytes_GET_SIZE(chunk);
    Py_ssize_t done = 0;
    Py_INCREF(chunk);
    PyObject *rest = chunk; /* owned */
    for (;;) {
        PyObject *r = PyObject_CallOneArg(write, rest);
        Py_DECREF(rest);
        if (r == NULL) {
            return -1;
        }
        Py_ssize_t n = r == Py_None ? 0 : PyLong_AsSsize_t(r);
        Py_DECREF(r);
        if (n == -1 && PyErr_Occurred()) {
            PyErr_Clear(); /* a write() that does not count: take it at its word */
            return 0;
        }
        if (n <= 0 || n > len - done) {
            if (n > 0) {
                return 0; /* claims more than it was given: nothing left to offer */
            }
            PyErr_SetString(PyExc_BlockingIOError, "the file took none of the bytes written");
            return -1;
        }
        done += n;
        if (done == len) {
            return 0;
        }
        rest = PyBytes_FromStringAndSize(PyBytes_AS_STRING(chunk) + done, len - done);
        if (rest == NULL) {
            return -1;
        }
    }
}

int
ft_sink_flush(ft_sink *k)
{
    if (k->out.oom) {
        PyErr_NoMemory();
        return -1;
    }
    if (k->out.len == 0) {
        return 0;
    }
    PyObject *chunk = k->binary
                          ? PyBytes_FromStringAndSize(k->out.buf, (Py_ssize_t)k->out.len)
                          : PyUnicode_DecodeUTF8(k->out.buf, (Py_ssize_t)k->out.len, "replace");
    k->out.len = 0;
    if (chunk == NULL) {
        return -1;
    }
    int rc = k->binary ? write_all(k->write, chunk) : write_once(k->write, chunk);
    Py_DECREF(chunk);
    return rc;
}

void
ft_sink_close(ft_sink *k)
{
    Py_CLEAR(k->write);
    ft_sbuf_free(&k->out);
}
