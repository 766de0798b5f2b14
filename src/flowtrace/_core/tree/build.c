/* tree.c - pairing entries and exits into call nodes, per thread.
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
 */
#include "tree/tree.h"

#include "common/growable.h"
#include "recording/frame_args.h"
#include "tree/lanes.h"
#include "tree/midflight.h"
#include "recording/record.h"
#include "recording/values.h"

typedef struct {
    const ft_chunk *chunk; /* borrowed: current chunk */
    size_t i;              /* next record index in chunk */
} rec_iter;

static int
rec_next(rec_iter *it, ft_record *out)
{
    while (it->chunk != NULL && it->i >= it->chunk->used) {
        it->chunk = it->chunk->next;
        it->i = 0;
    }
    if (it->chunk == NULL) {
        return 0;
    }
    *out = it->chunk->recs[it->i++];
    return 1;
}

/* frame address -> node index of the generator's first node */
static inline size_t
fmix(uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 24);
}

typedef struct {
    uint64_t *keys;  /* owned; 0 = empty */
    int64_t *vals;   /* owned */
    size_t mask;     /* size - 1 */
    size_t count;
} frame_map;

static int
fmap_put(frame_map *m, uint64_t key, int64_t val)
{
    if ((m->count + 1) * 2 > m->mask) {
        size_t nsize = m->mask ? (m->mask + 1) * 2 : 256;
        uint64_t *nk = PyMem_RawCalloc(nsize, sizeof(uint64_t));
        int64_t *nv = PyMem_RawCalloc(nsize, sizeof(int64_t));
        if (nk == NULL || nv == NULL) {
            PyMem_RawFree(nk);
            PyMem_RawFree(nv);
            return -1;
        }
        for (size_t i = 0; m->keys && i <= m->mask; i++) {
            if (m->keys[i]) {
                size_t j = fmix(m->keys[i]) & (nsize - 1);
                while (nk[j]) {
                    j = (j + 1) & (nsize - 1);
                }
                nk[j] = m->keys[i];
                nv[j] = m->vals[i];
            }
        }
        PyMem_RawFree(m->keys);
        PyMem_RawFree(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->mask = nsize - 1;
    }
    size_t j = fmix(key) & m->mask;
    while (m->keys[j] && m->keys[j] != key) {
        j = (j + 1) & m->mask;
    }
    if (!m->keys[j]) {
        m->count++;
    }
    m->keys[j] = key;
    m->vals[j] = val;
    return 0;
}

static int64_t
fmap_get(const frame_map *m, uint64_t key)
{
    if (m->keys == NULL || key == 0) {
        return -1;
    }
    size_t j = fmix(key) & m->mask;
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            return m->vals[j];
        }
        j = (j + 1) & m->mask;
    }
    return -1;
}

typedef struct {
    ft_node *nodes;   /* owned until handed over */
    uint64_t *frames; /* owned: frame address per node (0: none) */
    uint64_t *seqs;   /* owned: per node, a generator entry's order in the
                         session across threads (FT_REC_GSEQ), with bit 32
                         set; 0 when unknown or not such an entry */
    size_t n, cap;
    int64_t *stack;   /* owned: open node indices */
    size_t depth, stack_cap;
    frame_map starts; /* owned: frame -> generator's first node */
    ft_adoption *adopt; /* owned: exits of frames that began before tracing */
    size_t nadopt, cap_adopt;
    frame_map lanes;   /* owned: task address -> its lane root node */
    frame_map creators; /* owned: task address -> (thread << 32 | payload of
                           the creating task's name) */
    int has_lanes;     /* some lane was made: lay the nodes out again */
    ft_threadbuf **threads; /* borrowed: the trace's buffers, by thread */
    const ft_codetable *codes; /* borrowed: the trace's code table */
    int all_args;      /* --args: every call's arguments were captured */
} builder;

