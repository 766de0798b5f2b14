/* buffer.c - per-thread chunked event buffers and value stores. */
#include "recording/buffer.h"

#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <sys/mman.h>
#define FT_USE_MMAP 1
#endif

/* A chunk with room for `cap` records: FT_CHUNK_BIG_RECORDS ones from the
 * pool or mmap'd (huge page), smaller ones from malloc. */
static ft_chunk *
chunk_new(ft_chunkpool *pool, size_t cap)
{
    ft_chunk *c;
    if (cap == FT_CHUNK_BIG_RECORDS && pool != NULL && pool->free != NULL) {
        c = pool->free;
        pool->free = c->next;
        pool->count--;
    }
#ifdef FT_USE_MMAP
    else if (cap == FT_CHUNK_BIG_RECORDS) {
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
    }
#endif
    else {
        c = ft_buf_malloc(ft_chunk_bytes(cap));
        if (c == NULL) {
            return NULL;
        }
    }
    c->next = NULL;
    c->used = 0;
    c->cap = cap;
    c->vfirst = 0;
    c->afirst = 0;
    return c;
}

static void
chunk_free(ft_chunk *c)
{
#ifdef FT_USE_MMAP
    if (c->cap == FT_CHUNK_BIG_RECORDS) {
        munmap(c, FT_CHUNK_BYTES);
        return;
    }
#endif
    ft_buf_free(c);
}

