/* fold.h - folding runs of repeated calls in the text tree.
 *
 * A run is a sequence of calls of one function under one caller, one
 * after the other (exception markers of the caller's frame between them
 * do not break it; resumptions of one generator function make runs of
 * their own). The text writer shows the first FT_FOLD_SHOWN calls of a
 * run; after them, a call that ended in a way none of the run's shown
 * calls did (the first that raised, an unfinished one...) is shown too,
 * and the others are folded, each stretch of them into one line:
 *
 *   → price(1) → 2
 *   → price(2) → 4
 *   → price(3) → 6
 *   ⋯ ×996 more price(): 994 returned, 2 raised ValueError (+12 calls)
 *
 * A stretch of one call is shown, never replaced by a line. With --focus
 * the focused calls that share a caller and a function make a run
 * whatever is called between them.
 *
 * This file decides (which node starts, continues or ends a stretch) and
 * counts; write_text.c writes. Memory: one small entry per depth of the
 * tree (the run at that depth), and the one stretch being hidden: a
 * stretch hides everything below it, so only one is open at a time.
 */
#ifndef FLOWTRACE_FOLD_H
#define FLOWTRACE_FOLD_H

#include "tree/tree.h"

#define FT_FOLD_SHOWN 3             /* calls of a run always shown */
#define FT_FOLD_AUTO_NODES 10000    /* folding is on by default above
                                       this many nodes in the trace */
#define FT_FOLD_NEXC 3              /* exception types named in a line */
#define FT_FOLD_NONE ((size_t)-1)   /* no stretch is being hidden */

/* How a call ended, as the fold line counts it (one bit each in a
 * run's `seen`). */
enum {
    FT_OUT_RETURNED = 0,
    FT_OUT_RAISED,
    FT_OUT_YIELDED,
    FT_OUT_LEFT_SUSPENDED,
    FT_OUT_CLOSED,
    FT_OUT_UNFINISHED,
    FT_OUT_BEGAN_BEFORE,
    FT_OUT_N
};

/* The words of each outcome in a fold line ("returned"...). */
const char *ft_fold_outcome_word(unsigned outcome);

/* The run of calls at one depth. */
typedef struct {
    int64_t parent;   /* the caller's node index (-1: roots); a node with
                         another parent starts a new run */
    uint32_t code_id; /* the run's function */
    uint8_t resume;   /* 1: a run of resumptions, 0: of calls */
    uint8_t seen;     /* bit per FT_OUT_*: outcomes of its shown calls */
    uint32_t shown;   /* calls of the run shown (counts up to
                         FT_FOLD_SHOWN) */
    size_t pending;   /* 0, or 1 + the node of its latest shown call, whose
                         outcome is added to `seen` when `seen` is next
                         read: a lazy tree (lazy.c) may not have closed it
                         yet when it is entered */
} ft_fold_run;

/* An exception type counted in the hidden stretch. */
typedef struct {
    PyObject *name;   /* owned str ("ValueError"), or NULL: unused */
    uint64_t count;   /* hidden calls that raised it */
} ft_fold_exc;

typedef struct {
    ft_fold_run *runs;   /* owned (PyMem_Raw): the run at each depth */
    size_t nruns;        /* entries allocated in `runs` */
    int focus;           /* --focus: at depth 0 the runs are of focused
                            calls, whatever lies between them */
    /* the stretch being hidden, if depth != FT_FOLD_NONE */
    size_t depth;        /* its depth (as the writer counts depths) */
    size_t first;        /* its first node: the function, the kind */
    uint64_t calls;      /* calls hidden */
    uint64_t inner;      /* calls and resumptions inside them */
    uint64_t outcomes[FT_OUT_N]; /* hidden calls per outcome */
    ft_fold_exc excs[FT_FOLD_NEXC]; /* their exception types, in order of
                                       first appearance */
    uint64_t other_excs; /* raised an exception of a further type */
    int tail_caught;     /* the last hidden call raised: the caller's
                            "caught" lines after it are hidden with it */
} ft_fold;

/* Ready to fold the trees of a trace; `focus`: see ft_fold.focus. */
void ft_fold_init(ft_fold *f, int focus);
void ft_fold_free(ft_fold *f);

/* The nodes folding reads again later (the first of the stretch being
 * hidden, each run's pending call) into `out` (room for nruns + 1).
 * Their count. */
size_t ft_fold_pins(const ft_fold *f, int64_t *out);

/* A new thread (or a new range of nodes): forget the runs. */
void ft_fold_reset(ft_fold *f);

/* Node `i` is entered at `depth` while a stretch is open at depth
 * f->depth or above it (depth >= f->depth): 1 if it is part of the
 * stretch (counted; the writer shows nothing of it), 0 if it ends it (the
 * writer writes the fold line, calls ft_fold_close, then treats the node
 * as usual), -1 with an exception. Nodes [i, last) are the rest of the
 * thread's range. */
int ft_fold_continues(ft_fold *f, const ft_tree *t, size_t i, size_t depth, size_t last);

/* Node `i` is entered at `depth` with no stretch open: counts it in its
 * run, and returns 1 if it starts a stretch (it is hidden; f->depth is
 * set), 0 if it is shown, -1 with an exception. */
int ft_fold_starts(ft_fold *f, const ft_tree *t, size_t i, size_t depth, size_t last);

/* The stretch's line is written: forget it. */
void ft_fold_close(ft_fold *f);

#endif