/* Room for the nodes at once: a call takes two records at least (its
 * start and its end), so half the records is enough for most traces; the
 * arrays still grow if not. Pages of the estimate that are never written
 * cost nothing (large allocations are mapped lazily), whereas growing by
 * doubling copied the whole tree several times. */
static int
presize(builder *b, const ft_tree *t)
{
    size_t n = 0;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        for (const ft_chunk *c = t->thread_vec[i]->head; c != NULL; c = c->next) {
            n += c->used;
        }
    }
    size_t cap = n / 2 + 16;
    b->nodes = PyMem_RawMalloc(cap * sizeof(ft_node));
    b->frames = PyMem_RawMalloc(cap * sizeof(uint64_t));
    b->seqs = PyMem_RawMalloc(cap * sizeof(uint64_t));
    if (b->nodes == NULL || b->frames == NULL || b->seqs == NULL) {
        return -1;
    }
    b->cap = cap;
    return 0;
}

static int
add_node(builder *b, const ft_node *nd, uint64_t frame, int push)
{
    if (b->n == b->cap) { /* nodes, frames and seqs share the capacity */
        size_t nc = ft_grown_capacity(b->cap, b->n + 1, 1024);
        if (nc == 0 || FT_RESIZE(b->nodes, nc) < 0 || FT_RESIZE(b->frames, nc) < 0 ||
            FT_RESIZE(b->seqs, nc) < 0) {
            return -1;
        }
        b->cap = nc;
    }
    if (push && FT_GROW(b->stack, b->stack_cap, b->depth + 1, 256) < 0) {
        return -1;
    }
    if (nd->parent >= 0) {
        b->nodes[nd->parent].nchildren++;
    }
    b->nodes[b->n] = *nd;
    b->frames[b->n] = frame;
    b->seqs[b->n] = 0;
    if (push) {
        b->stack[b->depth++] = (int64_t)b->n;
    }
    b->n++;
    return 0;
}

#define MAX_PENDING 16

/* Arguments announced by @trace, waiting for their PY_START. */
typedef struct {
    uint32_t code_id;
    uint32_t payload;
} pending_args;

