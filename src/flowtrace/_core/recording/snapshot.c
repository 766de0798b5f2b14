/* snapshot.c - one thread's records since a mark, copied while the
 * session runs (snapshot.h).
 *
 * A position is counted in records since the buffer was made, the ones a
 * ring dropped included (dropped + sealed + the tail's), so it stays valid
 * while chunks are recycled. The copy is a stopped buffer of one chunk:
 * the records, the value-store entries they may name (from the mark's
 * value index on, referenced again), the class table and the thread's
 * name; the code table is copied whole (its entries referenced again), so
 * the copy's code ids are the session's. Everything runs with the GIL
 * held, between two events of the marked thread (it is either this
 * thread, running FlowTrace's own code, or another one, waiting for the
 * GIL outside any callback), so the buffer is never half-written.
 */
#include "recording/snapshot.h"

#include <string.h>
#include <time.h>

#include "python/trace.h"
#include "recording/clock.h"
#include "recording/recorder.h"
#include "recording/threads.h"
#include "recording/values.h"

/* Records the buffer has written since it was made. */
static uint64_t
position(const ft_threadbuf *tb)
{
    return tb->dropped + tb->sealed + (uint64_t)(tb->pos - tb->tail->recs);
}

PyObject *
ft_snapshot_mark(ft_state *st, PyObject *task, PyObject *code)
{
    if (st->gen == 0) {
        Py_RETURN_NONE;
    }
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL || tb->tail == NULL) {
        Py_RETURN_NONE;
    }
    /* an exception text stored before the mark is not shared with the
     * records after it: the copy holds only the values stored since */
    tb->exc_payload = 0;
    uint32_t code_id = 0;
    if (code != NULL && PyCode_Check(code)) {
        code_id = ft_verdict(st, tb, code) & FT_CODE_ID_MASK;
    }
    PyObject *name = NULL;
    if (task != NULL && task != Py_None) {
        name = ft_task_name(task, st->task_get_name);
    }
    uint32_t values = (tb->vbase + tb->nvalues) & FT_VALUE_INDEX_MASK;
    /* likewise the arena: an entry before the mark is not shared with the
     * records after it, so the copy takes the arena from here */
    uint64_t aunit = tb->abase + tb->alen / 4;
    tb->afloor = aunit;
    PyObject *mark = Py_BuildValue(
        "(KKKkKOIK)", (unsigned long long)st->gen, (unsigned long long)(uintptr_t)tb,
        (unsigned long long)position(tb), (unsigned long)values,
        (unsigned long long)(uintptr_t)(name != NULL ? task : NULL), name ? name : Py_None,
        (unsigned)code_id, (unsigned long long)aunit);
    Py_XDECREF(name);
    return mark;
}

/* The session's buffer at `addr` (identity only: compared, and
 * dereferenced only once found in the session's list), or NULL. */
static ft_threadbuf *
find_buffer(ft_state *st, uintptr_t addr)
{
    for (ft_threadbuf *tb = st->threads; tb != NULL; tb = tb->next) {
        if ((uintptr_t)tb == addr) {
            return tb;
        }
    }
    return NULL;
}

/* Copy the records [from, to) of `tb` into `out`; returns how many. */
static size_t
copy_records(const ft_threadbuf *tb, uint64_t from, uint64_t to, ft_record *out)
{
    uint64_t at = tb->dropped; /* position of the head chunk's first record */
    size_t n = 0;
    for (const ft_chunk *c = tb->head; c != NULL && at < to; c = c->next) {
        uint64_t used = c == tb->tail ? (uint64_t)(tb->pos - c->recs) : c->used;
        uint64_t lo = from > at ? from - at : 0;
        uint64_t hi = to - at < used ? to - at : used;
        if (lo < hi) {
            memcpy(out + n, c->recs + lo, (size_t)(hi - lo) * sizeof(ft_record));
            n += (size_t)(hi - lo);
        }
        at += used;
    }
    return n;
}

/* Keep, of the `n` records of `recs`, those of the steps of `task` (the
 * one running at the start): a task's steps begin with an FT_REC_TASK
 * record naming it; what runs until the next one is its own. Returns how
 * many are kept (moved to the front). A record is kept with the words
 * that follow it (timestamp, task address). */
static size_t
keep_task(ft_record *recs, size_t n, uint64_t task)
{
    uint64_t cur = task;
    size_t k = 0, i = 0;
    while (i < n) {
        ft_record r = recs[i];
        unsigned kind = ft_rec_kind(r);
        int task_rec = kind == FT_REC_TASK || kind == FT_REC_TASK_NEW;
        size_t len = 1 + (size_t)ft_rec_has_ts(r) + (size_t)task_rec;
        if (i + len > n) {
            break; /* cut short (a memory failure while recording) */
        }
        if (kind == FT_REC_TASK) {
            cur = recs[i + 1];
        }
        if (cur == task) {
            memmove(recs + k, recs + i, len * sizeof(ft_record));
            k += len;
        }
        i += len;
    }
    return k;
}

