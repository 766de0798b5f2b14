/* build.c - pairing entries and exits into call nodes, per thread.
 *
 * Entries (PY_START, PY_RESUME, PY_THROW) open a node under the node on top
 * of the thread's shadow stack; exits (PY_RETURN, PY_YIELD, PY_UNWIND) close
 * the innermost open node of the same code. An exit with no matching open
 * node belongs to a frame that began before tracing started: it is skipped.
 * Nodes still open at the end are marked unfinished.
 *
 * A generator or coroutine resumed later shows as a "resume" node under
 * whoever resumed it, so the consumer's own calls between two next() are
 * the consumer's children, never the generator's; the frame identity the
 * recorder keeps for them links every resumption to the generator's first
 * node (`origin`). Exception markers (raised / re-raised / caught in a
 * frame) are children of the frame's node; a raise that ends its frame at
 * once is left to the frame's own "↯" line, and a handler that re-raises
 * with nothing in between (finally, with, a bare except: raise) cancels
 * out: the exception simply went through.
 *
 * Passes: build_thread reads each thread's records (one take_* handler per
 * kind of record, the thread's reading state in a `reader`); then the
 * links across threads and the last segments of generators
 * (link_generators), the frames that began before tracing (midflight.c),
 * the asyncio lanes laid out in pre-order (lanes.c), and nanoseconds.
 */
#include "tree/builder.h"

#include "common/growable.h"
#include "tree/lanes.h"
#include "tree/midflight.h"
#include "recording/values.h"

/* Room for the nodes at once: a call takes two records at least (its
 * start and its end), so half the records is enough for most traces; the
 * arrays still grow if not. Pages of the estimate that are never written
 * cost nothing (large allocations are mapped lazily), whereas growing by
 * doubling copied the whole tree several times. A lazy build asks for
 * room for one node per record (the most there can be): its nodes must
 * never move while a walk reads them. */
static int
presize(builder *b, const ft_tree *t, size_t cap)
{
    if (cap == 0) {
        size_t n = 0;
        for (uint32_t i = 0; i < t->nthreads; i++) {
            for (const ft_chunk *c = t->thread_vec[i]->head; c != NULL; c = c->next) {
                n += c->used;
            }
        }
        cap = n / 2 + 16;
    }
    b->nodes = PyMem_RawMalloc(cap * sizeof(ft_node));
    if (b->nodes == NULL) {
        return -1;
    }
    b->cap = cap;
    return 0;
}

static int
add_node(builder *b, const ft_node *nd, uint64_t frame, int push)
{
    if (b->n >= FT_NODES_MAX) {
        return -1; /* indices are 32-bit: MemoryError */
    }
    if (b->n == b->cap) {
        size_t nc = ft_grown_capacity(b->cap, b->n + 1, 1024);
        if (nc == 0 || FT_RESIZE(b->nodes, nc) < 0) {
            return -1;
        }
        b->cap = nc;
    }
    if (frame != 0 && b->keep_gens) {
        if (FT_GROW(b->gens, b->cap_gens, b->ngens + 1, 256) < 0) {
            return -1;
        }
        b->gens[b->ngens++] = (ft_segment){frame, 0, (uint32_t)b->n, nd->kind == FT_NODE_CALL,
                                            nd->origin};
    }
    if (push && FT_GROW(b->stack, b->stack_cap, b->depth + 1, 256) < 0) {
        return -1;
    }
    if (nd->parent >= 0) {
        b->nodes[nd->parent].nchildren++;
    }
    b->nodes[b->n] = *nd;
    if (b->n < b->nspans) {
        b->spans[b->n] = (ft_span){0, 0}; /* a removed marker's, maybe */
    }
    if (push) {
        b->stack[b->depth++] = (open_node){(int64_t)b->n, nd->code_id};
    }
    b->n++;
    return 0;
}

/* The span of the node just added: t0, and t1 (0 until its exit). */
static int
set_span(builder *b, uint64_t t0, uint64_t t1)
{
    ft_span *sp = ft_span_at(&b->spans, &b->nspans, b->cap, b->n - 1);
    if (sp == NULL) {
        return -1;
    }
    if (b->lazy) { /* in ns from the first timestamp, as to_nanoseconds does */
        t0 = ft_build_ns(b, t0, 0);
        t1 = ft_build_ns(b, t1, t0);
    }
    *sp = (ft_span){t0, t1};
    return 0;
}


