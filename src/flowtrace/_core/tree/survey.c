/* survey.c - one read of a trace's records before a lazy build (see
 * survey.h): the builder's pairing of exits (build.c), its lanes and
 * regions, its generators' origins, but no nodes. */
#include "tree/survey.h"

#include "common/growable.h"


/* A task record: the lane it goes to, as build.c's take_task finds it. A
 * lane made in a region already laid out (the loop's frame returned, and
 * a later one runs the same task) is one a lazy build cannot move there:
 * the tree is built whole. */
static int
survey_task(ft_survey *s, const record *x, uint32_t th, size_t depth)
{
    if (x->kind == FT_REC_TASK_NEW) {
        return ft_u64map_put(&s->tasks, x->word, -1);
    }
    if (x->word == 0) {
        return 0;
    }
    if (ft_rec_has_frame(x->r)) {
        s->eligible = 0; /* a snapshot begun inside a task's step: its lane is held */
        return 0;
    }
    int64_t v = ft_u64map_get(&s->tasks, x->word);
    if (v >= 0 && (uint32_t)(v >> 32) == th) { /* its lane on this thread */
        s->eligible = s->eligible && (v & 0xffffffff) == s->region;
        return 0;
    }
    s->entries[th]++; /* a new lane: a node of this thread */
    if (!s->region) {
        s->region = ++s->nregions;
        s->region_depth = depth > 0 ? depth - 1 : SIZE_MAX;
    }
    return ft_u64map_put(&s->tasks, x->word, ((int64_t)th << 32) | s->region);
}

/* A generator entry (a record with a frame identity) of the thread whose
 * entries begin at place `first`: its origin as the builder finds it at
 * its entry (build.c's take_entry); the segments module does the rest. */
static int
survey_generator(ft_survey *s, const record *x, size_t first, uint64_t *gseq)
{
    size_t g = s->nsegs;
    size_t cap = s->cap_segs;
    if (FT_GROW(s->segs, s->cap_segs, g + 1, 1024) < 0 || FT_GROW(s->t0, cap, g + 1, 1024) < 0) {
        return -1;
    }
    int call = x->kind == FT_REC_START;
    int64_t origin = (int64_t)g;
    if (call) {
        if (ft_u64map_put(&s->starts, x->frame, (int64_t)g) < 0) {
            return -1;
        }
    }
    else {
        origin = ft_u64map_get(&s->starts, x->frame);
        if (origin >= 0 && (size_t)origin < first) {
            origin = -1; /* an earlier thread's: linked at the end */
        }
    }
    s->segs[g] = (ft_segment){x->frame, *gseq, (uint32_t)g, (uint32_t)call, (int32_t)origin};
    s->t0[g] = x->has_ts ? x->ts : UINT64_MAX;
    if (*gseq) {
        *gseq = (1ull << 32) | (uint32_t)(*gseq + 1);
    }
    s->nsegs++;
    return 0;
}

static int
entry_time(const void *ctx, uint32_t node, uint64_t *t0)
{
    const ft_survey *s = ctx;
    *t0 = s->t0[node];
    return *t0 != UINT64_MAX;
}

static void
mark_last(void *ctx, size_t k)
{
    ft_survey *s = ctx;
    s->last_seg[k / 8] |= (uint8_t)(1u << (k % 8));
}

int
ft_survey_records(const ft_tree *t, ft_survey *s)
{
    uint32_t *codes = NULL; /* the shadow stack's code ids */
    size_t cap = 0;
    int rc = 0;
    s->eligible = 1;
    s->tbase = UINT64_MAX;
    for (uint32_t th = 0; th < t->nthreads && rc == 0 && s->eligible; th++) {
        ft_threadbuf *tb = t->thread_vec[th];
        for (const ft_chunk *c = tb->head; c != NULL; c = c->next) {
            s->records += c->used;
        }
        rec_iter it = {tb->head, 0, 0, 0, SIZE_MAX};
        record x;
        size_t depth = 0, first = s->nsegs;
        uint64_t gseq = 0;
        s->region = 0;
        while (rc == 0 && s->eligible && read_record(&it, &x)) {
            switch (x.kind) {
            case FT_REC_TASK:
            case FT_REC_TASK_NEW:
                rc = survey_task(s, &x, th, depth);
                break;
            case FT_REC_GSEQ:
                gseq = (1ull << 32) | ft_rec_payload(x.r);
                break;
            case FT_REC_START:
            case FT_REC_RESUME:
            case FT_REC_THROW:
                s->entries[th]++;
                s->events++;
                s->calls += x.kind == FT_REC_START;
                s->timed += (size_t)x.has_ts;
                if (x.has_ts && x.ts < s->tbase) {
                    s->tbase = x.ts;
                }
                if (FT_GROW(codes, cap, depth + 1, 256) < 0) {
                    rc = -1;
                    break;
                }
                codes[depth++] = x.code;
                if (x.frame != 0) {
                    rc = survey_generator(s, &x, first, &gseq);
                }
                break;
            case FT_REC_RAISE:
            case FT_REC_RERAISE:
            case FT_REC_HANDLED:
                s->markers++;
                s->events++;
                s->timed += (size_t)x.has_ts;
                break;
            case FT_REC_RETURN:
            case FT_REC_YIELD:
            case FT_REC_UNWIND: {
                s->events++;
                s->timed += (size_t)x.has_ts;
                size_t d = depth;
                while (d > 0 && codes[d - 1] != x.code) {
                    d--;
                }
                if (d > 0) {
                    depth = d - 1;
                    if (s->region && s->region_depth != SIZE_MAX && depth <= s->region_depth) {
                        s->region = 0; /* the loop's frame returned: laid out */
                    }
                }
                else if (x.kind != FT_REC_YIELD &&
                         !(x.kind == FT_REC_UNWIND && ft_rec_payload(x.r) == FT_VAL_GENEXIT) &&
                         t->cfg.midflight) {
                    s->eligible = 0; /* a frame begun before tracing adopts */
                }
                break;
            }
            default:
                break;
            }
        }
    }
    if (s->timed != 0 && s->timed != s->events) {
        s->eligible = 0; /* some timed, some not: the origin is a node's */
    }
    /* the last segment of each generator, as build.c's link_generators
     * finds it */
    if (rc == 0 && s->eligible) {
        s->last_seg = PyMem_RawCalloc(s->nsegs / 8 + 1, 1);
        rc = s->last_seg == NULL ||
                     ft_segments_link(s->segs, s->nsegs, &s->starts) < 0 ||
                     ft_segments_last(s->segs, s->nsegs, entry_time, s, mark_last, s) < 0
                 ? -1 : 0;
    }
    PyMem_RawFree(codes);
    return rc;
}

void
ft_survey_free(ft_survey *s)
{
    PyMem_RawFree(s->segs);
    PyMem_RawFree(s->t0);
    ft_u64map_free(&s->starts);
    ft_u64map_free(&s->tasks);
    s->segs = NULL;
    s->t0 = NULL;
}

