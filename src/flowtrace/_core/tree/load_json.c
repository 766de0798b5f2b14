/* load_json.c - a Trace built from a FlowTrace JSON file, as it streams.
 *
 * The file is read in pieces by the tokenizer (json_reader.c) and never
 * held whole: each entry of "functions", "threads" and "calls" is read
 * into a flat record of its fields, checked, and added to the tree at
 * once. Everything is checked before it is used: the header (format,
 * version, that "calls" has "ncalls" entries), types, ranges of every
 * index, parents that are earlier open calls of the same thread (never an
 * exception marker: markers have no children), calls grouped by thread in
 * tree order, kinds and ends by name (a marker or a task lane ends as
 * "return"), origins that name a call, flags that fit the node. A bad
 * field gives a ValueError "calls[12].function: ..."; the document is
 * never trusted enough to crash or to build a tree the writers could not
 * walk. See docs/json-format.md.
 *
 * Key order is free. The writer's order (header, functions, threads,
 * calls) is read in one pass; an array that comes before what it needs
 * (calls before threads, anything before a valid format and version) is
 * skipped, its place kept, and read again at the end: the file must then
 * be seekable.
 *
 * Texts: an equal ASCII text of the same thread is stored once (a small
 * cache by hash): a loaded trace's value stores hold one str per distinct
 * recent text, not one per field, as a recorded one shares its texts.
 */
#include "tree/tree.h"

#include <string.h>

#include "common/growable.h"
#include "recording/values.h"
#include "tree/json_reader.h"
#include "tree/walk.h"

/* The fields of an entry, by key. */
enum {
    K_ID, K_NAME, K_MODULE, K_FILE, K_LINE, K_IDENT, K_DROPPED, K_PARENT, K_THREAD,
    K_FUNCTION, K_KIND, K_END, K_ORIGIN, K_ARGS, K_RESULT, K_EXCEPTION, K_T0, K_T1,
    K_LEFT, K_BEFORE, K_CUT, NKEYS
};
static const char *const KEY_NAMES[NKEYS] = {
    "id",     "name",   "module", "file",      "line",   "ident",  "dropped",
    "parent", "thread", "function", "kind",    "end",    "origin", "args",
    "result", "exception", "t0",  "t1", "left_suspended", "began_before", "cut"};

static int
is(const uint8_t *s, const char *word, size_t n)
{
    return memcmp(s, word, n) == 0;
}

/* The field of a key, or -1 for a key the format does not know (ignored). */
static int
key_of(const uint8_t *s, size_t n)
{
    switch (n) {
    case 2:
        return is(s, "id", 2) ? K_ID : is(s, "t0", 2) ? K_T0 : is(s, "t1", 2) ? K_T1 : -1;
    case 3:
        return is(s, "end", 3) ? K_END : is(s, "cut", 3) ? K_CUT : -1;
    case 4:
        return is(s, "kind", 4)   ? K_KIND
               : is(s, "args", 4) ? K_ARGS
               : is(s, "name", 4) ? K_NAME
               : is(s, "file", 4) ? K_FILE
               : is(s, "line", 4) ? K_LINE
                                  : -1;
    case 5:
        return is(s, "ident", 5) ? K_IDENT : -1;
    case 6:
        return is(s, "parent", 6)   ? K_PARENT
               : is(s, "thread", 6) ? K_THREAD
               : is(s, "result", 6) ? K_RESULT
               : is(s, "origin", 6) ? K_ORIGIN
               : is(s, "module", 6) ? K_MODULE
                                    : -1;
    case 7:
        return is(s, "dropped", 7) ? K_DROPPED : -1;
    case 8:
        return is(s, "function", 8) ? K_FUNCTION : -1;
    case 9:
        return is(s, "exception", 9) ? K_EXCEPTION : -1;
    case 12:
        return is(s, "began_before", 12) ? K_BEFORE : -1;
    case 14:
        return is(s, "left_suspended", 14) ? K_LEFT : -1;
    default:
        return -1;
    }
}

/* One entry's fields as read (a key given twice: the last, as json.loads). */
typedef struct {
    uint8_t type[NKEYS];  /* FT_JV_* of each field; FT_JV_NONE: left out */
    uint8_t big[NKEYS];   /* FT_JV_INT: beyond int64 */
    uint8_t ascii[NKEYS]; /* FT_JV_STRING: ASCII only */
    int64_t i[NKEYS];     /* FT_JV_INT: the value */
    size_t off[NKEYS];    /* FT_JV_STRING: where in `text` */
    size_t len[NKEYS];    /* FT_JV_STRING: its length (UTF-8) */
    uint8_t *text;        /* owned (PyMem_Raw): the entry's strings */
    size_t ntext;         /* bytes used in text */
    size_t captext;       /* bytes allocated */
} entry;

/* A cache of texts made: the same bytes give the same str (and, for a
 * value, the same payload of its thread's store). */
#define CACHE_SLOTS ((size_t)1 << 14)
typedef struct {
    uint64_t hash;    /* of the text's bytes and its owner */
    PyObject *s;      /* borrowed: kept alive by the tree (a value store or
                         a function's field); NULL for an empty slot */
    uint32_t payload; /* its payload in the owner's value store */
    uint32_t owner;   /* thread index, or OWNER_FUNCTIONS */
} cache_slot;
#define OWNER_FUNCTIONS UINT32_MAX

enum { PART_FUNCTIONS, PART_THREADS, PART_CALLS, NPARTS };
static const char *const PART_NAMES[NPARTS] = {"functions", "threads", "calls"};
enum { NOT_SEEN, LOADED, DEFERRED, NOT_ARRAY };