/* A frame or task whose node was made in the region (lazy). */
static int
region_key(builder *b, uint64_t key)
{
    if (FT_GROW(b->region_keys, b->cap_region_keys, b->nregion_keys + 1, 64) < 0) {
        return -1;
    }
    b->region_keys[b->nregion_keys++] = key;
    return 0;
}

/* Map entries made in the region follow their nodes. */
static void
remap_keys(const builder *b, ft_u64map *m, const uint32_t *map, size_t lo, size_t hi)
{
    for (size_t k = 0; k < b->nregion_keys; k++) {
        int64_t v = ft_u64map_get(m, b->region_keys[k]);
        if (v >= (int64_t)lo && v < (int64_t)hi) {
            (void)ft_u64map_put(m, b->region_keys[k], (int64_t)map[v - (int64_t)lo]); /* present */
        }
    }
}

int
ft_build_close_region(builder *b)
{
    size_t lo = b->region_lo, hi = b->n;
    b->region_lo = SIZE_MAX;
    uint32_t *map;
    if (lo >= hi) {
        b->nregion_keys = 0;
        return 0;
    }
    if (ft_regroup_range(b->nodes, b->spans, lo, hi, &map) < 0) {
        return -1;
    }
    remap_keys(b, &b->starts, map, lo, hi);
    remap_keys(b, &b->lanes, map, lo, hi);
    for (size_t k = b->ngens; k-- > 0 && b->gens[k].node >= lo;) {
        ft_segment *g = &b->gens[k];
        g->node = map[g->node - lo];
        if (g->origin >= (int32_t)lo) {
            g->origin = (int32_t)map[g->origin - (int32_t)lo];
        }
    }
    b->nregion_keys = 0;
    PyMem_RawFree(map);
    return 0;
}

/* FT_REC_TASK: the running task changed (address 0: none). Its steps go
 * under its lane, made at its first step on this thread. */
static int
take_task(builder *b, reader *rd, const record *x)
{
    if (x->word == 0) {
        rd->lane = -1;
        return 0;
    }
    int64_t l = ft_u64map_get(&b->lanes, x->word);
    rd->lane_base = b->depth;
    rd->lane_held = ft_rec_has_frame(x->r); /* FT_REC_TASK_UNDER_WAY */
    if (l >= 0 && (size_t)l >= rd->first) { /* this thread's */
        rd->lane = l;
        return 0;
    }
    ft_node nd = {0};
    nd.parent = x->top; /* the frame running the event loop */
    nd.code_id = x->code;
    nd.thread = rd->thread;
    nd.kind = FT_NODE_TASK;
    nd.end = FT_END_RETURN;
    nd.origin = (int64_t)b->n;
    nd.args = ft_rec_payload(x->r);
    int64_t c = ft_u64map_get(&b->creators, x->word);
    if (c >= 0) {
        uint32_t cthread = (uint32_t)(c >> 32), cpayload = (uint32_t)c;
        if (cthread == rd->thread) {
            nd.result = cpayload;
        }
        else { /* copy the creator's name into this thread's store */
            PyObject *txt = ft_value_text(b->threads[cthread], cpayload);
            if (txt == NULL) {
                PyErr_Clear();
            }
            nd.result = ft_store_text(rd->tb, txt);
        }
    }
    rd->lane = (int64_t)b->n;
    if (add_node(b, &nd, 0, 0) < 0 || ft_u64map_put(&b->lanes, x->word, rd->lane) < 0) {
        return -1;
    }
    b->has_lanes = 1;
    if (b->lazy) { /* the walk waits until the loop's frame returns */
        if (b->region_lo == SIZE_MAX) {
            b->region_lo = x->top >= 0 ? (size_t)x->top + 1 : rd->first;
            b->region_depth = x->top >= 0 ? b->depth - 1 : SIZE_MAX;
        }
        return region_key(b, x->word);
    }
    return 0;
}

/* The arguments of a call that starts: announced by @trace, read from its
 * frame (--args), or none at all. */
