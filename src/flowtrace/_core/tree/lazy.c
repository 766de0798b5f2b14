/* lazy.c - a tree built as one walk reads it.
 *
 * `flowtrace show big.ftrace | head` should answer at once, not after
 * every node of the trace is made. The text writer walks the nodes in
 * pre-order, and the builder makes them in that order: so the writer can
 * ask the builder for just the nodes it is about to read (a few thousand
 * records at a time), and its first lines come out before the rest of the
 * records are read.
 *
 * What a walk reads of a node must be final when it reads it. A node is
 * made at its entry with everything its opening line shows; it is closed
 * (its outcome known) when a later node is made outside its subtree; and
 * only the newest node can still be removed (a marker that cancels out,
 * build.c). So node k can be entered once node k+1 exists and is not the
 * newest (its children, if any, are then known to exist), and left once
 * the next node entered is outside its subtree (ft_tree_walkable).
 *
 * What a full build decides only at the end must be known before: the
 * segments left suspended (the last segment of each generator), the
 * trace's first timestamp (times are in ns from it), how many nodes there
 * will be (folding is on past a size), which threads have any. A survey
 * of the records finds them first, without making nodes (survey.c); it
 * also finds what a lazy build cannot do - a frame that began before
 * tracing, timestamps on some events only, a task stepping again in a
 * later region of its loop - and then the tree is built whole, as before.
 * asyncio lanes are laid out per region: the subtree of the frame that ran
 * the event loop, once it returned (build.c's ft_build_close_region); the
 * walk waits for it.
 *
 * A reader that needs nothing but the walk (release_records) gives back
 * the nodes the walk has passed (ft_tree_give_back): the trace is then
 * spent, and says so if read again.
 *
 * Once the walk is over, ft_tree_build finishes the tree (what is left of
 * the records, then what a full build hands over): the tree is then the
 * one a full build makes, node for node.
 */
#include "tree/builder.h"

#include "common/growable.h"
#include "tree/survey.h"

#define PIECE 4096 /* records read per step of the builder */

struct ft_lazy {
    builder b;         /* owned: the builder between two steps; its nodes,
                          spans and first[] are also the tree's (t->nodes,
                          t->spans, t->thread_first), never moved */
    reader rd;         /* the thread being read */
    rec_iter it;       /* where its records are read */
    uint32_t thread;   /* the thread being read (nthreads: all were) */
    int reading;       /* rd and it are set up for `thread` */
    int failed;        /* a step failed: the tree cannot be finished */
    uint8_t *last_seg; /* owned: bit g set when generator entry g is the
                          last segment of its generator (b.last_seg) */
    size_t *entries;   /* owned: entries (calls, resumptions) and task lanes
                          per thread: a thread has nodes if any */
    size_t nodes_lo;   /* the nodes there will be: at least those... */
    size_t nodes_hi;   /* ...and at most those and the markers */
    ft_json_load *json; /* owned, or NULL: the nodes come from a JSON file
                          (load_json.c), read as far as the walk asks;
                          then `b` is unused */
    size_t announced;  /* json: the calls the file announces */
    size_t given;      /* nodes below it were given back where no pin was
                          (ft_tree_give_back) */
    int gave;          /* some were: the tree cannot be finished */
};

/* The walk gave nodes back: there is no tree to finish. What is left goes,
 * and the trace is spent (ft_tree_build says so). */
static void
spend(ft_tree *t)
{
    ft_lazy_free(t);
    PyMem_RawFree(t->nodes);
    PyMem_RawFree(t->spans);
    PyMem_RawFree(t->thread_first);
    t->nodes = NULL;
    t->spans = NULL;
    t->nspans = 0;
    t->thread_first = NULL;
    t->records_released = 1;
}

