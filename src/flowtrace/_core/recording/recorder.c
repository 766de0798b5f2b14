/* recorder.c - sys.monitoring registration and the event callbacks.
 *
 * One C function per event (sys.monitoring does not tell a callback which
 * event fired). The hot path: find this thread's buffer (a thread-local
 * compare), find the code's verdict (a pointer compare with the last code
 * seen on this thread), append one 8-byte record. Code that is not traced
 * returns DISABLE wherever the event allows it, so it costs nothing after
 * its first event.
 *
 * A callback never fails: it returns None or DISABLE whatever happens, so
 * the traced program never sees FlowTrace's own troubles.
 */
#include "recording/recorder.h"
#include "recording/threads.h"

#include "common/compat.h"
#include "recording/handback.h"

#include <stddef.h>
#include <string.h>

#include "recording/clock.h"
#include "recording/frame_args.h"
#include "python/trace.h"
#include "recording/values.h"

/* Process-wide source of session generations. Only incremented, with the
 * GIL held; unique across interpreters of the process. */
static uint64_t next_gen = 0;

static const char *const event_names[FT_NEVENTS] = {
    "PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW",
    "RAISE", "RERAISE", "EXCEPTION_HANDLED",
};

/* Lingering (see ft_recorder_start): events with no session before the
 * events are turned off, and how many times they may be turned on or off
 * before they stay on. */
#define FT_TOGGLES_THEN_LINGER 10000u
#define FT_LINGER_IDLE_EVENTS (1u << 20)
#define FT_TOGGLES_THEN_STAY (1u << 20)

static void end_lingering(ft_state *st);

void
ft_recorder_idle_event(ft_state *st)
{
    if (st->linger_id >= 0 && ++st->linger_idle >= FT_LINGER_IDLE_EVENTS &&
        st->toggles < FT_TOGGLES_THEN_STAY) {
        end_lingering(st); /* no @trace call for a while: quiet again */
    }
}

/* ------------------------------------------------------------------ */
/* callbacks                                                          */

/* After running Python code (a user repr), another thread may have
 * stopped the session and freed this thread's buffer: true if it did not. */
static inline int
still_ours(ft_state *st, uint64_t gen)
{
    return st->gen == gen && ft_tl_gen == gen;
}

static inline void
emit(ft_state *st, ft_threadbuf *tb, unsigned kind, uint32_t verdict, uint32_t payload)
{
    int ts = st->timing || (verdict & FT_CODE_TIMED);
    ft_record r = ft_rec_make(kind | (ts ? FT_REC_TS : 0u), verdict & FT_CODE_ID_MASK, payload);
    if (FT_UNLIKELY(ts)) {
        ft_threadbuf_append2(tb, r, (ft_record)ft_now_ticks());
        return;
    }
    ft_threadbuf_append(tb, r);
}

/* Identity of the running generator or coroutine: the address of its
 * interpreter frame, which lives inside the generator object, so it is the
 * same for every resumption and unique while the generator lives. Read from
 * fields of the thread state declared in CPython's public headers: far
 * cheaper than PyEval_GetFrame(), which materialises a frame object. */
static inline uint32_t
frame_identity(void)
{
    uint64_t p = (uint64_t)ft_compat_frame_address();
    /* folded into the record's 32-bit payload: two generators alive at the
     * same time would need addresses equal in these 32 bits to collide */
    uint32_t h = (uint32_t)(p >> 4) ^ (uint32_t)(p >> 36);
    return h ? h : 1u;
}

/* ------------------------------------------------------------------ */
/* asyncio tasks                                                      */

/* The running asyncio task (new reference) or NULL, without importing
 * anything and without disturbing the exception state. */
static PyObject *
current_task(ft_state *st)
{
    if (st->current_task_fn == NULL) {
        PyObject *name = PyUnicode_FromString("_asyncio");
        PyObject *mod = name ? PyImport_GetModule(name) : NULL;
        Py_XDECREF(name);
        if (mod == NULL) {
            PyErr_Clear();
            return NULL; /* asyncio is not in use */
        }
        st->current_task_fn = PyObject_GetAttrString(mod, "current_task");
        if (st->current_task_fn == NULL) {
            PyErr_Clear();
            Py_DECREF(mod);
            return NULL;
        }
        /* Task.get_name, called as a C function on each task step: no
         * attribute lookup, no bound method, no user override */
        st->task_type = PyObject_GetAttrString(mod, "Task");
        PyObject *d = st->task_type ? PyObject_GetAttrString(st->task_type, "get_name") : NULL;
        if (d != NULL && Py_IS_TYPE(d, &PyMethodDescr_Type)) {
            st->task_get_name = d;
        }
        else {
            Py_XDECREF(d);
        }
        PyErr_Clear();
        Py_DECREF(mod);
    }
    PyObject *saved = PyErr_GetRaisedException();
    PyObject *task = PyObject_CallNoArgs(st->current_task_fn); /* C code */
    if (task == NULL) {
        PyErr_Clear(); /* no running loop */
    }
    else if (task == Py_None) {
        Py_CLEAR(task);
    }
    PyErr_SetRaisedException(saved);
    return task;
}