static uint32_t
start_args(builder *b, reader *rd, uint32_t code)
{
    uint32_t args = FT_VAL_ABSENT;
    if (rd->args_cut) {
        rd->args_cut = 0;
        rd->argv.code_id = UINT32_MAX;
        return FT_VAL_ABSENT;
    }
    for (int k = rd->npend - 1; k >= 0; k--) {
        if (rd->pend[k].code_id == code) {
            args = rd->pend[k].payload;
            memmove(rd->pend + k, rd->pend + k + 1,
                    sizeof(rd->pend[0]) * (size_t)(rd->npend - k - 1));
            rd->npend--;
            break;
        }
    }
    if (rd->argv.code_id == code) {
        Py_ssize_t npos = 0;
        PyObject *names = NULL;
        if (ft_tree_argspec(b->tree, code, &npos, &names) == 0) {
            args = ft_argv_text(rd->tb, npos, names, &rd->argv);
            Py_DECREF(names);
        }
        rd->argv.code_id = UINT32_MAX;
    }
    else if (b->all_args && args == FT_VAL_ABSENT) {
        /* --args and no parameter recorded: it takes none */
        if (rd->no_args == FT_VAL_ABSENT) {
            rd->no_args = ft_store_text(rd->tb, PyUnicode_New(0, 0));
        }
        args = rd->no_args;
    }
    return args;
}

/* FT_REC_START, _RESUME, _THROW: a node opens under the innermost open
 * one (or the running task's lane). */
static int
take_entry(builder *b, reader *rd, const record *x)
{
    ft_node nd = {0};
    nd.parent = (rd->lane >= 0 && b->depth == rd->lane_base) ? rd->lane : x->top;
    if (x->kind != FT_REC_START || rd->argv.code_id != x->code) {
        rd->argv.code_id = UINT32_MAX;
    }
    nd.code_id = x->code;
    nd.thread = rd->thread;
    nd.kind = x->kind == FT_REC_START    ? FT_NODE_CALL
              : x->kind == FT_REC_RESUME ? FT_NODE_RESUME
                                         : FT_NODE_THROW;
    nd.end = FT_END_UNFINISHED;
    nd.timed = (uint8_t)x->has_ts;
    nd.origin = (int64_t)b->n;
    if (x->kind == FT_REC_START) {
        nd.args = start_args(b, rd, x->code);
        if (x->frame && (ft_u64map_put(&b->starts, x->frame, (int64_t)b->n) < 0 ||
                         (b->region_lo != SIZE_MAX && region_key(b, x->frame) < 0))) {
            return -1;
        }
    }
    else {
        /* the latest start of this frame on this thread; one begun
         * on another thread is found by order, later */
        nd.origin = ft_u64map_get(&b->starts, x->frame);
        if (nd.origin >= 0 && (size_t)nd.origin < rd->first) { /* an earlier thread's */
            nd.origin = -1;
        }
    }
    if (add_node(b, &nd, x->frame, 1) < 0 || (x->has_ts && set_span(b, x->ts, 0) < 0)) {
        return -1;
    }
    if (x->frame && rd->gseq) {
        if (b->keep_gens) {
            b->gens[b->ngens - 1].seq = rd->gseq;
        }
        rd->gseq = (1ull << 32) | (uint32_t)(rd->gseq + 1);
    }
    if (x->frame && b->lazy) {
        /* its generator's last segment, as the survey found (lazy.c):
         * left suspended if it ends in a yield (take_exit) */
        size_t g = b->ngen_entries++;
        if (b->last_seg[g / 8] & (1u << (g % 8))) {
            b->nodes[b->n - 1].flags |= FT_NF_LEFT_SUSPENDED;
        }
    }
    return 0;
}

