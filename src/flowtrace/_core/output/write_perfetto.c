/* write_perfetto.c - Perfetto's native trace format (protobuf TracePacket
 * stream), which Perfetto UI and trace_processor open fastest and at any
 * size.
 *
 * - One track per thread (a ThreadDescriptor under the process's track)
 *   and one per asyncio task (a named track under its thread's): a task
 *   lane's steps and everything they called go on the task's track.
 * - Calls and resumptions: a SLICE_BEGIN and a SLICE_END event; the
 *   arguments are a debug annotation of the begin, the result or the
 *   exception one of the end. Exception markers: INSTANT events named
 *   "raise", "reraise", "handled", with the exception text.
 * - Every string is interned: function names as event names (iid = code
 *   id + 1), marker names likewise after them, annotation names and value
 *   texts as interned strings, each defined once per sequence.
 * - Each track is its own packet sequence (trusted_packet_sequence_id) with
 *   an incremental clock (a ClockSnapshot declares clock 64, incremental,
 *   in ns): a packet's timestamp is the delta from its sequence's previous
 *   packet, one or two bytes, and its track is the sequence's default. A
 *   sequence's events are in time order (a task's steps are, a thread's
 *   other slices are), which the incremental clock needs.
 *
 * The clock (clock.h): real time from the first call when every call was
 * timed, in ns; otherwise event order, 1 us per node start, node end and
 * marker, per thread, so that durations count events, as in the Chrome
 * writer (the incremental clock's unit is then 1 us: one-byte deltas).
 */
#include "output/write_perfetto.h"

#include <string.h>

#include "common/growable.h"
#include "common/u64map.h"
#include "output/clock.h"
#include "output/sink.h"
#include "recording/values.h"
#include "tree/walk.h"

/* Field numbers of perfetto_trace.proto (checked by tests/test_perfetto.py
 * against the perfetto package's own perfetto_trace_pb2). */
enum {
    TRACE_PACKET = 1,
    TP_TIMESTAMP = 8, TP_SEQUENCE_ID = 10, TP_TRACK_EVENT = 11, TP_INTERNED_DATA = 12,
    TP_SEQUENCE_FLAGS = 13, TP_CLOCK_SNAPSHOT = 6, TP_DEFAULTS = 59, TP_TRACK_DESCRIPTOR = 60,
    CS_CLOCKS = 1, CLOCK_ID = 1, CLOCK_TIMESTAMP = 2, CLOCK_INCREMENTAL = 3, CLOCK_UNIT_NS = 4,
    DEF_CLOCK_ID = 58, DEF_TRACK_EVENT = 11, TED_TRACK_UUID = 11,
    TD_UUID = 1, TD_NAME = 2, TD_PROCESS = 3, TD_THREAD = 4, TD_PARENT = 5,
    PD_PID = 1, PD_NAME = 6, THD_PID = 1, THD_TID = 2, THD_NAME = 5,
    TE_ANNOTATIONS = 4, TE_TYPE = 9, TE_NAME_IID = 10,
    DA_NAME_IID = 1, DA_STRING_IID = 17,
    ID_EVENT_NAMES = 2, ID_ANNOTATION_NAMES = 3, ID_STRING_VALUES = 29,
    IID = 1, IID_NAME = 2, /* EventName, DebugAnnotationName, InternedString */
};
#define SLICE_BEGIN 1
#define SLICE_END 2
#define INSTANT 3
#define INCREMENTAL_CLOCK 64u
#define BOOTTIME 6u
#define STATE_CLEARED 1u
#define NEEDS_STATE 2u
#define PROCESS_UUID 1u
#define EVENT_ORDER_NS 1000u /* one event, on the event-order clock */

/* Annotation names: iid = index + 1. */
static const char *const ANNOTATIONS[] = {"args", "result", "exception"};
enum { ANN_ARGS = 1, ANN_RESULT = 2, ANN_EXCEPTION = 3 };

