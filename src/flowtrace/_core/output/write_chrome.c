/* write_chrome.c - Chrome Trace Event format ("JSON Object Format"), which
 * Perfetto UI, chrome://tracing and speedscope open.
 *
 * - Calls and resumptions: one complete event ("ph": "X") each, with "ts"
 *   and "dur" in microseconds, "tid" the thread's position in the trace
 *   (1, 2...), and in "args" the node's kind and end, its arguments,
 *   result or exception, source location, and its flags when set
 *   ("left_suspended", "began_before", "cut").
 * - Exception markers (raised / re-raised / caught in a frame): an instant
 *   event ("ph": "i", "s": "t", a tick on the thread's track) named
 *   "raise ValueError", "reraise ...", "handled ...", the exception text
 *   and the frame's function in "args".
 * - asyncio task lanes: the steps stay complete events on the track of the
 *   thread that ran them (nested in the frame that runs the event loop, as
 *   they happened); each task is also one nestable async slice ("ph" "b"
 *   then "e", "cat": "asyncio.task", "id": the lane's id) from the start of
 *   its first step to the end of its last, named after the task, so
 *   Perfetto draws one track per task above the thread's. Lanes of one
 *   thread overlap in time, which complete events on one track may not.
 * - Metadata events name the process and each thread.
 *
 * The clock: when every call was timed (timing on), real monotonic time,
 * from the first call, with nanosecond decimals. A frame that began before
 * tracing starts at the trace's start and ends with the last of what it
 * adopted; a task's slice spans its steps; an unfinished call ends with the
 * trace. Otherwise the order of events is the clock: every node start,
 * node end and marker is one tick (1 us), per thread from 0 - durations
 * then say how many events happened inside a call, not how long it took;
 * "otherData.clock" says which. A trace loaded from FlowTrace JSON keeps
 * its real times; one rebuilt from CallEvent objects has durations only
 * (every start is 0), so it uses the event order.
 *
 * Events are written when the walk (tree/walk.h) leaves their node
 * (children before parents); the viewers order them by time. Memory: the
 * walk's stack and the open calls', as deep as the tree.
 */
#include "output/write_chrome.h"

#include "common/growable.h"
#include "output/clock.h"
#include "output/jsonbuf.h"
#include "output/sink.h"
#include "recording/record.h"
#include "recording/values.h"
#include "output/write_json.h"
#include "tree/walk.h"

typedef struct {
    int64_t node;  /* index of the open node */
    uint64_t tick; /* its start tick (event-order clock) */
    uint64_t lo;   /* real time: earliest start of its closed children */
    uint64_t hi;   /* real time: latest end of its closed children */
    int spanned;   /* lo and hi are set (a child was closed) */
} open_call;

typedef struct {
    const ft_tree *t;         /* borrowed */
    ft_sink k;           /* owned */
    const ft_chrome_opts *o; /* borrowed */
    int real_time;       /* timestamps are real time */
    uint64_t origin;     /* first timestamp (real time) */
    uint64_t last;       /* last timestamp: end of unfinished calls */
    uint64_t now;        /* latest timestamp seen on the current thread */
    uint64_t tick;       /* event-order clock of the current thread */
    int first;           /* no event written yet (no comma) */
} chrome;

static void
begin_event(chrome *c)
{
    ft_sbuf_puts(&c->k.out, c->first ? "\n{" : ",\n{");
    c->first = 0;
}

static void
put_pid_tid(chrome *c, uint32_t thread)
{
    ft_sbuf_puts(&c->k.out, "\"pid\":");
    ft_json_put_i64(&c->k.out, c->o->pid);
    ft_sbuf_puts(&c->k.out, ",\"tid\":");
    ft_json_put_u64(&c->k.out, (uint64_t)thread + 1);
}

static void
put_location(chrome *c, uint32_t code_id)
{
    ft_sbuf *s = &c->k.out;
    PyObject *file = ft_tree_file(c->t, code_id);
    if (file != NULL && PyUnicode_Check(file)) {
        ft_sbuf_puts(s, ",\"file\":");
        ft_json_put_str(s, file);
        ft_sbuf_puts(s, ",\"line\":");
        ft_json_put_i64(s, ft_tree_line(c->t, code_id));
    }
}

/* "cat": the module the function ran in, else "python". */
static void
put_cat(chrome *c, uint32_t code_id)
{
    ft_sbuf *s = &c->k.out;
    ft_sbuf_puts(s, ",\"cat\":");
    PyObject *module = ft_tree_module(c->t, code_id);
    if (module != NULL && PyUnicode_Check(module)) {
        ft_json_put_str(s, module);
    }
    else {
        ft_sbuf_puts(s, "\"python\"");
    }
}

