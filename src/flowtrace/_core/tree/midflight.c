/* midflight.c - frames that began before tracing started (see midflight.h).
 *
 * The exits of a thread's already-running frames come innermost first, so
 * the synthetic nodes form a chain: each adopts the previous one and the
 * roots recorded since. In pre-order the thread's nodes become: the
 * synthetic nodes, outermost first, then the original nodes in their
 * original order; only parents and indices change.
 */
#include "tree/midflight.h"

int
ft_adopt_midflight(ft_node **nodes, size_t *n, size_t *first, uint32_t nthreads,
                   const ft_adoption *ev, size_t nev)
{
    size_t nold = *n, nnew = nold + nev;
    ft_node *old = *nodes;
    ft_node *out = PyMem_RawCalloc(nnew ? nnew : 1, sizeof(ft_node));
    int64_t *map = PyMem_RawMalloc((nold ? nold : 1) * sizeof(int64_t));
    size_t *evfirst = PyMem_RawCalloc((size_t)nthreads + 1, sizeof(size_t));
    if (out == NULL || map == NULL || evfirst == NULL) {
        PyMem_RawFree(out);
        PyMem_RawFree(map);
        PyMem_RawFree(evfirst);
        return -1;
    }
    /* events of thread t: ev[evfirst[t], evfirst[t+1]) */
    for (size_t k = 0; k < nev; k++) {
        evfirst[ev[k].thread + 1]++;
    }
    for (uint32_t t = 0; t < nthreads; t++) {
        evfirst[t + 1] += evfirst[t];
    }
    /* pass 1: new index of every original node */
    size_t shift = 0;
    for (uint32_t t = 0; t < nthreads; t++) {
        shift += evfirst[t + 1] - evfirst[t];
        for (size_t i = first[t]; i < first[t + 1]; i++) {
            map[i] = (int64_t)(i + shift);
        }
    }
    /* pass 2: write each thread: synthetic chain, then the originals */
    size_t o = 0;
    for (uint32_t t = 0; t < nthreads; t++) {
        size_t e0 = evfirst[t], e1 = evfirst[t + 1], K = e1 - e0;
        size_t base = o; /* s_{K-1} (outermost) at base, s_0 at base+K-1 */
        for (size_t k = 0; k < K; k++) {
            const ft_adoption *a = &ev[e0 + k];
            ft_node *s = &out[base + (K - 1 - k)];
            memset(s, 0, sizeof(*s));
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
        o += K;
        size_t k = 0; /* the first adoption whose pos is above the node */
        for (size_t i = first[t]; i < first[t + 1]; i++, o++) {
            ft_node nd = old[i];
            nd.parent = nd.parent >= 0 ? map[nd.parent] : -1;
            nd.origin = nd.origin >= 0 ? map[nd.origin] : -1;
            if (old[i].parent < 0) {
                while (k < K && ev[e0 + k].pos <= i) {
                    k++;
                }
                if (k < K) {
                    nd.parent = (int64_t)(base + (K - 1 - k));
                    out[nd.parent].nchildren++;
                }
            }
            out[o] = nd;
        }
        first[t] = base;
    }
    first[nthreads] = o;
    PyMem_RawFree(map);
    PyMem_RawFree(evfirst);
    PyMem_RawFree(old);
    *nodes = out;
    *n = o;
    return 0;
}
