/* segments.c - the generators' segments linked (segments.h). */
#include "tree/segments.h"

typedef struct {
    uint64_t frame; /* frame identity of a generator's first call */
    uint64_t seq;   /* its order (ft_segment.seq) */
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

int
ft_segments_link(ft_segment *g, size_t n, const ft_u64map *starts)
{
    size_t nstarts = 0, deferred = 0;
    for (size_t k = 0; k < n; k++) {
        nstarts += g[k].call;
        deferred += !g[k].call && g[k].origin < 0;
    }
    if (deferred == 0) {
        return 0;
    }
    start_entry *calls = PyMem_RawMalloc((nstarts ? nstarts : 1) * sizeof(start_entry));
    if (calls == NULL) {
        return -1;
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (g[k].call) {
            calls[m++] = (start_entry){g[k].frame, g[k].seq, (int64_t)g[k].node};
        }
    }
    qsort(calls, nstarts, sizeof(start_entry), cmp_start);
    for (size_t k = 0; k < n; k++) {
        ft_segment *s = &g[k];
        if (s->origin >= 0 || s->call) {
            continue;
        }
        if (s->seq == 0) {
            s->origin = (int32_t)ft_u64map_get(starts, s->frame);
            continue;
        }
        /* the last call with this frame and an order below the resumption's */
        size_t lo = 0, hi = nstarts;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const start_entry *e = &calls[mid];
            if (e->frame < s->frame || (e->frame == s->frame && e->seq < s->seq)) {
                lo = mid + 1;
            }
            else {
                hi = mid;
            }
        }
        s->origin = lo > 0 && calls[lo - 1].frame == s->frame && calls[lo - 1].seq != 0
                        ? (int32_t)calls[lo - 1].node
                        : (int32_t)ft_u64map_get(starts, s->frame);
    }
    PyMem_RawFree(calls);
    return 0;
}

/* Is segment g[i] later than segment g[j] of the same generator? */
static int
later(const ft_segment *g, size_t i, size_t j, ft_segment_time time, const void *tctx)
{
    if (g[i].seq != 0 && g[j].seq != 0) {
        return g[i].seq > g[j].seq;
    }
    uint64_t ti, tj;
    if (time(tctx, g[i].node, &ti) && time(tctx, g[j].node, &tj)) {
        return ti >= tj;
    }
    return 1;
}

int
ft_segments_last(const ft_segment *g, size_t n, ft_segment_time time, const void *tctx,
                 void (*last)(void *ctx, size_t k), void *lctx)
{
    /* the generator's call (+1: keys are non-zero) -> its latest segment,
     * as an index in g */
    ft_u64map latest = {0};
    for (size_t k = 0; k < n; k++) {
        int64_t origin = g[k].origin;
        if (origin < 0) {
            continue;
        }
        int64_t cur = ft_u64map_get(&latest, (uint64_t)origin + 1);
        if ((cur < 0 || later(g, k, (size_t)cur, time, tctx)) &&
            ft_u64map_put(&latest, (uint64_t)origin + 1, (int64_t)k) < 0) {
            ft_u64map_free(&latest);
            return -1;
        }
    }
    for (size_t j = 0; latest.keys != NULL && j <= latest.mask; j++) {
        if (latest.keys[j] != 0) {
            last(lctx, (size_t)latest.vals[j]);
        }
    }
    ft_u64map_free(&latest);
    return 0;
}