static void
emit_word(ft_state *st, ft_threadbuf *tb, unsigned kind, uint32_t verdict, uint32_t payload,
          uint64_t word)
{
    (void)st;
    ft_record r = ft_rec_make(kind, verdict & FT_CODE_ID_MASK, payload);
    ft_threadbuf_append2(tb, r, word);
}

/* A coroutine entered while no coroutine runs on this thread: the event
 * loop is starting a task's step. Note the task when it changed. */
static void
note_task_step(ft_state *st, ft_threadbuf *tb, uint32_t v, int always)
{
    PyObject *task = current_task(st);
    if (task != NULL) {
        tb->saw_loop = 1;
    }
    else if (always) {
        /* a plain generator outside any task: the loop has finished, or
         * runs a callback. Later plain generators need not ask again until
         * a task is seen (asking costs a call on every resumption). */
        tb->saw_loop = 0;
    }
    if ((uintptr_t)task == tb->last_task && !always) {
        Py_XDECREF(task);
        return;
    }
    tb->last_task = (uintptr_t)task;
    uint32_t payload = task ? ft_store_text(tb, ft_task_name(task, st->task_get_name)) : FT_VAL_ABSENT;
    emit_word(st, tb, FT_REC_TASK, v, payload, (uint64_t)(uintptr_t)task);
    Py_XDECREF(task);
}

/* BaseEventLoop.create_task returned `task`: note who created it. */
static void
note_task_created(ft_state *st, ft_threadbuf *tb, uint32_t v, PyObject *task)
{
    PyObject *parent = current_task(st);
    tb->saw_loop = 1; /* a loop runs on this thread: it will step the task */
    uint32_t payload = parent ? ft_store_text(tb, ft_task_name(parent, st->task_get_name)) : FT_VAL_ABSENT;
    Py_XDECREF(parent);
    if (tb->last_task == (uintptr_t)task) {
        tb->last_task = 0; /* a new task where a dead one was: not the same */
    }
    emit_word(st, tb, FT_REC_TASK_NEW, v, payload, (uint64_t)(uintptr_t)task);
}

/* A KeyboardInterrupt or SystemExit raised by user code FlowTrace ran
 * for this event (handback.h) replaces the callback's result `r`. */
static inline PyObject *
handing_back(PyObject *r)
{
    if (ft_handback_pending()) {
        Py_XDECREF(r);
        return ft_handback_raise();
    }
    return r;
}

/* PY_START / PY_RESUME / PY_THROW: (code, offset[, exc]) */
static FT_ALWAYS_INLINE PyObject *
on_entry(ft_state *st, PyObject *const *args, Py_ssize_t nargs, unsigned kind,
         int can_disable)
{
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL || tb->paused || nargs < 1) {
        Py_RETURN_NONE;
    }
    if (kind == FT_REC_THROW && nargs >= 3 && tb->nsilent < FT_SILENT_MAX &&
        ft_compat_close_runs_nothing(args[0], (int)PyLong_AsLong(args[1]), args[2])) {
        tb->silent[tb->nsilent++] = args[0]; /* its PY_UNWIND is its end */
        Py_RETURN_NONE;
    }
    int handback = 0; /* user code FlowTrace ran raised Ctrl-C */
    uint32_t v = ft_verdict(st, tb, args[0]);
    if (v & FT_CODE_EXCLUDED) {
        if (can_disable && !(v & FT_CODE_TASKHOOK)) {
            return Py_NewRef(st->disable);
        }
        Py_RETURN_NONE;
    }
    if (st->capture_args && kind == FT_REC_START && !(v & FT_CODE_FULLREPR)) {
        if (ft_record_frame_args(st, tb, args[0], v) < 0) {
            /* the session ended while formatting (user code) */
            return handing_back(Py_NewRef(Py_None));
        }
        /* a Ctrl-C in an argument's repr (--full-repr): the frame
         * started, and raises it at once (below) */
        handback = ft_handback_pending();
    }
    if (!(v & FT_CODE_GEN)) {
        emit(st, tb, kind, v, 0);
        return handback ? ft_handback_raise() : Py_NewRef(Py_None);
    }
    if (v & FT_CODE_CORO) {
        if (tb->coro_depth++ == 0) {
            /* a coroutine (or async generator) entered while none runs on
             * this thread: an event loop starting a task's step */
            note_task_step(st, tb, v, 0);
        }
    }
    else if (tb->coro_depth == 0 && tb->saw_loop) {
        /* a plain generator where a loop runs: the __await__ of an
         * awaitable a task drives. Its step's end is not counted, so the
         * task is said every time. */
        note_task_step(st, tb, v, 1);
    }
    /* A generator or coroutine: the identity of its frame ties the
     * resumptions to the first call; the order of its entries across
     * threads says which segment was the last. */
    if (FT_UNLIKELY(st->gseq_owner != tb)) {
        st->gseq_owner = tb;
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_GSEQ, 0, st->gseq));
    }
    st->gseq++;
    emit(st, tb, kind | FT_REC_FRAME, v, frame_identity());
    return handback ? ft_handback_raise() : Py_NewRef(Py_None);
}

