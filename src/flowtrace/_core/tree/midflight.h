/* midflight.h - frames that began before tracing started.
 *
 * Tracing can start deep in a call stack: the frames already running are
 * seen only when they exit. Each such exit becomes a node marked "began
 * before tracing" that adopts everything recorded on its thread before it,
 * so the tree stays well-formed and says what it does not know (when that
 * frame started, with which arguments).
 */
#ifndef FLOWTRACE_MIDFLIGHT_H
#define FLOWTRACE_MIDFLIGHT_H

#include "tree/tree.h"

/* An exit with no matching entry, noted while building a thread. */
typedef struct {
    size_t pos;       /* nodes created before it (global index): it adopts
                         the thread's roots below this index */
    uint32_t thread;  /* thread index */
    uint32_t code_id; /* its function */
    uint32_t result;  /* payload: returned/yielded value */
    uint32_t exc;     /* payload: exception text */
    uint8_t end;      /* FT_END_* */
    uint8_t cut;      /* the thread's older events were not kept (ring
                         mode): it began before the kept events */
} ft_adoption;

/* Insert one node per adoption (events grouped by thread, in order) before
 * each thread's nodes, reparent what they adopt, and remap every index, in
 * place (*nodes is reallocated, and the spans moved with them when there
 * are any; *n and first[] updated). 0, or -1 on
 * memory failure (nothing changed). */
int ft_adopt_midflight(ft_node **nodes, ft_span **spans, size_t *nspans, size_t *n,
                       size_t *first, uint32_t nthreads, const ft_adoption *ev, size_t nev);

#endif
