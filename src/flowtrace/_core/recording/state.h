/* state.h - the module state (one per interpreter) and per-thread lookup.
 *
 * All mutable state of the extension lives here, except the two
 * thread-locals below (see the note on them).
 */
#ifndef FLOWTRACE_STATE_H
#define FLOWTRACE_STATE_H

#include <Python.h>
#include <stdint.h>

#include "recording/buffer.h"
#include "recording/codetable.h"

/* The events FlowTrace listens to, in this order everywhere. */
enum {
    FT_EV_PY_START,
    FT_EV_PY_RESUME,
    FT_EV_PY_RETURN,
    FT_EV_PY_YIELD,
    FT_EV_PY_UNWIND,
    FT_EV_PY_THROW,
    FT_EV_RAISE,
    FT_EV_RERAISE,
    FT_EV_HANDLED,
    FT_NEVENTS
};

/* The sys.monitoring functions FlowTrace calls, found once at import: a
 * session start and stop make about twenty calls, which an @trace function
 * called in a loop pays on every call. */
enum {
    FT_MON_GET_TOOL,
    FT_MON_USE_TOOL_ID,
    FT_MON_FREE_TOOL_ID,
    FT_MON_REGISTER_CALLBACK,
    FT_MON_SET_EVENTS,
    FT_MON_RESTART_EVENTS,
    FT_MON_NFN
};

typedef struct {
    /* --- read once at import --- */
    PyObject *monitoring;              /* owned: the sys.monitoring module */
    PyObject *mon_fn[FT_MON_NFN];      /* owned: its functions (FT_MON_*) */
    PyObject *tool_name;               /* owned: "flowtrace", for use_tool_id */
    PyObject *disable;                 /* owned: sys.monitoring.DISABLE */
    long ev_bits[FT_NEVENTS];          /* event bit values (they change
                                          between Python versions) */
    PyTypeObject *callback_type;       /* owned: flowtrace._core.Callback */
    PyObject *callbacks[FT_NEVENTS];   /* owned: the C callbacks (one
                                          vectorcall object per event) */
    /* --- configuration from the Python layer --- */
    PyObject *default_excludes;        /* owned: tuple of path prefixes of
                                          the stdlib and site-packages */
    PyObject *own_dirs;                /* owned: tuple, FlowTrace's own dir */
    PyObject *decorated;               /* owned: dict code -> flags of every
                                          function decorated with @trace */
    PyObject *hook_finish;             /* owned or NULL: called with the
                                          Trace when an outermost @trace call
                                          ends (prints it) */
    PyObject *hook_drive;              /* owned or NULL: wraps the generator
                                          or coroutine of an outermost
                                          @trace call so the session ends
                                          when it really finishes */
    PyTypeObject *trace_type;          /* owned: flowtrace._core.Trace */
    PyTypeObject *traced_function_type;/* owned: flowtrace._core.TracedFunction */
    PyObject *last_trace;              /* owned or NULL: last stopped trace */
    PyObject *current_task_fn;         /* owned or NULL: asyncio's C
                                          current_task(), found once asyncio
                                          is imported */
    PyObject *task_type;               /* owned or NULL: _asyncio.Task, found
                                          with current_task_fn */
    PyObject *task_get_name;           /* owned or NULL: its C get_name
                                          method descriptor, called
                                          directly: an override in a
                                          subclass (user code) never runs */
    /* --- the running session --- */
    uint64_t gen;                      /* session generation, 0 = none */
    int tool_id;                       /* sys.monitoring tool id, -1 = none */
    int last_tool_id;                  /* tool id of the previous session */
    int linger_id;                     /* -1, or the tool id an ended @trace
                                          session left registered with its
                                          events on (recorder.c: lingering),
                                          for the next session to take */
    uint64_t linger_idle;              /* events seen while lingering */
    uint64_t toggles;                  /* times this module turned its
                                          events on or off (set_events) */
    PyObject *last_filter_key;         /* owned or NULL: filter config of the
                                          previous session (see start) */
    int timing;                        /* timestamps on every event */
    int full_repr;                     /* user reprs for every value */
    int results;                       /* capture returned/yielded values */
    int capture_args;                  /* read undecorated calls' arguments
                                          from their frames (frame_args.c) */
    int implicit;                      /* started by an outermost @trace */
    int broken;                        /* an internal error stopped recording */
    size_t ring_records;               /* records kept per thread at least
                                          (max_events), 0: all */
    ft_codetable codes;                /* owned: moves to the Trace at stop */
    ft_filter filter;                  /* owned refs: this session's filter */
    ft_threadbuf *threads;             /* owned list: moves to the Trace */
    uint32_t nthreads;                 /* length of `threads` */
    uint32_t gseq;                     /* order of the next generator or
                                          coroutine entry in the session,
                                          across threads (FT_REC_GSEQ) */
    const ft_threadbuf *gseq_owner;    /* identity only, never dereferenced:
                                          the buffer of the last such entry;
                                          NULL whenever a buffer is made, so
                                          a new one says where it starts */
    ft_chunkpool pool;                 /* owned: spare chunks */
    uint64_t cal_ns0, cal_ticks0;      /* clock calibration baseline: taken
                                          at the first session's start */
    /* --- made at import, for the Python layer only (last: the fields the
       callbacks read keep their places) --- */
    PyTypeObject *event_type;          /* owned: flowtrace._core.Event, the
                                          named fields of one event
                                          (python/trace.c) */
} ft_state;

/* The module state of flowtrace._core. */
static inline ft_state *
ft_get_state(PyObject *module)
{
    return (ft_state *)PyModule_GetState(module);
}

#endif