/* PY_RETURN / PY_YIELD: (code, offset, value) */
static FT_ALWAYS_INLINE PyObject *
on_exit_value(ft_state *st, PyObject *const *args, Py_ssize_t nargs, unsigned kind)
{
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL || tb->paused || nargs < 3) {
        Py_RETURN_NONE;
    }
    uint32_t v = ft_verdict(st, tb, args[0]);
    if (v & (FT_CODE_EXCLUDED | FT_CODE_TASKHOOK)) {
        if ((v & FT_CODE_TASKHOOK) && kind == FT_REC_RETURN) {
            note_task_created(st, tb, v, args[2]);
        }
        if (v & FT_CODE_EXCLUDED) {
            if (v & FT_CODE_TASKHOOK) {
                Py_RETURN_NONE; /* never disabled */
            }
            return Py_NewRef(st->disable);
        }
    }
    if ((v & FT_CODE_CORO) && tb->coro_depth > 0 && --tb->coro_depth == 0) {
        tb->last_task = 0; /* a task's step is over: the next says its task */
    }
    uint32_t payload = FT_VAL_ABSENT;
    if (st->results) {
        /* only an async generator yields wrapped values */
        PyObject *value = (kind == FT_REC_YIELD && (v & FT_CODE_CORO))
                              ? ft_unwrap_async_yield(args[2])
                              : args[2];
        if (!(st->full_repr || (v & FT_CODE_FULLREPR)) || ft_is_scalar(value)) {
            payload = ft_capture(tb, value);
        }
        else {
            uint64_t gen = st->gen;
            PyObject *text = ft_full_text(value); /* user code: may switch threads */
            if (!still_ours(st, gen) || ft_handback_pending()) {
                /* a Ctrl-C in the repr: the frame does not return, it
                 * raises it (PY_UNWIND records that) */
                Py_XDECREF(text);
                return handing_back(Py_NewRef(Py_None));
            }
            payload = ft_store_text(tb, text);
        }
    }
    emit(st, tb, kind, v, payload);
    Py_RETURN_NONE;
}

/* The text of an exception, formatted at each of its events (it may have
 * changed: a handler can edit its args before re-raising). A text equal to
 * the last one stored on this thread shares its payload, so an exception
 * unwinding many frames is stored once, and the tree can tell that a
 * handler's re-raise is the exception it caught. Nothing is keyed by the
 * exception's address (a new exception can be allocated where a freed one
 * was), and no reference to it is kept (that would change when the
 * program's exception, its traceback and its frames' locals die).
 * Returns FT_VAL_ABSENT, and sets *gone, when the session ended while
 * formatting ran user code. */
static uint32_t
exception_payload(ft_state *st, ft_threadbuf *tb, PyObject *exc, uint32_t v, int *gone)
{
    *gone = 0;
    uint64_t gen = st->gen;
    PyObject *text = ft_format_exception(exc, st->full_repr || (v & FT_CODE_FULLREPR));
    if (!still_ours(st, gen)) {
        Py_XDECREF(text);
        *gone = 1;
        return FT_VAL_ABSENT;
    }
    if (text == NULL) {
        return FT_VAL_ABSENT;
    }
    if (tb->exc_payload) {
        uintptr_t tagged = (uintptr_t)ft_threadbuf_value(tb, tb->exc_payload);
        PyObject *last = (PyObject *)(tagged & ~FT_VALUE_TAG_BITS);
        if ((tagged & FT_VALUE_TAG_BITS) == FT_TAG_TEXT && last != NULL &&
            PyUnicode_Compare(last, text) == 0) {
            Py_DECREF(text);
            return tb->exc_payload;
        }
    }
    uint32_t p = ft_store_text(tb, text);
    tb->exc_payload = p;
    return p;
}

/* Is this RAISE of `exc` its propagation out of the frame of `code` that
 * has just unwound (its callee), rather than a new raise? The interpreter
 * adds the raising frame's entry to the traceback before the RAISE event,
 * so a propagated exception's traceback goes on, right after that entry,
 * with the callee's; a new exception's traceback has no second entry, and
 * one re-raised from a variable continues with the frame where it was
 * caught before. `code` is alive (the code table holds it), so comparing
 * it is sound. No user code runs. */
static int
propagated_from(PyObject *exc, PyObject *code)
{
    PyObject *head = PyException_GetTraceback(exc);
    if (head == NULL) {
        return 0;
    }
    int same = 0;
    PyTracebackObject *next = ((PyTracebackObject *)head)->tb_next;
    if (next != NULL && next->tb_frame != NULL) {
        PyCodeObject *c = PyFrame_GetCode(next->tb_frame);
        same = (PyObject *)c == code;
        Py_DECREF(c);
    }
    Py_DECREF(head);
    return same;
}

/* Exceptions that are iteration machinery, not the program's errors. */
static inline int
is_iteration_signal(PyObject *exc)
{
    return PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_StopIteration) ||
           PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_StopAsyncIteration) ||
           PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_GeneratorExit);
}