/* A packet sequence: one track. */
typedef struct {
    uint64_t uuid;    /* its track */
    uint64_t last_ts; /* ns: its last packet's timestamp (monotonic) */
    uint64_t *names;  /* owned (PyMem_Raw): bitset of event-name iids defined */
    size_t nnames;    /* words in names */
    uint64_t *texts;  /* owned: bitset of string iids defined */
    size_t ntexts;    /* words in texts */
} sequence;

typedef struct {
    const ft_tree *t;         /* borrowed */
    ft_sink k;                /* owned: the file (binary) */
    ft_sbuf pk;               /* owned: the packet being made */
    ft_sbuf msg;              /* owned: a nested message being made */
    ft_sbuf in;               /* owned: interned data of the packet */
    PyObject *iids;           /* owned dict: text -> string iid */
    ft_u64map value_iids;     /* owned: (thread + 1) << 32 | payload -> the
                                 string iid of its text (made once) */
    PyObject *marker_iids;    /* owned dict: marker name -> event-name iid */
    uint64_t next_string_iid; /* next string iid to give */
    uint64_t next_name_iid;   /* next marker name iid (after the codes') */
    sequence *seqs;           /* owned: the sequences, by id - 1 */
    size_t nseqs, capseqs;
    int real_time;            /* real time, else event order */
    uint64_t origin;          /* real time: the first timestamp */
    long pid;                 /* the process's pid */
} writer;

