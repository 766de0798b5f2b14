/* midflight.c - frames that began before tracing started (see midflight.h).
 *
 * The exits of a thread's already-running frames come innermost first, so
 * the synthetic nodes form a chain: each adopts the previous one and the
 * roots recorded since. In pre-order the thread's nodes become: the
 * synthetic nodes, outermost first, then the original nodes in their
 * original order; only parents and indices change.
 */
#include "tree/midflight.h"

#include <string.h>

#include "common/growable.h"

/* The thread of original node `i`: first[] as it was before (old). */
static uint32_t
thread_of(const size_t *old_first, uint32_t nthreads, size_t i)
{
    uint32_t lo = 0, hi = nthreads; /* old_first[lo] <= i < old_first[hi] */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (old_first[mid] <= i) {
            lo = mid;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

int
ft_adopt_midflight(ft_node **nodes, ft_span **spans, size_t *nspans, size_t *n,
                   size_t *first, uint32_t nthreads, const ft_adoption *ev, size_t nev)
{
    /* In place: the array grows by the synthetic nodes and each thread's
     * block moves up by the synthetic nodes of the threads up to it (the
     * last thread first, so that nothing is overwritten). A copy of the
     * whole tree would double its memory for a few nodes. */
    size_t nold = *n, nnew = nold + nev;
    if (nnew > FT_NODES_MAX) {
        return -1;
    }
    size_t *evfirst = PyMem_RawCalloc((size_t)nthreads + 1, sizeof(size_t));
    size_t *old_first = PyMem_RawMalloc(((size_t)nthreads + 1) * sizeof(size_t));
    ft_node *all = *nodes;
    if (evfirst == NULL || old_first == NULL || FT_RESIZE(all, nnew ? nnew : 1) < 0 ||
        (*spans != NULL && nnew > 0 && ft_span_at(spans, nspans, nnew, nnew - 1) == NULL)) {
        PyMem_RawFree(evfirst);
        PyMem_RawFree(old_first);
        return -1;
    }
    *nodes = all;
    memcpy(old_first, first, ((size_t)nthreads + 1) * sizeof(size_t));
    /* events of thread t: ev[evfirst[t], evfirst[t+1]); thread t's nodes
     * move up by evfirst[t + 1] */
    for (size_t k = 0; k < nev; k++) {
        evfirst[ev[k].thread + 1]++;
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        evfirst[t + 1] += evfirst[t];
    }
    for (uint32_t t = nthreads; t-- > 0;) {
        memmove(all + old_first[t] + evfirst[t + 1], all + old_first[t],
                (old_first[t + 1] - old_first[t]) * sizeof(ft_node));
        if (*spans != NULL) {
            memmove(*spans + old_first[t] + evfirst[t + 1], *spans + old_first[t],
                    (old_first[t + 1] - old_first[t]) * sizeof(ft_span));
        }
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        size_t e0 = evfirst[t], K = evfirst[t + 1] - e0;
        size_t base = old_first[t] + e0; /* s_{K-1} (outermost) at base, s_0 at base+K-1 */
        for (size_t k = 0; k < K; k++) {
            const ft_adoption *a = &ev[e0 + k];
            ft_node *s = &all[base + (K - 1 - k)];
            memset(s, 0, sizeof(*s));
            if (*spans != NULL) {
                (*spans)[base + (K - 1 - k)] = (ft_span){0, 0}; /* untimed */
            }
            s->parent = k + 1 < K ? (int64_t)(base + (K - 2 - k)) : -1;
            s->origin = (int64_t)(base + (K - 1 - k));
            s->code_id = a->code_id;
            s->result = a->result;
            s->exc = a->exc;
            s->end = a->end;
            s->thread = t;
            s->kind = FT_NODE_CALL;
            s->flags = a->cut ? (FT_NF_BEGAN_BEFORE | FT_NF_CUT) : FT_NF_BEGAN_BEFORE;
            s->nchildren = k > 0 ? 1 : 0;
        }
        size_t shift = evfirst[t + 1];
        size_t k = 0; /* the first adoption whose pos is above the node */
        for (size_t i = old_first[t]; i < old_first[t + 1]; i++) {
            ft_node *nd = &all[i + shift];
            int64_t p = nd->parent, o = nd->origin;
            /* a parent is of the same thread; an origin may be another's */
            nd->parent = p >= 0 ? p + (int64_t)shift : -1;
            if (o >= 0) {
                uint32_t ot = (size_t)o >= old_first[t] && (size_t)o < old_first[t + 1]
                                  ? t
                                  : thread_of(old_first, nthreads, (size_t)o);
                nd->origin = o + (int64_t)evfirst[ot + 1];
            }
            if (p < 0) {
                while (k < K && ev[e0 + k].pos <= i) {
                    k++;
                }
                if (k < K) {
                    nd->parent = (int64_t)(base + (K - 1 - k));
                    all[nd->parent].nchildren++;
                }
            }
        }
        first[t] = base;
    }
    first[nthreads] = nnew;
    PyMem_RawFree(evfirst);
    PyMem_RawFree(old_first);
    *n = nnew;
    return 0;
}