/* PY_UNWIND: (code, offset, exception). Rare: formats the exception now,
 * since it is mutable and may be gone when the trace is written. */
static inline PyObject *
on_unwind(ft_state *st, PyObject *const *args, Py_ssize_t nargs)
{
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL || tb->paused || nargs < 3) {
        Py_RETURN_NONE;
    }
    PyObject *exc = args[2];
    if (tb->nsilent > 0 && tb->silent[tb->nsilent - 1] == args[0] &&
        PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_GeneratorExit)) {
        tb->nsilent--;
        tb->unwound_code = NULL;
        Py_RETURN_NONE; /* a close that ran nothing: not recorded */
    }
    uint32_t v = ft_verdict(st, tb, args[0]);
    tb->unwound_code = args[0]; /* in the code table now */
    if (v & FT_CODE_EXCLUDED) {
        Py_RETURN_NONE; /* PY_UNWIND cannot be disabled */
    }
    if ((v & FT_CODE_CORO) && tb->coro_depth > 0 && --tb->coro_depth == 0) {
        tb->last_task = 0;
    }
    uint32_t payload;
    if (PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_GeneratorExit)) {
        payload = FT_VAL_GENEXIT; /* close(): the generator was closed */
    }
    else {
        int gone;
        payload = exception_payload(st, tb, exc, v, &gone);
        if (gone) {
            Py_RETURN_NONE;
        }
    }
    emit(st, tb, FT_REC_UNWIND, v, payload);
    Py_RETURN_NONE;
}

/* RAISE / RERAISE / EXCEPTION_HANDLED: (code, offset, exception). They
 * cannot be disabled; for untraced code they only keep the bookkeeping of
 * which exception is propagating. */
static inline PyObject *
on_exception(ft_state *st, PyObject *const *args, Py_ssize_t nargs, unsigned kind)
{
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL || tb->paused || nargs < 3) {
        Py_RETURN_NONE;
    }
    PyObject *exc = args[2];
    int propagated = kind == FT_REC_RAISE && tb->unwound_code != NULL &&
                     propagated_from(exc, tb->unwound_code);
    tb->unwound_code = NULL;
    if (propagated || is_iteration_signal(exc)) {
        Py_RETURN_NONE; /* the callee's "↯" line already says it */
    }
    uint32_t v = ft_verdict(st, tb, args[0]);
    if (v & FT_CODE_EXCLUDED) {
        Py_RETURN_NONE;
    }
    int gone;
    uint32_t payload = exception_payload(st, tb, exc, v, &gone);
    if (!gone) {
        emit(st, tb, kind, v, payload);
    }
    Py_RETURN_NONE;
}

/* The callbacks are instances of a small vectorcall type (cheaper to call
 * than a METH_FASTCALL builtin), one per event, each holding the state. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall; /* the event's entry point below */
    ft_state *st;              /* borrowed: the state of `module` */
    PyObject *module;          /* owned: keeps the state alive */
    int event;                 /* FT_EV_* */
} ft_callback;

#define FT_CB(fname, call)                                                        \
    static PyObject *fname(PyObject *self, PyObject *const *a, size_t nargsf,    \
                           PyObject *kwnames)                                    \
    {                                                                            \
        (void)kwnames;                                                           \
        ft_state *st = ((ft_callback *)self)->st;                                \
        Py_ssize_t n = PyVectorcall_NARGS(nargsf);                               \
        return call;                                                             \
    }

/* The exception events, whose recording may run user code (an
 * exception's __str__ with full reprs): a KeyboardInterrupt or SystemExit
 * it raised is handed back to the program here, raised where the event
 * happened (handback.h). PY_START, PY_RETURN and PY_YIELD do it in their
 * slow paths only. */
#define FT_CB_USER(fname, call) FT_CB(fname, handing_back(call))

FT_CB(cb_py_start, on_entry(st, a, n, FT_REC_START, 1))
FT_CB(cb_py_resume, on_entry(st, a, n, FT_REC_RESUME, 1))
FT_CB(cb_py_throw, on_entry(st, a, n, FT_REC_THROW, 0))
FT_CB(cb_py_return, on_exit_value(st, a, n, FT_REC_RETURN))
FT_CB(cb_py_yield, on_exit_value(st, a, n, FT_REC_YIELD))
FT_CB_USER(cb_py_unwind, on_unwind(st, a, n))
FT_CB_USER(cb_raise, on_exception(st, a, n, FT_REC_RAISE))
FT_CB_USER(cb_reraise, on_exception(st, a, n, FT_REC_RERAISE))
FT_CB_USER(cb_handled, on_exception(st, a, n, FT_REC_HANDLED))

static const vectorcallfunc callback_funcs[FT_NEVENTS] = {
    cb_py_start, cb_py_resume, cb_py_return, cb_py_yield, cb_py_unwind, cb_py_throw,
    cb_raise,    cb_reraise,   cb_handled,
};

static int
cb_traverse(ft_callback *cb, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(cb));
    Py_VISIT(cb->module);
    return 0;
}

