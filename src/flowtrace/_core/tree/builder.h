/* builder.h - the tree builder's state, shared by build.c (pairing the
 * records into nodes, the whole tree at once) and lazy.c (the same
 * pairing, as far as one walk of the tree has read). Private to tree/.
 */
#ifndef FLOWTRACE_BUILDER_H
#define FLOWTRACE_BUILDER_H

#include "tree/tree.h"

#include "common/compat.h"
#include "common/pages.h"
#include "common/u64map.h"
#include "recording/frame_args.h"
#include "recording/record.h"
#include "tree/midflight.h"
#include "tree/segments.h"

typedef struct {
    ft_chunk *chunk;   /* borrowed: current chunk */
    size_t i;          /* next record index in chunk */
    int release;       /* give the pages of records read back (tree.h:
                          release_records) */
    size_t given;      /* records of this chunk given back so far */
    size_t give_at;    /* the index where the next piece is given back
                          (SIZE_MAX: never) */
} rec_iter;

#define GIVE_RECORDS ((size_t)1 << 20) /* records read between two give-backs (8 MiB) */

/* The whole pages of chunk records [it->given, end) leave this process's
 * memory: they have been read and are never read again (the tree is
 * marked records_released). */
static inline void
give_back(rec_iter *it, size_t end)
{
    ft_give_pages_back(it->chunk->recs + it->given, (end - it->given) * sizeof(ft_record));
    it->given = end;
    it->give_at = end + GIVE_RECORDS;
}

static inline int
rec_next(rec_iter *it, ft_record *out)
{
    while (it->chunk != NULL && it->i >= it->chunk->used) {
        if (it->release) {
            give_back(it, it->chunk->used);
            it->given = 0;
            it->give_at = GIVE_RECORDS;
        }
        it->chunk = it->chunk->next;
        it->i = 0;
    }
    if (it->chunk == NULL) {
        return 0;
    }
    if (FT_UNLIKELY(it->i >= it->give_at)) {
        give_back(it, it->i);
    }
    *out = it->chunk->recs[it->i++];
    return 1;
}

/* An open node on the shadow stack, with its code id: an exit looks for
 * its code without reading the nodes. */
typedef struct {
    int64_t node;  /* its index */
    uint32_t code; /* its code id */
} open_node;

typedef struct {
    ft_node *nodes;   /* owned until handed over */
    size_t n, cap;
    ft_span *spans;   /* owned until handed over: the nodes' times, NULL
                         until a node is timed (tree.h) */
    size_t nspans;    /* entries of spans */
    ft_segment *gens; /* owned: the nodes with a frame identity, in node
                         order (segments.h), when keep_gens */
    size_t ngens, cap_gens;
    int keep_gens;    /* 0: a lazy build that gives its nodes back keeps
                         none (its survey linked the segments: lazy.c) */
    open_node *stack; /* owned: the shadow stack, outermost first */
    size_t depth, stack_cap;
    ft_u64map starts; /* owned: frame -> generator's first node */
    ft_adoption *adopt; /* owned: exits of frames that began before tracing */
    size_t nadopt, cap_adopt;
    ft_u64map lanes;   /* owned: task address -> its lane root node */
    ft_u64map creators; /* owned: task address -> (thread << 32 | payload of
                           the creating task's name) */
    int has_lanes;     /* some lane was made: lay the nodes out again */
    ft_threadbuf **threads; /* borrowed: the trace's buffers, by thread */
    const ft_tree *tree;       /* borrowed: the tree being built (its code
                                  table, or a loaded file's parameters) */
    int all_args;      /* --args: every call's arguments were captured */
    int release;       /* give the records' pages back as they are read */
    int lazy;          /* built as a walk reads it (lazy.c): the nodes never
                          move, no generator list is kept, times are in ns
                          as they come, the last segments known before */
    const uint8_t *last_seg; /* borrowed (lazy.c), when lazy: bit g is set
                          when the g-th generator entry of the trace (in
                          thread order) is its generator's last segment */
    size_t ngen_entries; /* generator entries read so far (lazy) */
    size_t region_lo;  /* lazy: the first node of the subtree that holds
                          asyncio lanes, laid out in pre-order once it is
                          complete (the walk waits for it); SIZE_MAX: none */
    size_t region_depth; /* lazy: the stack depth at which that subtree is
                          complete (SIZE_MAX: at the thread's end) */
    uint64_t *region_keys; /* owned, lazy: the frames and tasks whose node
                          (b->starts, b->lanes) was made in the region */
    size_t nregion_keys, cap_region_keys;
    uint64_t tbase;    /* lazy: the trace's first timestamp */
    double ns_per_tick; /* lazy: ticks after tbase to ns */
} builder;