static void
pb_varint(ft_sbuf *s, uint64_t v)
{
    char b[10];
    size_t n = 0;
    do {
        b[n++] = (char)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    ft_sbuf_put(s, b, n);
}

static void
pb_uint(ft_sbuf *s, unsigned field, uint64_t v)
{
    pb_varint(s, (uint64_t)field << 3);
    pb_varint(s, v);
}

static void
pb_bytes(ft_sbuf *s, unsigned field, const char *p, size_t n)
{
    pb_varint(s, ((uint64_t)field << 3) | 2);
    pb_varint(s, n);
    ft_sbuf_put(s, p, n);
}

/* A nested message: the bytes of `m` as field `field` of `s`; `m` is
 * emptied for the next one. */
static void
pb_message(ft_sbuf *s, unsigned field, ft_sbuf *m)
{
    pb_bytes(s, field, m->buf ? m->buf : "", m->len);
    m->len = 0;
}

static void
pb_str(ft_sbuf *s, unsigned field, PyObject *str)
{
    Py_ssize_t n;
    const char *u = str ? PyUnicode_AsUTF8AndSize(str, &n) : NULL;
    if (u == NULL) {
        PyErr_Clear();
        ft_sbuf s2 = {0};
        if (str != NULL) {
            ft_sbuf_put_str(&s2, str); /* surrogates escaped */
        }
        pb_bytes(s, field, s2.buf ? s2.buf : "", s2.len);
        ft_sbuf_free(&s2);
        return;
    }
    pb_bytes(s, field, u, (size_t)n);
}

/* The finished packet `w->pk` to the file. */
static int
emit(writer *w)
{
    pb_message(&w->k.out, TRACE_PACKET, &w->pk);
    return ft_sink_maybe_flush(&w->k);
}

/* Is bit `i` of a bitset set? Set it; 1 if it was. -1: no memory. */
static int
test_and_set(uint64_t **bits, size_t *nwords, uint64_t i)
{
    size_t word = (size_t)(i / 64);
    if (word >= *nwords) {
        size_t cap = *nwords;
        if (FT_GROW(*bits, cap, word + 1, 8) < 0) {
            return -1;
        }
        memset(*bits + *nwords, 0, (cap - *nwords) * sizeof(uint64_t));
        *nwords = cap;
    }
    uint64_t m = 1ull << (i % 64);
    int was = ((*bits)[word] & m) != 0;
    (*bits)[word] |= m;
    return was;
}

/* The interned string iid of `text` (borrowed), defined in this packet's
 * interned data if the sequence has not seen it. 0 on failure. */
static uint64_t
string_iid(writer *w, sequence *q, PyObject *text)
{
    PyObject *v = PyDict_GetItemWithError(w->iids, text); /* borrowed */
    uint64_t iid;
    if (v != NULL) {
        iid = PyLong_AsUnsignedLongLong(v);
    }
    else {
        if (PyErr_Occurred()) {
            return 0;
        }
        iid = w->next_string_iid++;
        PyObject *num = PyLong_FromUnsignedLongLong(iid);
        int rc = num ? PyDict_SetItem(w->iids, text, num) : -1;
        Py_XDECREF(num);
        if (rc < 0) {
            return 0;
        }
    }
    int was = test_and_set(&q->texts, &q->ntexts, iid);
    if (was < 0) {
        PyErr_NoMemory();
        return 0;
    }
    if (!was) {
        ft_sbuf entry = {0};
        pb_uint(&entry, IID, iid);
        pb_str(&entry, IID_NAME, text);
        pb_message(&w->in, ID_STRING_VALUES, &entry);
        ft_sbuf_free(&entry);
    }
    return iid;
}

/* Define event name `iid` (a function's or a marker's) on the sequence. */
static int
define_name(writer *w, sequence *q, uint64_t iid, PyObject *name)
{
    int was = test_and_set(&q->names, &q->nnames, iid);
    if (was < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (!was) {
        ft_sbuf entry = {0};
        pb_uint(&entry, IID, iid);
        pb_str(&entry, IID_NAME, name);
        pb_message(&w->in, ID_EVENT_NAMES, &entry);
        ft_sbuf_free(&entry);
    }
    return 0;
}

/* A debug annotation of a value payload into w->msg's annotations. */
static int
annotate(writer *w, sequence *q, ft_sbuf *event, unsigned ann, uint32_t thread,
         uint32_t payload)
{
    if (payload == FT_VAL_ABSENT) {
        return 0;
    }
    /* a payload seen before, on a sequence that has its text: no text made */
    uint64_t key = ((uint64_t)thread + 1) << 32 | payload;
    int64_t known = ft_u64map_get(&w->value_iids, key);
    uint64_t iid = 0;
    if (known > 0) {
        size_t word = (size_t)((uint64_t)known / 64);
        if (word < q->ntexts && (q->texts[word] >> ((uint64_t)known % 64) & 1)) {
            iid = (uint64_t)known;
        }
    }
    if (iid == 0) {
        PyObject *text = ft_value_text(w->t->thread_vec[thread], payload);
        if (text == NULL) {
            return PyErr_Occurred() ? -1 : 0;
        }
        iid = string_iid(w, q, text);
        Py_DECREF(text);
        if (iid == 0) {
            return -1;
        }
        if (ft_u64map_put(&w->value_iids, key, (int64_t)iid) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    ft_sbuf a = {0};
    pb_uint(&a, DA_NAME_IID, ann);
    pb_uint(&a, DA_STRING_IID, iid);
    pb_message(event, TE_ANNOTATIONS, &a);
    ft_sbuf_free(&a);
    return 0;
}

/* Start a sequence for track `uuid`: its first packet clears the state,
 * declares the incremental clock, the defaults, the track and the
 * annotation names. Its id (1-based), or 0 with an exception. */
static size_t
open_sequence(writer *w, uint64_t uuid, ft_sbuf *descriptor)
{
    if (FT_GROW(w->seqs, w->capseqs, w->nseqs + 1, 16) < 0) {
        PyErr_NoMemory();
        return 0;
    }
    sequence *q = &w->seqs[w->nseqs++];
    memset(q, 0, sizeof(*q));
    q->uuid = uuid;
    size_t id = w->nseqs;
    ft_sbuf clock = {0}, snap = {0}, defs = {0}, ted = {0};
    pb_uint(&clock, CLOCK_ID, BOOTTIME);
    pb_uint(&clock, CLOCK_TIMESTAMP, 0);
    pb_message(&snap, CS_CLOCKS, &clock);
    pb_uint(&clock, CLOCK_ID, INCREMENTAL_CLOCK);
    pb_uint(&clock, CLOCK_TIMESTAMP, 0);
    pb_uint(&clock, CLOCK_INCREMENTAL, 1);
    /* event order counts in 1 us units: one-byte deltas */
    pb_uint(&clock, CLOCK_UNIT_NS, w->real_time ? 1 : EVENT_ORDER_NS);
    pb_message(&snap, CS_CLOCKS, &clock);
    pb_uint(&ted, TED_TRACK_UUID, uuid);
    pb_uint(&defs, DEF_CLOCK_ID, INCREMENTAL_CLOCK);
    pb_message(&defs, DEF_TRACK_EVENT, &ted);
    /* the clock snapshot and the track descriptor are both of the packet's
     * "data" oneof: two packets */
    pb_uint(&w->pk, TP_SEQUENCE_ID, id);
    pb_uint(&w->pk, TP_SEQUENCE_FLAGS, STATE_CLEARED);
    pb_message(&w->pk, TP_CLOCK_SNAPSHOT, &snap);
    pb_message(&w->pk, TP_DEFAULTS, &defs);
    for (size_t i = 0; i < sizeof(ANNOTATIONS) / sizeof(ANNOTATIONS[0]); i++) {
        ft_sbuf entry = {0};
        pb_uint(&entry, IID, i + 1);
        pb_bytes(&entry, IID_NAME, ANNOTATIONS[i], strlen(ANNOTATIONS[i]));
        pb_message(&w->in, ID_ANNOTATION_NAMES, &entry);
        ft_sbuf_free(&entry);
    }
    pb_message(&w->pk, TP_INTERNED_DATA, &w->in);
    ft_sbuf_free(&clock);
    ft_sbuf_free(&snap);
    ft_sbuf_free(&defs);
    ft_sbuf_free(&ted);
    if (emit(w) < 0) {
        return 0;
    }
    pb_uint(&w->pk, TP_SEQUENCE_ID, id);
    pb_message(&w->pk, TP_TRACK_DESCRIPTOR, descriptor);
    return emit(w) < 0 ? 0 : id;
}

/* One track event on sequence `id` at `ts` (ns; kept monotonic). The
 * event's fields are in `event`, the interned data in w->in. */
static int
put_event(writer *w, size_t id, uint64_t ts, ft_sbuf *event)
{
    sequence *q = &w->seqs[id - 1];
    ts = ts < q->last_ts ? q->last_ts : ts;
    pb_uint(&w->pk, TP_TIMESTAMP, ts - q->last_ts);
    q->last_ts = ts;
    pb_message(&w->pk, TP_TRACK_EVENT, event);
    if (w->in.len > 0) {
        pb_message(&w->pk, TP_INTERNED_DATA, &w->in);
    }
    pb_uint(&w->pk, TP_SEQUENCE_ID, id);
    pb_uint(&w->pk, TP_SEQUENCE_FLAGS, NEEDS_STATE);
    return emit(w);
}

/* The event name iid of a node: its function's, or its marker's. */
static int64_t
name_iid(writer *w, sequence *q, const ft_node *nd)
{
    if (!FT_NODE_IS_MARKER(nd->kind)) {
        PyObject *name = ft_tree_name(w->t, nd->code_id);
        if (name == NULL || define_name(w, q, (uint64_t)nd->code_id + 1, name) < 0) {
            return -1;
        }
        return (int64_t)nd->code_id + 1;
    }
    const char *word = ft_node_kind_name(nd->kind);
    PyObject *key = PyUnicode_FromString(word ? word : "?");
    if (key == NULL) {
        return -1;
    }
    PyObject *v = PyDict_GetItemWithError(w->marker_iids, key);
    uint64_t iid;
    if (v != NULL) {
        iid = PyLong_AsUnsignedLongLong(v);
    }
    else {
        iid = w->next_name_iid++;
        PyObject *num = PyLong_FromUnsignedLongLong(iid);
        if (num == NULL || PyDict_SetItem(w->marker_iids, key, num) < 0) {
            Py_XDECREF(num);
            Py_DECREF(key);
            return -1;
        }
        Py_DECREF(num);
    }
    int rc = define_name(w, q, iid, key);
    Py_DECREF(key);
    return rc < 0 ? -1 : (int64_t)iid;
}

/* An open node of the walk: its sequence and its start. */
typedef struct {
    size_t seq;     /* its track's sequence id */
    uint64_t start; /* ns */
} opened;

static uint64_t
node_time(const writer *w, const ft_node *nd, int end, uint64_t *tick)
{
    if (!w->real_time) {
        return ++*tick; /* in the clock's unit: EVENT_ORDER_NS */
    }
    uint64_t v = end ? ft_node_t1(w->t, nd) : ft_node_t0(w->t, nd);
    int valid = nd->timed && !(end && nd->end == FT_END_UNFINISHED) &&
                !(nd->flags & FT_NF_BEGAN_BEFORE);
    return valid && v >= w->origin ? v - w->origin : 0; /* 0: clamped to the track's last */
}

static int
write_thread(writer *w, uint32_t thread, ft_walk *walk, opened **open, size_t *cap)
{
    const ft_tree *t = w->t;
    const ft_threadbuf *tb = t->thread_vec[thread];
    if (t->thread_first[thread] == t->thread_first[thread + 1]) {
        return 0;
    }
    PyObject *tname = ft_tree_thread_name(t, thread);
    if (tname == NULL) {
        return -1;
    }
    uint64_t uuid = PROCESS_UUID + 1 + thread;
    ft_sbuf td = {0}, thd = {0};
    pb_uint(&thd, THD_PID, (uint64_t)w->pid);
    pb_uint(&thd, THD_TID, thread + 1);
    pb_str(&thd, THD_NAME, tname);
    pb_uint(&td, TD_UUID, uuid);
    pb_uint(&td, TD_PARENT, PROCESS_UUID);
    pb_message(&td, TD_THREAD, &thd);
    size_t thread_seq = open_sequence(w, uuid, &td);
    ft_sbuf_free(&td);
    ft_sbuf_free(&thd);
    if (thread_seq == 0) {
        return -1;
    }
    uint64_t tick = 0;
    ft_walk_thread(walk, t, thread);
    ft_walk_step step;
    int r;
    while ((r = ft_walk_next(walk, &step)) > 0) {
        const ft_node *nd = &t->nodes[step.node];
        if (FT_GROW(*open, *cap, step.depth + 1, 64) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        size_t seq = step.depth == 0 ? thread_seq : (*open)[step.depth - 1].seq;
        if (step.event == FT_WALK_ENTER && nd->kind == FT_NODE_TASK) {
            /* a task: its own track, under its thread's */
            PyObject *name = nd->args != FT_VAL_ABSENT ? ft_value_text(tb, nd->args) : NULL;
            ft_sbuf desc = {0};
            uint64_t task_uuid = 0x100000000ull + step.node;
            pb_uint(&desc, TD_UUID, task_uuid);
            pb_uint(&desc, TD_PARENT, uuid);
            if (name != NULL) {
                pb_str(&desc, TD_NAME, name);
            }
            else {
                PyErr_Clear();
                pb_bytes(&desc, TD_NAME, "task", 4);
            }
            Py_XDECREF(name);
            seq = open_sequence(w, task_uuid, &desc);
            ft_sbuf_free(&desc);
            if (seq == 0) {
                return -1;
            }
        }
        else if (step.event == FT_WALK_LEAVE) {
            seq = (*open)[step.depth].seq;
        }
        sequence *q = &w->seqs[seq - 1];
        if (step.event == FT_WALK_ENTER) {
            (*open)[step.depth].seq = seq;
            int64_t iid = name_iid(w, q, nd);
            if (iid < 0) {
                return -1;
            }
            ft_sbuf *ev = &w->msg;
            int marker = FT_NODE_IS_MARKER(nd->kind);
            pb_uint(ev, TE_TYPE, marker ? INSTANT : SLICE_BEGIN);
            pb_uint(ev, TE_NAME_IID, (uint64_t)iid);
            if (annotate(w, q, ev, marker ? ANN_EXCEPTION : ANN_ARGS, nd->thread,
                         marker ? nd->exc : (nd->kind == FT_NODE_TASK ? FT_VAL_ABSENT : nd->args)) < 0 ||
                put_event(w, seq, node_time(w, nd, 0, &tick), ev) < 0) {
                return -1;
            }
            continue;
        }
        if (FT_NODE_IS_MARKER(nd->kind)) {
            continue; /* an instant: nothing ends */
        }
        ft_sbuf *ev = &w->msg;
        pb_uint(ev, TE_TYPE, SLICE_END);
        int ann = nd->end == FT_END_RAISE ? ANN_EXCEPTION
                  : nd->end == FT_END_RETURN || nd->end == FT_END_YIELD ? ANN_RESULT : 0;
        uint32_t payload = ann == ANN_EXCEPTION ? nd->exc : ann == ANN_RESULT ? nd->result
                                                                            : FT_VAL_ABSENT;
        if (nd->kind == FT_NODE_TASK) {
            payload = FT_VAL_ABSENT;
        }
        if ((ann && annotate(w, q, ev, (unsigned)ann, nd->thread, payload) < 0) ||
            put_event(w, seq, node_time(w, nd, 1, &tick), ev) < 0) {
            return -1;
        }
    }
    return r < 0 ? -1 : 0;
}

int
ft_write_perfetto(const ft_tree *t, PyObject *file, long pid, PyObject *process_name)
{
    writer w = {0};
    w.t = t;
    w.pid = pid;
    w.iids = PyDict_New();
    w.marker_iids = PyDict_New();
    w.next_string_iid = 1;
    w.next_name_iid = (uint64_t)t->nnames + 1;
    w.real_time = ft_output_clock(t, &w.origin, &(uint64_t){0});
    int rc = -1;
    ft_walk walk = {0};
    opened *open = NULL;
    size_t cap = 0;
    if (w.iids == NULL || w.marker_iids == NULL || ft_sink_open(&w.k, file, 1) < 0) {
        goto done;
    }
    /* the process's track, on a sequence of its own */
    ft_sbuf td = {0}, pd = {0};
    pb_uint(&pd, PD_PID, (uint64_t)pid);
    if (process_name != NULL) {
        pb_str(&pd, PD_NAME, process_name);
    }
    pb_uint(&td, TD_UUID, PROCESS_UUID);
    pb_message(&td, TD_PROCESS, &pd);
    size_t pseq = open_sequence(&w, PROCESS_UUID, &td);
    ft_sbuf_free(&td);
    ft_sbuf_free(&pd);
    if (pseq == 0) {
        goto done;
    }
    for (uint32_t i = 0; i < t->nthreads; i++) {
        if (write_thread(&w, i, &walk, &open, &cap) < 0) {
            goto done;
        }
    }
    rc = ft_sink_flush(&w.k);
done:
    ft_walk_free(&walk);
    PyMem_RawFree(open);
    for (size_t i = 0; i < w.nseqs; i++) {
        PyMem_RawFree(w.seqs[i].names);
        PyMem_RawFree(w.seqs[i].texts);
    }
    PyMem_RawFree(w.seqs);
    ft_sbuf_free(&w.pk);
    ft_sbuf_free(&w.msg);
    ft_sbuf_free(&w.in);
    ft_sink_close(&w.k);
    Py_XDECREF(w.iids);
    Py_XDECREF(w.marker_iids);
    ft_u64map_free(&w.value_iids);
    return rc;
}
