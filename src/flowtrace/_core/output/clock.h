/* clock.h - the clock of the timeline writers (Chrome, Perfetto).
 *
 * Real time when every call that should carry its own timestamps does
 * (timing was on); otherwise the order of events is the clock, and a
 * writer counts one unit per node start, node end and marker. A trace
 * rebuilt from CallEvent objects has durations but no starts (every t0 is
 * 0): event order too.
 */
#ifndef FLOWTRACE_OUTPUT_CLOCK_H
#define FLOWTRACE_OUTPUT_CLOCK_H

#include "tree/tree.h"

/* 1 for real time, with *origin the first timestamp and *last the latest
 * (ns, the nodes' clock); 0 for event order (both 0). */
int ft_output_clock(const ft_tree *t, uint64_t *origin, uint64_t *last);

#endif