static int
cb_clear(ft_callback *cb)
{
    Py_CLEAR(cb->module);
    return 0;
}

static void
cb_dealloc(ft_callback *cb)
{
    PyTypeObject *tp = Py_TYPE(cb);
    PyObject_GC_UnTrack(cb);
    cb_clear(cb);
    tp->tp_free((PyObject *)cb);
    Py_DECREF(tp);
}

static PyObject *
cb_repr(ft_callback *cb)
{
    return PyUnicode_FromFormat("<flowtrace %s callback>", event_names[cb->event]);
}

static PyMemberDef cb_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(ft_callback, vectorcall), Py_READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot cb_slots[] = {
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_traverse, cb_traverse},
    {Py_tp_clear, cb_clear},
    {Py_tp_dealloc, cb_dealloc},
    {Py_tp_repr, cb_repr},
    {Py_tp_members, cb_members},
    {Py_tp_doc, "A sys.monitoring callback of FlowTrace (C)."},
    {0, NULL},
};

static PyType_Spec cb_spec = {
    .name = "flowtrace._core.Callback",
    .basicsize = sizeof(ft_callback),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = cb_slots,
};

/* The verdict of a decorated code, its flags brought up to date (it may
 * have been decorated after the session first saw it). */
static uint32_t
decorated_verdict(ft_state *st, ft_threadbuf *tb, PyObject *code, uint32_t flags)
{
    uint32_t v = ft_verdict(st, tb, code);
    if (!(v & FT_CODE_EXCLUDED) && (v & (FT_CODE_FULLREPR | FT_CODE_TIMED)) != flags) {
        ft_codetable_set_flags(&st->codes, code, flags);
        ft_verdict_forget(tb, code);
        v = ft_verdict(st, tb, code);
    }
    return v;
}

int
ft_record_scalar_args(ft_state *st, PyObject *code, uint32_t flags, PyObject *const *args,
                      size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n == 0 || n > FT_ARGV_MAX || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!ft_is_scalar(args[i])) {
            return 0; /* full reprs of user objects: the text path */
        }
    }
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL) {
        return 1;
    }
    uint32_t v = decorated_verdict(st, tb, code, flags);
    if (v & FT_CODE_EXCLUDED) {
        return 1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* a scalar's repr is the builtin one: capturing it is exact */
        ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGX, v & FT_CODE_ID_MASK,
                                            ft_capture(tb, args[i])));
    }
    return 1;
}

void
ft_record_args(ft_state *st, PyObject *code, uint32_t flags, PyObject *text)
{
    ft_threadbuf *tb = ft_current_buffer(st);
    if (tb == NULL) {
        Py_XDECREF(text);
        return;
    }
    uint32_t v = decorated_verdict(st, tb, code, flags);
    if ((v & FT_CODE_EXCLUDED) || text == NULL) {
        Py_XDECREF(text);
        return;
    }
    uint32_t payload = ft_store_text(tb, text);
    ft_threadbuf_append(tb, ft_rec_make(FT_REC_ARGS, v & FT_CODE_ID_MASK, payload));
}

/* ------------------------------------------------------------------ */
/* registration                                                       */

int
ft_recorder_init(PyObject *module, ft_state *st)
{
    st->tool_id = -1;
    st->last_tool_id = -1;
    st->linger_id = -1;
    st->monitoring = PySys_GetObject("monitoring"); /* borrowed */
    if (st->monitoring == NULL) {
        PyErr_SetString(PyExc_ImportError, "flowtrace needs sys.monitoring (Python 3.12+)");
        return -1;
    }
    Py_INCREF(st->monitoring);
    static const char *const fn_names[FT_MON_NFN] = {
        "get_tool", "use_tool_id", "free_tool_id", "register_callback", "set_events",
        "restart_events"};
    for (int i = 0; i < FT_MON_NFN; i++) {
        st->mon_fn[i] = PyObject_GetAttrString(st->monitoring, fn_names[i]);
        if (st->mon_fn[i] == NULL) {
            return -1;
        }
    }
    st->tool_name = PyUnicode_InternFromString("flowtrace");
    if (st->tool_name == NULL) {
        return -1;
    }
    st->disable = PyObject_GetAttrString(st->monitoring, "DISABLE");
    st->callback_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &cb_spec, NULL);
    if (st->callback_type == NULL) {
        return -1;
    }
    PyObject *events = PyObject_GetAttrString(st->monitoring, "events");
    if (st->disable == NULL || events == NULL) {
        Py_XDECREF(events);
        return -1;
    }
    for (int i = 0; i < FT_NEVENTS; i++) {
        PyObject *bit = PyObject_GetAttrString(events, event_names[i]);
        if (bit == NULL) {
            Py_DECREF(events);
            return -1;
        }
        st->ev_bits[i] = PyLong_AsLong(bit);
        Py_DECREF(bit);
        if (st->ev_bits[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(events);
            return -1;
        }
        ft_callback *cb = PyObject_GC_New(ft_callback, st->callback_type);
        if (cb == NULL) {
            Py_DECREF(events);
            return -1;
        }
        cb->vectorcall = callback_funcs[i];
        cb->st = st;
        cb->module = Py_NewRef(module);
        cb->event = i;
        PyObject_GC_Track(cb);
        st->callbacks[i] = (PyObject *)cb;
    }
    Py_DECREF(events);
    return 0;
}

