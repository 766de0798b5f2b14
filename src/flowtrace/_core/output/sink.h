/* sink.h - where every writer's text goes: a buffer streamed to a Python
 * file object in pieces.
 *
 * A writer appends UTF-8 text to `out` (an ft_sbuf, common/sbuf.h) and
 * calls ft_sink_maybe_flush() after each item: once FT_SINK_FLUSH_AT bytes
 * are pending they go to file.write() as bytes (binary) or str, so memory
 * does not grow with the trace. The text, JSON and Chrome writers
 * (write_*.c) each open one sink, flush it at the end and close it.
 */
#ifndef FLOWTRACE_SINK_H
#define FLOWTRACE_SINK_H

#include <Python.h>

#include "common/sbuf.h"

#define FT_SINK_FLUSH_AT (256 * 1024)

/* Where a writer's text goes: file.write(bytes) or file.write(str). */
typedef struct {
    PyObject *write; /* owned: the file's bound write method */
    int binary;      /* 1: write bytes (UTF-8), 0: write str */
    ft_sbuf out;     /* owned: pending UTF-8 text */
    int pipe;        /* the file's descriptor when it is a pipe, else -1 */
    uint64_t ticked; /* CLOCK_MONOTONIC ns of the last ft_sink_tick that
                        did something */
} ft_sink;

/* Find file.write. 0, or -1 with an exception (the sink is then empty,
 * and closing it is harmless). */
int ft_sink_open(ft_sink *k, PyObject *file, int binary);
/* Send what is pending. 0 or -1 with an exception (MemoryError when the
 * buffer lost text to a failed growth). */
int ft_sink_flush(ft_sink *k);
/* Flush when the buffer is big enough: call after each item. */
static inline int
ft_sink_maybe_flush(ft_sink *k)
{
    return k->out.len >= FT_SINK_FLUSH_AT || k->out.oom ? ft_sink_flush(k) : 0;
}
/* For a writer that may work long between two lines (a folded stretch
 * of a big trace): call every few thousand steps. Every 100 ms at most,
 * what is pending is sent (its first lines reach a pipe at once), and
 * a pipe nobody reads any more is said as BrokenPipeError, as a write
 * would (`show big.ftrace | head` ends when head does). 0 or -1. */
int ft_sink_tick(ft_sink *k);

/* Drop the write method and the buffer (what is pending is not sent). */
void ft_sink_close(ft_sink *k);

#endif