int
ft_tree_build_lazily(ft_tree *t)
{
    if (t->lazy != NULL && t->lazy->gave) { /* a walk gave its nodes back */
        spend(t);
        return ft_tree_build(t); /* the error a spent trace gives */
    }
    if (t->lazy != NULL) {
        return 1;
    }
    if (t->nodes != NULL || t->thread_first != NULL || t->rebuilt ||
        t->records_released || t->nthreads == 0) {
        return 0;
    }
    ft_survey s = {0};
    s.entries = PyMem_RawCalloc(t->nthreads, sizeof(size_t));
    int rc = s.entries == NULL ? -1 : ft_survey_records(t, &s);
    ft_survey_free(&s);
    if (rc < 0) {
        PyMem_RawFree(s.entries);
        PyMem_RawFree(s.last_seg);
        PyErr_NoMemory();
        return -1;
    }
    ft_lazy *lz = s.eligible ? PyMem_RawCalloc(1, sizeof(ft_lazy)) : NULL;
    size_t *first = lz != NULL ? PyMem_RawCalloc((size_t)t->nthreads + 1, sizeof(size_t)) : NULL;
    if (first == NULL) {
        PyMem_RawFree(lz);
        PyMem_RawFree(s.entries);
        PyMem_RawFree(s.last_seg);
        return 0; /* built whole (and a memory failure said there) */
    }
    lz->last_seg = s.last_seg;
    lz->entries = s.entries;
    lz->nodes_lo = 0;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        lz->nodes_lo += s.entries[i];
    }
    lz->nodes_hi = lz->nodes_lo + s.markers;
    builder *b = &lz->b;
    /* one node per record at most: the nodes never move */
    t->kept_calls = s.calls; /* what ft_tree_count says, for a reader that
                              gives the records back */
    t->kept_events = s.events;
    if (ft_build_begin(b, t, s.records + 16, 1) < 0 ||
        (s.timed && ft_span_at(&b->spans, &b->nspans, b->cap, 0) == NULL)) {
        PyMem_RawFree(b->nodes);
        PyMem_RawFree(first);
        PyMem_RawFree(lz->last_seg);
        PyMem_RawFree(lz->entries);
        PyMem_RawFree(lz);
        PyErr_NoMemory();
        return -1;
    }
    b->lazy = 1;
    b->keep_gens = !b->release; /* for the origins, if the tree is finished */
    b->last_seg = lz->last_seg;
    if (s.timed) { /* as to_nanoseconds (build.c) converts a built tree */
        b->tbase = s.tbase;
        b->ns_per_tick = t->cfg.ns_per_tick;
        if (t->cfg.anchor != 0) {
            t->cfg.anchor = ft_build_ns(b, t->cfg.anchor, 0);
        }
        t->cfg.ns_per_tick = 1.0;
    }
    if (b->release) {
        t->records_released = 1; /* from the first step on, some are */
    }
    t->nodes = b->nodes;
    t->spans = b->spans;
    t->nspans = b->nspans;
    t->thread_first = first;
    t->lazy = lz;
    return 1;
}

/* The next piece of records: 1 if there was one, 0 when every thread has
 * been read, -1 with an exception. */
static int
step(ft_tree *t)
{
    ft_lazy *lz = t->lazy;
    builder *b = &lz->b;
    if (lz->failed) {
        PyErr_SetString(PyExc_MemoryError, "flowtrace: building the tree failed");
        return -1;
    }
    if (lz->thread >= t->nthreads) {
        return 0;
    }
    if (lz->json != NULL) {
        int r = ft_json_step(lz->json, PIECE);
        if (r < 0) {
            lz->failed = 1;
            return -1;
        }
        lz->thread = r == 0 ? t->nthreads : ft_json_thread(lz->json);
        return 1;
    }
    if (!lz->reading) {
        t->thread_first[lz->thread] = b->n;
        ft_build_thread_begin(b, &lz->rd, &lz->it, t->thread_vec[lz->thread], lz->thread);
        lz->reading = 1;
    }
    record x;
    for (int k = 0; k < PIECE; k++) {
        if (!read_record(&lz->it, &x)) { /* the thread is over */
            ft_build_unfinished(b, 0);
            if (b->region_lo != SIZE_MAX && ft_build_close_region(b) < 0) {
                lz->failed = 1;
                PyErr_NoMemory();
                return -1;
            }
            t->thread_first[++lz->thread] = b->n;
            lz->reading = 0;
            return 1;
        }
        if (ft_build_take(b, &lz->rd, &x) < 0) {
            lz->failed = 1;
            if (!PyErr_Occurred()) {
                PyErr_NoMemory();
            }
            return -1;
        }
    }
    return 1;
}

