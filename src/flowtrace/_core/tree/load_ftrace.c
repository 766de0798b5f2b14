/* load_ftrace.c - a tree from the bytes of a .ftrace file.
 *
 * The file is the recording (docs/ftrace-format.md): each thread's records
 * are copied into a buffer as they are, the tables become the tree's name
 * arrays and the buffers' value stores, and build.c pairs the records into
 * nodes exactly as for a live recording. The bytes are untrusted: every
 * length is checked against what is left, every block against its
 * checksum, every text against UTF-8, every record's code id against the
 * code table, before anything is built. A bad file is one ValueError that
 * names the block and the field.
 */
#include "tree/tree.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "common/checksum.h"
#include "common/ftrace_format.h"
#include "common/growable.h"
#include "common/pages.h"
#include "recording/record.h"
#include "recording/values.h"

static const char *const BLOCK_NAMES[] = {"?", "TEXTS", "CODES", "THREAD", "END"};

/* The file's bytes, and whether they are a read-only file mapping, whose
 * pages can be given back once read: the records are copied piece by
 * piece, so that a file costs its size in memory once, not twice. */
typedef struct {
    const uint8_t *data; /* borrowed: the whole file */
    size_t size;         /* its length */
    int mapped;          /* data is an mmap of the file (never anonymous
                            memory: releasing would lose it) */
} source;

#define PIECE ((size_t)32 << 20) /* bytes read between two releases */

/* Done with [p, p + n) of a mapped file: its whole pages leave this
 * process's memory (they are read again from the file if touched). */
static void
release(const source *src, const uint8_t *p, size_t n)
{
    if (src->mapped) {
        ft_give_pages_back(p, n);
    }
}

/* A bounded reader over one block's payload. */
typedef struct {
    const uint8_t *p;  /* borrowed: next byte */
    const uint8_t *end; /* borrowed: one past the payload */
    const char *what;  /* the block's name, for messages */
    size_t index;      /* which block of its kind (THREAD 0, 1...) */
} reader;

static int
bad(const reader *r, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r == NULL) {
        PyErr_Format(PyExc_ValueError, "file: %s", msg);
    }
    else if (strcmp(r->what, "THREAD") == 0) {
        PyErr_Format(PyExc_ValueError, "THREAD block %zu: %s", r->index, msg);
    }
    else {
        PyErr_Format(PyExc_ValueError, "%s block: %s", r->what, msg);
    }
    return -1;
}

static int
take(reader *r, void *out, size_t n, const char *field)
{
    if ((size_t)(r->end - r->p) < n) {
        return bad(r, "%s: the block ends too early", field);
    }
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}

static int
take_u32(reader *r, uint32_t *v, const char *field)
{
    return take(r, v, 4, field);
}

/* The texts: PyObject* str each, owned. */
typedef struct {
    PyObject **v; /* owned array of owned str */
    uint32_t n;   /* entries */
} texts;

static void
texts_clear(texts *x)
{
    for (uint32_t i = 0; i < x->n; i++) {
        Py_XDECREF(x->v[i]);
    }
    PyMem_RawFree(x->v);
    x->v = NULL;
    x->n = 0;
}

/* Text index `i` (NONE_TEXT allowed when `may_be_none`): borrowed str or
 * NULL for none; -1 when out of range. */
static int
text_at(const reader *r, const texts *x, uint32_t i, int may_be_none, const char *field,
        PyObject **out)
{
    if (i == NONE_TEXT && may_be_none) {
        *out = NULL;
        return 0;
    }
    if (i >= x->n) {
        return bad(r, "%s: text %u of %u", field, i, x->n);
    }
    *out = x->v[i];
    return 0;
}

/* Entry `k` of a table of u32 text indices (unaligned, in the file). */
static int
text_ref(const reader *r, const texts *x, const uint8_t *table, uint32_t k, int may_be_none,
         const char *field, PyObject **out)
{
    uint32_t ti;
    memcpy(&ti, table + 4 * (size_t)k, 4);
    return text_at(r, x, ti, may_be_none, field, out);
}