/* FT_REC_RAISE, _RERAISE, _HANDLED: a marker in the innermost frame. */
static int
take_marker(builder *b, reader *rd, const record *x)
{
    int64_t top = x->top;
    if (top < 0 || b->nodes[top].code_id != x->code) {
        return 0; /* in a frame that began before tracing */
    }
    if (x->kind == FT_REC_RERAISE) {
        /* A handler that let the exception go on (finally, with,
         * except: raise) with nothing recorded in between: neither
         * caught nor re-raised in any visible sense. */
        ft_node *last = &b->nodes[b->n - 1];
        if ((int64_t)(b->n - 1) != top && last->parent == top &&
            last->kind == FT_NODE_HANDLED && last->exc == ft_rec_payload(x->r)) {
            b->n--;
            b->nodes[top].nchildren--;
            return 0;
        }
    }
    ft_node nd = {0};
    nd.parent = top;
    nd.code_id = x->code;
    nd.thread = rd->thread;
    nd.kind = x->kind == FT_REC_RAISE     ? FT_NODE_RAISE
              : x->kind == FT_REC_RERAISE ? FT_NODE_RERAISE
                                          : FT_NODE_HANDLED;
    nd.exc = ft_rec_payload(x->r);
    nd.origin = (int64_t)b->n;
    nd.timed = (uint8_t)x->has_ts;
    if (add_node(b, &nd, 0, 0) < 0) {
        return -1;
    }
    return x->has_ts ? set_span(b, x->ts, x->ts) : 0;
}

/* An exit with no open node of its code: the frame began before tracing
 * started. Noted: it will adopt what was recorded on this thread so far
 * (midflight.h). */
static int
note_adoption(builder *b, reader *rd, const record *x)
{
    if (FT_GROW(b->adopt, b->cap_adopt, b->nadopt + 1, 16) < 0) {
        return -1;
    }
    ft_adoption *a = &b->adopt[b->nadopt++];
    memset(a, 0, sizeof(*a));
    a->pos = b->n;
    a->thread = rd->thread;
    a->cut = rd->tb->dropped > 0;
    a->code_id = x->code;
    if (x->kind == FT_REC_UNWIND) {
        a->end = ft_rec_payload(x->r) == FT_VAL_GENEXIT ? FT_END_CLOSED : FT_END_RAISE;
        a->exc = ft_rec_payload(x->r);
    }
    else {
        a->end = x->kind == FT_REC_RETURN ? FT_END_RETURN : FT_END_YIELD;
        a->result = ft_rec_payload(x->r);
    }
    return 0;
}

void
ft_build_unfinished(builder *b, size_t d)
{
    for (size_t k = d; k < b->depth; k++) {
        b->nodes[b->stack[k].node].flags &= (uint8_t)~FT_NF_LEFT_SUSPENDED;
    }
}

/* FT_REC_RETURN, _YIELD, _UNWIND: the innermost open node of the same
 * code closes (anything open above it lost its exit: unfinished). */
static int
take_exit(builder *b, reader *rd, const record *x)
{
    size_t d = b->depth;
    while (d > 0 && b->stack[d - 1].code != x->code) {
        d--;
    }
    uint32_t payload = ft_rec_payload(x->r);
    if (d == 0 && x->kind == FT_REC_YIELD) {
        if (rd->lane_held) {
            rd->lane = -1; /* the snapshot's first step is over */
            rd->lane_held = 0;
        }
        return 0; /* suspended; if resumed it shows as a resumption */
    }
    if (d == 0 && x->kind == FT_REC_UNWIND && payload == FT_VAL_GENEXIT) {
        /* a suspended generator closed with no entry recorded:
         * from 3.13.10 CPython reports PY_UNWIND alone for a
         * close() that runs nothing (compat.h). Not a frame that
         * began before tracing. */
        return 0;
    }
    if (d == 0) {
        return note_adoption(b, rd, x);
    }
    int64_t idx = b->stack[d - 1].node;
    ft_node *nd = &b->nodes[idx];
    if (x->kind == FT_REC_UNWIND) {
        /* a raise marker that ended the frame at once: the frame's
         * own line says it */
        ft_node *last = b->n ? &b->nodes[b->n - 1] : NULL;
        if (last != NULL && last->parent == idx && last->kind == FT_NODE_RAISE &&
            last->exc == payload) {
            b->n--;
            nd->nchildren--;
        }
        if (payload == FT_VAL_GENEXIT) {
            nd->end = FT_END_CLOSED;
        }
        else {
            nd->end = FT_END_RAISE;
            nd->exc = payload;
        }
    }
    else {
        nd->end = x->kind == FT_REC_RETURN ? FT_END_RETURN : FT_END_YIELD;
        nd->result = payload;
    }
    if (nd->timed && x->has_ts) { /* made at its entry */
        b->spans[idx].t1 = b->lazy ? ft_build_ns(b, x->ts, b->spans[idx].t0) : x->ts;
    }
    else {
        nd->timed = 0;
    }
    if (b->lazy) { /* the flag of its entry (take_entry) stays on a yield only */
        if (nd->end != FT_END_YIELD) {
            nd->flags &= (uint8_t)~FT_NF_LEFT_SUSPENDED;
        }
        ft_build_unfinished(b, d);
    }
    b->depth = d - 1; /* anything above lost its exit: unfinished */
    if (b->region_lo != SIZE_MAX && b->region_depth != SIZE_MAX &&
        b->depth <= b->region_depth && ft_build_close_region(b) < 0) {
        return -1; /* (lazy) the loop's frame returned */
    }
    if (rd->lane >= 0 && b->depth <= rd->lane_base && !rd->lane_held) {
        rd->lane = -1; /* the task's step is over: back in the event loop */
    }
    return 0;
}

