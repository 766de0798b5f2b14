/* write_ftrace.c - a recording as a .ftrace file (docs/ftrace-format.md).
 *
 * The records are written as they are, straight from the threads' chunks
 * (file.write of a memoryview: no copy); the tables are made here: each
 * value of a value store and each class becomes the text it shows, stored
 * once in the file's TEXTS block however many values share it. One pass,
 * streaming: memory is the tables, never the records.
 */
#include "output/write_ftrace.h"

#include <string.h>

#include "common/checksum.h"
#include "common/ftrace_format.h"
#include "common/strtable.h"
#include "common/u64map.h"
#include "output/sink.h"
#include "recording/values.h"

typedef struct {
    ft_sink sink;      /* owned: where the bytes go (binary) */
    ft_u64map seen;    /* owned: value entries (tagged PyObject*, alive in
                          their value store for the whole write: the same
                          object stored many times, a shared text or an
                          interned str, is looked up once) -> text index */
    ft_strtable index; /* owned: text (exact str) -> its index */
    PyObject *order;   /* owned list: the texts, by index */
    ft_strtable by_str; /* owned: a str value (exact str) -> the index of
                          its text: equal strs show the same text, so a
                          fresh copy of a seen str is not formatted again */
    ft_checksum sum;   /* the current block's */
} writer;

static void
put(writer *w, const void *p, size_t n)
{
    ft_sbuf_put(&w->sink.out, (const char *)p, n);
    ft_checksum_add(&w->sum, p, n);
}

static void
put_u32(writer *w, uint32_t v)
{
    put(w, &v, 4);
}

static void
put_u64(writer *w, uint64_t v)
{
    put(w, &v, 8);
}

/* The checksum covers the block's header, its payload and the payload's
 * padding: every byte of the block but the checksum itself. */
static void
block_begin(writer *w, uint32_t kind, uint64_t len)
{
    uint32_t head[2] = {kind, 0};
    ft_checksum_init(&w->sum, 16 + (len + 7) / 8 * 8);
    put(w, head, sizeof(head));
    put(w, &len, 8);
}

static int
block_end(writer *w, uint64_t len)
{
    static const uint8_t zeros[8] = {0};
    put(w, zeros, (size_t)((8 - len % 8) % 8));
    uint64_t c = ft_checksum_end(&w->sum);
    ft_sbuf_put(&w->sink.out, (const char *)&c, 8);
    return ft_sink_maybe_flush(&w->sink);
}

/* The index of `text` (a str, borrowed) in the file's TEXTS; NONE_TEXT for
 * NULL. -1 with an exception on memory failure. */
static int64_t
text_index(writer *w, PyObject *text)
{
    if (text == NULL) {
        return NONE_TEXT;
    }
    if (!PyUnicode_CheckExact(text)) { /* a str subclass (a thread's name):
                                          its text, compared as a str */
        PyObject *exact = PyUnicode_FromObject(text);
        int64_t i = exact != NULL ? text_index(w, exact) : -1;
        Py_XDECREF(exact);
        return i;
    }
    int64_t i = ft_strtable_get(&w->index, text);
    if (i != -2) {
        return i;
    }
    Py_ssize_t n = PyList_GET_SIZE(w->order);
    if (n >= (Py_ssize_t)NONE_TEXT - 1) {
        PyErr_SetString(PyExc_OverflowError, "flowtrace: too many distinct texts for .ftrace");
        return -1;
    }
    if (ft_strtable_add(&w->index, text, n) < 0 || PyList_Append(w->order, text) < 0) {
        return -1;
    }
    return n;
}

/* The text index of a payload's display text (a new text made if needed). */
static int64_t
payload_index(writer *w, const ft_threadbuf *tb, uint32_t payload)
{
    PyObject *text = ft_value_text(tb, payload);
    if (text == NULL) {
        return PyErr_Occurred() ? -1 : (int64_t)NONE_TEXT;
    }
    int64_t i = text_index(w, text);
    Py_DECREF(text);
    return i;
}