static ft_lazy *
lazy_of(const ft_tree *t)
{
    return t->lazy;
}

/* The tree is logically constant while a walk reads it: building more of
 * it changes nothing already read. */
static ft_tree *
unconst(const ft_tree *t)
{
    return (ft_tree *)(uintptr_t)t;
}

/* The end of the nodes a walk can enter, on the thread being read, whose
 * first node is `first`: each with the node after it made, and that one
 * staying (a builder may still remove its newest node; a JSON file's are
 * final as read); none of a region not laid out yet. */
static size_t
enterable_end(const ft_lazy *lz, size_t first)
{
    if (lz->json != NULL) {
        size_t n = ft_json_calls(lz->json);
        return n >= first + 1 ? n - 1 : first;
    }
    size_t n = lz->b.n;
    size_t e = n >= first + 2 ? n - 2 : first;
    return e < lz->b.region_lo ? e : lz->b.region_lo;
}

int
ft_tree_walkable(const ft_tree *t, uint32_t thread, size_t want, size_t *last)
{
    ft_lazy *lz = lazy_of(t);
    while (lz != NULL) {
        if (lz->thread > thread) {
            break;
        }
        if (lz->thread == thread && lz->reading) {
            size_t e = enterable_end(lz, t->thread_first[thread]);
            if (want < e) {
                *last = e;
                return 0;
            }
        }
        if (step(unconst(t)) < 0) {
            return -1;
        }
    }
    *last = t->thread_first[thread + 1];
    return 0;
}

int
ft_tree_thread_start(const ft_tree *t, uint32_t thread, size_t *first)
{
    ft_lazy *lz = lazy_of(t);
    while (lz != NULL && !(lz->thread > thread || (lz->thread == thread && lz->reading))) {
        if (step(unconst(t)) < 0) {
            return -1;
        }
    }
    *first = t->thread_first[thread];
    return 0;
}

/* Is node j on the builder's shadow stack (still open)? */
static int
is_open(const builder *b, size_t j)
{
    size_t lo = 0, hi = b->depth;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)b->stack[mid].node < j) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < b->depth && (size_t)b->stack[lo].node == j;
}

int
ft_tree_closed(const ft_tree *t, size_t j)
{
    ft_lazy *lz = lazy_of(t);
    uint32_t thread = t->nodes[j].thread;
    while (lz != NULL && lz->thread <= thread) {
        if (lz->json != NULL && j < ft_json_calls(lz->json)) {
            return 0; /* read: final */
        }
        if (lz->json == NULL && lz->thread == thread && lz->reading && j + 1 < lz->b.n &&
            j < lz->b.region_lo && !is_open(&lz->b, j)) {
            return 0;
        }
        if (step(unconst(t)) < 0) {
            return -1;
        }
    }
    return 0;
}

int
ft_tree_thread_busy(const ft_tree *t, uint32_t thread)
{
    const ft_lazy *lz = lazy_of(t);
    if (lz != NULL && lz->json != NULL) {
        return 1; /* every thread listed has calls (ft_json_begin_lazily) */
    }
    return lz != NULL ? lz->entries[thread] > 0
                      : t->thread_first[thread + 1] > t->thread_first[thread];
}

int
ft_tree_nodes_over(const ft_tree *t, size_t k)
{
    const ft_lazy *lz = lazy_of(t);
    if (lz == NULL) {
        return t->nnodes > k;
    }
    if (lz->json != NULL) {
        return lz->announced > k; /* what the file holds, or it is damaged */
    }
    if (lz->nodes_lo > k || lz->nodes_hi <= k) {
        return lz->nodes_lo > k;
    }
    int r;
    while ((r = step(unconst(t))) > 0) {
    }
    return r < 0 ? -1 : lz->b.n > k;
}