static int
read_texts(reader *r, texts *x)
{
    uint32_t n = 0;
    if (take_u32(r, &n, "count") < 0) {
        return -1;
    }
    if ((size_t)n > (size_t)(r->end - r->p) / 4) {
        return bad(r, "count: %u texts cannot fit in the block", n);
    }
    x->v = PyMem_RawCalloc(n ? n : 1, sizeof(PyObject *));
    if (x->v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = 0;
        if (take_u32(r, &len, "text length") < 0) {
            return -1;
        }
        if ((size_t)(r->end - r->p) < len) {
            return bad(r, "text %u: the block ends too early", i);
        }
        PyObject *s = PyUnicode_DecodeUTF8((const char *)r->p, (Py_ssize_t)len, "surrogatepass");
        if (s == NULL) {
            PyErr_Clear();
            return bad(r, "text %u: not UTF-8", i);
        }
        x->v[i] = s;
        x->n = i + 1;
        r->p += len;
    }
    return 0;
}

/* The CODES table into the tree's name arrays. */
static int
read_codes(reader *r, const texts *x, ft_tree *t)
{
    uint32_t n = 0;
    if (take_u32(r, &n, "count") < 0) {
        return -1;
    }
    /* runs make entries cheap, not free: a bound on what the arrays may
     * cost for the block's size, far above any real file's */
    if (n > FT_CODE_ID_MAX + 1u || (uint64_t)n > (uint64_t)(r->end - r->p) * 65536u) {
        return bad(r, "count: %u code entries cannot fit in the block", n);
    }
    size_t sz = n ? n : 1;
    PyObject **names = PyMem_RawCalloc(sz, sizeof(PyObject *));
    t->files = PyMem_RawCalloc(sz, sizeof(PyObject *));
    t->modules = PyMem_RawCalloc(sz, sizeof(PyObject *));
    t->lines = PyMem_RawCalloc(sz, sizeof(int));
    t->argpos = PyMem_RawCalloc(sz, sizeof(int));
    t->argnames = PyMem_RawCalloc(sz, sizeof(PyObject *));
    if (names == NULL || t->files == NULL || t->modules == NULL || t->lines == NULL ||
        t->argpos == NULL || t->argnames == NULL) {
        PyMem_RawFree(names);
        PyErr_NoMemory();
        return -1;
    }
    /* the arrays are sized by nnames: switch to n entries at once */
    for (uint32_t i = 0; i < t->nnames; i++) {
        Py_XDECREF(t->names[i]);
    }
    PyMem_RawFree(t->names);
    t->names = names;
    t->nnames = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f[6] = {0};
        if (take(r, f, 8, "code entry") < 0) {
            return -1;
        }
        if (f[0] == FTRACE_SKIP) { /* a run of codes never recorded */
            if (f[1] == 0 || f[1] > n - i) {
                return bad(r, "code %u: a run of %u codes", i, f[1]);
            }
            for (uint32_t k = 0; k < f[1]; k++) {
                t->names[i + k] = PyUnicode_FromString("?");
                if (t->names[i + k] == NULL) {
                    return -1;
                }
                t->argpos[i + k] = -1; /* never recorded (tree.h) */
            }
            i += f[1] - 1;
            continue;
        }
        if (take(r, f + 2, 16, "code entry") < 0) {
            return -1;
        }
        PyObject *name = NULL, *module = NULL, *file = NULL;
        if (text_at(r, x, f[0], 0, "code name", &name) < 0 ||
            text_at(r, x, f[1], 1, "code module", &module) < 0 ||
            text_at(r, x, f[2], 1, "code file", &file) < 0) {
            return -1;
        }
        t->names[i] = Py_NewRef(name);
        t->modules[i] = Py_XNewRef(module);
        t->files[i] = Py_XNewRef(file);
        t->lines[i] = (int)f[3];
        if (f[4] > 0xFFFF || f[5] > 0xFFFF) {
            return bad(r, "code %u: %u parameters", i, f[4] > f[5] ? f[4] : f[5]);
        }
        t->argpos[i] = (int)f[4];
        if ((size_t)f[5] > (size_t)(r->end - r->p) / 4) {
            return bad(r, "code %u: parameter names: the block ends too early", i);
        }
        PyObject *params = PyTuple_New(f[5]);
        if (params == NULL) {
            return -1;
        }
        t->argnames[i] = params;
        for (uint32_t k = 0; k < f[5]; k++) {
            uint32_t ti = 0;
            PyObject *pn = NULL;
            if (take_u32(r, &ti, "parameter name") < 0 ||
                text_at(r, x, ti, 0, "parameter name", &pn) < 0) {
                return -1;
            }
            PyTuple_SET_ITEM(params, k, Py_NewRef(pn));
        }
    }
    return 0;
}

