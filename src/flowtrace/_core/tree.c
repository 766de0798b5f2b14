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
 * the consumer's children, never the generator's.
 */
#include "trace.h"

#include "record.h"

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

typedef struct {
    ft_node *nodes;  /* owned until handed over */
    size_t n, cap;
    int64_t *stack;  /* owned: open node indices */
    size_t depth, stack_cap;
} builder;

static int
push_node(builder *b, const ft_node *nd)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        ft_node *nn = PyMem_RawRealloc(b->nodes, nc * sizeof(ft_node));
        if (nn == NULL) {
            return -1;
        }
        b->nodes = nn;
        b->cap = nc;
    }
    if (b->depth == b->stack_cap) {
        size_t nc = b->stack_cap ? b->stack_cap * 2 : 256;
        int64_t *ns = PyMem_RawRealloc(b->stack, nc * sizeof(int64_t));
        if (ns == NULL) {
            return -1;
        }
        b->stack = ns;
        b->stack_cap = nc;
    }
    b->nodes[b->n] = *nd;
    b->stack[b->depth++] = (int64_t)b->n;
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
build_thread(builder *b, const ft_threadbuf *tb, uint32_t thread)
{
    pending_args pend[MAX_PENDING];
    int npend = 0;
    rec_iter it = {tb->head, 0};
    ft_record r;
    b->depth = 0;
    while (rec_next(&it, &r)) {
        unsigned kind = ft_rec_kind(r);
        uint32_t code = ft_rec_code(r);
        uint64_t ts = 0;
        int has_ts = ft_rec_has_ts(r);
        if (has_ts) {
            ft_record w;
            if (!rec_next(&it, &w)) {
                break; /* truncated by a memory failure */
            }
            ts = (uint64_t)w;
        }
        switch (kind) {
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
            nd.parent = b->depth ? b->stack[b->depth - 1] : -1;
            nd.code_id = code;
            nd.thread = thread;
            nd.kind = kind == FT_REC_START ? FT_NODE_CALL
                      : kind == FT_REC_RESUME ? FT_NODE_RESUME : FT_NODE_THROW;
            nd.end = FT_END_UNFINISHED;
            nd.timed = (uint8_t)has_ts;
            nd.t0 = ts;
            if (kind == FT_REC_START) {
                for (int k = npend - 1; k >= 0; k--) {
                    if (pend[k].code_id == code) {
                        nd.args = pend[k].payload;
                        memmove(pend + k, pend + k + 1, sizeof(pend[0]) * (size_t)(npend - k - 1));
                        npend--;
                        break;
                    }
                }
            }
            if (nd.parent >= 0) {
                b->nodes[nd.parent].nchildren++;
            }
            if (push_node(b, &nd) < 0) {
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
            if (d == 0) {
                break; /* the frame began before tracing started */
            }
            ft_node *nd = &b->nodes[b->stack[d - 1]];
            nd->end = kind == FT_REC_RETURN ? FT_END_RETURN
                      : kind == FT_REC_YIELD ? FT_END_YIELD : FT_END_RAISE;
            if (kind == FT_REC_UNWIND) {
                nd->exc = ft_rec_payload(r);
            }
            else {
                nd->result = ft_rec_payload(r);
            }
            if (nd->timed && has_ts) {
                nd->t1 = ts;
            }
            else {
                nd->timed = 0;
            }
            b->depth = d - 1; /* anything above lost its exit: unfinished */
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

int
ft_trace_build(ft_trace *t)
{
    if (t->nodes != NULL || t->thread_first != NULL) {
        return 0;
    }
    builder b = {0};
    size_t *first = PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t));
    if (first == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t i = 0; i < t->nthreads; i++) {
        first[i] = b.n;
        if (build_thread(&b, t->thread_vec[i], i) < 0) {
            PyMem_RawFree(b.nodes);
            PyMem_RawFree(b.stack);
            PyMem_RawFree(first);
            PyErr_NoMemory();
            return -1;
        }
    }
    first[t->nthreads] = b.n;
    PyMem_RawFree(b.stack);
    if (b.nodes == NULL) {
        b.nodes = PyMem_RawMalloc(sizeof(ft_node)); /* non-NULL marks "built" */
        if (b.nodes == NULL) {
            PyMem_RawFree(first);
            PyErr_NoMemory();
            return -1;
        }
    }
    t->nodes = b.nodes;
    t->nnodes = b.n;
    t->thread_first = first;
    return 0;
}