/* Call sys.monitoring.<fn>(a[, b][, obj]): `nints` leading int arguments
 * (0, 1 or 2), then `obj` if not NULL. A new reference or NULL. */
static PyObject *
mon_call(ft_state *st, int fn, int nints, long a, long b, PyObject *obj)
{
    PyObject *args[3] = {NULL, NULL, NULL};
    Py_ssize_t n = 0;
    PyObject *r = NULL;
    if (nints > 0 && (args[n++] = PyLong_FromLong(a)) == NULL) {
        goto done;
    }
    if (nints > 1 && (args[n++] = PyLong_FromLong(b)) == NULL) {
        goto done;
    }
    if (obj != NULL) {
        args[n++] = Py_NewRef(obj);
    }
    r = PyObject_Vectorcall(st->mon_fn[fn], args, (size_t)n, NULL);
done:
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_XDECREF(args[i]);
    }
    return r;
}

/* Take a free tool id: first the ones no standard tool claims (3, 4), then
 * OPTIMIZER_ID (5, unused by CPython's own tools), and only then the ids of
 * the standard tools, least likely to be wanted by the program first:
 * DEBUGGER_ID (0: pdb's monitoring backend is opt-in), PROFILER_ID (2:
 * cProfile, profile), COVERAGE_ID (1: coverage.py). So the program's own
 * profilers, coverage and debuggers find their ids free. */
static int
take_tool_id(ft_state *st)
{
    static const int order[] = {3, 4, 5, 0, 2, 1};
    PyObject *holders = PyList_New(0);
    if (holders == NULL) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        int id = order[i];
        PyObject *who = mon_call(st, FT_MON_GET_TOOL, 1, id, 0, NULL);
        if (who == NULL) {
            Py_DECREF(holders);
            return -1;
        }
        if (who == Py_None) {
            Py_DECREF(who);
            PyObject *r = mon_call(st, FT_MON_USE_TOOL_ID, 1, id, 0, st->tool_name);
            if (r != NULL) {
                Py_DECREF(r);
                Py_DECREF(holders);
                return id;
            }
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
                Py_DECREF(holders);
                return -1;
            }
            PyErr_Clear(); /* taken meanwhile: try the next */
            continue;
        }
        PyObject *line = PyUnicode_FromFormat("%d by %R", id, who);
        Py_DECREF(who);
        if (line == NULL || PyList_Append(holders, line) < 0) {
            Py_XDECREF(line);
            Py_DECREF(holders);
            return -1;
        }
        Py_DECREF(line);
    }
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *joined = sep ? PyUnicode_Join(sep, holders) : NULL;
    if (joined != NULL) {
        PyErr_Format(PyExc_RuntimeError,
                     "flowtrace: no free sys.monitoring tool id (held: %U); "
                     "stop another tool (debugger, coverage, profiler) first",
                     joined);
    }
    Py_XDECREF(sep);
    Py_XDECREF(joined);
    Py_DECREF(holders);
    return -1;
}

/* Is `id` still FlowTrace's? The program may have freed it (free_tool_id)
 * and another tool may have taken it since: then nothing of it is ours to
 * undo. 1 yes, 0 no, -1 error. */
static int
still_own_tool(ft_state *st, int id)
{
    PyObject *who = mon_call(st, FT_MON_GET_TOOL, 1, id, 0, NULL);
    if (who == NULL) {
        return -1;
    }
    int ours = PyUnicode_Check(who) && PyUnicode_Compare(who, st->tool_name) == 0;
    Py_DECREF(who);
    return ours;
}

/* Undo registration of `id`, if it is still ours; keeps the first error,
 * goes on regardless. */
static int
release_tool(ft_state *st, int id)
{
    int ok = 0;
    PyObject *saved = NULL;
    int own = still_own_tool(st, id);
    if (own <= 0) {
        return own; /* freed and perhaps taken by another tool: leave it */
    }
    PyObject *r = mon_call(st, FT_MON_SET_EVENTS, 2, id, 0, NULL);
    if (r == NULL) {
        ok = -1;
        saved = PyErr_GetRaisedException();
    }
    Py_XDECREF(r);
    for (int i = 0; i < FT_NEVENTS; i++) {
        r = mon_call(st, FT_MON_REGISTER_CALLBACK, 2, id, st->ev_bits[i], Py_None);
        if (r == NULL) {
            if (ok == 0) {
                saved = PyErr_GetRaisedException();
            }
            else {
                PyErr_Clear();
            }
            ok = -1;
        }
        Py_XDECREF(r);
    }
    r = mon_call(st, FT_MON_FREE_TOOL_ID, 1, id, 0, NULL);
    if (r == NULL) {
        if (ok == 0) {
            saved = PyErr_GetRaisedException();
        }
        else {
            PyErr_Clear();
        }
        ok = -1;
    }
    Py_XDECREF(r);
    if (saved != NULL) {
        PyErr_SetRaisedException(saved);
    }
    return ok;
}

