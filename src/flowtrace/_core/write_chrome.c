/* write_chrome.c - Chrome Trace Event format ("JSON Object Format"), which
 * Perfetto UI, chrome://tracing and speedscope open.
 *
 * One complete event ("ph": "X") per call node, with "ts" and "dur" in
 * microseconds, "tid" the thread's position in the trace (1, 2...), and the
 * call's arguments, result or exception, and source location in "args".
 * Metadata events name the process and each thread.
 *
 * The clock: when every call was timed (timing on), real monotonic time,
 * from the first call, with nanosecond decimals. Otherwise the order of
 * events is the clock: every call start and every call end is one tick
 * (1 us), per thread from 0 - durations then say how many events happened
 * inside a call, not how long it took; "otherData.clock" says which.
 *
 * Events are written when their call closes (children before parents);
 * the viewers order them by time. Memory: a stack as deep as the tree.
 */
#include "write_chrome.h"

#include "jsonbuf.h"
#include "record.h"
#include "write_json.h"

typedef struct {
    int64_t node;  /* index of the open node */
    uint64_t tick; /* its start tick (event-order clock) */
} open_call;

typedef struct {
    ft_trace *t;         /* borrowed */
    ft_sink k;           /* owned */
    const ft_chrome_opts *o;
    int real_time;       /* timestamps are real time */
    uint64_t origin;     /* first timestamp (real time) */
    uint64_t last;       /* last timestamp: end of unfinished calls */
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

static int
put_location(chrome *c, uint32_t code_id)
{
    ft_sbuf *s = &c->k.out;
    PyObject *file = ft_trace_file(c->t, code_id);
    if (file != NULL && PyUnicode_Check(file)) {
        ft_sbuf_puts(s, ",\"file\":");
        ft_json_put_str(s, file);
        ft_sbuf_puts(s, ",\"line\":");
        ft_json_put_i64(s, ft_trace_line(c->t, code_id));
    }
    return 0;
}

/* The complete event of node `i`, which started at `start` (tick). */
static int
put_call(chrome *c, int64_t i, uint64_t start)
{
    ft_trace *t = c->t;
    const ft_node *nd = &t->nodes[i];
    const ft_threadbuf *tb = t->thread_vec[nd->thread];
    ft_sbuf *s = &c->k.out;
    PyObject *name = ft_trace_name(t, nd->code_id);
    if (name == NULL) {
        return -1;
    }
    begin_event(c);
    ft_sbuf_puts(s, "\"ph\":\"X\",\"name\":");
    ft_json_put_str(s, name);
    ft_sbuf_puts(s, ",\"cat\":");
    PyObject *module = ft_trace_module(t, nd->code_id);
    if (module != NULL && PyUnicode_Check(module)) {
        ft_json_put_str(s, module);
    }
    else {
        ft_sbuf_puts(s, "\"python\"");
    }
    ft_sbuf_puts(s, ",");
    put_pid_tid(c, nd->thread);
    ft_sbuf_puts(s, ",\"ts\":");
    if (c->real_time) {
        uint64_t end = nd->end == FT_END_UNFINISHED || !nd->timed ? c->last : nd->t1;
        uint64_t t0 = nd->t0 < c->origin ? c->origin : nd->t0;
        ft_json_put_fixed(s, t0 - c->origin, 3);
        ft_sbuf_puts(s, ",\"dur\":");
        ft_json_put_fixed(s, end > t0 ? end - t0 : 0, 3);
    }
    else {
        ft_json_put_u64(s, start);
        ft_sbuf_puts(s, ",\"dur\":");
        ft_json_put_u64(s, c->tick - start);
    }
    ft_sbuf_puts(s, ",\"args\":{\"kind\":\"");
    ft_sbuf_puts(s, ft_node_kind_name(nd->kind));
    ft_sbuf_puts(s, "\",\"end\":\"");
    ft_sbuf_puts(s, ft_node_end_name(nd->end));
    ft_sbuf_puts(s, "\"");
    if (nd->args != FT_VAL_ABSENT) {
        ft_sbuf_puts(s, ",\"args\":");
        if (ft_json_put_payload(s, tb, nd->args) < 0) {
            return -1;
        }
    }
    if (nd->end == FT_END_RAISE) {
        if (nd->exc != FT_VAL_ABSENT) {
            ft_sbuf_puts(s, ",\"exception\":");
            if (ft_json_put_payload(s, tb, nd->exc) < 0) {
                return -1;
            }
        }
    }
    else if (nd->end != FT_END_UNFINISHED && nd->result != FT_VAL_ABSENT) {
        ft_sbuf_puts(s, ",\"result\":");
        if (ft_json_put_payload(s, tb, nd->result) < 0) {
            return -1;
        }
    }
    put_location(c, nd->code_id);
    ft_sbuf_puts(s, "}}");
    return ft_sink_maybe_flush(&c->k);
}

static int
write_thread(chrome *c, uint32_t th, open_call **stackp, size_t *capp)
{
    ft_trace *t = c->t;
    size_t first = t->thread_first[th], last = t->thread_first[th + 1];
    size_t depth = 0;
    c->tick = 0;
    for (size_t i = first; i < last; i++) {
        const ft_node *nd = &t->nodes[i];
        while (depth > 0 && (*stackp)[depth - 1].node != nd->parent) {
            depth--;
            c->tick++;
            if (put_call(c, (*stackp)[depth].node, (*stackp)[depth].tick) < 0) {
                return -1;
            }
        }
        if (depth == *capp) {
            size_t nc = *capp ? *capp * 2 : 64;
            open_call *ns = PyMem_RawRealloc(*stackp, nc * sizeof(open_call));
            if (ns == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            *stackp = ns;
            *capp = nc;
        }
        (*stackp)[depth].node = (int64_t)i;
        (*stackp)[depth].tick = c->tick++;
        depth++;
    }
    while (depth > 0) {
        depth--;
        c->tick++;
        if (put_call(c, (*stackp)[depth].node, (*stackp)[depth].tick) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
write_metadata(chrome *c)
{
    ft_trace *t = c->t;
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
        PyObject *name = ft_trace_thread_name(t, i);
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

int
ft_write_chrome(ft_trace *t, PyObject *file, const ft_chrome_opts *o)
{
    if (ft_trace_build(t) < 0) {
        return -1;
    }
    chrome c = {0};
    c.t = t;
    c.o = o;
    c.first = 1;
    /* Real time only when every call carries its own timestamps. */
    c.real_time = t->cfg.timing && !ft_trace_is_rebuilt(t) && t->nnodes > 0;
    c.origin = UINT64_MAX;
    for (size_t i = 0; i < t->nnodes && c.real_time; i++) {
        const ft_node *nd = &t->nodes[i];
        if (!nd->timed) {
            if (nd->end != FT_END_UNFINISHED) {
                c.real_time = 0;
            }
            continue;
        }
        if (nd->t0 < c.origin) {
            c.origin = nd->t0;
        }
        if (nd->t0 > c.last) {
            c.last = nd->t0;
        }
        if (nd->end != FT_END_UNFINISHED && nd->t1 > c.last) {
            c.last = nd->t1;
        }
    }
    if (c.origin == UINT64_MAX) {
        c.origin = 0;
        c.real_time = 0;
    }
    if (ft_sink_open(&c.k, file, o->binary) < 0) {
        return -1;
    }
    open_call *stack = NULL;
    size_t cap = 0;
    int rc = -1;
    ft_sbuf_puts(&c.k.out, "{\"traceEvents\":[");
    if (write_metadata(&c) < 0) {
        goto done;
    }
    for (uint32_t i = 0; i < t->nthreads; i++) {
        if (write_thread(&c, i, &stack, &cap) < 0) {
            goto done;
        }
    }
    ft_sbuf *s = &c.k.out;
    ft_sbuf_puts(s, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"producer\":\"flowtrace\",");
    ft_sbuf_puts(s, c.real_time
                        ? "\"clock\":\"monotonic: ts and dur are microseconds from the first "
                          "call\""
                        : "\"clock\":\"event order: no timing was recorded; ts counts call "
                          "starts and ends (one unit each, per thread from 0), so dur is the "
                          "number of events inside a call, not time\"");
    if (o->meta != NULL) {
        ft_sbuf_puts(s, ",\"meta\":");
        ft_sbuf_put_str(s, o->meta);
    }
    ft_sbuf_puts(s, "}}\n");
    rc = ft_sink_flush(&c.k);
done:
    PyMem_RawFree(stack);
    ft_sink_close(&c.k);
    return rc;
}
