/* buffer.c - per-thread chunked event buffers and value stores. */
#include "buffer.h"

#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <sys/mman.h>
#define FT_USE_MMAP 1
#endif

static ft_chunk *
chunk_new(ft_chunkpool *pool)
{
    ft_chunk *c;
    if (pool != NULL && pool->free != NULL) {
        c = pool->free;
        pool->free = c->next;
        pool->count--;
        c->next = NULL;
        c->used = 0;
        c->vfirst = 0;
        return c;
    }
#ifdef FT_USE_MMAP
    /* Map twice the size, keep the 2 MiB-aligned middle, ask for a huge
     * page. */
    size_t len = 2 * FT_CHUNK_BYTES;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    uintptr_t start = ((uintptr_t)p + FT_CHUNK_BYTES - 1) & ~(uintptr_t)(FT_CHUNK_BYTES - 1);
    size_t head = start - (uintptr_t)p;
    if (head) {
        munmap(p, head);
    }
    size_t tail = len - head - FT_CHUNK_BYTES;
    if (tail) {
        munmap((char *)start + FT_CHUNK_BYTES, tail);
    }
#ifdef MADV_HUGEPAGE
    madvise((void *)start, FT_CHUNK_BYTES, MADV_HUGEPAGE);
#endif
    c = (ft_chunk *)start;
#else
    c = PyMem_RawMalloc(FT_CHUNK_BYTES);
    if (c == NULL) {
        return NULL;
    }
#endif
    c->next = NULL;
    c->used = 0;
    c->vfirst = 0;
    return c;
}

static void
chunk_free(ft_chunk *c)
{
#ifdef FT_USE_MMAP
    munmap(c, FT_CHUNK_BYTES);
#else
    PyMem_RawFree(c);
#endif
}

static void
chunk_release(ft_chunk *c, ft_chunkpool *pool)
{
    if (pool != NULL && !pool->closed && pool->count < FT_POOL_MAX) {
        c->next = pool->free;
        pool->free = c;
        pool->count++;
        return;
    }
    chunk_free(c);
}

void
ft_chunkpool_close(ft_chunkpool *pool)
{
    pool->closed = 1;
    while (pool->free != NULL) {
        ft_chunk *c = pool->free;
        pool->free = c->next;
        chunk_free(c);
    }
    pool->count = 0;
}

ft_threadbuf *
ft_threadbuf_new(ft_chunkpool *pool, size_t ring_chunks)
{
    ft_threadbuf *tb = PyMem_RawCalloc(1, sizeof(ft_threadbuf));
    if (tb == NULL) {
        return NULL;
    }
    tb->pool = pool;
    tb->ring_chunks = ring_chunks;
    tb->nchunks = 1;
    tb->head = tb->tail = chunk_new(pool);
    if (tb->head == NULL) {
        PyMem_RawFree(tb);
        return NULL;
    }
    tb->pos = tb->head->recs;
    tb->end = tb->head->recs + FT_CHUNK_RECORDS;
    return tb;
}

ft_threadbuf *
ft_threadbuf_new_empty(void)
{
    return PyMem_RawCalloc(1, sizeof(ft_threadbuf));
}

void
ft_threadbuf_free_list(ft_threadbuf *tb, ft_chunkpool *pool)
{
    while (tb != NULL) {
        ft_threadbuf *next = tb->next;
        ft_chunk *c = tb->head;
        while (c != NULL) {
            ft_chunk *cn = c->next;
            chunk_release(c, pool);
            c = cn;
        }
        for (uint32_t i = 0; i < tb->nvalues; i++) {
            PyObject *v = (PyObject *)((uintptr_t)tb->values[i] & ~FT_VALUE_TAG_BITS);
            Py_XDECREF(v);
        }
        PyMem_RawFree(tb->values);
        for (uint32_t i = 0; i < tb->nclasses; i++) {
            Py_DECREF(tb->classes[i]);
        }
        PyMem_RawFree(tb->classes);
        PyMem_RawFree(tb->class_slots);
        Py_XDECREF(tb->name);
        PyMem_RawFree(tb);
        tb = next;
    }
}

/* Ring mode: the oldest chunk leaves; the values stored while it was the
 * tail are released (records are never older than the values they name). */