/* One thread: its records must name codes of the table, and words a kind
 * announces (a timestamp, a task) must be there. */
static int
check_records(const reader *r, const ft_record *recs, uint64_t n, uint32_t ncodes)
{
    for (uint64_t i = 0; i < n; i++) {
        ft_record w;
        memcpy(&w, recs + i, sizeof(w));
        unsigned kind = ft_rec_kind(w);
        if (kind > FT_REC_GSEQ) {
            return bad(r, "record %llu: kind %u", (unsigned long long)i, kind);
        }
        if (ft_rec_code(w) >= ncodes && kind != FT_REC_TASK && kind != FT_REC_TASK_NEW &&
            kind != FT_REC_GSEQ) {
            return bad(r, "record %llu: code %u of %u", (unsigned long long)i, ft_rec_code(w),
                       ncodes);
        }
        uint64_t extra = (ft_rec_has_ts(w) ? 1 : 0) +
                         (kind == FT_REC_TASK || kind == FT_REC_TASK_NEW ? 1 : 0);
        if (n - 1 - i < extra) {
            return bad(r, "record %llu: the words it announces are missing",
                       (unsigned long long)i);
        }
        i += extra;
    }
    return 0;
}

static ft_threadbuf *
read_thread(reader *r, const source *src, const texts *x, uint32_t ncodes)
{
    uint64_t ident = 0, dropped = 0, nrec = 0;
    uint32_t f[4] = {0};
    if (take(r, &ident, 8, "ident") < 0 || take(r, &dropped, 8, "dropped") < 0 ||
        take(r, &nrec, 8, "records") < 0 || take(r, f, sizeof(f), "thread header") < 0) {
        return NULL;
    }
    uint32_t vbase = f[0], nvalues = f[1], nclasses = f[2];
    size_t left = (size_t)(r->end - r->p);
    if ((size_t)nvalues + nclasses > left / 4) {
        bad(r, "%u values and %u classes cannot fit in the block", nvalues, nclasses);
        return NULL;
    }
    const uint8_t *classes = r->p;
    const uint8_t *values = classes + 4 * (size_t)nclasses;
    size_t tables = 4 * ((size_t)nclasses + nvalues);
    size_t pad = (8 - tables % 8) % 8;
    if (left < tables + pad || nrec != (left - tables - pad) / 8 ||
        (left - tables - pad) % 8 != 0) {
        bad(r, "%llu records do not match the block's length", (unsigned long long)nrec);
        return NULL;
    }
    const uint8_t *recs = values + 4 * (size_t)nvalues + pad;
    ft_threadbuf *tb = ft_threadbuf_from_records(NULL, (size_t)nrec);
    if (tb == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (nrec > 0) {
        uint8_t *to = (uint8_t *)tb->head->recs;
        for (size_t done = 0, all = (size_t)nrec * 8; done < all; done += PIECE) {
            size_t n = all - done < PIECE ? all - done : PIECE;
            memcpy(to + done, recs + done, n);
            release(src, recs + done, n);
        }
        if (check_records(r, tb->head->recs, nrec, ncodes) < 0) {
            ft_threadbuf_free_list(tb, NULL);
            return NULL;
        }
    }
    tb->ident = (unsigned long)ident;
    tb->dropped = dropped;
    tb->vbase = vbase & FT_VALUE_INDEX_MASK;
    PyObject *name = NULL;
    if (text_at(r, x, f[3], 1, "thread name", &name) < 0) {
        goto fail;
    }
    tb->name = Py_XNewRef(name);
    tb->classes = ft_buf_calloc(nclasses, sizeof(PyObject *)); /* the buffer's */
    tb->values = ft_buf_calloc(nvalues, sizeof(PyObject *));
    if (tb->classes == NULL || tb->values == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (uint32_t k = 0; k < nclasses; k++) {
        PyObject *s = NULL;
        if (text_ref(r, x, classes, k, 0, "class", &s) < 0) {
            goto fail;
        }
        tb->classes[tb->nclasses++] = Py_NewRef(s);
    }
    tb->cap_values = nvalues;
    for (uint32_t k = 0; k < nvalues; k++) {
        PyObject *s = NULL;
        if (text_ref(r, x, values, k, 1, "value", &s) < 0) {
            goto fail;
        }
        /* a released value stays NULL: shown as "…", as when recorded */
        tb->values[k] = s ? (PyObject *)((uintptr_t)Py_NewRef(s) | FT_TAG_TEXT) : NULL;
        tb->nvalues = k + 1;
    }
    return tb;
fail:
    ft_threadbuf_free_list(tb, NULL);
    return NULL;
}

/* Where each block is, after its length and checksum were checked. */
typedef struct {
    uint32_t kind;
    const uint8_t *payload; /* borrowed: into the file's bytes */
    size_t len;
} block;

static int
scan_blocks(const source *src, block **out, size_t *nout)
{
    const uint8_t *data = src->data;
    size_t size = src->size;
    size_t cap = 0, n = 0, off = FTRACE_HEADER;
    block *v = NULL; /* owned (PyMem_Raw) */
    for (;;) {
        if (size - off < 16) {
            PyMem_RawFree(v);
            return bad(NULL, "the file ends too early (truncated: no END block)");
        }
        uint32_t kind;
        uint64_t len;
        memcpy(&kind, data + off, 4);
        memcpy(&len, data + off + 8, 8);
        const char *kname = kind <= BLOCK_END ? BLOCK_NAMES[kind] : "unknown";
        size_t room = size - off - 16;
        if (len > room || (len + 7) / 8 * 8 + 8 > room) {
            PyMem_RawFree(v);
            return bad(NULL, "%s block at byte %zu: the file ends too early (truncated)", kname,
                       off);
        }
        const uint8_t *payload = data + off + 16;
        size_t padded = (size_t)(len + 7) / 8 * 8;
        uint64_t want;
        memcpy(&want, payload + padded, 8);
        ft_checksum c;
        ft_checksum_init(&c, 16 + padded);
        for (size_t done = 0; done < 16 + padded; done += PIECE) {
            size_t piece = 16 + padded - done < PIECE ? 16 + padded - done : PIECE;
            ft_checksum_add(&c, data + off + done, piece);
            if (kind == BLOCK_THREAD) {
                release(src, data + off + done, piece); /* read again to copy */
            }
        }
        if (ft_checksum_end(&c) != want) {
            PyMem_RawFree(v);
            return bad(NULL, "%s block at byte %zu: damaged (checksum mismatch)", kname, off);
        }
        if (FT_GROW(v, cap, n + 1, 16) < 0) {
            PyMem_RawFree(v);
            PyErr_NoMemory();
            return -1;
        }
        v[n++] = (block){kind, payload, (size_t)len};
        off += 16 + padded + 8;
        if (kind == BLOCK_END) {
            break;
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

static int
read_header(const uint8_t *data, size_t size, ft_trace_config *cfg)
{
    if (size < FTRACE_HEADER || memcmp(data, FTRACE_MAGIC, 8) != 0) {
        return bad(NULL, size < 8 || memcmp(data, FTRACE_MAGIC, 8) != 0
                             ? "not a FlowTrace binary trace (no .ftrace signature)"
                             : "the file ends too early (truncated header)");
    }
    uint32_t version, hsize, flags, hsum;
    double ns;
    memcpy(&version, data + 8, 4);
    memcpy(&hsize, data + 12, 4);
    memcpy(&flags, data + 16, 4);
    memcpy(&hsum, data + 20, 4);
    memcpy(&ns, data + 24, 8);
    if (version != FTRACE_VERSION) {
        return bad(NULL, "this FlowTrace reads .ftrace version %u, the file is version %u%s",
                   FTRACE_VERSION, version,
                   version > FTRACE_VERSION ? " (written by a newer FlowTrace)" : "");
    }
    if (hsize != FTRACE_HEADER) {
        return bad(NULL, "header size %u (expected %u)", hsize, FTRACE_HEADER);
    }
    uint8_t header[FTRACE_HEADER];
    memcpy(header, data, FTRACE_HEADER);
    memset(header + 20, 0, 4);
    ft_checksum c;
    ft_checksum_init(&c, FTRACE_HEADER);
    ft_checksum_add(&c, header, FTRACE_HEADER);
    if ((uint32_t)ft_checksum_end(&c) != hsum) {
        return bad(NULL, "damaged header (checksum mismatch)");
    }
    if (flags & ~FTRACE_FLAGS) {
        return bad(NULL, "unknown flags 0x%x in the header", flags);
    }
    if (!isfinite(ns) || ns <= 0 || ns > 1e9) {
        return bad(NULL, "ns_per_tick %g is not a clock rate", ns);
    }
    cfg->ns_per_tick = ns;
    cfg->timing = (flags & 1u) != 0;
    cfg->results = (flags & 2u) != 0;
    cfg->args = (flags & 4u) != 0;
    cfg->midflight = (flags & 8u) != 0;
    return 0;
}

int
ft_tree_from_ftrace(ft_tree *t, const uint8_t *data, size_t size, int mapped)
{
    ft_trace_config cfg = {0};
    block *blocks = NULL;
    size_t nblocks = 0;
    source src_ = {data, size, mapped}, *src = &src_;
    if (read_header(data, size, &cfg) < 0 || scan_blocks(src, &blocks, &nblocks) < 0) {
        return -1;
    }
    ft_codetable codes = {0};
    if (ft_tree_init(t, &codes, NULL, 0, &cfg) < 0) {
        PyMem_RawFree(blocks);
        return -1;
    }
    texts x = {NULL, 0};
    const block *btexts = NULL, *bcodes = NULL;
    size_t nthreads = 0;
    for (size_t i = 0; i < nblocks; i++) {
        const block *b = &blocks[i];
        if ((b->kind == BLOCK_TEXTS && btexts) || (b->kind == BLOCK_CODES && bcodes)) {
            bad(NULL, "two %s blocks", BLOCK_NAMES[b->kind]);
            goto fail;
        }
        btexts = b->kind == BLOCK_TEXTS ? b : btexts;
        bcodes = b->kind == BLOCK_CODES ? b : bcodes;
        nthreads += b->kind == BLOCK_THREAD;
    }
    if (btexts == NULL || bcodes == NULL) {
        bad(NULL, "no %s block", btexts == NULL ? "TEXTS" : "CODES");
        goto fail;
    }
    reader rt = {btexts->payload, btexts->payload + btexts->len, "TEXTS", 0};
    reader rc = {bcodes->payload, bcodes->payload + bcodes->len, "CODES", 0};
    if (read_texts(&rt, &x) < 0 || read_codes(&rc, &x, t) < 0) {
        goto fail;
    }
    PyMem_RawFree(t->thread_vec);
    t->thread_vec = PyMem_RawCalloc(nthreads ? nthreads : 1, sizeof(ft_threadbuf *));
    if (t->thread_vec == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    ft_threadbuf **tail = &t->threads;
    size_t k = 0;
    for (size_t i = 0; i < nblocks; i++) {
        if (blocks[i].kind != BLOCK_THREAD) {
            continue;
        }
        reader r = {blocks[i].payload, blocks[i].payload + blocks[i].len, "THREAD", k};
        ft_threadbuf *tb = read_thread(&r, src, &x, t->nnames);
        if (tb == NULL) {
            goto fail;
        }
        *tail = tb;
        tail = &tb->next;
        t->thread_vec[k++] = tb;
        t->nthreads = (uint32_t)k;
    }
    texts_clear(&x);
    PyMem_RawFree(blocks);
    return 0;
fail:
    texts_clear(&x);
    PyMem_RawFree(blocks);
    ft_tree_clear(t, NULL);
    return -1;
}