typedef struct {
    int type;        /* FT_JV_* as read; FT_JV_NONE: not in the file */
    int64_t i;       /* FT_JV_INT: the value */
    int big;         /* FT_JV_INT: beyond int64 */
    char quote[FT_JR_SAMPLE + 8]; /* json.dumps(value)[:40] */
} header_value;

/* A resumption whose origin is a later node: checked once it is read. */
typedef struct {
    size_t node, origin;
} forward_ref;

struct ft_json_load {
    ft_jr r;               /* owned: the tokenizer (its file, its window) */
    ft_tree *t;            /* borrowed: the tree being built */
    entry e;               /* owned: the entry being read */
    cache_slot *cache;     /* owned (PyMem_Raw): CACHE_SLOTS slots */
    header_value format, version, ncalls; /* the header's values */
    int results;           /* "results" is not false */
    int timing;            /* "timing" is true: what the trace says when
                              no call carries a time of its own */
    int chrome;            /* a "traceEvents" key was seen */
    int state[NPARTS];     /* NOT_SEEN, LOADED, DEFERRED, NOT_ARRAY */
    int part_type[NPARTS]; /* FT_JV_* of each part as found */
    ft_jr_mark mark[NPARTS]; /* DEFERRED: where its array begins */
    size_t fcap;           /* entries allocated in the tree's name arrays */
    size_t tcap;           /* entries allocated in thread_vec */
    uint64_t size_hint;    /* the file's size, 0 when unknown */
    size_t ncap;           /* nodes allocated */
    size_t n;              /* calls read */
    ft_walk w;             /* owned stack: the tree order, checked as the
                              calls are read */
    long long cur_thread;  /* thread of the last call read */
    size_t nneed, ntimed;  /* calls that need a time, and have one */
    ft_threadbuf *last;    /* borrowed: the last thread's buffer */
    forward_ref *forward;  /* owned, lazy: resumptions whose origin comes
                              after them (on a later thread) */
    size_t nforward, cap_forward;
    int lazy;              /* read as a walk asks (ft_json_begin_lazily):
                              the nodes never move, a read pauses at the
                              calls */
    int in_calls;          /* lazy: paused inside the calls array */
    int declined;          /* lazy: the file cannot be read lazily (no
                              exception set): read it whole */
    uint8_t *is_call;      /* owned, lazy: bit i set when node i is a call
                              (origins are checked against it at the end:
                              the nodes may have been given back) */
};
typedef struct ft_json_load loader;

/* ------------------------------------------------------------------ */
/* messages */

static int
bad(const char *where, size_t i, int key, const char *what)
{
    if (key >= 0) {
        PyErr_Format(PyExc_ValueError, "%s[%zu].%s: %s", where, i, KEY_NAMES[key], what);
    }
    else {
        PyErr_Format(PyExc_ValueError, "%s[%zu]: %s", where, i, what);
    }
    return -1;
}

/* The json module's type as the old loader named it. */
static const char *
type_name(int type)
{
    switch (type) {
    case FT_JV_OBJECT:
        return "an object";
    case FT_JV_ARRAY:
        return "an array";
    case FT_JV_STRING:
        return "a string";
    case FT_JV_TRUE:
    case FT_JV_FALSE:
        return "a boolean";
    case FT_JV_INT:
    case FT_JV_FLOAT:
        return "a number";
    default:
        return "null";
    }
}

/* ------------------------------------------------------------------ */
/* texts */