/* The value-store entries from index `vfrom` on (or all the store keeps,
 * when a ring released that one), the classes and the name of `tb`, into
 * `cp`. 0, or -1 when out of memory. */
static int
copy_tables(const ft_threadbuf *tb, uint32_t vfrom, uint64_t afrom, ft_threadbuf *cp)
{
    if (afrom < tb->abase) {
        afrom = tb->abase; /* released (ring mode): from the oldest kept */
    }
    size_t askip = (size_t)(afrom - tb->abase) * 4;
    if (askip < tb->alen) {
        cp->arena = ft_buf_malloc(tb->alen - askip);
        if (cp->arena == NULL) {
            return -1;
        }
        memcpy(cp->arena, tb->arena + askip, tb->alen - askip);
        cp->alen = cp->acap = tb->alen - askip;
        cp->abase = afrom;
    }
    uint32_t off = (vfrom - tb->vbase) & FT_VALUE_INDEX_MASK;
    if (off > tb->nvalues) {
        off = 0; /* released (ring mode): from the oldest kept */
    }
    uint32_t n = tb->nvalues - off;
    cp->vbase = (tb->vbase + off) & FT_VALUE_INDEX_MASK;
    if (n > 0) {
        cp->values = ft_buf_malloc((size_t)n * sizeof(PyObject *));
        if (cp->values == NULL) {
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) {
            PyObject *tagged = tb->values[off + i];
            Py_XINCREF((PyObject *)((uintptr_t)tagged & ~FT_VALUE_TAG_BITS));
            cp->values[i] = tagged;
        }
        cp->nvalues = cp->cap_values = n;
    }
    if (tb->nclasses > 0) {
        cp->classes = ft_buf_malloc((size_t)tb->nclasses * sizeof(PyObject *));
        if (cp->classes == NULL) {
            return -1;
        }
        for (uint32_t i = 0; i < tb->nclasses; i++) {
            cp->classes[i] = Py_NewRef(tb->classes[i]);
        }
        cp->nclasses = tb->nclasses;
    }
    cp->name = Py_XNewRef(tb->name);
    cp->ident = tb->ident;
    return 0;
}

PyObject *
ft_snapshot_take(ft_state *st, PyObject *mark, int task_only)
{
    unsigned long long gen, addr, seq, task, afrom;
    unsigned long vfrom;
    unsigned code_id;
    PyObject *task_name;
    if (!PyTuple_Check(mark) ||
        !PyArg_ParseTuple(mark, "KKKkKOIK:_snapshot", &gen, &addr, &seq, &vfrom, &task,
                          &task_name, &code_id, &afrom)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "_snapshot: not a mark");
        }
        return NULL;
    }
    ft_threadbuf *tb = gen == st->gen && gen != 0 ? find_buffer(st, (uintptr_t)addr) : NULL;
    if (tb == NULL) {
        Py_RETURN_NONE; /* that session is over */
    }
    if (tb->name == NULL) {
        ft_resolve_thread_name(tb);
    }
    uint64_t now = position(tb);
    uint64_t from = seq > tb->dropped ? seq : tb->dropped;
    if (from > now) {
        from = now;
    }
    /* the task's lane first, when the copy starts at the mark (in its
     * step); overtaken by a ring, its start is unknown */
    int lane = task != 0 && PyUnicode_Check(task_name) && from == seq;
    size_t n = (size_t)(now - from), extra = lane ? 2 : 0;
    ft_threadbuf *cp = ft_threadbuf_from_records(NULL, n + extra);
    if (cp == NULL) {
        return PyErr_NoMemory();
    }
    cp->dropped = from - seq; /* the mark's records a ring did not keep */
    if (n + extra > 0) {
        ft_record *recs = cp->head->recs + extra;
        size_t kept = copy_records(tb, from, now, recs);
        if (task_only && lane) {
            kept = keep_task(recs, kept, task);
        }
        cp->head->used = kept + extra;
    }
    ft_codetable codes;
    if (copy_tables(tb, (uint32_t)vfrom, (uint64_t)afrom, cp) < 0 || ft_codetable_copy(&codes, &st->codes) < 0) {
        ft_threadbuf_free_list(cp, NULL);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    if (lane) {
        uint32_t payload = ft_store_text(cp, Py_NewRef(task_name));
        cp->head->recs[0] = ft_rec_make(FT_REC_TASK | FT_REC_TASK_UNDER_WAY, code_id & FT_CODE_ID_MASK, payload);
        cp->head->recs[1] = (ft_record)task;
    }
    struct timespec wall;
    uint64_t ticks = ft_now_ticks();
    clock_gettime(CLOCK_REALTIME, &wall);
    ft_trace_config tc = {
        .ns_per_tick = ft_recorder_ns_per_tick(st),
        .timing = st->timing,
        .results = st->results,
        .args = st->capture_args,
        .midflight = 1,
        .anchor = ticks,
        .anchor_wall = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec,
    };
    ft_tree tree;
    if (ft_tree_init(&tree, &codes, cp, 1, &tc) < 0) {
        return NULL;
    }
    return ft_trace_wrap(st->trace_type, &tree);
}
