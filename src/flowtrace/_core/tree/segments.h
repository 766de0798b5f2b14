/* segments.h - the generators' segments: which generator a resumption on
 * another thread resumed, and which segment of each generator is its last
 * (a last one that ended in a yield is "left suspended").
 *
 * Decided from the generators' entries alone (a call or resumption with a
 * frame identity, in the builder's order: thread by thread): by the tree
 * builder once its nodes are made (build.c), and by the lazy build's survey
 * of the records before any node is (lazy.c), so that both say the same.
 */
#ifndef FLOWTRACE_SEGMENTS_H
#define FLOWTRACE_SEGMENTS_H

#include <Python.h>
#include <stdint.h>

#include "common/u64map.h"

/* One entry of a generator or coroutine: its call or a resumption. */
typedef struct {
    uint64_t frame;     /* the frame's identity (non-zero) */
    uint64_t seq;       /* its order in the session across threads
                           (FT_REC_GSEQ), with bit 32 set; 0 when unknown */
    uint32_t node : 31; /* who it is: its node (build.c), or its place among
                           the entries (lazy.c); < 2^31 */
    uint32_t call : 1;  /* the entry is a call (else a resumption) */
    int32_t origin;     /* `node` of its generator's call, -1 when unknown:
                           begun before tracing, or on another thread
                           (ft_segments_link). A call's is its own. */
} ft_segment;

/* The start time of entry `node` in raw ticks, when it is timed: 1 (and
 * *t0), or 0. */
typedef int (*ft_segment_time)(const void *ctx, uint32_t node, uint64_t *t0);

/* Resumptions whose generator began on another thread (origin -1, not a
 * call): of the calls with their frame identity, the last one begun before
 * them (an address is reused once a generator is freed); without the
 * order, `starts`'s (frame -> the latest call's `node`). Their origin is
 * set (still -1 if none). 0, or -1 (memory; nothing changed). */
int ft_segments_link(ft_segment *g, size_t n, const ft_u64map *starts);

/* The last segment of each generator (by order across threads when both
 * have it, else by time when both are timed, else by place): `last(ctx,
 * k)` for each, k an index in g. 0, or -1 (memory). */
int ft_segments_last(const ft_segment *g, size_t n, ft_segment_time time, const void *tctx,
                     void (*last)(void *ctx, size_t k), void *lctx);

#endif