static void
chunk_release(ft_chunk *c, ft_chunkpool *pool)
{
    if (c->cap == FT_CHUNK_BIG_RECORDS && pool != NULL && !pool->closed &&
        pool->count < FT_POOL_MAX) {
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

size_t
ft_chunkpool_nbytes(const ft_chunkpool *pool)
{
    return (size_t)pool->count * FT_CHUNK_BYTES;
}

ft_threadbuf *
ft_threadbuf_new(ft_chunkpool *pool, size_t ring_records)
{
    ft_threadbuf *tb = ft_buf_calloc(
        1, sizeof(ft_threadbuf) + FT_VCACHE_SIZE * sizeof(ft_vcache_entry));
    if (tb == NULL) {
        return NULL;
    }
    tb->recording = 1;
    tb->pool = pool;
    tb->ring_records = ring_records;
    tb->head = tb->tail = chunk_new(pool, FT_CHUNK_MIN_RECORDS);
    if (tb->head == NULL) {
        ft_buf_free(tb);
        return NULL;
    }
    tb->pos = tb->head->recs;
    tb->end = tb->head->recs + tb->head->cap;
    return tb;
}

ft_threadbuf *
ft_threadbuf_new_empty(void)
{
    return ft_buf_calloc(1, sizeof(ft_threadbuf));
}

ft_threadbuf *
ft_threadbuf_from_records(const void *recs, size_t n)
{
    ft_threadbuf *tb = ft_threadbuf_new_empty();
    if (tb == NULL || n == 0) {
        return tb;
    }
    /* never the big chunk's size: that one is mmap'd and pooled */
    size_t cap = n == FT_CHUNK_BIG_RECORDS ? n + 1 : n;
    if (cap > ((size_t)-1 - offsetof(ft_chunk, recs)) / sizeof(ft_record)) {
        ft_buf_free(tb);
        return NULL;
    }
    ft_chunk *c = ft_buf_malloc(ft_chunk_bytes(cap));
    if (c == NULL) {
        ft_buf_free(tb);
        return NULL;
    }
    c->next = NULL;
    c->used = n;
    c->cap = cap;
    c->vfirst = 0;
    c->afirst = 0;
    if (recs != NULL) {
        memcpy(c->recs, recs, n * sizeof(ft_record));
    }
    tb->head = tb->tail = c;
    tb->sealed = 0;
    return tb;
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
        ft_buf_free(tb->values);
        ft_buf_free(tb->arena);
        ft_buf_free(tb->adedup);
        for (uint32_t i = 0; i < tb->nclasses; i++) {
            Py_DECREF(tb->classes[i]);
        }
        ft_buf_free(tb->classes);
        ft_buf_free(tb->class_slots);
        Py_XDECREF(tb->texts);
        Py_XDECREF(tb->name);
        ft_buf_free(tb);
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
    uint64_t afirst = ft_chunk_afirst(tb, tb->head);
    if (afirst > tb->abase) { /* the arena's older units too */
        size_t drop = (size_t)(afirst - tb->abase) * 4;
        if (drop > tb->alen) {
            drop = tb->alen;
        }
        memmove(tb->arena, tb->arena + drop, tb->alen - drop);
        tb->alen -= drop;
        tb->abase += drop / 4;
    }
    if (tb->exc_payload && ft_threadbuf_value(tb, tb->exc_payload) == NULL) {
        tb->exc_payload = 0; /* its text is gone: not to be shared any more */
    }
    tb->dropped += h->used;
    tb->sealed -= h->used;
    h->next = NULL;
    h->used = 0;
    return h;
}

/* Room of the chunk after the tail: twice the tail's size, up to a big
 * chunk. In ring mode growth stops at about a quarter of the window, so
 * that a small max_events keeps small chunks (what is kept stays within
 * ring_records + two chunks). */
static size_t
next_cap(const ft_threadbuf *tb)
{
    size_t cap = tb->tail->cap;
    if (cap >= FT_CHUNK_BIG_RECORDS) {
        return FT_CHUNK_BIG_RECORDS;
    }
    if (tb->ring_records && cap * 4 >= tb->ring_records) {
        return cap;
    }
    size_t bytes = 2 * ft_chunk_bytes(cap);
    return bytes >= FT_CHUNK_BYTES ? FT_CHUNK_BIG_RECORDS
                                   : (bytes - offsetof(ft_chunk, recs)) / sizeof(ft_record);
}

int
ft_threadbuf_grow(ft_threadbuf *tb)
{
    if (tb->failed) {
        return -1;
    }
    tb->tail->used = (size_t)(tb->pos - tb->tail->recs);
    tb->sealed += tb->tail->used;
    size_t want = next_cap(tb);
    ft_chunk *c = NULL;
    /* ring mode: drop the oldest chunks while the others keep the window;
     * a dropped chunk of the wanted size is reused */
    while (tb->ring_records && tb->head != tb->tail &&
           tb->sealed - tb->head->used >= tb->ring_records) {
        ft_chunk *h = recycle_head(tb);
        if (c == NULL && h->cap == want) {
            c = h;
        }
        else {
            chunk_release(h, tb->pool);
        }
    }
    if (c == NULL) {
        c = chunk_new(tb->pool, want);
        if (c == NULL) {
            tb->failed = 1;
            return -1;
        }
    }
    /* the record being appended may name the value stored just before:
     * it belongs to this chunk too */
    c->vfirst = (tb->vbase + (tb->nvalues ? tb->nvalues - 1 : 0)) & FT_VALUE_INDEX_MASK;
    /* likewise the arena entry handed out last (an equal entry is shared
     * only from the tail chunk's afirst on, so it is not older than that) */
    uint64_t aend = tb->abase + tb->alen / 4;
    uint64_t a = tb->alast < aend ? tb->alast : aend;
    uint64_t tail_first = ft_chunk_afirst(tb, tb->tail);
    c->afirst = (uint32_t)(a > tail_first ? a : tail_first);
    tb->tail->next = c;
    tb->tail = c;
    tb->pos = c->recs;
    tb->end = c->recs + c->cap;
    return 0;
}

/* Blocks to free once every buffer is finished (see ft_threadbuf_finish_all). */
typedef struct {
    void **p;   /* owned array (or NULL: free at once) of owned blocks */
    size_t n;   /* used entries of p */
    size_t cap; /* allocated entries of p */
} retired;

static void
retire(retired *r, void *block)
{
    if (r->n < r->cap) {
        r->p[r->n++] = block;
    }
    else {
        ft_buf_free(block);
    }
}

/* A copy of `n` bytes of `p`, made by the calling thread, `p` retired;
 * NULL (and `p` kept) on memory failure. */
static void *
move_here(retired *r, void *p, size_t n)
{
    void *q = ft_buf_malloc(n ? n : 1);
    if (q != NULL) {
        memcpy(q, p, n);
        retire(r, p);
    }
    return q;
}

/* ft_threadbuf_finish_all for one buffer: retires at most 5 blocks. */
static ft_threadbuf *
finish_one(ft_threadbuf *tb, retired *r)
{
    tb->last_code = NULL;
    Py_CLEAR(tb->texts); /* sharing is for recording: the texts stay
                            referenced by the value store */
    if (tb->adedup != NULL) { /* likewise the arena's sharing */
        retire(r, tb->adedup);
        tb->adedup = NULL;
        tb->adedup_mask = tb->adedup_n = 0;
    }
    /* the copy leaves the verdict cache out */
    ft_threadbuf *moved = move_here(r, tb, sizeof(ft_threadbuf));
    if (moved != NULL) {
        tb = moved;
        tb->recording = 0;
    }
    ft_chunk *t = tb->tail;
    if (t == NULL) {
        return tb;
    }
    t->used = (size_t)(tb->pos - t->recs);
    /* a malloc'd tail gives back its unused room (a big chunk keeps it:
     * it is reached only after as many records as it holds) */
    if (t->cap < FT_CHUNK_BIG_RECORDS) {
        ft_chunk *s = move_here(r, t, ft_chunk_bytes(t->used));
        if (s != NULL) {
            s->cap = s->used;
            if (tb->head == t) {
                tb->head = s;
            }
            else {
                ft_chunk *prev = tb->head;
                while (prev->next != t) {
                    prev = prev->next;
                }
                prev->next = s;
            }
            tb->tail = t = s;
        }
    }
    tb->pos = tb->end = t->recs + t->used;
    if (tb->arena != NULL && tb->acap > tb->alen) {
        uint8_t *na = move_here(r, tb->arena, tb->alen);
        if (na != NULL) {
            tb->arena = na;
            tb->acap = tb->alen;
        }
    }
    if (tb->nvalues == 0) {
        if (tb->values != NULL) {
            retire(r, tb->values);
        }
        tb->values = NULL;
        tb->cap_values = 0;
    }
    else {
        PyObject **nv = move_here(r, tb->values, tb->nvalues * sizeof(PyObject *));
        if (nv != NULL) {
            tb->values = nv;
            tb->cap_values = tb->nvalues;
        }
    }
    return tb;
}

ft_threadbuf *
ft_threadbuf_finish_all(ft_threadbuf *list, size_t n)
{
    /* What stays is copied, at its exact size, into blocks this (the
     * stopping) thread allocates. Shrinking in place would leave small
     * live blocks scattered over the recording threads' malloc arenas,
     * which cannot then give back the pages around them: a thread that
     * recorded ten events would keep its verdict cache's and first chunk's
     * pages. The old blocks are freed only after every copy is made: a
     * block this thread frees is what its next malloc of that size returns
     * (glibc's per-thread cache), which would put the copies back into
     * the recording threads' arenas. */
    retired r = {ft_buf_malloc((5 * n + 1) * sizeof(void *)), 0, 0};
    if (r.p != NULL) {
        r.cap = 5 * n + 1; /* finish_one retires at most 5 blocks */
    }
    ft_threadbuf *rev = NULL;
    while (list != NULL) {
        ft_threadbuf *next = list->next;
        ft_threadbuf *tb = finish_one(list, &r);
        tb->next = rev;
        rev = tb;
        list = next;
    }
    for (size_t i = 0; i < r.n; i++) {
        ft_buf_free(r.p[i]);
    }
    ft_buf_free(r.p);
    return rev;
}

size_t
ft_threadbuf_nbytes(const ft_threadbuf *tb)
{
    size_t n = sizeof(ft_threadbuf);
    if (tb->recording) {
        n += FT_VCACHE_SIZE * sizeof(ft_vcache_entry);
    }
    for (const ft_chunk *c = tb->head; c != NULL; c = c->next) {
        n += c->cap == FT_CHUNK_BIG_RECORDS ? FT_CHUNK_BYTES : ft_chunk_bytes(c->cap);
    }
    n += (size_t)tb->cap_values * sizeof(PyObject *);
    n += tb->acap;
    if (tb->adedup != NULL) {
        n += ((size_t)tb->adedup_mask + 1) * sizeof(uint64_t);
    }
    if (tb->class_slots != NULL) {
        size_t size = (size_t)tb->class_mask + 1;
        n += size * sizeof(uint32_t) + (size / 2) * sizeof(PyObject *);
    }
    return n;
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
    uint32_t *slots = ft_buf_calloc(size, sizeof(uint32_t));
    /* at most half full: size / 2 classes */
    PyObject **classes = ft_buf_realloc(tb->classes, (size / 2) * sizeof(PyObject *));
    if (slots == NULL || classes == NULL) {
        ft_buf_free(slots);
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
    ft_buf_free(tb->class_slots);
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
        uint32_t nc = tb->cap_values ? tb->cap_values * 2 : 64;
        if (nc > FT_VALUE_INDEX_MASK) {
            Py_DECREF((PyObject *)((uintptr_t)owned & ~FT_VALUE_TAG_BITS));
            return FT_VAL_ABSENT;
        }
        PyObject **nv = ft_buf_realloc(tb->values, nc * sizeof(PyObject *));
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

/* The arena's sharing table: 256 slots growing to FT_ADEDUP_MAX, emptied
 * when that is half full (it only stops sharing with older entries). */
#define FT_ADEDUP_MIN 256u
#define FT_ADEDUP_MAX 65536u

/* Insert unit + 1 with its hash `h` at its place (room is known). */
static void
adedup_insert(ft_threadbuf *tb, uint32_t h, uint32_t slot_value)
{
    uint32_t i = h & tb->adedup_mask;
    while (tb->adedup[i] != 0) {
        i = (i + 1) & tb->adedup_mask;
    }
    tb->adedup[i] = (uint64_t)h << 32 | slot_value;
    tb->adedup_n++;
}

/* Make room for one more slot: 0, or -1 (no sharing then). */
static int
adedup_room(ft_threadbuf *tb)
{
    uint32_t size = tb->adedup ? tb->adedup_mask + 1 : 0;
    if (tb->adedup != NULL && (tb->adedup_n + 1) * 2 <= size) {
        return 0;
    }
    if (size >= FT_ADEDUP_MAX) {
        memset(tb->adedup, 0, (size_t)size * sizeof(uint64_t));
        tb->adedup_n = 0;
        return 0;
    }
    uint32_t nsize = size ? size * 2 : FT_ADEDUP_MIN;
    uint64_t *old = tb->adedup;
    uint32_t omask = tb->adedup_mask;
    uint64_t *slots = ft_buf_calloc(nsize, sizeof(uint64_t));
    if (slots == NULL) {
        return -1;
    }
    tb->adedup = slots;
    tb->adedup_mask = nsize - 1;
    tb->adedup_n = 0;
    for (uint32_t i = 0; old != NULL && i <= omask; i++) {
        if ((uint32_t)old[i] != 0) { /* by the hash kept with it */
            adedup_insert(tb, (uint32_t)(old[i] >> 32), (uint32_t)old[i]);
        }
    }
    ft_buf_free(old);
    return 0;
}

int
ft_threadbuf_arena_grow(ft_threadbuf *tb)
{
    size_t ncap = tb->acap ? tb->acap * 2 : 1024;
    while (ncap - tb->alen < FT_ARENA_ENTRY_MAX) {
        ncap *= 2;
    }
    uint8_t *na = ft_buf_realloc(tb->arena, ncap);
    if (na == NULL) {
        return -1;
    }
    tb->arena = na;
    tb->acap = ncap;
    return 0;
}

uint64_t
ft_threadbuf_arena_floor(const ft_threadbuf *tb)
{
    /* in ring mode, the tail chunk's afirst: what a record names is
     * released only with its chunk */
    uint64_t floor = tb->afloor;
    if (tb->ring_records && tb->tail != NULL && ft_chunk_afirst(tb, tb->tail) > floor) {
        floor = ft_chunk_afirst(tb, tb->tail);
    }
    return floor;
}

uint32_t
ft_threadbuf_arena_keep(ft_threadbuf *tb, size_t n, uint32_t h)
{
    /* the arena's units count modulo 2^29: in a growing trace it holds
     * at most that many (2 GiB), more stay objects */
    if (!tb->ring_records && (tb->alen + n) / 4 > FT_ARENA_UNIT_MASK) {
        return FT_VAL_ABSENT;
    }
    uint64_t unit = tb->abase + tb->alen / 4;
    tb->alen += n;
    tb->alast = unit;
    uint32_t u = (uint32_t)(unit & FT_ARENA_UNIT_MASK);
    if (adedup_room(tb) == 0) {
        adedup_insert(tb, h, u + 1);
    }
    return FT_VAL_ARENA_BASE + u;
}