/* The records that only prepare a later entry: argument values, the
 * order of the next generator entry, a task's creation. */
static int
take_note(builder *b, reader *rd, const record *x)
{
    uint32_t payload = ft_rec_payload(x->r);
    if ((x->kind == FT_REC_ARGV || x->kind == FT_REC_ARGX) && rd->argv.code_id != x->code) {
        rd->argv.code_id = x->code; /* a new call's arguments */
        rd->argv.nnamed = rd->argv.nextra = 0;
    }
    switch (x->kind) {
    case FT_REC_GSEQ:
        rd->gseq = (1ull << 32) | payload;
        break;
    case FT_REC_ARGV:
        if (rd->argv.nnamed < FT_ARGV_MAX) {
            rd->argv.named[rd->argv.nnamed++] = payload;
        }
        break;
    case FT_REC_ARGX:
        if (rd->argv.nextra < FT_ARGV_MAX + FT_ARGV_TEXTS) {
            rd->argv.extra_kw[rd->argv.nextra] = (uint8_t)ft_rec_has_frame(x->r);
            rd->argv.extra[rd->argv.nextra++] = payload;
        }
        break;
    case FT_REC_TASK_NEW: /* a new task: a new lane, and who made it */
        if (ft_u64map_put(&b->creators, x->word, ((int64_t)rd->thread << 32) | payload) < 0 ||
            ft_u64map_put(&b->lanes, x->word, -1) < 0) {
            return -1;
        }
        break;
    case FT_REC_ARGS:
        if (rd->npend == MAX_PENDING) {
            memmove(rd->pend, rd->pend + 1, sizeof(rd->pend[0]) * (MAX_PENDING - 1));
            rd->npend--;
        }
        rd->pend[rd->npend].code_id = x->code;
        rd->pend[rd->npend].payload = payload;
        rd->npend++;
        break;
    default:
        break;
    }
    return 0;
}

void
ft_build_thread_begin(builder *b, reader *rd, rec_iter *it, ft_threadbuf *tb, uint32_t thread)
{
    *rd = (reader){.tb = tb, .thread = thread, .first = b->n, .no_args = FT_VAL_ABSENT,
                   .lane = -1};
    rd->argv.nnamed = rd->argv.nextra = 0;
    rd->argv.code_id = UINT32_MAX;
    *it = (rec_iter){tb->head, 0, b->release, 0, b->release ? GIVE_RECORDS : SIZE_MAX};
    b->depth = 0;
    /* A flight recorder's window may begin inside the records before a
     * call (its arguments, one by one) or at its start, theirs dropped:
     * until something else comes, the argument records are skipped and
     * the first call's arguments are unknown, never the ones kept. */
    rd->args_cut = tb->dropped > 0;
}

/* One record, to its handler (one per kind of record; the shadow stack is
 * b->stack). */