static int
cmp_pin(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Nodes [a, b) (and their times) are never read again. */
static void
give_range(const ft_tree *t, size_t a, size_t b)
{
    if (b > a) {
        ft_give_pages_back(t->nodes + a, (b - a) * sizeof(ft_node));
        if (t->spans != NULL) {
            ft_give_pages_back(t->spans + a, (b - a) * sizeof(ft_span));
        }
    }
}

void
ft_tree_give_back(const ft_tree *t, size_t upto, int64_t *pins, size_t npins)
{
    ft_lazy *lz = lazy_of(t);
    if (lz == NULL || !t->release_records || upto < lz->given + FT_GIVE_NODES) {
        return;
    }
    qsort(pins, npins, sizeof(*pins), cmp_pin);
    size_t lo = lz->given;
    for (size_t k = 0; k < npins; k++) {
        if (pins[k] >= (int64_t)lo && pins[k] < (int64_t)upto) {
            give_range(t, lo, (size_t)pins[k]);
            lo = (size_t)pins[k] + 1;
        }
    }
    give_range(t, lo, upto);
    lz->given = upto;
    lz->gave = 1;
}

static void
free_lazy(ft_lazy *lz)
{
    ft_json_free(lz->json);
    PyMem_RawFree(lz->last_seg);
    PyMem_RawFree(lz->entries);
    PyMem_RawFree(lz);
}

void
ft_lazy_free(ft_tree *t)
{
    ft_lazy *lz = t->lazy;
    if (lz == NULL) {
        return;
    }
    /* the nodes, spans and first[] are the tree's: ft_tree_clear frees them */
    if (lz->json == NULL) {
        ft_build_free_work(&lz->b);
    }
    free_lazy(lz);
    t->lazy = NULL;
}

int
ft_tree_walked(ft_tree *t)
{
    if (t->lazy != NULL && t->lazy->gave) {
        spend(t);
        return 0;
    }
    return ft_tree_build(t);
}

int
ft_lazy_finish(ft_tree *t)
{
    ft_lazy *lz = t->lazy;
    if (lz->gave) {
        spend(t);
        return ft_tree_build(t); /* the error a spent trace gives */
    }
    int r;
    while ((r = step(t)) > 0) {
    }
    if (lz->json != NULL) { /* the file read to its end: the tree is whole */
        if (r < 0) {
            PyObject *exc = PyErr_GetRaisedException();
            spend(t);
            PyErr_SetRaisedException(exc); /* the file's own error */
            return -1;
        }
        ft_lazy_free(t);
        return 0;
    }
    builder b = lz->b;
    size_t *first = t->thread_first;
    /* handed back to the builder, which hands them over as a full build
     * does (or frees them, on failure) */
    t->nodes = NULL;
    t->spans = NULL;
    t->nspans = 0;
    t->thread_first = NULL;
    t->lazy = NULL;
    free_lazy(lz);
    if (r < 0) {
        PyErr_Clear();
    }
    return ft_build_end(&b, t, first, r);
}

int
ft_tree_from_json_lazily(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk,
                         uint64_t size_hint, int release)
{
    ft_json_load *ld;
    int r = ft_json_begin_lazily(t, file, prefix, chunk, size_hint, &ld);
    if (r != 1) {
        return r;
    }
    ft_lazy *lz = PyMem_RawCalloc(1, sizeof(ft_lazy));
    if (lz == NULL) {
        ft_json_free(ld);
        ft_tree_clear(t, NULL);
        PyErr_NoMemory();
        return -1;
    }
    lz->json = ld;
    lz->announced = ft_json_announced(ld);
    lz->reading = 1;
    lz->thread = ft_json_thread(ld);
    t->lazy = lz;
    t->release_records = release;
    return 1;
}

void
ft_tree_moved(ft_tree *t)
{
    if (t->lazy != NULL && t->lazy->json != NULL) {
        ft_json_retarget(t->lazy->json, t);
    }
}