/* ",\"key\":<payload text>" when the payload is there. */
static int
put_payload(ft_sbuf *s, const char *key, const ft_threadbuf *tb, uint32_t payload)
{
    if (payload == FT_VAL_ABSENT) {
        return 0;
    }
    ft_sbuf_puts(s, ",\"");
    ft_sbuf_puts(s, key);
    ft_sbuf_puts(s, "\":");
    return ft_json_put_payload(s, tb, payload);
}

/* A timestamp in microseconds: real time from the origin, or a tick. */
static void
put_time(chrome *c, uint64_t v)
{
    if (c->real_time) {
        ft_json_put_fixed(&c->k.out, v, 3);
    }
    else {
        ft_json_put_u64(&c->k.out, v);
    }
}

/* Real-time span of a closing node (ns from the origin). */
static void
real_span(chrome *c, const ft_node *nd, const open_call *e, uint64_t *t0, uint64_t *t1)
{
    uint64_t a, b;
    if (nd->timed) {
        a = ft_node_t0(c->t, nd);
        b = nd->end == FT_END_UNFINISHED ? c->last : ft_node_t1(c->t, nd);
    }
    else if (nd->flags & FT_NF_BEGAN_BEFORE) {
        a = c->origin; /* it was running when tracing started */
        b = e->spanned ? e->hi : c->now;
    }
    else { /* a task lane (or a node without times): its children's span */
        a = e->spanned ? e->lo : c->now;
        b = e->spanned ? e->hi : c->now;
    }
    a = a < c->origin ? c->origin : a;
    b = b < a ? a : b;
    *t0 = a - c->origin;
    *t1 = b - c->origin;
}

/* The two events of a task lane: an async slice over its steps. */
static int
put_task(chrome *c, int64_t i, uint64_t start, uint64_t end)
{
    const ft_tree *t = c->t;
    const ft_node *nd = &t->nodes[i];
    const ft_threadbuf *tb = t->thread_vec[nd->thread];
    ft_sbuf *s = &c->k.out;
    PyObject *coro = ft_tree_name(t, nd->code_id);
    if (coro == NULL) {
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        begin_event(c);
        ft_sbuf_puts(s, pass == 0 ? "\"ph\":\"b\"" : "\"ph\":\"e\"");
        ft_sbuf_puts(s, ",\"cat\":\"asyncio.task\",\"id\":");
        ft_json_put_i64(s, i);
        ft_sbuf_puts(s, ",\"name\":");
        if (nd->args != FT_VAL_ABSENT) {
            if (ft_json_put_payload(s, tb, nd->args) < 0) {
                return -1;
            }
        }
        else {
            ft_json_put_str(s, coro);
        }
        ft_sbuf_puts(s, ",");
        put_pid_tid(c, nd->thread);
        ft_sbuf_puts(s, ",\"ts\":");
        put_time(c, pass == 0 ? start : end);
        if (pass == 0) {
            ft_sbuf_puts(s, ",\"args\":{\"kind\":\"task\",\"coroutine\":");
            ft_json_put_str(s, coro);
            if (put_payload(s, "task", tb, nd->args) < 0 ||
                put_payload(s, "created_by", tb, nd->result) < 0) {
                return -1;
            }
            put_location(c, nd->code_id);
            ft_sbuf_puts(s, "}");
        }
        ft_sbuf_puts(s, "}");
    }
    return ft_sink_maybe_flush(&c->k);
}

/* The event(s) of node `i` (a call, resumption or task lane), closing now:
 * `e` is its open call. Returns 0 or -1; *t0, *t1 get its span. */
static int
put_node(chrome *c, const open_call *e, uint64_t *t0, uint64_t *t1)
{
    const ft_tree *t = c->t;
    int64_t i = e->node;
    const ft_node *nd = &t->nodes[i];
    const ft_threadbuf *tb = t->thread_vec[nd->thread];
    ft_sbuf *s = &c->k.out;
    if (c->real_time) {
        real_span(c, nd, e, t0, t1);
    }
    else {
        *t0 = e->tick;
        *t1 = c->tick;
    }
    if (nd->kind == FT_NODE_TASK) {
        return put_task(c, i, *t0, *t1);
    }
    PyObject *name = ft_tree_name(t, nd->code_id);
    const char *kind = ft_node_kind_name(nd->kind), *end = ft_node_end_name(nd->end);
    if (name == NULL) {
        return -1;
    }
    begin_event(c);
    ft_sbuf_puts(s, "\"ph\":\"X\",\"name\":");
    ft_json_put_str(s, name);
    put_cat(c, nd->code_id);
    ft_sbuf_puts(s, ",");
    put_pid_tid(c, nd->thread);
    ft_sbuf_puts(s, ",\"ts\":");
    put_time(c, *t0);
    ft_sbuf_puts(s, ",\"dur\":");
    put_time(c, *t1 - *t0);
    ft_sbuf_puts(s, ",\"args\":{\"kind\":\"");
    ft_sbuf_puts(s, kind ? kind : "call");
    ft_sbuf_puts(s, "\",\"end\":\"");
    ft_sbuf_puts(s, end ? end : "unfinished");
    ft_sbuf_puts(s, "\"");
    if (put_payload(s, "args", tb, nd->args) < 0) {
        return -1;
    }
    if (nd->end == FT_END_RAISE) {
        if (put_payload(s, "exception", tb, nd->exc) < 0) {
            return -1;
        }
    }
    else if (nd->end == FT_END_RETURN || nd->end == FT_END_YIELD) {
        if (put_payload(s, "result", tb, nd->result) < 0) {
            return -1;
        }
    }
    ft_json_put_node_flags(s, nd->flags);
    put_location(c, nd->code_id);
    ft_sbuf_puts(s, "}}");
    return ft_sink_maybe_flush(&c->k);
}

