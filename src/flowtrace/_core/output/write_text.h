/* write_text.h - the text tree writer (the seed's format). */
#ifndef FLOWTRACE_WRITE_TEXT_H
#define FLOWTRACE_WRITE_TEXT_H

#include "tree/tree.h"

typedef struct {
    int ascii;          /* "->" "<-" "!!" instead of the arrows */
    int thread_headers; /* 1 always, 0 never, -1 when several threads */
    int color;          /* ANSI colours around the same text */
    int max_depth;      /* > 0: show calls up to this depth (1 = roots only);
                           a call at the limit shows "(+N calls)" for the
                           calls below it. 0: no limit */
    PyObject *focus;    /* borrowed str, or NULL: show only the subtrees of
                           calls whose name matches this glob (outermost
                           ones), each after a line with its call path;
                           depths (and max_depth) count from them */
    int fold;           /* runs of repeated calls folded (output/fold.h):
                           1 yes, 0 no, -1 when the trace has more than
                           FT_FOLD_AUTO_NODES nodes */
    PyObject *raw;      /* borrowed, or NULL: the binary stream under
                           `file` (its .buffer), to write the UTF-8 text to
                           directly; `file` is flushed first, and `raw` at
                           the end when `file` is line-buffered */
} ft_text_opts;

/* Stream the tree to `file` (anything with .write(str)), or as bytes to
 * o->raw. 0 or -1. */
int ft_write_text(const ft_tree *t, PyObject *file, const ft_text_opts *o);

#endif