/* Lingering. An outermost @trace call is a session of its own: started
 * when the call begins, stopped when it ends. Turning the events on and
 * off for every call would cost a re-instrumentation of the code each time
 * and, on CPython 3.13, stop working after 2^24 set_events() calls
 * (OverflowError: events set too many times; gh-120158): about 8.4 million
 * decorated calls in a long-running service. So once this module has
 * turned its events on or off FT_TOGGLES_THEN_LINGER times (a @trace
 * function called in a loop), a session of a @trace call that ends leaves
 * its tool id registered with its events on, and the next session takes
 * it as it is. (Until then, the id is freed after every call, as a
 * program that wants it may expect.) Meanwhile every event of the program's code costs one
 * callback that finds no session and returns (code FlowTrace excluded
 * stays DISABLEd). After FT_LINGER_IDLE_EVENTS such events with no @trace
 * call, the events are turned off; but once this module has turned them
 * on or off FT_TOGGLES_THEN_STAY times, they stay on (the limit is then
 * never reached). start_tracing() takes the lingering id too; a session's
 * stop_tracing() turns everything off as before. */
static PyObject *
set_events(ft_state *st, int id, long mask)
{
    st->toggles++;
    return mon_call(st, FT_MON_SET_EVENTS, 2, id, mask, NULL);
}

static void
end_lingering(ft_state *st)
{
    int id = st->linger_id;
    st->linger_id = -1;
    if (id < 0 || st->monitoring == NULL) {
        return;
    }
    st->toggles++;
    PyObject *exc = PyErr_GetRaisedException();
    if (release_tool(st, id) < 0) {
        PyErr_Clear(); /* gone or taken by another tool: nothing to undo */
    }
    PyErr_SetRaisedException(exc);
}

/* The id a session can record with: the lingering one if it is still
 * ours (*lingered = 1: registered, events on), else a free one. */
static int
session_tool_id(ft_state *st, int *lingered)
{
    *lingered = 0;
    if (st->linger_id >= 0) {
        int own = still_own_tool(st, st->linger_id);
        if (own < 0) {
            PyErr_Clear();
        }
        if (own > 0) {
            int id = st->linger_id;
            st->linger_id = -1;
            *lingered = 1;
            return id;
        }
        st->linger_id = -1; /* freed by the program: not ours to touch */
    }
    return take_tool_id(st);
}

int
ft_recorder_start(PyObject *module, ft_state *st, const ft_session_config *cfg)
{
    (void)module;
    if (st->gen != 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        st->implicit ? "flowtrace: a @trace call is being recorded; "
                                       "start_tracing() cannot start inside it"
                                     : "flowtrace: a tracing session is already running");
        return -1;
    }
    if (st->default_excludes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "flowtrace._core is not configured");
        return -1;
    }
    int lingered;
    int id = session_tool_id(st, &lingered);
    if (id < 0) {
        return -1;
    }
    long mask = 0;
    PyObject *key = NULL;
    for (int i = 0; i < FT_NEVENTS; i++) {
        mask |= st->ev_bits[i];
        if (lingered) {
            continue; /* registered already */
        }
        PyObject *r = mon_call(st, FT_MON_REGISTER_CALLBACK, 2, id, st->ev_bits[i],
                               st->callbacks[i]);
        if (r == NULL) {
            goto fail;
        }
        Py_DECREF(r);
    }
    if (ft_codetable_init(&st->codes) < 0) {
        goto fail;
    }
    PyObject *excludes = cfg->excludes ? cfg->excludes : st->default_excludes;
    st->filter.exclude_prefixes = Py_NewRef(excludes);
    st->filter.always_excluded = Py_XNewRef(st->own_dirs);
    st->filter.decorated = Py_NewRef(st->decorated);
    st->filter.include_stdlib = cfg->include_stdlib;
    if (ft_patterns_set(&st->filter.include, cfg->include) < 0 ||
        ft_patterns_set(&st->filter.exclude, cfg->exclude) < 0) {
        goto fail;
    }

    /* Code locations DISABLEd by an earlier session stay disabled for this
     * tool id. That is right when the filter is the same; otherwise (or the
     * first time, or another id) re-arm them. restart_events() re-arms other
     * tools' locations too, which only costs them one more event each. */
    key = Py_BuildValue("(OiOO)", excludes, cfg->include_stdlib,
                        cfg->include ? cfg->include : Py_None,
                        cfg->exclude ? cfg->exclude : Py_None);
    if (key == NULL) {
        goto fail;
    }
    int same = 0;
    if (st->last_filter_key != NULL && st->last_tool_id == id) {
        same = PyObject_RichCompareBool(key, st->last_filter_key, Py_EQ);
        if (same < 0) {
            goto fail;
        }
    }
    if (!same) {
        PyObject *r = mon_call(st, FT_MON_RESTART_EVENTS, 0, 0, 0, NULL);
        if (r == NULL) {
            goto fail;
        }
        Py_DECREF(r);
        Py_XSETREF(st->last_filter_key, key);
        key = NULL;
        st->last_tool_id = id;
    }
    Py_CLEAR(key);

    if (st->cal_ns0 == 0) {
        st->cal_ns0 = ft_clock_ns(); /* the clock's baseline: the longer */
        st->cal_ticks0 = ft_now_ticks(); /* it gets, the better the ratio */
    }
    st->ring_records = (size_t)cfg->max_events; /* 0: keep everything */
    st->timing = cfg->timing;
    st->full_repr = cfg->full_repr;
    st->results = cfg->results;
    st->capture_args = cfg->args;
    st->implicit = cfg->implicit;
    st->broken = 0;
    st->gseq = 0;
    st->gseq_owner = NULL;
    st->tool_id = id;
    st->gen = ++next_gen;
    if (lingered) {
        return 0; /* its events are on */
    }
    PyObject *r = set_events(st, id, mask);
    if (r == NULL) {
        st->gen = 0;
        st->tool_id = -1;
        goto fail;
    }
    Py_DECREF(r);
    return 0;