/* The name of a marker's event: "handled ValueError" (the kind, and the
 * first word of the "Type: message" text). New reference or NULL. */
static PyObject *
marker_name(const char *kind, PyObject *exc)
{
    if (exc == NULL) {
        return PyUnicode_FromString(kind);
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(exc), cut = n;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_UCS4 ch = PyUnicode_READ_CHAR(exc, j);
        if (ch == ':' || ch == ' ') {
            cut = j;
            break;
        }
    }
    if (cut == 0) {
        return PyUnicode_FromString(kind);
    }
    PyObject *type = PyUnicode_Substring(exc, 0, cut);
    if (type == NULL) {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat("%s %U", kind, type);
    Py_DECREF(type);
    return r;
}

/* An exception marker: an instant event on the thread's track. */
static int
put_marker(chrome *c, int64_t i)
{
    const ft_tree *t = c->t;
    const ft_node *nd = &t->nodes[i];
    const ft_threadbuf *tb = t->thread_vec[nd->thread];
    ft_sbuf *s = &c->k.out;
    PyObject *fname = ft_tree_name(t, nd->code_id);
    if (fname == NULL) {
        return -1;
    }
    const char *kind = ft_node_kind_name(nd->kind);
    uint64_t ts;
    if (c->real_time) {
        uint64_t a = nd->timed ? ft_node_t0(t, nd) : c->now;
        ts = (a < c->origin ? c->origin : a) - c->origin;
    }
    else {
        ts = c->tick++;
    }
    if (kind == NULL) {
        kind = "exception";
    }
    PyObject *exc = nd->exc != FT_VAL_ABSENT ? ft_value_text(tb, nd->exc) : NULL;
    if (exc == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *name = marker_name(kind, exc);
    if (name == NULL) {
        Py_XDECREF(exc);
        return -1;
    }
    begin_event(c);
    ft_sbuf_puts(s, "\"ph\":\"i\",\"s\":\"t\",\"name\":");
    ft_json_put_str(s, name);
    ft_sbuf_puts(s, ",\"cat\":\"exception\",");
    put_pid_tid(c, nd->thread);
    ft_sbuf_puts(s, ",\"ts\":");
    put_time(c, ts);
    ft_sbuf_puts(s, ",\"args\":{\"kind\":\"");
    ft_sbuf_puts(s, kind);
    ft_sbuf_puts(s, "\"");
    if (exc != NULL) {
        ft_sbuf_puts(s, ",\"exception\":");
        ft_json_put_str(s, exc);
    }
    ft_sbuf_puts(s, ",\"function\":");
    ft_json_put_str(s, fname);
    put_location(c, nd->code_id);
    ft_sbuf_puts(s, "}}");
    Py_DECREF(name);
    Py_XDECREF(exc);
    return ft_sink_maybe_flush(&c->k);
}

/* Close the open call at `depth` of `open` (its ancestors below it):
 * write it, and widen its parent's span. */
static int
leave(chrome *c, open_call *open, size_t depth)
{
    open_call *e = &open[depth];
    uint64_t t0, t1;
    c->tick++;
    if (put_node(c, e, &t0, &t1) < 0) {
        return -1;
    }
    if (c->real_time) {
        uint64_t a = t0 + c->origin, b = t1 + c->origin;
        c->now = b > c->now ? b : c->now;
        if (depth > 0) {
            open_call *p = &open[depth - 1];
            if (!p->spanned) {
                p->lo = a;
                p->hi = b;
                p->spanned = 1;
            }
            p->lo = a < p->lo ? a : p->lo;
            p->hi = b > p->hi ? b : p->hi;
        }
    }
    return 0;
}

/* A marker is an instant when entered; any other node is an open call
 * (open[depth]) until it is left, then one event. */
static int
write_thread(chrome *c, uint32_t th, ft_walk *walk, open_call **openp, size_t *capp)
{
    const ft_tree *t = c->t;
    ft_walk_step s;
    int r;
    c->tick = 0;
    c->now = c->origin;
    ft_walk_thread(walk, t, th);
    while ((r = ft_walk_next(walk, &s)) > 0) {
        const ft_node *nd = &t->nodes[s.node];
        if (FT_NODE_IS_MARKER(nd->kind)) {
            if (s.event == FT_WALK_ENTER && put_marker(c, (int64_t)s.node) < 0) {
                return -1;
            }
            continue; /* no children: never a parent */
        }
        if (s.event == FT_WALK_LEAVE) {
            if (leave(c, *openp, s.depth) < 0) {
                return -1;
            }
            continue;
        }
        if (FT_GROW(*openp, *capp, s.depth + 1, 64) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        open_call *e = &(*openp)[s.depth];
        memset(e, 0, sizeof(*e));
        e->node = (int64_t)s.node;
        e->tick = c->tick++;
        if (nd->timed && ft_node_t0(c->t, nd) > c->now) {
            c->now = ft_node_t0(c->t, nd);
        }
    }
    return r;
}

static int
write_metadata(chrome *c)
{
    const ft_tree *t = c->t;
    ft_sbuf *s = &c->k.out;
    if (c->o->process_name != NULL) {
        begin_event(c);
        ft_sbuf_puts(s, "\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
        ft_json_put_i64(s, c->o->pid);
        ft_sbuf_puts(s, ",\"tid\":0,\"args\":{\"name\":");
        ft_json_put_str(s, c->o->process_name);
        ft_sbuf_puts(s, "}}");
    }
    for (uint32_t i = 0; i < t->nthreads; i++) {
        if (t->thread_first[i] == t->thread_first[i + 1]) {
            continue;
        }
        PyObject *name = ft_tree_thread_name(t, i);
        if (name == NULL) {
            return -1;
        }
        begin_event(c);
        ft_sbuf_puts(s, "\"ph\":\"M\",\"name\":\"thread_name\",");
        put_pid_tid(c, i);
        ft_sbuf_puts(s, ",\"args\":{\"name\":");
        ft_json_put_str(s, name);
        ft_sbuf_puts(s, ",\"ident\":");
        ft_json_put_u64(s, t->thread_vec[i]->ident);
        if (t->thread_vec[i]->dropped > 0) {
            ft_sbuf_puts(s, ",\"dropped\":");
            ft_json_put_u64(s, t->thread_vec[i]->dropped);
        }
        ft_sbuf_puts(s, "}}");
        begin_event(c);
        ft_sbuf_puts(s, "\"ph\":\"M\",\"name\":\"thread_sort_index\",");
        put_pid_tid(c, i);
        ft_sbuf_puts(s, ",\"args\":{\"sort_index\":");
        ft_json_put_u64(s, i);
        ft_sbuf_puts(s, "}}");
    }
    return 0;
}

/* Real time when every call carries its own timestamps (output/clock.h). */
static void
choose_clock(chrome *c)
{
    c->real_time = ft_output_clock(c->t, &c->origin, &c->last);
}

int
ft_write_chrome(const ft_tree *t, PyObject *file, const ft_chrome_opts *o)
{
    chrome c = {0};
    c.t = t;
    c.o = o;
    c.first = 1;
    choose_clock(&c);
    if (ft_sink_open(&c.k, file, o->binary) < 0) {
        return -1;
    }
    ft_walk walk = {0};
    open_call *open = NULL; /* the open calls, by depth */
    size_t cap = 0;
    int rc = -1;
    ft_sbuf_puts(&c.k.out, "{\"traceEvents\":[");
    if (write_metadata(&c) < 0) {
        goto done;
    }
    for (uint32_t i = 0; i < t->nthreads; i++) {
        if (write_thread(&c, i, &walk, &open, &cap) < 0) {
            goto done;
        }
    }
    ft_sbuf *s = &c.k.out;
    ft_sbuf_puts(s, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"producer\":\"flowtrace\",");
    ft_sbuf_puts(s, c.real_time
                        ? "\"clock\":\"monotonic: ts and dur are microseconds from the first "
                          "call\""
                        : "\"clock\":\"event order: no timing was recorded; ts counts call "
                          "starts and ends and exception markers (one unit each, per thread "
                          "from 0), so dur is the number of events inside a call, not time\"");
    if (o->meta != NULL) {
        ft_sbuf_puts(s, ",\"meta\":");
        ft_sbuf_put_str(s, o->meta);
    }
    ft_sbuf_puts(s, "}}\n");
    rc = ft_sink_flush(&c.k);
done:
    ft_walk_free(&walk);
    PyMem_RawFree(open);
    ft_sink_close(&c.k);
    return rc;
}