static uint64_t
hash_bytes(const uint8_t *p, size_t n, uint32_t owner)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n ^ ((uint64_t)owner << 32);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n > 0) { /* an empty text may have no bytes at all (p NULL) */
        memcpy(&w, p, n);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

/* A text of `owner` (a thread: stored in its value store, *payload set;
 * OWNER_FUNCTIONS: *out a new reference). 0, or -1 with MemoryError. */
static int
make_text(loader *ld, uint32_t owner, const uint8_t *s, size_t n, int ascii, PyObject **out,
          uint32_t *payload)
{
    cache_slot *slot = NULL;
    uint64_t h = 0;
    if (ascii) {
        h = hash_bytes(s, n, owner);
        slot = &ld->cache[h & (CACHE_SLOTS - 1)];
        if (slot->s != NULL && slot->hash == h && slot->owner == owner &&
            (size_t)PyUnicode_GET_LENGTH(slot->s) == n &&
            (n == 0 || memcmp(PyUnicode_DATA(slot->s), s, n) == 0)) {
            if (out != NULL) {
                *out = Py_NewRef(slot->s);
            }
            else {
                *payload = slot->payload;
            }
            return 0;
        }
    }
    PyObject *o = ft_jr_str_new(s, n, ascii);
    if (o == NULL) {
        return -1;
    }
    uint32_t p = FT_VAL_ABSENT;
    if (out != NULL) {
        *out = o;
    }
    else {
        /* stored as it is: this cache shares equal texts already (the
         * recorder's ft_store_text would look each up in a dict again) */
        p = ft_threadbuf_store(ld->t->thread_vec[owner],
                               (PyObject *)((uintptr_t)o | FT_TAG_TEXT)); /* steals o */
        if (p == FT_VAL_ABSENT) {
            PyErr_NoMemory();
            return -1;
        }
        *payload = p;
    }
    if (slot != NULL) {
        *slot = (cache_slot){h, o, p, owner};
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* one entry's fields */

static int
read_entry(loader *ld, const char *where, size_t i)
{
    ft_jr *r = &ld->r;
    entry *e = &ld->e;
    ft_jv v;
    if (ft_jr_value(r, &v) < 0) {
        return -1;
    }
    if (v.type != FT_JV_OBJECT) {
        /* the value is read whole first: an error in its syntax (or its
         * depth) comes first, as it did when the file was parsed first */
        return ft_jr_skip(r, &v) < 0 ? -1 : bad(where, i, -1, "expected an object");
    }
    memset(e->type, 0, sizeof(e->type));
    e->ntext = 0;
    int k;
    const uint8_t *ks;
    size_t kn;
    while ((k = ft_jr_member(r, &ks, &kn, &v)) > 0) {
        int key = key_of(ks, kn);
        if (key < 0) {
            if (ft_jr_skip(r, &v) < 0) {
                return -1;
            }
            continue;
        }
        e->type[key] = (uint8_t)v.type;
        if (v.type == FT_JV_INT) {
            e->i[key] = v.i;
            e->big[key] = (uint8_t)v.big;
        }
        else if (v.type == FT_JV_STRING) {
            if (FT_GROW(e->text, e->captext, e->ntext + r->nstr, 1024) < 0) {
                PyErr_NoMemory();
                return -1;
            }
            if (r->nstr > 0) { /* an empty string: no text, maybe no buffer yet */
                memcpy(e->text + e->ntext, r->s, r->nstr);
            }
            e->off[key] = e->ntext;
            e->len[key] = r->nstr;
            e->ascii[key] = (uint8_t)r->str_ascii;
            e->ntext += r->nstr;
        }
        else if (ft_jr_skip(r, &v) < 0) {
            return -1;
        }
    }
    return k;
}

static int
absent(const entry *e, int key)
{
    return e->type[key] == FT_JV_NONE || e->type[key] == FT_JV_NULL;
}

/* A string field: 1 when there, 0 when missing/null (unless required). */
static int
get_str(const entry *e, int key, const char *where, size_t i, int required)
{
    if (absent(e, key)) {
        return required ? bad(where, i, key, "missing (a string is needed)") : 0;
    }
    if (e->type[key] != FT_JV_STRING) {
        return bad(where, i, key, "expected a string");
    }
    return 1;
}

/* An integer in [lo, hi]; missing/null gives `dflt` unless required. */
static int
get_int(const entry *e, int key, const char *where, size_t i, int required, long long lo,
        long long hi, long long dflt, long long *out)
{
    *out = dflt;
    if (absent(e, key)) {
        return required ? bad(where, i, key, "missing (a number is needed)") : 0;
    }
    if (e->type[key] != FT_JV_INT) {
        return bad(where, i, key, "expected an integer");
    }
    if (e->big[key] || e->i[key] < lo || e->i[key] > hi) {
        return bad(where, i, key, "out of range");
    }
    *out = e->i[key];
    return 0;
}

/* An optional flag: true, or false / null / missing (0). */
static int
get_flag(const entry *e, int key, const char *where, size_t i, int *out)
{
    *out = 0;
    if (absent(e, key)) {
        return 0;
    }
    if (e->type[key] != FT_JV_TRUE && e->type[key] != FT_JV_FALSE) {
        return bad(where, i, key, "expected true or false");
    }
    *out = e->type[key] == FT_JV_TRUE;
    return 0;
}

/* A string field as a new str (NULL when left out: 0), for the tables. */
static int
field_str(loader *ld, int key, const char *where, size_t i, int required, PyObject **out)
{
    const entry *e = &ld->e;
    *out = NULL;
    int k = get_str(e, key, where, i, required);
    if (k <= 0) {
        return k;
    }
    return make_text(ld, OWNER_FUNCTIONS, e->text + e->off[key], e->len[key], e->ascii[key], out,
                     NULL);
}

/* ------------------------------------------------------------------ */
/* functions and threads */

static int
add_function(loader *ld, size_t i)
{
    ft_tree *t = ld->t;
    if (i >= (size_t)FT_CODE_ID_MAX) {
        PyErr_SetString(PyExc_ValueError, "functions: too many");
        return -1;
    }
    if (i >= ld->fcap) {
        size_t nc = ft_grown_capacity(ld->fcap, i + 1, 64);
        if (nc == 0 || FT_RESIZE(t->names, nc) < 0 || FT_RESIZE(t->files, nc) < 0 ||
            FT_RESIZE(t->modules, nc) < 0 || FT_RESIZE(t->lines, nc) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        ld->fcap = nc;
    }
    PyObject *name = NULL, *module = NULL, *file = NULL;
    long long line = 0;
    if (field_str(ld, K_NAME, "functions", i, 1, &name) < 0 ||
        field_str(ld, K_MODULE, "functions", i, 0, &module) < 0 ||
        field_str(ld, K_FILE, "functions", i, 0, &file) < 0 ||
        get_int(&ld->e, K_LINE, "functions", i, 0, 0, INT_MAX, 0, &line) < 0) {
        Py_XDECREF(name);
        Py_XDECREF(module);
        Py_XDECREF(file);
        return -1;
    }
    t->names[i] = name;
    t->modules[i] = module;
    t->files[i] = file;
    t->lines[i] = (int)line;
    t->nnames = (uint32_t)(i + 1);
    return 0;
}

static int
add_thread(loader *ld, size_t i)
{
    ft_tree *t = ld->t;
    const entry *e = &ld->e;
    long long ident, dropped;
    if (i >= 1000000) {
        PyErr_SetString(PyExc_ValueError, "threads: too many");
        return -1;
    }
    if (get_str(e, K_NAME, "threads", i, 1) < 0 ||
        get_int(e, K_IDENT, "threads", i, 1, 0, LLONG_MAX, 0, &ident) < 0 ||
        get_int(e, K_DROPPED, "threads", i, 0, 0, LLONG_MAX, 0, &dropped) < 0) {
        return -1;
    }
    if (FT_GROW(t->thread_vec, ld->tcap, i + 1, 16) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *name = ft_jr_str_new(e->text + e->off[K_NAME], e->len[K_NAME], e->ascii[K_NAME]);
    if (name == NULL) {
        return -1;
    }
    ft_threadbuf *tb = ft_threadbuf_new_empty();
    if (tb == NULL) {
        Py_DECREF(name);
        PyErr_NoMemory();
        return -1;
    }
    tb->ident = (unsigned long)ident;
    tb->name = name;
    tb->dropped = (uint64_t)dropped;
    if (ld->last == NULL) {
        t->threads = tb;
    }
    else {
        ld->last->next = tb;
    }
    ld->last = tb;
    t->thread_vec[i] = tb;
    t->nthreads = (uint32_t)(i + 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* calls */

/* Index of the word in field `key` among the names `name(0..n-1)`, or -1. */
static int
word(const entry *e, int key, const char *(*name)(unsigned), unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        const char *w = name(k);
        size_t len = e->len[key];
        if (strnlen(w, len + 1) == len && (len == 0 || memcmp(e->text + e->off[key], w, len) == 0)) {
            return (int)k;
        }
    }
    return -1;
}

/* A text field stored in the thread's value store. */
static int
text(loader *ld, uint32_t thread, int key, size_t i, uint32_t *out)
{
    const entry *e = &ld->e;
    *out = FT_VAL_ABSENT;
    int k = get_str(e, key, "calls", i, 0);
    if (k <= 0) {
        return k;
    }
    return make_text(ld, thread, e->text + e->off[key], e->len[key], e->ascii[key], NULL, out);
}

/* The words and flags of call i, checked against each other. */
static int
load_shape(ft_node *nd, const entry *e, size_t i)
{
    int left, before, cut;
    if (get_str(e, K_KIND, "calls", i, 1) < 0 || get_str(e, K_END, "calls", i, 1) < 0 ||
        get_flag(e, K_LEFT, "calls", i, &left) < 0 ||
        get_flag(e, K_BEFORE, "calls", i, &before) < 0 ||
        get_flag(e, K_CUT, "calls", i, &cut) < 0) {
        return -1;
    }
    int kd = word(e, K_KIND, ft_node_kind_name, FT_NODE_NKINDS);
    int ed = word(e, K_END, ft_node_end_name, FT_END_NENDS);
    if (kd < 0 || ed < 0) {
        return bad("calls", i, kd < 0 ? K_KIND : K_END, "unknown word");
    }
    if (FT_NODE_IS_MARKER(kd) && ed != FT_END_RETURN) {
        return bad("calls", i, K_END, "an exception marker ends as \"return\"");
    }
    if (kd == FT_NODE_TASK && ed != FT_END_RETURN) {
        /* the writers keep a lane's creator (its "result") only then */
        return bad("calls", i, K_END, "a task lane ends as \"return\"");
    }
    if (left && ed != FT_END_YIELD) {
        return bad("calls", i, K_LEFT, "only a segment that ended by \"yield\"");
    }
    if ((before || cut) && kd != FT_NODE_CALL) {
        return bad("calls", i, before ? K_BEFORE : K_CUT, "only a \"call\"");
    }
    if (cut && !before) {
        return bad("calls", i, K_CUT, "only with \"began_before\"");
    }
    nd->kind = (uint8_t)kd;
    nd->end = (uint8_t)ed;
    nd->flags = (uint8_t)((left ? FT_NF_LEFT_SUSPENDED : 0) |
                          (before ? FT_NF_BEGAN_BEFORE : 0) | (cut ? FT_NF_CUT : 0));
    return 0;
}

/* Room for the calls: as many as the header announces when it does (the
 * writer puts "ncalls" first), bounded by what the file's size can hold. */
static int
begin_calls(loader *ld)
{
    ft_tree *t = ld->t;
    size_t want = 4096;
    if (ld->ncalls.type == FT_JV_INT && !ld->ncalls.big && ld->ncalls.i >= 0) {
        want = (size_t)ld->ncalls.i;
        /* an entry takes 50 bytes at least */
        size_t bound = ld->size_hint ? (size_t)(ld->size_hint / 40) + 16 : (size_t)1 << 16;
        want = want < bound ? want : bound;
    }
    want = want ? want : 1;
    t->nodes = PyMem_RawCalloc(want, sizeof(ft_node));
    t->thread_first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    if (t->nodes == NULL || t->thread_first == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ld->ncap = want;
    ft_walk_begin(&ld->w, t->nodes, 0, 0);
    return 0;
}

/* A lazy load's check of a resumption's origin (end_calls checks them
 * from the nodes, which a lazy walk may have given back): an earlier
 * node at once, a later one when all are read. 0, or -1. */
static int
origin_check(loader *ld, size_t i, long long origin)
{
    if (origin < (long long)i) {
        if (!(ld->is_call[origin / 8] & (1u << (origin % 8)))) {
            return bad("calls", i, K_ORIGIN, "not the id of a \"call\"");
        }
        return 0;
    }
    if (FT_GROW(ld->forward, ld->cap_forward, ld->nforward + 1, 64) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    ld->forward[ld->nforward++] = (forward_ref){i, (size_t)origin};
    return 0;
}

static int
add_call(loader *ld, size_t i)
{
    ft_tree *t = ld->t;
    const entry *e = &ld->e;
    if (i >= FT_NODES_MAX) {
        return bad("calls", i, -1, "more calls than a trace can hold");
    }
    if (i >= ld->ncap && ld->lazy) { /* the nodes must not move */
        return bad("calls", i, -1, "more calls than the header announces");
    }
    if (i >= ld->ncap) {
        size_t nc = ft_grown_capacity(ld->ncap, i + 1, 4096);
        if (nc == 0 || FT_RESIZE(t->nodes, nc) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        memset(t->nodes + ld->ncap, 0, (nc - ld->ncap) * sizeof(ft_node));
        ld->ncap = nc;
        ld->w.nodes = t->nodes;
    }
    ft_node *nd = &t->nodes[i];
    long long id, th, fn, parent, origin, t0, t1;
    long long li = (long long)i;
    if (get_int(e, K_ID, "calls", i, 1, li, li, 0, &id) < 0 ||
        get_int(e, K_THREAD, "calls", i, 1, 0, (long long)t->nthreads - 1, 0, &th) < 0 ||
        get_int(e, K_FUNCTION, "calls", i, 1, 0, (long long)t->nnames - 1, 0, &fn) < 0 ||
        get_int(e, K_PARENT, "calls", i, 0, 0, li - 1, -1, &parent) < 0 ||
        load_shape(nd, e, i) < 0 ||
        /* below the number of calls: checked once they are all read */
        get_int(e, K_ORIGIN, "calls", i, 0, 0, LLONG_MAX, -1, &origin) < 0 ||
        get_int(e, K_T0, "calls", i, 0, 0, LLONG_MAX, -1, &t0) < 0 ||
        get_int(e, K_T1, "calls", i, 0, 0, LLONG_MAX, -1, &t1) < 0) {
        return -1;
    }
    int marker = FT_NODE_IS_MARKER(nd->kind);
    if (th < ld->cur_thread) {
        return bad("calls", i, K_THREAD, "calls must be grouped by thread, in thread order");
    }
    while (ld->cur_thread < th) {
        t->thread_first[++ld->cur_thread] = i;
        ft_walk_begin(&ld->w, t->nodes, i, i);
    }
    nd->parent = parent;
    Py_ssize_t depth = ft_walk_enter(&ld->w, i);
    if (depth < 0) {
        return -1;
    }
    if (parent >= 0 && depth == 0) {
        return bad("calls", i, K_PARENT,
                   "not an open call of the same thread (calls must be in tree order)");
    }
    if (parent >= 0 && FT_NODE_IS_MARKER(t->nodes[parent].kind)) {
        return bad("calls", i, K_PARENT, "an exception marker has no children");
    }
    /* origin: a resumption's generator (checked to be a call once all
     * calls are read: it may be on a later thread); null when unknown.
     * Anything else is its own origin. */
    if (nd->kind == FT_NODE_RESUME || nd->kind == FT_NODE_THROW) {
        if (origin == li) {
            return bad("calls", i, K_ORIGIN, "a resumption is not its own generator");
        }
        nd->origin = origin;
        if (ld->lazy && origin >= 0 && origin_check(ld, i, origin) < 0) {
            return -1;
        }
    }
    else if (origin >= 0 && origin != li) {
        return bad("calls", i, K_ORIGIN, "only a resumption refers to another call");
    }
    else {
        nd->origin = li;
    }
    if (t0 >= 0 && t1 >= 0 && t1 < t0) {
        return bad("calls", i, K_T1, "ends before it starts");
    }
    nd->code_id = (uint32_t)fn;
    nd->thread = (uint32_t)th;
    if (text(ld, (uint32_t)th, K_ARGS, i, &nd->args) < 0 ||
        text(ld, (uint32_t)th, K_RESULT, i, &nd->result) < 0 ||
        text(ld, (uint32_t)th, K_EXCEPTION, i, &nd->exc) < 0) {
        return -1;
    }
    if (t0 >= 0 && (t1 >= 0 || marker || nd->end == FT_END_UNFINISHED)) {
        /* an instant for a marker, an open end for an unfinished call */
        ft_span *sp = ft_span_at(&t->spans, &t->nspans, ld->ncap, i);
        if (sp == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        nd->timed = 1;
        *sp = (ft_span){(uint64_t)t0, t1 >= 0 && !marker ? (uint64_t)t1 : (uint64_t)t0};
    }
    ld->nneed += ft_node_needs_time(nd);
    ld->ntimed += ft_node_needs_time(nd) && nd->timed;
    if (parent >= 0) {
        t->nodes[parent].nchildren++;
    }
    if (ld->is_call != NULL && nd->kind == FT_NODE_CALL) {
        ld->is_call[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    return 0;
}

/* After the last call: origins, the threads' ranges, the timing. */
static int
end_calls(loader *ld)
{
    ft_tree *t = ld->t;
    size_t n = ld->n;
    for (size_t i = 0; i < n; i++) {
        if (ld->lazy) { /* checked as they came, but for the later ones */
            for (size_t k = 0; k < ld->nforward; k++) {
                size_t o = ld->forward[k].origin;
                if (o >= n) {
                    return bad("calls", ld->forward[k].node, K_ORIGIN, "out of range");
                }
                if (!(ld->is_call[o / 8] & (1u << (o % 8)))) {
                    return bad("calls", ld->forward[k].node, K_ORIGIN,
                               "not the id of a \"call\"");
                }
            }
            break;
        }
        int64_t o = t->nodes[i].origin;
        if (o >= 0 && (size_t)o != i) {
            if ((size_t)o >= n) {
                return bad("calls", i, K_ORIGIN, "out of range");
            }
            if (t->nodes[o].kind != FT_NODE_CALL) {
                return bad("calls", i, K_ORIGIN, "not the id of a \"call\"");
            }
        }
    }
    while (ld->cur_thread < (long long)t->nthreads) {
        t->thread_first[++ld->cur_thread] = n;
    }
    for (uint32_t k = 0; k < t->nthreads; k++) {
        /* the writer leaves such a thread out; a reader walking the calls
         * as they come (lazy.c) takes every listed thread to have some */
        if (t->thread_first[k] == t->thread_first[k + 1] && t->thread_vec[k]->dropped == 0) {
            return bad("threads", k, -1, "no call, no dropped event: such a thread is left out");
        }
    }
    if (!ld->lazy) { /* (a lazy load's nodes are as many as announced, and a
                      * walk may still hold them) */
        if (ld->ncap > n && FT_RESIZE(t->nodes, n ? n : 1) == 0) {
            ld->ncap = n ? n : 1; /* what was announced and is not there */
        }
        ft_spans_fit(&t->spans, &t->nspans, n); /* likewise */
    }
    t->nnodes = n;
    /* timed when every call that needs a time has one; when none needs
     * one (only markers, lanes, frames that began before), as the file
     * says, so that a timed trace saves and loads back as timed */
    t->cfg.timing = ld->nneed > 0 ? ld->ntimed == ld->nneed : ld->timing;
    return 0;
}

/* The entries of a part's array (opened). */
static int
read_part(loader *ld, int part)
{
    ft_tree *t = ld->t;
    if (part == PART_CALLS && begin_calls(ld) < 0) {
        return -1;
    }
    size_t i = 0;
    int k;
    while ((k = ft_jr_next(&ld->r)) > 0) {
        if (read_entry(ld, PART_NAMES[part], i) < 0) {
            return -1;
        }
        int rc = part == PART_FUNCTIONS ? add_function(ld, i)
                 : part == PART_THREADS ? add_thread(ld, i)
                                        : add_call(ld, i);
        if (rc < 0) {
            return -1;
        }
        i++;
        ld->n = part == PART_CALLS ? i : ld->n;
    }
    if (k < 0) {
        return -1;
    }
    if (part == PART_FUNCTIONS && (t->files == NULL || t->modules == NULL || t->lines == NULL)) {
        /* none: the arrays still say "rebuilt, from a file" */
        size_t nc = ld->fcap ? ld->fcap : 1;
        if (FT_RESIZE(t->files, nc) < 0 || FT_RESIZE(t->modules, nc) < 0 ||
            FT_RESIZE(t->lines, nc) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        ld->fcap = nc;
    }
    ld->state[part] = LOADED;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the header */

static int
header_ok(const loader *ld)
{
    return ld->format.type == FT_JV_STRING && ld->format.i == 1 &&
           ld->version.type == FT_JV_INT && !ld->version.big && ld->version.i == 1;
}

/* May part be read where it is? It needs a valid header before it, and
 * the calls need the functions and threads. */
static int
ready(const loader *ld, int part)
{
    return header_ok(ld) && (part != PART_CALLS || (ld->state[PART_FUNCTIONS] == LOADED &&
                                                    ld->state[PART_THREADS] == LOADED));
}

/* A header value: its type, and its quote for a message. */
static int
read_header_value(loader *ld, header_value *h)
{
    ft_jv v;
    ft_jr_sample_start(&ld->r);
    int rc = ft_jr_value(&ld->r, &v);
    if (rc == 0) {
        rc = ft_jr_skip(&ld->r, &v);
    }
    const char *q = ft_jr_sample_end(&ld->r);
    if (rc < 0) {
        return -1;
    }
    h->type = v.type;
    h->i = v.i;
    h->big = v.big;
    snprintf(h->quote, sizeof(h->quote), "%s", q);
    return 0;
}

/* A lazy load reaches the calls (opened): it pauses there when the nodes
 * can be presized (the header announced how many, within what the file
 * can hold) and every listed thread has calls (none only dropped events:
 * which threads have calls is then known before they are read). Else it
 * declines, and the file is read whole. 0, or -1. */
static int
pause_at_calls(loader *ld)
{
    ft_tree *t = ld->t;
    const header_value *nc = &ld->ncalls;
    size_t bound = ld->size_hint ? (size_t)(ld->size_hint / 40) + 16 : (size_t)1 << 16;
    int ok = nc->type == FT_JV_INT && !nc->big && nc->i >= 0 && (uint64_t)nc->i <= bound &&
             t->nthreads > 0;
    for (uint32_t k = 0; ok && k < t->nthreads; k++) {
        ok = t->thread_vec[k]->dropped == 0;
    }
    if (!ok) {
        ld->declined = 1;
        return -1;
    }
    if (begin_calls(ld) < 0) {
        return -1;
    }
    ld->is_call = PyMem_RawCalloc(ld->ncap / 8 + 1, 1);
    if (ld->is_call == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ld->in_calls = 1;
    return 0;
}

static int
top_member(loader *ld)
{
    ft_jr *r = &ld->r;
    const uint8_t *key = r->s;
    size_t n = r->nstr;
    ft_jv v;
    int part = -1;
    for (int p = 0; p < NPARTS; p++) {
        if (n == strlen(PART_NAMES[p]) && memcmp(key, PART_NAMES[p], n) == 0) {
            part = p;
        }
    }
    if (part >= 0) {
        if (ld->state[part] != NOT_SEEN) {
            PyErr_Format(PyExc_ValueError, "file: \"%s\" twice", PART_NAMES[part]);
            return -1;
        }
        int now = ready(ld, part);
        if (!now && ft_jr_where(r, &ld->mark[part]) < 0) {
            return -1;
        }
        if (ft_jr_value(r, &v) < 0) {
            return -1;
        }
        ld->part_type[part] = v.type;
        if (v.type != FT_JV_ARRAY) {
            ld->state[part] = NOT_ARRAY;
            return ft_jr_skip(r, &v);
        }
        if (now && part == PART_CALLS && ld->lazy) {
            return pause_at_calls(ld);
        }
        if (now) {
            return read_part(ld, part);
        }
        ld->state[part] = DEFERRED;
        return ft_jr_skip(r, &v);
    }
    if (n == 6 && memcmp(key, "format", 6) == 0) {
        if (read_header_value(ld, &ld->format) < 0) {
            return -1;
        }
        /* i: the string is "flowtrace" (r->s holds it still: a string is
         * not skipped, nothing was read after it) */
        ld->format.i = ld->format.type == FT_JV_STRING && r->nstr == 9 &&
                       memcmp(r->s, "flowtrace", 9) == 0;
        return 0;
    }
    if (n == 7 && memcmp(key, "version", 7) == 0) {
        return read_header_value(ld, &ld->version);
    }
    if (n == 6 && memcmp(key, "ncalls", 6) == 0) {
        return read_header_value(ld, &ld->ncalls);
    }
    int results = n == 7 && memcmp(key, "results", 7) == 0;
    int timing = n == 6 && memcmp(key, "timing", 6) == 0;
    ld->chrome |= n == 11 && memcmp(key, "traceEvents", 11) == 0;
    if (ft_jr_value(r, &v) < 0) {
        return -1;
    }
    if (results) {
        ld->results = v.type != FT_JV_FALSE;
    }
    if (timing) {
        ld->timing = v.type == FT_JV_TRUE;
    }
    return ft_jr_skip(r, &v);
}

/* The header's checks, in the old loader's order. */
static int
check_header(const loader *ld)
{
    if (ld->chrome && ld->format.type == FT_JV_NONE) {
        PyErr_SetString(PyExc_ValueError,
                        "file: this is a Chrome trace (--format chrome), not a FlowTrace JSON "
                        "trace (--format json)");
        return -1;
    }
    if (!(ld->format.type == FT_JV_STRING && ld->format.i)) {
        PyErr_Format(PyExc_ValueError,
                     "format: expected \"flowtrace\", got %s (not a FlowTrace trace)",
                     ld->format.type == FT_JV_NONE ? "null" : ld->format.quote);
        return -1;
    }
    const header_value *v = &ld->version;
    if (v->type != FT_JV_INT) {
        PyErr_Format(PyExc_ValueError, "version: expected an integer, got %s",
                     v->type == FT_JV_FLOAT ? v->quote : type_name(v->type));
        return -1;
    }
    if (v->big || v->i != 1) {
        int newer = v->big ? v->quote[0] != '-' : v->i > 1;
        PyErr_Format(PyExc_ValueError,
                     "version: this FlowTrace reads version 1, the file is version %s%s",
                     v->quote, newer ? " (written by a newer FlowTrace)" : "");
        return -1;
    }
    for (int p = 0; p < NPARTS; p++) {
        if (ld->state[p] == NOT_SEEN) {
            PyErr_Format(PyExc_ValueError, "file: missing \"%s\"", PART_NAMES[p]);
            return -1;
        }
        if (ld->state[p] == NOT_ARRAY) {
            PyErr_Format(PyExc_ValueError, "%s: expected an array, got %s", PART_NAMES[p],
                         type_name(ld->part_type[p]));
            return -1;
        }
    }
    return 0;
}

static int
check_ncalls(const loader *ld)
{
    const header_value *v = &ld->ncalls;
    if (v->type == FT_JV_NONE || v->type == FT_JV_NULL) {
        return 0;
    }
    if (v->type != FT_JV_INT || v->big || v->i < 0 || (uint64_t)v->i != ld->n) {
        PyErr_Format(PyExc_ValueError, "calls: %zu calls where the header announces %s", ld->n,
                     v->quote);
        return -1;
    }
    return 0;
}

/* The document's members from where the reader is: 1 when a lazy load
 * paused at the calls, 0 at the end, -1. */
static int
read_members(loader *ld)
{
    int k;
    while ((k = ft_jr_next(&ld->r)) > 0) {
        if (top_member(ld) < 0) {
            return -1;
        }
        if (ld->in_calls) {
            return 1;
        }
    }
    return k < 0 ? -1 : 0;
}

/* After the last member: the header's checks, the arrays that came
 * before what they need (read again), the count, the calls' last checks. */
static int
finish_document(loader *ld)
{
    ft_jr *r = &ld->r;
    ft_jv v;
    if (ft_jr_end(r) < 0 || check_header(ld) < 0) {
        return -1;
    }
    /* the arrays that came before what they need, read again in order */
    for (int p = 0; p < NPARTS; p++) {
        if (ld->state[p] != DEFERRED) {
            continue;
        }
        if (ft_jr_seek(r, &ld->mark[p], 1) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError,
                         "file: \"%s\" comes before the header, \"functions\" or \"threads\", "
                         "and the file cannot be read twice (not seekable): keep the writer's "
                         "key order",
                         PART_NAMES[p]);
            return -1;
        }
        if (ft_jr_value(r, &v) < 0) {
            return -1;
        }
        if (v.type != FT_JV_ARRAY) { /* the file changed under us */
            PyErr_SetString(PyExc_ValueError, "file: changed while it was read");
            return -1;
        }
        if (read_part(ld, p) < 0) {
            return -1;
        }
    }
    return check_ncalls(ld) < 0 ? -1 : end_calls(ld);
}

/* The whole document: 0, -1, or 1 when a lazy load paused at the calls. */
static int
read_document(loader *ld)
{
    ft_jr *r = &ld->r;
    ft_jv v;
    if (ft_jr_start(r) < 0 || ft_jr_value(r, &v) < 0) {
        return -1;
    }
    if (v.type != FT_JV_OBJECT) {
        if (ft_jr_skip(r, &v) < 0 || ft_jr_end(r) < 0) {
            return -1;
        }
        PyErr_Format(PyExc_ValueError, "file: expected a JSON object, got %s", type_name(v.type));
        return -1;
    }
    int rc = read_members(ld);
    return rc != 0 ? rc : finish_document(ld);
}

/* A loader for `t` (initialised empty, as a rebuilt trace), or NULL with
 * an exception (`t` cleared). */
static loader *
new_loader(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk, uint64_t size_hint,
           int lazy)
{
    ft_codetable codes = {0};
    /* the nodes are built from the file: times are nanoseconds already */
    ft_trace_config cfg = {.ns_per_tick = 1.0, .timing = 0, .results = 1};
    if (ft_tree_init(t, &codes, NULL, 0, &cfg) < 0) {
        return NULL;
    }
    t->rebuilt = 1;
    loader *ld = PyMem_RawCalloc(1, sizeof(loader));
    if (ld != NULL) {
        ld->cache = PyMem_RawCalloc(CACHE_SLOTS, sizeof(cache_slot));
    }
    if (ld == NULL || ld->cache == NULL) {
        PyMem_RawFree(ld);
        ft_tree_clear(t, NULL);
        PyErr_NoMemory();
        return NULL;
    }
    ld->t = t;
    ld->results = 1;
    ld->fcap = 0; /* the name arrays: made with the first function */
    ld->tcap = 1; /* and thread_vec */
    ld->size_hint = size_hint;
    ld->lazy = lazy;
    if (ft_jr_init(&ld->r, file, prefix, chunk) < 0) {
        PyMem_RawFree(ld->cache);
        PyMem_RawFree(ld);
        ft_tree_clear(t, NULL);
        return NULL;
    }
    return ld;
}

void
ft_json_free(ft_json_load *ld)
{
    if (ld == NULL) {
        return;
    }
    ft_jr_clear(&ld->r);
    ft_walk_free(&ld->w);
    PyMem_RawFree(ld->e.text);
    PyMem_RawFree(ld->cache);
    PyMem_RawFree(ld->is_call);
    PyMem_RawFree(ld->forward);
    PyMem_RawFree(ld);
}

int
ft_tree_from_json(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk,
                  uint64_t size_hint)
{
    loader *ld = new_loader(t, file, prefix, chunk, size_hint, 0);
    if (ld == NULL) {
        return -1;
    }
    int rc = read_document(ld);
    t->cfg.results = ld->results;
    ft_json_free(ld);
    if (rc < 0) {
        ft_tree_clear(t, NULL);
        return -1;
    }
    return 0;
}

int
ft_json_begin_lazily(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk,
                     uint64_t size_hint, ft_json_load **out)
{
    *out = NULL;
    loader *ld = new_loader(t, file, prefix, chunk, size_hint, 1);
    if (ld == NULL) {
        return -1;
    }
    int rc = read_document(ld);
    t->cfg.results = ld->results;
    if (rc == 1) {
        *out = ld;
        return 1;
    }
    int declined = ld->declined;
    ft_json_free(ld);
    if (rc < 0) {
        ft_tree_clear(t, NULL);
        return declined && !PyErr_Occurred() ? 0 : -1;
    }
    return 2;
}

int
ft_json_step(ft_json_load *ld, size_t max)
{
    for (size_t m = 0; m < max; m++) {
        int k = ft_jr_next(&ld->r);
        if (k < 0) {
            return -1;
        }
        if (k == 0) { /* the calls are over: the rest of the document */
            ld->state[PART_CALLS] = LOADED;
            ld->in_calls = 0;
            if (read_members(ld) < 0 || finish_document(ld) < 0) {
                return -1;
            }
            ld->t->cfg.results = ld->results;
            return 0;
        }
        if (read_entry(ld, PART_NAMES[PART_CALLS], ld->n) < 0 || add_call(ld, ld->n) < 0) {
            return -1;
        }
        ld->n++;
    }
    return 1;
}

void
ft_json_retarget(ft_json_load *ld, ft_tree *t)
{
    ld->t = t;
}

size_t
ft_json_calls(const ft_json_load *ld)
{
    return ld->n;
}

size_t
ft_json_announced(const ft_json_load *ld)
{
    return (size_t)ld->ncalls.i;
}

uint32_t
ft_json_thread(const ft_json_load *ld)
{
    return (uint32_t)ld->cur_thread;
}