fail:
    Py_XDECREF(key);
    {
        PyObject *exc = PyErr_GetRaisedException();
        release_tool(st, id);
        PyErr_Clear();
        PyErr_SetRaisedException(exc);
    }
    ft_codetable_clear(&st->codes);
    ft_filter_clear(&st->filter);
    return -1;
}

double
ft_recorder_ns_per_tick(const ft_state *st)
{
    uint64_t ns = ft_clock_ns(), ticks = ft_now_ticks();
    if (ft_clock_use_tsc && ticks > st->cal_ticks0 && ns > st->cal_ns0) {
        return (double)(ns - st->cal_ns0) / (double)(ticks - st->cal_ticks0);
    }
    return 1.0;
}

static PyObject *
stop(ft_state *st, int linger)
{
    if (st->gen == 0) {
        PyErr_SetString(PyExc_RuntimeError, "flowtrace: no tracing session is running");
        return NULL;
    }
    PyObject *release_error = NULL;
    if (linger && st->toggles >= FT_TOGGLES_THEN_LINGER) {
        st->linger_id = st->tool_id; /* events stay on for the next call */
        st->linger_idle = 0;
    }
    else {
        st->toggles++;
        if (release_tool(st, st->tool_id) < 0) {
            release_error = PyErr_GetRaisedException();
        }
    }
    st->gen = 0;
    st->tool_id = -1;

    for (ft_threadbuf *tb = st->threads; tb != NULL; tb = tb->next) {
        if (tb->name == NULL) {
            ft_resolve_thread_name(tb);
        }
    }
    /* Buffers were prepended as threads attached: finishing them reverses
     * the list into attach order. */
    ft_threadbuf *rev = ft_threadbuf_finish_all(st->threads, st->nthreads);
    st->threads = NULL;
    ft_trace_config tc = {
        .ns_per_tick = ft_recorder_ns_per_tick(st),
        .timing = st->timing,
        .results = st->results,
        .midflight = !st->implicit,
        .args = st->capture_args,
    };
    ft_tree tree;
    PyObject *trace = ft_tree_init(&tree, &st->codes, rev, st->nthreads, &tc) < 0
                          ? NULL
                          : ft_trace_wrap(st->trace_type, &tree);
    st->nthreads = 0;
    ft_filter_clear(&st->filter);
    if (trace == NULL) {
        Py_XDECREF(release_error);
        return NULL;
    }
    Py_XSETREF(st->last_trace, Py_NewRef(trace));
    if (release_error != NULL) {
        /* The trace is kept (get_trace_data), but say what went wrong. */
        PyErr_SetRaisedException(release_error);
        PyErr_WriteUnraisable(NULL);
    }
    return trace;
}

PyObject *
ft_recorder_stop(PyObject *module, ft_state *st)
{
    (void)module;
    return stop(st, 0);
}

PyObject *
ft_recorder_stop_lingering(PyObject *module, ft_state *st)
{
    (void)module;
    return stop(st, 1);
}

void
ft_recorder_clear(ft_state *st)
{
    end_lingering(st);
    if (st->gen != 0 && st->tool_id >= 0 && st->monitoring != NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        release_tool(st, st->tool_id);
        PyErr_Clear();
        PyErr_SetRaisedException(exc);
        st->gen = 0;
    }
    ft_threadbuf_free_list(st->threads, NULL);
    ft_chunkpool_close(&st->pool);
    st->threads = NULL;
    ft_codetable_clear(&st->codes);
    ft_filter_clear(&st->filter);
    for (int i = 0; i < FT_NEVENTS; i++) {
        Py_CLEAR(st->callbacks[i]);
    }
    Py_CLEAR(st->callback_type);
    Py_CLEAR(st->monitoring);
    Py_CLEAR(st->disable);
    Py_CLEAR(st->tool_name);
    for (int i = 0; i < FT_MON_NFN; i++) {
        Py_CLEAR(st->mon_fn[i]);
    }
    Py_CLEAR(st->last_filter_key);
}