/* The text index of a value-store entry (a tagged PyObject*). The same
 * object is often stored many times (a shared text, an interned str): it
 * is looked up once, by address; an exact str kept by reference is then
 * looked up by content (its cached hash), and only what is left is
 * formatted. */
static int64_t
value_index(writer *w, const ft_threadbuf *tb, uint32_t payload, PyObject *entry)
{
    int64_t i = ft_u64map_get(&w->seen, (uint64_t)(uintptr_t)entry);
    if (i >= 0) {
        return i;
    }
    PyObject *o = (PyObject *)((uintptr_t)entry & ~FT_VALUE_TAG_BITS);
    unsigned tag = (unsigned)((uintptr_t)entry & FT_VALUE_TAG_BITS);
    int raw_str = tag == FT_TAG_RAW && PyUnicode_CheckExact(o);
    if (tag == FT_TAG_TEXT) {
        i = text_index(w, o);
    }
    else if (raw_str && (i = ft_strtable_get(&w->by_str, o)) == -2) {
        i = payload_index(w, tb, payload);
        if (i >= 0 && ft_strtable_add(&w->by_str, o, i) < 0) {
            return -1;
        }
    }
    else if (!raw_str) {
        i = payload_index(w, tb, payload);
    }
    if (i >= 0) {
        (void)ft_u64map_put(&w->seen, (uint64_t)(uintptr_t)entry, i); /* else: no caching */
    }
    return i;
}

/* Does the payload of a record of this kind name a value? */
static int
payload_is_value(unsigned kind)
{
    return kind != FT_REC_START && kind != FT_REC_RESUME && kind != FT_REC_THROW &&
           kind != FT_REC_GSEQ;
}

/* Arena payloads (values kept by value while recording) are written as
 * value entries after the store's, so that the file's format stays the
 * same: `extra` maps each distinct arena payload of the records to its
 * entry number past nvalues (+1), `order` lists them. Returns how many, or
 * -1 on memory failure. */
static int64_t
collect_arena(const ft_threadbuf *tb, ft_u64map *extra, uint32_t **order)
{
    size_t n = 0, cap = 0;
    int skip = 0;
    for (const ft_chunk *c = tb->head; c != NULL; c = c->next) {
        for (size_t i = 0; i < c->used; i++) {
            if (skip > 0) { /* a record's timestamp or task word (never
                               split across chunks, but counted anyway) */
                skip--;
                continue;
            }
            ft_record r = c->recs[i];
            unsigned kind = ft_rec_kind(r);
            skip = ft_rec_has_ts(r) + (kind == FT_REC_TASK || kind == FT_REC_TASK_NEW);
            uint32_t p = ft_rec_payload(r);
            if (!payload_is_value(kind) || !ft_val_is_arena(p) ||
                ft_u64map_get(extra, p) > 0) {
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                uint32_t *no = PyMem_RawRealloc(*order, cap * 4);
                if (no == NULL) {
                    return -1;
                }
                *order = no;
            }
            (*order)[n++] = p;
            if (ft_u64map_put(extra, p, (int64_t)n) < 0) {
                return -1;
            }
        }
    }
    return (int64_t)n;
}

/* Write `n` records, their arena payloads replaced by value entries
 * (through the sink in pieces). 0, or -1 with an exception. */
