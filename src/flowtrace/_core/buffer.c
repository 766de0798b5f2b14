/* buffer.c - per-thread chunked event buffers and value stores. */
#include "buffer.h"

#include <string.h>
#include <time.h>

static ft_chunk *
chunk_new(void)
{
    ft_chunk *c = PyMem_RawMalloc(sizeof(ft_chunk) + FT_CHUNK_RECORDS * sizeof(ft_record));
    if (c != NULL) {
        c->next = NULL;
        c->used = 0;
    }
    return c;
}

ft_threadbuf *
ft_threadbuf_new(void)
{
    ft_threadbuf *tb = PyMem_RawCalloc(1, sizeof(ft_threadbuf));
    if (tb == NULL) {
        return NULL;
    }
    tb->head = tb->tail = chunk_new();
    if (tb->head == NULL) {
        PyMem_RawFree(tb);
        return NULL;
    }
    tb->pos = tb->head->recs;
    tb->end = tb->head->recs + FT_CHUNK_RECORDS;
    return tb;
}

void
ft_threadbuf_free_list(ft_threadbuf *tb)
{
    while (tb != NULL) {
        ft_threadbuf *next = tb->next;
        ft_chunk *c = tb->head;
        while (c != NULL) {
            ft_chunk *cn = c->next;
            PyMem_RawFree(c);
            c = cn;
        }
        for (uint32_t i = 0; i < tb->nvalues; i++) {
            PyObject *v = (PyObject *)((uintptr_t)tb->values[i] & ~(uintptr_t)1);
            Py_XDECREF(v);
        }
        PyMem_RawFree(tb->values);
        Py_XDECREF(tb->name);
        PyMem_RawFree(tb);
        tb = next;
    }
}

int
ft_threadbuf_grow(ft_threadbuf *tb)
{
    if (tb->failed) {
        return -1;
    }
    ft_chunk *c = chunk_new();
    if (c == NULL) {
        tb->failed = 1;
        return -1;
    }
    tb->tail->used = (size_t)(tb->pos - tb->tail->recs);
    tb->tail->next = c;
    tb->tail = c;
    tb->pos = c->recs;
    tb->end = c->recs + FT_CHUNK_RECORDS;
    return 0;
}

void
ft_threadbuf_seal(ft_threadbuf *tb)
{
    if (tb->tail != NULL) {
        tb->tail->used = (size_t)(tb->pos - tb->tail->recs);
    }
}

uint32_t
ft_threadbuf_store(ft_threadbuf *tb, PyObject *owned)
{
    if (tb->nvalues == tb->cap_values) {
        uint32_t nc = tb->cap_values ? tb->cap_values * 2 : 1024;
        if (nc > 0x7FFFFFF0u - FT_VAL_FIRST_INDEX) {
            Py_DECREF((PyObject *)((uintptr_t)owned & ~(uintptr_t)1));
            return FT_VAL_ABSENT;
        }
        PyObject **nv = PyMem_RawRealloc(tb->values, nc * sizeof(PyObject *));
        if (nv == NULL) {
            Py_DECREF((PyObject *)((uintptr_t)owned & ~(uintptr_t)1));
            return FT_VAL_ABSENT;
        }
        tb->values = nv;
        tb->cap_values = nc;
    }
    tb->values[tb->nvalues] = owned;
    return FT_VAL_FIRST_INDEX + tb->nvalues++;
}

uint64_t
ft_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