static int
build_thread(builder *b, ft_threadbuf *tb, uint32_t thread)
{
    pending_args pend[MAX_PENDING];
    int npend = 0;
    ft_argv argv;  /* --args values for the next START */
    uint32_t no_args = FT_VAL_ABSENT; /* payload of "" in this thread */
    argv.nnamed = argv.nextra = 0;
    argv.code_id = UINT32_MAX;
    rec_iter it = {tb->head, 0};
    ft_record r;
    uint64_t gseq = 0;    /* order of this thread's next generator entry,
                             with bit 32 set once known (FT_REC_GSEQ) */
    int64_t lane = -1;    /* lane root of the task running now, if any */
    size_t lane_base = 0; /* stack depth where its steps start */
    b->depth = 0;
    while (rec_next(&it, &r)) {
        unsigned kind = ft_rec_kind(r);
        uint32_t code = ft_rec_code(r);
        uint64_t ts = 0, frame = 0;
        int has_ts = ft_rec_has_ts(r);
        if (has_ts && !rec_next(&it, &ts)) {
            break; /* truncated by a memory failure */
        }
        if (ft_rec_has_frame(r)) {
            frame = ft_rec_payload(r);
        }
        int64_t top = b->depth ? b->stack[b->depth - 1] : -1;
        if (lane >= 0 && b->depth < lane_base) {
            lane = -1; /* the frame that ran the event loop has returned */
        }
        uint64_t word = 0;
        if ((kind == FT_REC_TASK || kind == FT_REC_TASK_NEW) && !rec_next(&it, &word)) {
            break;
        }
        if ((kind == FT_REC_ARGV || kind == FT_REC_ARGX) && argv.code_id != code) {
            argv.code_id = code; /* a new call's arguments */
            argv.nnamed = argv.nextra = 0;
        }
        switch (kind) {
        case FT_REC_GSEQ:
            gseq = (1ull << 32) | ft_rec_payload(r);
            break;
        case FT_REC_ARGV:
            if (argv.nnamed < FT_ARGV_MAX) {
                argv.named[argv.nnamed++] = ft_rec_payload(r);
            }
            break;
        case FT_REC_ARGX:
            if (argv.nextra < FT_ARGV_MAX + FT_ARGV_TEXTS) {
                argv.extra_kw[argv.nextra] = (uint8_t)ft_rec_has_frame(r);
                argv.extra[argv.nextra++] = ft_rec_payload(r);
            }
            break;
        case FT_REC_TASK_NEW:
            if (fmap_put(&b->creators, word, ((int64_t)thread << 32) | ft_rec_payload(r)) < 0 ||
                fmap_put(&b->lanes, word, -1) < 0) { /* a new task: a new lane */
                return -1;
            }
            break;
        case FT_REC_TASK: {
            if (word == 0) {
                lane = -1;
                break;
            }
            int64_t l = fmap_get(&b->lanes, word);
            lane_base = b->depth;
            if (l >= 0 && b->nodes[l].thread == thread) {
                lane = l;
                break;
            }
            ft_node nd = {0};
            nd.parent = top; /* the frame running the event loop */
            nd.code_id = code;
            nd.thread = thread;
            nd.kind = FT_NODE_TASK;
            nd.end = FT_END_RETURN;
            nd.origin = (int64_t)b->n;
            nd.args = ft_rec_payload(r);
            int64_t c = fmap_get(&b->creators, word);
            if (c >= 0) {
                uint32_t cthread = (uint32_t)(c >> 32), cpayload = (uint32_t)c;
                if (cthread == thread) {
                    nd.result = cpayload;
                }
                else { /* copy the creator's name into this thread's store */
                    PyObject *txt = ft_value_text(b->threads[cthread], cpayload);
                    if (txt == NULL) {
                        PyErr_Clear();
                    }
                    nd.result = ft_store_text(tb, txt);
                }
            }
            lane = (int64_t)b->n;
            if (add_node(b, &nd, 0, 0) < 0 || fmap_put(&b->lanes, word, lane) < 0) {
                return -1;
            }
            b->has_lanes = 1;
            break;
        }
        case FT_REC_ARGS:
            if (npend == MAX_PENDING) {
                memmove(pend, pend + 1, sizeof(pend[0]) * (MAX_PENDING - 1));
                npend--;
            }
            pend[npend].code_id = code;
            pend[npend].payload = ft_rec_payload(r);
            npend++;
            break;
        case FT_REC_START:
        case FT_REC_RESUME:
        case FT_REC_THROW: {
            ft_node nd = {0};
            nd.parent = (lane >= 0 && b->depth == lane_base) ? lane : top;
            if (kind != FT_REC_START || argv.code_id != code) {
                argv.code_id = UINT32_MAX;
            }
            nd.code_id = code;
            nd.thread = thread;
            nd.kind = kind == FT_REC_START ? FT_NODE_CALL
                      : kind == FT_REC_RESUME ? FT_NODE_RESUME : FT_NODE_THROW;
            nd.end = FT_END_UNFINISHED;
            nd.timed = (uint8_t)has_ts;
            nd.t0 = ts;
            nd.origin = (int64_t)b->n;
            if (kind == FT_REC_START) {
                for (int k = npend - 1; k >= 0; k--) {
                    if (pend[k].code_id == code) {
                        nd.args = pend[k].payload;
                        memmove(pend + k, pend + k + 1, sizeof(pend[0]) * (size_t)(npend - k - 1));
                        npend--;
                        break;
                    }
                }
                if (argv.code_id == code) {
                    PyObject *co = code < b->codes->count ? b->codes->entries[code].code : NULL;
                    nd.args = ft_argv_text(tb, co, &argv);
                    argv.code_id = UINT32_MAX;
                }
                else if (b->all_args && nd.args == FT_VAL_ABSENT) {
                    /* --args and no parameter recorded: it takes none */
                    if (no_args == FT_VAL_ABSENT) {
                        no_args = ft_store_text(tb, PyUnicode_New(0, 0));
                    }
                    nd.args = no_args;
                }
                if (frame && fmap_put(&b->starts, frame, (int64_t)b->n) < 0) {
                    return -1;
                }
            }
            else {
                /* the latest start of this frame on this thread; one begun
                 * on another thread is found by order, later */
                nd.origin = fmap_get(&b->starts, frame);
                if (nd.origin >= 0 && b->nodes[nd.origin].thread != thread) {
                    nd.origin = -1;
                }
            }
            if (add_node(b, &nd, frame, 1) < 0) {
                return -1;
            }
            if (frame && gseq) {
                b->seqs[b->n - 1] = gseq;
                gseq = (1ull << 32) | (uint32_t)(gseq + 1);
            }
            break;
        }
        case FT_REC_RAISE:
        case FT_REC_RERAISE:
        case FT_REC_HANDLED: {
            if (top < 0 || b->nodes[top].code_id != code) {
                break; /* in a frame that began before tracing */
            }
            if (kind == FT_REC_RERAISE) {
                /* A handler that let the exception go on (finally, with,
                 * except: raise) with nothing recorded in between: neither
                 * caught nor re-raised in any visible sense. */
                ft_node *last = &b->nodes[b->n - 1];
                if ((int64_t)(b->n - 1) != top && last->parent == top &&
                    last->kind == FT_NODE_HANDLED && last->exc == ft_rec_payload(r)) {
                    b->n--;
                    b->nodes[top].nchildren--;
                    break;
                }
            }
            ft_node nd = {0};
            nd.parent = top;
            nd.code_id = code;
            nd.thread = thread;
            nd.kind = kind == FT_REC_RAISE ? FT_NODE_RAISE
                      : kind == FT_REC_RERAISE ? FT_NODE_RERAISE : FT_NODE_HANDLED;
            nd.exc = ft_rec_payload(r);
            nd.origin = (int64_t)b->n;
            nd.timed = (uint8_t)has_ts;
            nd.t0 = nd.t1 = ts;
            if (add_node(b, &nd, 0, 0) < 0) {
                return -1;
            }
            break;
        }
        case FT_REC_RETURN:
        case FT_REC_YIELD:
        case FT_REC_UNWIND: {
            size_t d = b->depth;
            while (d > 0 && b->nodes[b->stack[d - 1]].code_id != code) {
                d--;
            }
            if (d == 0 && kind == FT_REC_YIELD) {
                break; /* suspended; if resumed it shows as a resumption */
            }
            if (d == 0 && kind == FT_REC_UNWIND && ft_rec_payload(r) == FT_VAL_GENEXIT) {
                /* a suspended generator closed with no entry recorded:
                 * from 3.13.10 CPython reports PY_UNWIND alone for a
                 * close() that runs nothing (compat.h). Not a frame that
                 * began before tracing. */
                break;
            }
            if (d == 0) {
                /* the frame began before tracing started: noted, it will
                 * adopt what was recorded on this thread so far */
                if (FT_GROW(b->adopt, b->cap_adopt, b->nadopt + 1, 16) < 0) {
                    return -1;
                }
                ft_adoption *a = &b->adopt[b->nadopt++];
                memset(a, 0, sizeof(*a));
                a->pos = b->n;
                a->thread = thread;
                a->cut = tb->dropped > 0;
                a->code_id = code;
                if (kind == FT_REC_UNWIND) {
                    a->end = ft_rec_payload(r) == FT_VAL_GENEXIT ? FT_END_CLOSED : FT_END_RAISE;
                    a->exc = ft_rec_payload(r);
                }
                else {
                    a->end = kind == FT_REC_RETURN ? FT_END_RETURN : FT_END_YIELD;
                    a->result = ft_rec_payload(r);
                }
                break;
            }
            int64_t idx = b->stack[d - 1];
            ft_node *nd = &b->nodes[idx];
            uint32_t payload = ft_rec_payload(r);
            if (kind == FT_REC_UNWIND) {
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
                nd->end = kind == FT_REC_RETURN ? FT_END_RETURN : FT_END_YIELD;
                nd->result = payload;
            }
            if (nd->timed && has_ts) {
                nd->t1 = ts;
            }
            else {
                nd->timed = 0;
            }
            b->depth = d - 1; /* anything above lost its exit: unfinished */
            if (lane >= 0 && b->depth <= lane_base) {
                lane = -1; /* the task's step is over: back in the event loop */
            }
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

typedef struct {
    uint64_t frame; /* frame identity of a generator's first call */
    uint64_t seq;   /* its order (builder.seqs) */
    int64_t node;   /* its node */
} start_entry;

static int
cmp_start(const void *x, const void *y)
{
    const start_entry *a = x, *b = y;
    if (a->frame != b->frame) {
        return a->frame < b->frame ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The first call of the generator a resumption on another thread resumed:
 * of the calls with its frame identity, the last one begun before it (an
 * address is reused once a generator is freed). Without the order (lost in
 * a flight recorder's dropped records), the latest call with that frame. */
static int
link_across_threads(builder *b)
{
    size_t nstarts = 0, ndeferred = 0;
    for (size_t i = 0; i < b->n; i++) {
        const ft_node *nd = &b->nodes[i];
        if (b->frames[i] == 0) {
            continue;
        }
        if (nd->kind == FT_NODE_CALL) {
            nstarts++;
        }
        else if ((nd->kind == FT_NODE_RESUME || nd->kind == FT_NODE_THROW) && nd->origin < 0) {
            ndeferred++;
        }
    }
    if (ndeferred == 0) {
        return 0;
    }
    start_entry *starts = PyMem_RawMalloc((nstarts ? nstarts : 1) * sizeof(start_entry));
    if (starts == NULL) {
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->frames[i] != 0 && b->nodes[i].kind == FT_NODE_CALL) {
            starts[k++] = (start_entry){b->frames[i], b->seqs[i], (int64_t)i};
        }
    }
    qsort(starts, nstarts, sizeof(start_entry), cmp_start);
    for (size_t i = 0; i < b->n; i++) {
        ft_node *nd = &b->nodes[i];
        if (b->frames[i] == 0 || nd->origin >= 0 ||
            (nd->kind != FT_NODE_RESUME && nd->kind != FT_NODE_THROW)) {
            continue;
        }
        if (b->seqs[i] == 0) {
            nd->origin = fmap_get(&b->starts, b->frames[i]);
            continue;
        }
        /* the last entry with this frame and an order below the resumption's */
        size_t lo = 0, hi = nstarts;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const start_entry *e = &starts[mid];
            if (e->frame < b->frames[i] || (e->frame == b->frames[i] && e->seq < b->seqs[i])) {
                lo = mid + 1;
            }
            else {
                hi = mid;
            }
        }
        nd->origin = lo > 0 && starts[lo - 1].frame == b->frames[i] && starts[lo - 1].seq != 0
                         ? starts[lo - 1].node
                         : fmap_get(&b->starts, b->frames[i]);
    }
    PyMem_RawFree(starts);
    return 0;
}

/* Is segment i later than segment j of the same generator? By the order of
 * entries across threads when both have it, else by time when both are
 * timed, else by position. */
static int
later_segment(const builder *b, size_t i, size_t j)
{
    if (b->seqs[i] != 0 && b->seqs[j] != 0) {
        return b->seqs[i] > b->seqs[j];
    }
    const ft_node *a = &b->nodes[i], *c = &b->nodes[j];
    if (a->timed && c->timed) {
        return a->t0 >= c->t0;
    }
    return 1;
}

/* Resumptions whose generator started on another thread; then the last
 * segment of each generator that ended suspended. */
static int
link_generators(builder *b)
{
    int64_t *last = NULL;
    if (link_across_threads(b) < 0) {
        return -1;
    }
    if (b->n == 0) {
        return 0;
    }
    last = PyMem_RawMalloc(b->n * sizeof(int64_t));
    if (last == NULL) {
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        last[i] = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        const ft_node *nd = &b->nodes[i];
        if (b->frames[i] == 0 || nd->origin < 0 || FT_NODE_IS_MARKER(nd->kind)) {
            continue;
        }
        int64_t cur = last[nd->origin];
        if (cur < 0 || later_segment(b, i, (size_t)cur)) {
            last[nd->origin] = (int64_t)i;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        if (last[i] >= 0 && b->nodes[last[i]].end == FT_END_YIELD) {
            b->nodes[last[i]].flags |= FT_NF_LEFT_SUSPENDED;
        }
    }
    PyMem_RawFree(last);
    return 0;
}

/* Timestamps were recorded in the clock's raw ticks: from here on every
 * reader (writers, stats, CallEvent) sees nanoseconds from the trace's
 * first timestamp. */
static void
to_nanoseconds(ft_tree *t)
{
    uint64_t base = UINT64_MAX;
    for (size_t i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].timed && t->nodes[i].t0 < base) {
            base = t->nodes[i].t0;
        }
    }
    if (base == UINT64_MAX) {
        return;
    }
    double r = t->cfg.ns_per_tick;
    for (size_t i = 0; i < t->nnodes; i++) {
        ft_node *nd = &t->nodes[i];
        if (nd->timed) {
            nd->t0 = (uint64_t)((double)(nd->t0 - base) * r + 0.5);
            nd->t1 = nd->t1 >= base ? (uint64_t)((double)(nd->t1 - base) * r + 0.5) : nd->t0;
        }
    }
    t->cfg.ns_per_tick = 1.0;
}

int
ft_tree_build(ft_tree *t)
{
    if (t->nodes != NULL || t->thread_first != NULL) {
        return 0;
    }
    builder b = {0};
    b.threads = t->thread_vec;
    b.codes = &t->codes;
    b.all_args = t->cfg.args;
    size_t *first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    int rc = first == NULL ? -1 : 0;
    if (rc == 0) {
        rc = presize(&b, t);
    }
    for (uint32_t i = 0; i < t->nthreads && rc == 0; i++) {
        first[i] = b.n;
        rc = build_thread(&b, t->thread_vec[i], i);
    }
    if (rc == 0) {
        first[t->nthreads] = b.n;
        rc = link_generators(&b);
    }
    if (rc == 0 && b.nadopt > 0 && t->cfg.midflight) {
        rc = ft_adopt_midflight(&b.nodes, &b.n, first, t->nthreads, b.adopt, b.nadopt);
    }
    if (rc == 0 && b.has_lanes) {
        rc = ft_regroup_by_root(&b.nodes, b.n, first, t->nthreads);
    }
    if (rc == 0 && b.nodes == NULL) {
        b.nodes = PyMem_RawMalloc(sizeof(ft_node)); /* non-NULL marks "built" */
        rc = b.nodes == NULL ? -1 : 0;
    }
    PyMem_RawFree(b.stack);
    PyMem_RawFree(b.frames);
    PyMem_RawFree(b.seqs);
    PyMem_RawFree(b.starts.keys);
    PyMem_RawFree(b.starts.vals);
    PyMem_RawFree(b.adopt);
    PyMem_RawFree(b.lanes.keys);
    PyMem_RawFree(b.lanes.vals);
    PyMem_RawFree(b.creators.keys);
    PyMem_RawFree(b.creators.vals);
    if (rc < 0) {
        PyMem_RawFree(b.nodes);
        PyMem_RawFree(first);
        PyErr_NoMemory();
        return -1;
    }
    if (b.n > 0 && b.n < b.cap && b.nodes != NULL) {
        /* give back the unused part of the estimate (never touched); on
         * failure the larger block is kept */
        (void)FT_RESIZE(b.nodes, b.n);
    }
    t->nodes = b.nodes;
    t->nnodes = b.n;
    t->thread_first = first;
    to_nanoseconds(t);
    return 0;
}