static int
put_records_mapped(writer *w, const ft_threadbuf *tb, const ft_record *recs, size_t n,
                   const ft_u64map *extra, uint32_t first, int *skip)
{
    ft_record buf[512];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        ft_record r = recs[i];
        if (*skip > 0) {
            (*skip)--;
        }
        else {
            unsigned kind = ft_rec_kind(r);
            *skip = ft_rec_has_ts(r) + (kind == FT_REC_TASK || kind == FT_REC_TASK_NEW);
            uint32_t p = ft_rec_payload(r);
            if (payload_is_value(kind) && ft_val_is_arena(p)) {
                int64_t j = ft_u64map_get(extra, p) - 1;
                uint32_t q = FT_VAL_FIRST_INDEX + ((tb->vbase + first + (uint32_t)j) & FT_VALUE_INDEX_MASK);
                r = (r & 0xFFFFFFFFu) | ((uint64_t)q << 32);
            }
        }
        buf[k++] = r;
        if (k == sizeof(buf) / sizeof(buf[0])) {
            put(w, buf, k * sizeof(ft_record));
            k = 0;
            if (ft_sink_maybe_flush(&w->sink) < 0) {
                return -1;
            }
        }
    }
    put(w, buf, k * sizeof(ft_record));
    return 0;
}