#define MAX_PENDING 16

/* Arguments announced by @trace, waiting for their PY_START. */
typedef struct {
    uint32_t code_id;
    uint32_t payload;
} pending_args;

/* What build_thread knows while it reads one thread's records. */
typedef struct {
    ft_threadbuf *tb;        /* borrowed: the thread's buffer */
    uint32_t thread;         /* its index in the trace */
    size_t first;            /* its first node: a node below is an
                                earlier thread's */
    pending_args pend[MAX_PENDING]; /* @trace arguments, oldest first */
    int npend;               /* entries of pend */
    ft_argv argv;            /* --args values for the next START */
    uint32_t no_args;        /* payload of "" in this thread, FT_VAL_ABSENT
                                until needed */
    uint64_t gseq;           /* order of this thread's next generator entry,
                                with bit 32 set once known (FT_REC_GSEQ) */
    int64_t lane;            /* lane root of the task running now, or -1 */
    size_t lane_base;        /* stack depth where its steps start */
    int lane_held;           /* the lane opens a snapshot inside a step
                                whose frames began before: that step ends
                                at their yield, not at lane_base */
    int args_cut;            /* the flight recorder may have dropped
                                argument records of the next call: its
                                arguments are unknown (build_thread) */
} reader;

/* One record with the words that follow it. */
typedef struct {
    ft_record r;     /* the record itself */
    unsigned kind;   /* FT_REC_* */
    uint32_t code;   /* its code id */
    int has_ts;      /* a timestamp followed */
    uint64_t ts;     /* the timestamp, or 0 */
    uint64_t frame;  /* frame identity (entries of generators), or 0 */
    uint64_t word;   /* task records: the task's address */
    int64_t top;     /* the innermost open node when it was read, or -1 */
} record;

/* The next record of the thread. 0 at the end, or when the records were
 * truncated by a memory failure. */
static inline int
read_record(rec_iter *it, record *x)
{
    if (!rec_next(it, &x->r)) {
        return 0;
    }
    x->kind = ft_rec_kind(x->r);
    x->code = ft_rec_code(x->r);
    x->has_ts = ft_rec_has_ts(x->r);
    x->ts = x->frame = x->word = 0;
    if (x->has_ts && !rec_next(it, &x->ts)) {
        return 0;
    }
    if (ft_rec_has_frame(x->r)) {
        x->frame = ft_rec_payload(x->r);
    }
    if ((x->kind == FT_REC_TASK || x->kind == FT_REC_TASK_NEW) && !rec_next(it, &x->word)) {
        return 0;
    }
    return 1;
}

/* A lazy build's timestamp in ns from the trace's first one, rounded as
 * to_nanoseconds rounds (0, an unfinished node's end: `t0`, in ns). */
static inline uint64_t
ft_build_ns(const builder *b, uint64_t ts, uint64_t t0)
{
    return ts >= b->tbase ? (uint64_t)((double)(ts - b->tbase) * b->ns_per_tick + 0.5) : t0;
}

/* build.c: the builder over the trace's records, nodes presized for
 * `cap` nodes (0: an estimate from the records). `counted`: a reader that
 * gives the records back has set t->kept_calls and kept_events already.
 * 0, or -1 (MemoryError not yet set). */
int ft_build_begin(builder *b, ft_tree *t, size_t cap, int counted);

/* build.c: ready to read thread `thread`'s records. */
void ft_build_thread_begin(builder *b, reader *rd, rec_iter *it, ft_threadbuf *tb,
                           uint32_t thread);

/* build.c: one record of the thread into the tree. 0, or -1 (memory). */
int ft_build_take(builder *b, reader *rd, record *x);

/* build.c, lazy: the subtree holding lanes is complete: its nodes laid
 * out in pre-order (and what refers to them moved with them). 0, or -1. */
int ft_build_close_region(builder *b);

/* build.c, lazy: the open nodes above depth `d` will stay unfinished:
 * none is left suspended (a full build flags only segments that ended in
 * a yield). */
void ft_build_unfinished(builder *b, size_t d);

/* build.c: the builder's work arrays and maps freed (not its nodes, spans
 * or the records). */
void ft_build_free_work(builder *b);

/* build.c: the passes after the last thread, then the nodes handed to
 * `t` (`first`, owned, becomes t->thread_first). `rc` is the reading's
 * outcome: on failure everything is freed. 0, or -1 with MemoryError. */
int ft_build_end(builder *b, ft_tree *t, size_t *first, int rc);

#endif
