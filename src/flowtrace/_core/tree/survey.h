/* survey.h - what a lazy build must know before it makes any node
 * (lazy.c), found in one read of the records with the builder's pairing
 * of exits but no nodes: the generators' last segments, the first
 * timestamp, the counts, the threads with nodes, and whether a lazy build
 * makes the tree a full build makes. Private to tree/.
 */
#ifndef FLOWTRACE_SURVEY_H
#define FLOWTRACE_SURVEY_H

#include "tree/builder.h"

typedef struct {
    int eligible;      /* a lazy build makes the tree a full build makes */
    uint64_t tbase;    /* the first timestamp (UINT64_MAX: none) */
    size_t records;    /* words of records, all threads */
    size_t events;     /* entries, exits and markers (ft_tree_count's) */
    size_t calls;      /* entries that are calls (ft_tree_count's) */
    size_t timed;      /* ...of which with a timestamp */
    ft_segment *segs;  /* owned: the generators' entries, `node` their place */
    uint64_t *t0;      /* owned: their timestamps (UINT64_MAX: none) */
    size_t nsegs, cap_segs;
    ft_u64map starts;  /* owned: frame -> the place of its latest call */
    uint8_t *last_seg; /* owned: bit g set when generator entry g (in the
                          builder's order) is its generator's last segment */
    size_t *entries;   /* owned: per thread, the entries and lanes made
                          (the caller allocates it, nthreads long) */
    size_t markers;    /* exception markers, all threads */
    ft_u64map tasks;   /* owned: task -> (thread << 32 | the region of its
                          lane), -1 after FT_REC_TASK_NEW */
    int64_t region;    /* the region (numbered from 1) holding lanes, as
                          build.c's take_task opens it; 0: none open */
    int64_t nregions;  /* regions opened so far */
    size_t region_depth; /* the depth where it closes (SIZE_MAX: at the
                          thread's end) */
} ft_survey;

/* Survey every record of `t` into `s` (zeroed, with `entries` allocated).
 * 0, or -1 (memory; no exception set). */
int ft_survey_records(const ft_tree *t, ft_survey *s);

/* What only the survey needed (segments, times, maps); last_seg and
 * entries stay, the caller's to keep or free. */
void ft_survey_free(ft_survey *s);

#endif