static int
write_thread(writer *w, const ft_tree *t, uint32_t thread)
{
    const ft_threadbuf *tb = t->thread_vec[thread];
    uint64_t nrec = 0;
    for (const ft_chunk *c = tb->head; c != NULL; c = c->next) {
        nrec += c->used;
    }
    ft_u64map extra = {0};
    uint32_t *extra_order = NULL; /* owned (PyMem_Raw) */
    int64_t nextra = tb->arena != NULL ? collect_arena(tb, &extra, &extra_order) : 0;
    if (nextra < 0) {
        ft_u64map_free(&extra);
        PyMem_RawFree(extra_order);
        PyErr_NoMemory();
        return -1;
    }
    if ((uint64_t)tb->nvalues + (uint64_t)nextra > FT_VALUE_INDEX_MASK) {
        ft_u64map_free(&extra);
        PyMem_RawFree(extra_order);
        PyErr_SetString(PyExc_OverflowError, "flowtrace: too many values for .ftrace");
        return -1;
    }
    int rc = -1;
    uint32_t nvalues = tb->nvalues + (uint32_t)nextra;
    /* the tables first, in memory: their texts may be new */
    uint32_t *tab = PyMem_RawMalloc(((size_t)tb->nclasses + nvalues + 1) * 4);
    if (tab == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint32_t k = 0; k < tb->nclasses; k++) {
        int64_t i = payload_index(w, tb, FT_VAL_OBJ_BASE + k);
        if (i < 0) {
            goto done;
        }
        tab[k] = (uint32_t)i;
    }
    for (uint32_t k = 0; k < tb->nvalues; k++) {
        PyObject *e = tb->values[k];
        uint32_t payload = FT_VAL_FIRST_INDEX + ((tb->vbase + k) & FT_VALUE_INDEX_MASK);
        int64_t i = e == NULL ? NONE_TEXT /* released by the flight recorder */
                              : value_index(w, tb, payload, e);
        if (i < 0) {
            goto done;
        }
        tab[tb->nclasses + k] = (uint32_t)i;
    }
    /* after the store's: a loaded file's texts come in this order */
    for (int64_t j = 0; j < nextra; j++) {
        int64_t i = payload_index(w, tb, extra_order[j]);
        if (i < 0) {
            goto done;
        }
        tab[tb->nclasses + tb->nvalues + j] = (uint32_t)i;
    }
    PyObject *name = ft_tree_thread_name(t, thread);
    int64_t name_i = name ? text_index(w, name) : -1;
    if (name_i < 0) {
        goto done;
    }
    size_t ntab = (size_t)tb->nclasses + nvalues;
    size_t pad = (8 - (ntab * 4) % 8) % 8;
    uint64_t len = 40 + ntab * 4 + pad + nrec * 8;
    block_begin(w, BLOCK_THREAD, len);
    put_u64(w, tb->ident);
    put_u64(w, tb->dropped);
    put_u64(w, nrec);
    put_u32(w, tb->vbase);
    put_u32(w, nvalues);
    put_u32(w, tb->nclasses);
    put_u32(w, (uint32_t)name_i);
    put(w, tab, ntab * 4);
    static const uint8_t zeros[8] = {0};
    put(w, zeros, pad);
    /* the records, from the chunks themselves */
    int skip = 0;
    for (const ft_chunk *c = tb->head; c != NULL; c = c->next) {
        if (c->used == 0) {
            continue;
        }
        if (nextra > 0) {
            if (put_records_mapped(w, tb, c->recs, c->used, &extra, tb->nvalues, &skip) < 0) {
                goto done;
            }
            continue;
        }
        size_t bytes = c->used * sizeof(ft_record);
        ft_checksum_add(&w->sum, c->recs, bytes);
        if (bytes < 64 * 1024) {
            ft_sbuf_put(&w->sink.out, (const char *)c->recs, bytes);
            continue;
        }
        if (ft_sink_flush(&w->sink) < 0) {
            goto done;
        }
        PyObject *mv = PyMemoryView_FromMemory((char *)c->recs, (Py_ssize_t)bytes, PyBUF_READ);
        PyObject *r = mv ? PyObject_CallOneArg(w->sink.write, mv) : NULL;
        Py_XDECREF(mv);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    rc = block_end(w, len);
done:
    PyMem_RawFree(tab);
    ft_u64map_free(&extra);
    PyMem_RawFree(extra_order);
    return rc;
}

/* A code the session saw and excluded: none of its events was recorded. */
static int
never_recorded(const ft_tree *t, uint32_t c)
{
    if (c < t->codes.count) {
        return (t->codes.entries[c].verdict & FT_CODE_EXCLUDED) != 0;
    }
    return t->argpos != NULL && c < t->nnames && t->argpos[c] < 0;
}

/* The CODES block: made whole in memory (a few dozen bytes a code). */
static int
write_codes(writer *w, const ft_tree *t)
{
    ft_sbuf body = {0};
    uint32_t n = t->nnames;
    ft_sbuf_put(&body, (const char *)&n, 4);
    for (uint32_t c = 0; c < n; c++) {
        if (never_recorded(t, c)) {
            /* seen once, never recorded (the stdlib...): a run of them is
             * one entry, which keeps the ids of the others */
            uint32_t run = 1;
            while (c + run < n && never_recorded(t, c + run)) {
                run++;
            }
            uint32_t e[2] = {FTRACE_SKIP, run};
            ft_sbuf_put(&body, (const char *)e, sizeof(e));
            c += run - 1;
            continue;
        }
        PyObject *name = ft_tree_name(t, c);
        if (name == NULL) {
            ft_sbuf_free(&body);
            return -1;
        }
        int64_t f[3] = {text_index(w, name), text_index(w, ft_tree_module(t, c)),
                        text_index(w, ft_tree_file(t, c))};
        Py_ssize_t npos = 0;
        PyObject *names = NULL;
        if (f[0] < 0 || f[1] < 0 || f[2] < 0) {
            ft_sbuf_free(&body);
            return -1;
        }
        if (ft_tree_argspec(t, c, &npos, &names) < 0) {
            npos = 0;
            names = NULL;
        }
        /* the names --args can show: at most FT_ARGV_MAX parameters */
        Py_ssize_t nn = names ? PyTuple_GET_SIZE(names) : 0;
        nn = nn > 16 ? 16 : nn;
        uint32_t e[6] = {(uint32_t)f[0], (uint32_t)f[1], (uint32_t)f[2],
                         (uint32_t)ft_tree_line(t, c), (uint32_t)npos, (uint32_t)nn};
        ft_sbuf_put(&body, (const char *)e, sizeof(e));
        for (Py_ssize_t k = 0; k < nn; k++) {
            int64_t ti = text_index(w, PyTuple_GET_ITEM(names, k));
            if (ti < 0) {
                Py_XDECREF(names);
                ft_sbuf_free(&body);
                return -1;
            }
            uint32_t u = (uint32_t)ti;
            ft_sbuf_put(&body, (const char *)&u, 4);
        }
        Py_XDECREF(names);
    }
    if (body.oom) {
        ft_sbuf_free(&body);
        PyErr_NoMemory();
        return -1;
    }
    block_begin(w, BLOCK_CODES, body.len);
    put(w, body.buf, body.len);
    uint64_t len = body.len;
    ft_sbuf_free(&body);
    return block_end(w, len);
}

/* The UTF-8 bytes of a text; a lone surrogate (an undecodable byte of a
 * file name) is kept as its surrogatepass encoding, which the loader
 * reads back. New reference to bytes, or NULL with an exception. */
static PyObject *
utf8_of(PyObject *text)
{
    return PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
}

static int
write_texts(writer *w)
{
    Py_ssize_t n = PyList_GET_SIZE(w->order);
    uint64_t len = 4;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t sz;
        if (PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(w->order, i), &sz) == NULL) {
            PyErr_Clear();
            PyObject *b = utf8_of(PyList_GET_ITEM(w->order, i));
            if (b == NULL) {
                return -1;
            }
            sz = PyBytes_GET_SIZE(b);
            Py_DECREF(b);
        }
        len += 4 + (uint64_t)sz;
    }
    block_begin(w, BLOCK_TEXTS, len);
    put_u32(w, (uint32_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = utf8_of(PyList_GET_ITEM(w->order, i));
        if (b == NULL) {
            return -1;
        }
        put_u32(w, (uint32_t)PyBytes_GET_SIZE(b));
        put(w, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        if (ft_sink_maybe_flush(&w->sink) < 0) {
            return -1;
        }
    }
    return block_end(w, len);
}

int
ft_write_ftrace(const ft_tree *t, PyObject *file)
{
    if (t->records_released) {
        PyErr_SetString(PyExc_ValueError,
                        "format 'ftrace' keeps a recording's events: this trace was read for its "
                        "tree only, its records given back (load the file again to save it)");
        return -1;
    }
    if (t->rebuilt) {
        PyErr_SetString(PyExc_ValueError,
                        "format 'ftrace' keeps a recording's events: this trace was loaded from "
                        "JSON or rebuilt from CallEvents, which have none (its tree saves as "
                        "json, chrome, perfetto or html)");
        return -1;
    }
    writer w = {0};
    w.order = PyList_New(0);
    if (w.order == NULL || ft_sink_open(&w.sink, file, 1) < 0) {
        Py_XDECREF(w.order);
        return -1;
    }
    uint32_t flags = (t->cfg.timing ? 1u : 0) | (t->cfg.results ? 2u : 0) |
                     (t->cfg.args ? 4u : 0) | (t->cfg.midflight ? 8u : 0);
    uint8_t header[32];
    uint32_t head[4] = {FTRACE_VERSION, FTRACE_HEADER, flags, 0};
    memcpy(header, FTRACE_MAGIC, 8);
    memcpy(header + 8, head, sizeof(head));
    memcpy(header + 24, &t->cfg.records_ns_per_tick, 8);
    /* the header's own checksum: its bytes, with this field 0 */
    ft_checksum hc;
    ft_checksum_init(&hc, 32);
    ft_checksum_add(&hc, header, 32);
    uint32_t hsum = (uint32_t)ft_checksum_end(&hc);
    memcpy(header + 20, &hsum, 4);
    ft_sbuf_put(&w.sink.out, (const char *)header, 32);
    int rc = 0;
    for (uint32_t i = 0; i < t->nthreads && rc == 0; i++) {
        rc = write_thread(&w, t, i);
    }
    if (rc == 0) {
        rc = write_codes(&w, t);
    }
    if (rc == 0) {
        rc = write_texts(&w);
    }
    if (rc == 0) {
        block_begin(&w, BLOCK_END, 0);
        rc = block_end(&w, 0);
    }
    if (rc == 0) {
        rc = ft_sink_flush(&w.sink);
    }
    ft_sink_close(&w.sink);
    ft_u64map_free(&w.seen);
    ft_strtable_free(&w.index);
    Py_DECREF(w.order);
    ft_strtable_free(&w.by_str);
    return rc;
}