int
ft_build_take(builder *b, reader *rd, record *x)
{
    if (rd->args_cut) {
        if (x->kind == FT_REC_ARGV || x->kind == FT_REC_ARGX) {
            return 0;
        }
        if (x->kind != FT_REC_START && x->kind != FT_REC_GSEQ) {
            rd->args_cut = 0;
        }
    }
    x->top = b->depth ? b->stack[b->depth - 1].node : -1;
    if (rd->lane >= 0 && b->depth < rd->lane_base) {
        rd->lane = -1; /* the frame that ran the event loop has returned */
    }
    switch (x->kind) {
    case FT_REC_TASK:
        return take_task(b, rd, x);
    case FT_REC_START:
    case FT_REC_RESUME:
    case FT_REC_THROW:
        return take_entry(b, rd, x);
    case FT_REC_RAISE:
    case FT_REC_RERAISE:
    case FT_REC_HANDLED:
        return take_marker(b, rd, x);
    case FT_REC_RETURN:
    case FT_REC_YIELD:
    case FT_REC_UNWIND:
        return take_exit(b, rd, x);
    default:
        return take_note(b, rd, x);
    }
}

/* One thread's records, in order, into nodes. */
static int
build_thread(builder *b, ft_threadbuf *tb, uint32_t thread)
{
    reader rd;
    rec_iter it;
    record x;
    ft_build_thread_begin(b, &rd, &it, tb, thread);
    while (read_record(&it, &x)) {
        if (ft_build_take(b, &rd, &x) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The start time of node `node`, when it is timed (segments.h). */
static int
node_time(const void *ctx, uint32_t node, uint64_t *t0)
{
    const builder *b = ctx;
    if (!b->nodes[node].timed) {
        return 0;
    }
    *t0 = b->spans[node].t0;
    return 1;
}

/* The last segment of a generator: left suspended if it ended in a yield. */
static void
flag_last(void *ctx, size_t k)
{
    builder *b = ctx;
    ft_node *nd = &b->nodes[b->gens[k].node];
    if (nd->end == FT_END_YIELD) {
        nd->flags |= FT_NF_LEFT_SUSPENDED;
    }
}

/* Resumptions whose generator began on another thread get their origin;
 * then (`flags`) the last segment of each generator that ended suspended
 * is flagged (a lazy build flagged them as it went: lazy.c). */
static int
link_generators(builder *b, int flags)
{
    if (ft_segments_link(b->gens, b->ngens, &b->starts) < 0) {
        return -1;
    }
    for (size_t k = 0; k < b->ngens; k++) {
        if (!b->gens[k].call) {
            b->nodes[b->gens[k].node].origin = b->gens[k].origin;
        }
    }
    return flags ? ft_segments_last(b->gens, b->ngens, node_time, b, flag_last, b) : 0;
}

/* Timestamps were recorded in the clock's raw ticks: from here on every
 * reader (writers, stats, CallEvent) sees nanoseconds from the trace's
 * first timestamp. */
static void
to_nanoseconds(ft_tree *t)
{
    uint64_t base = UINT64_MAX;
    for (size_t i = 0; i < t->nspans; i++) {
        if (t->nodes[i].timed && t->spans[i].t0 < base) {
            base = t->spans[i].t0;
        }
    }
    if (base == UINT64_MAX) {
        return;
    }
    double r = t->cfg.ns_per_tick;
    if (t->cfg.anchor != 0) {
        /* a snapshot's anchor is later than anything it holds */
        t->cfg.anchor = t->cfg.anchor >= base
                            ? (uint64_t)((double)(t->cfg.anchor - base) * r + 0.5) : 0;
    }
    for (size_t i = 0; i < t->nspans; i++) {
        ft_span *sp = &t->spans[i];
        if (t->nodes[i].timed) {
            sp->t0 = (uint64_t)((double)(sp->t0 - base) * r + 0.5);
            sp->t1 = sp->t1 >= base ? (uint64_t)((double)(sp->t1 - base) * r + 0.5) : sp->t0;
        }
    }
    t->cfg.ns_per_tick = 1.0;
}

int
ft_build_begin(builder *b, ft_tree *t, size_t cap, int counted)
{
    memset(b, 0, sizeof(*b));
    b->keep_gens = 1;
    b->region_lo = SIZE_MAX;
    b->threads = t->thread_vec;
    b->tree = t;
    b->all_args = t->cfg.args;
    if (t->release_records && !t->rebuilt) {
        /* what the records say, kept before they go */
        if (!counted) {
            ft_tree_count(t, &t->kept_calls, &t->kept_events);
        }
        b->release = 1;
    }
    return presize(b, t, cap);
}

void
ft_build_free_work(builder *b)
{
    PyMem_RawFree(b->stack);
    PyMem_RawFree(b->region_keys);
    PyMem_RawFree(b->gens);
    PyMem_RawFree(b->adopt);
    ft_u64map_free(&b->starts);
    ft_u64map_free(&b->lanes);
    ft_u64map_free(&b->creators);
    b->stack = NULL;
    b->region_keys = NULL;
    b->gens = NULL;
    b->adopt = NULL;
}

int
ft_build_end(builder *b, ft_tree *t, size_t *first, int rc)
{
    if (rc == 0) {
        rc = link_generators(b, !b->lazy);
    }
    /* only the linking needed them: gone before the passes that reorder */
    PyMem_RawFree(b->gens);
    b->gens = NULL;
    if (rc == 0 && b->nadopt > 0 && t->cfg.midflight) {
        rc = ft_adopt_midflight(&b->nodes, &b->spans, &b->nspans, &b->n, first, t->nthreads,
                                b->adopt, b->nadopt);
    }
    b->has_lanes = b->has_lanes && !b->lazy; /* laid out as they came (lazy) */
    if (rc == 0 && b->has_lanes && b->spans != NULL && b->n > 0 &&
        ft_span_at(&b->spans, &b->nspans, b->n, b->n - 1) == NULL) {
        rc = -1; /* the spans move with the nodes: one per node */
    }
    if (rc == 0 && b->has_lanes) {
        rc = ft_regroup_by_root(b->nodes, b->spans, b->n, first, t->nthreads);
    }
    if (rc == 0 && b->nodes == NULL) {
        b->nodes = PyMem_RawMalloc(sizeof(ft_node)); /* non-NULL marks "built" */
        rc = b->nodes == NULL ? -1 : 0;
    }
    ft_build_free_work(b);
    if (b->release) { /* read, given back (even by a build that
                       * failed): none is kept any more */
        for (uint32_t i = 0; i < t->nthreads; i++) {
            for (ft_chunk *c = t->thread_vec[i]->head; c != NULL; c = c->next) {
                c->used = 0;
            }
        }
        t->records_released = 1;
    }
    if (rc < 0) {
        PyMem_RawFree(b->nodes);
        PyMem_RawFree(b->spans);
        PyMem_RawFree(first);
        PyErr_NoMemory();
        return -1;
    }
    if (b->n > 0 && b->n < b->cap && b->nodes != NULL) {
        /* give back the unused part of the estimate (never touched); on
         * failure the larger block is kept */
        (void)FT_RESIZE(b->nodes, b->n);
    }
    ft_spans_fit(&b->spans, &b->nspans, b->n); /* likewise */
    t->nodes = b->nodes;
    t->nnodes = b->n;
    t->spans = b->spans;
    t->nspans = b->nspans;
    t->thread_first = first;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        Py_CLEAR(t->thread_vec[i]->texts); /* argument texts were shared */
    }
    if (!b->lazy) { /* a lazy build's times were converted as they came */
        to_nanoseconds(t);
    }
    return 0;
}

int
ft_tree_build(ft_tree *t)
{
    if (t->lazy != NULL) {
        return ft_lazy_finish(t);
    }
    if (t->nodes != NULL || t->thread_first != NULL) {
        return 0;
    }
    if (t->records_released) { /* a build that failed, or a walk, gave them back */
        PyErr_SetString(PyExc_MemoryError, "flowtrace: the records were given back as the "
                                           "tree was read (or its build failed): load the "
                                           "file again");
        return -1;
    }
    builder b;
    size_t *first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    int rc = first == NULL ? -1 : ft_build_begin(&b, t, 0, 0);
    if (first == NULL) {
        memset(&b, 0, sizeof(b));
    }
    for (uint32_t i = 0; i < t->nthreads && rc == 0; i++) {
        first[i] = b.n;
        rc = build_thread(&b, t->thread_vec[i], i);
    }
    if (rc == 0) {
        first[t->nthreads] = b.n;
    }
    return ft_build_end(&b, t, first, rc);
}
