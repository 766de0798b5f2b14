/* recorder.h - sys.monitoring registration and the event callbacks. */
#ifndef FLOWTRACE_RECORDER_H
#define FLOWTRACE_RECORDER_H

#include "recording/state.h"

typedef struct {
    int timing;           /* timestamp every event */
    int full_repr;        /* user reprs for every value */
    int results;          /* capture returned/yielded values */
    int include_stdlib;   /* trace the stdlib and site-packages too */
    int implicit;         /* started by an outermost @trace call */
    uint64_t max_events;  /* ring mode: keep at least this many most recent
                             events per thread (0: keep everything) */
    PyObject *excludes;   /* borrowed: tuple of path prefixes, or NULL for
                             the configured default */
    PyObject *include;    /* borrowed or NULL: tuple of include patterns */
    PyObject *exclude;    /* borrowed or NULL: tuple of exclude patterns */
    int args;             /* read the arguments of undecorated calls from
                             their frames (--args) */
} ft_session_config;

/* The ratio that converts this process's raw timestamps to nanoseconds,
 * as measured now (TSC ticks against CLOCK_MONOTONIC since the first
 * session's start; 1.0 when the timestamps are nanoseconds already). */
double ft_recorder_ns_per_tick(const ft_state *st);

/* Read event bits, DISABLE, create the callbacks (module init). */
int ft_recorder_init(PyObject *module, ft_state *st);
/* Start a session. -1 with an exception (RuntimeError when busy). */
int ft_recorder_start(PyObject *module, ft_state *st, const ft_session_config *cfg);
/* Stop the session: returns the new Trace (new reference), or NULL with an
 * exception. Everything registered is released even on error. */
PyObject *ft_recorder_stop(PyObject *module, ft_state *st);

/* Stop the session of an outermost @trace call: like ft_recorder_stop, but
 * the tool id may stay registered with its events on, for the next call
 * (recorder.c: lingering). */
PyObject *ft_recorder_stop_lingering(PyObject *module, ft_state *st);
/* An event while no session runs (the tool id lingers for @trace): after
 * enough of them, the events are turned off (threads.c calls it). */
void ft_recorder_idle_event(ft_state *st);
/* Release what the module state owns (module free/clear). */
void ft_recorder_clear(ft_state *st);

/* Append an event from outside a callback (the @trace wrapper). */
void ft_record_args(ft_state *st, PyObject *code, uint32_t flags, PyObject *text);

/* The @trace wrapper's fast path: a call whose arguments are all
 * positional builtin scalars is recorded as captured values (one
 * FT_REC_ARGX record each; the text is made when the trace is built).
 * Returns 1 if recorded, 0 if the caller must format the text itself. */
int ft_record_scalar_args(ft_state *st, PyObject *code, uint32_t flags, PyObject *const *args,
                          size_t nargsf, PyObject *kwnames);

#endif
