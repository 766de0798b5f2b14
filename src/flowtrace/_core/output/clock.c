/* clock.c - which clock a timeline writer uses (clock.h). */
#include "output/clock.h"

int
ft_output_clock(const ft_tree *t, uint64_t *origin, uint64_t *last)
{
    size_t ntimed = 0, nonzero = 0;
    int real_time = t->cfg.timing && t->nnodes > 0;
    *origin = UINT64_MAX;
    *last = 0;
    for (size_t i = 0; i < t->nnodes && real_time; i++) {
        const ft_node *nd = &t->nodes[i];
        if (!nd->timed) {
            if (ft_node_needs_time(nd)) {
                real_time = 0;
            }
            continue;
        }
        uint64_t t0 = ft_node_t0(t, nd), t1 = ft_node_t1(t, nd);
        ntimed++;
        nonzero += t0 != 0;
        if (t0 < *origin) {
            *origin = t0;
        }
        if (t0 > *last) {
            *last = t0;
        }
        if (nd->end != FT_END_UNFINISHED && t1 > *last) {
            *last = t1;
        }
    }
    /* rebuilt from CallEvent objects: durations only, every start is 0 */
    if (ft_tree_is_rebuilt(t) && ntimed > 1 && nonzero == 0) {
        real_time = 0;
    }
    if (*origin == UINT64_MAX || !real_time) {
        *origin = 0;
        *last = 0;
        real_time = 0;
    }
    return real_time;
}