static ft_chunk *
recycle_head(ft_threadbuf *tb)
{
    ft_chunk *h = tb->head;
    tb->head = h->next;
    uint32_t keep_from = tb->head->vfirst; /* store index */
    uint32_t n = (keep_from - tb->vbase) & FT_VALUE_INDEX_MASK;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *v = (PyObject *)((uintptr_t)tb->values[i] & ~FT_VALUE_TAG_BITS);
        Py_XDECREF(v);
    }
    if (n > 0) { /* values is NULL while nothing was stored */
        memmove(tb->values, tb->values + n, (tb->nvalues - n) * sizeof(PyObject *));
    }
    tb->nvalues -= n;
    tb->vbase = keep_from;
    if (tb->exc_payload && ft_threadbuf_value(tb, tb->exc_payload) == NULL) {
        tb->exc_payload = 0; /* its text is gone: not to be shared any more */
    }
    tb->dropped += h->used;
    tb->nchunks--;
    h->next = NULL;
    h->used = 0;
    return h;
}

int
ft_threadbuf_grow(ft_threadbuf *tb)
{
    if (tb->failed) {
        return -1;
    }
    tb->tail->used = (size_t)(tb->pos - tb->tail->recs);
    ft_chunk *c;
    if (tb->ring_chunks && tb->nchunks >= tb->ring_chunks && tb->head != tb->tail) {
        c = recycle_head(tb);
    }
    else {
        c = chunk_new(tb->pool);
        if (c == NULL) {
            tb->failed = 1;
            return -1;
        }
    }
    /* the record being appended may name the value stored just before:
     * it belongs to this chunk too */
    c->vfirst = (tb->vbase + (tb->nvalues ? tb->nvalues - 1 : 0)) & FT_VALUE_INDEX_MASK;
    tb->tail->next = c;
    tb->tail = c;
    tb->nchunks++;
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

static inline uint32_t
class_hash(const PyTypeObject *t)
{
    return (uint32_t)((((uintptr_t)t >> 4) * 0x9E3779B97F4A7C15ull) >> 32);
}

/* Double the slot table (and the class array with it); 0 or -1. */
static int
classes_grow(ft_threadbuf *tb)
{
    uint32_t size = tb->class_mask ? (tb->class_mask + 1) * 2 : 64;
    uint32_t *slots = PyMem_RawCalloc(size, sizeof(uint32_t));
    /* at most half full: size / 2 classes */
    PyObject **classes = PyMem_RawRealloc(tb->classes, (size / 2) * sizeof(PyObject *));
    if (slots == NULL || classes == NULL) {
        PyMem_RawFree(slots);
        if (classes != NULL) {
            tb->classes = classes;
        }
        return -1;
    }
    tb->classes = classes;
    for (uint32_t k = 0; k < tb->nclasses; k++) {
        uint32_t i = class_hash((PyTypeObject *)classes[k]) & (size - 1);
        while (slots[i] != 0) {
            i = (i + 1) & (size - 1);
        }
        slots[i] = k + 1;
    }
    PyMem_RawFree(tb->class_slots);
    tb->class_slots = slots;
    tb->class_mask = size - 1;
    return 0;
}

uint32_t
ft_threadbuf_class(ft_threadbuf *tb, PyTypeObject *t)
{
    if ((tb->nclasses + 1) * 2 > tb->class_mask + 1 || tb->class_slots == NULL) {
        if (tb->nclasses >= FT_VAL_OBJ_LIMIT - FT_VAL_OBJ_BASE || classes_grow(tb) < 0) {
            return FT_VAL_ABSENT;
        }
    }
    uint32_t i = class_hash(t) & tb->class_mask;
    for (;;) {
        uint32_t s = tb->class_slots[i];
        if (s == 0) {
            tb->classes[tb->nclasses] = Py_NewRef((PyObject *)t);
            tb->class_slots[i] = ++tb->nclasses;
            return FT_VAL_OBJ_BASE + tb->nclasses - 1;
        }
        if (tb->classes[s - 1] == (PyObject *)t) {
            return FT_VAL_OBJ_BASE + s - 1;
        }
        i = (i + 1) & tb->class_mask;
    }
}

uint32_t
ft_threadbuf_store(ft_threadbuf *tb, PyObject *owned)
{
    if (tb->nvalues == tb->cap_values) {
        uint32_t nc = tb->cap_values ? tb->cap_values * 2 : 1024;
        if (nc > FT_VALUE_INDEX_MASK) {
            Py_DECREF((PyObject *)((uintptr_t)owned & ~FT_VALUE_TAG_BITS));
            return FT_VAL_ABSENT;
        }
        PyObject **nv = PyMem_RawRealloc(tb->values, nc * sizeof(PyObject *));
        if (nv == NULL) {
            Py_DECREF((PyObject *)((uintptr_t)owned & ~FT_VALUE_TAG_BITS));
            return FT_VAL_ABSENT;
        }
        tb->values = nv;
        tb->cap_values = nc;
    }
    tb->values[tb->nvalues++] = owned;
    return FT_VAL_FIRST_INDEX + ((tb->vbase + tb->nvalues - 1) & FT_VALUE_INDEX_MASK);
}
