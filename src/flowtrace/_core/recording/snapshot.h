/* snapshot.h - one thread's recent records, copied while the session runs.
 *
 * A session hands its records over only when it stops. A tool that keeps
 * one session running and wants the story of one piece of work (an
 * OpenTelemetry span: a request on a thread, or an asyncio task) marks the
 * thread's buffer when the work starts and, when it ends, takes a copy of
 * what that buffer recorded since the mark: a Trace of its own, built and
 * written as any other. The session goes on; in ring mode (max_events) the
 * mark may have been overtaken, and the copy then begins at the oldest
 * record kept, as a flight recorder's trace does.
 */
#ifndef FLOWTRACE_SNAPSHOT_H
#define FLOWTRACE_SNAPSHOT_H

#include "recording/state.h"

/* The current thread's position in the running session: a tuple (gen,
 * buffer, records, values, task, task name, code id) for
 * ft_snapshot_take, or None when no session runs (or this thread cannot
 * record: out of memory). `task` (borrowed, or None) is the asyncio task
 * the work runs in, `code` (borrowed, or None) the code of the coroutine
 * it runs: the copy opens with that task's lane, so that what runs before
 * the task's next step is known to be its own. New reference, NULL with
 * an exception. */
PyObject *ft_snapshot_mark(ft_state *st, PyObject *task, PyObject *code);

/* What the marked buffer recorded since `mark` (a tuple from
 * ft_snapshot_mark): a new Trace of one thread, whose config anchors its
 * clock to the wall clock (CLOCK_REALTIME) read at the copy. `task_only`
 * (a mark made in an asyncio task): only that task's steps are copied,
 * not what the other tasks of the thread did meanwhile. None when the
 * session of the mark is over. New reference, NULL with an exception. */
PyObject *ft_snapshot_take(ft_state *st, PyObject *mark, int task_only);

#endif
