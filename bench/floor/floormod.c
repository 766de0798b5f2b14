/*
 * floormod.c -- the cost "floor" of a C sys.monitoring (PEP 669) tracer.
 *
 * Part of the FlowTrace benchmark (bench/), not of the flowtrace package.
 *
 * This module registers the cheapest callbacks a real C tracer could have for the
 * events FlowTrace listens to (PY_START, PY_RESUME, PY_RETURN, PY_YIELD, PY_UNWIND,
 * PY_THROW) and does everything such a tracer must do per event *except* record
 * anything:
 *
 *   - look the code object up in a pointer-keyed map (the verdict is decided once
 *     per code object: standard library / site-packages / frozen code is "skipped",
 *     anything else is user code);
 *   - for user code: return None (nothing recorded);
 *   - for skipped code: return sys.monitoring.DISABLE from the events that allow it
 *     (PY_START, PY_RESUME, PY_RETURN, PY_YIELD), so the interpreter stops calling us
 *     at that location; PY_UNWIND and PY_THROW cannot be disabled and return None.
 *
 * The time of a workload under this module, divided by its untraced time, is the
 * floor that FlowTrace's recorder is compared against.
 *
 * With start(prefixes, clock=True) the callbacks for user code also read a clock
 * once per event and store the timestamp: the reference for FlowTrace's timing
 * mode (start_tracing(timing=True)), which reads one timestamp per event. The clock
 * is the one FlowTrace uses (src/flowtrace/_core/clock.h): the TSC (__rdtsc) on
 * x86-64 with GCC/clang when CPUID says it is invariant, else
 * clock_gettime(CLOCK_MONOTONIC). Timestamps go into a fixed ring of
 * CLOCK_RING_SIZE uint64 in the module state (index = reads & mask): the store
 * cannot be optimised away and the ring stays cache-resident, so what is added to
 * the floor is the clock read itself, not memory traffic. Skipped code reads no
 * clock. Without clock=True a different vectorcall function runs, the same as
 * before this option existed (no extra branch on the floor's path).
 *
 * Callbacks are instances of a small heap type with per-instance vectorcall
 * (Py_TPFLAGS_HAVE_VECTORCALL), slightly cheaper than METH_FASTCALL functions.
 * One instance per event kind: sys.monitoring does not tell a callback which
 * event fired.
 *
 * Python API:
 *   start(prefixes: tuple[str, ...], /, *, clock: bool = False) -> int
 *                                claim a tool id, register, set_events; returns the
 *                                tool id used; clock=True: read the clock per event
 *   stop() -> dict               set_events(id, 0), unregister, free the id; returns
 *                                {"tool_id", "codes", "skipped", "clock", "clock_reads"}
 *   active() -> bool             True between start() and stop()
 *   clock_reads() -> int         clock reads made since the last start() (0 unless
 *                                clock=True); kept after stop()
 *   clock_last() -> int          the last timestamp stored in the ring (raw ticks or
 *                                ns), 0 if none since the last start()
 *   CLOCK_SOURCE: str            "rdtsc" or "clock_gettime(CLOCK_MONOTONIC)"
 *
 * A file is "skipped" when co_filename starts with one of `prefixes` or with
 * "<frozen". The caller passes sysconfig's stdlib/platstdlib/purelib/platlib paths
 * (with a trailing separator).
 *
 * Reference counting: callback arguments are borrowed; callbacks return a new
 * reference (Py_None or DISABLE) and never return NULL.
 * Threading: relies on the GIL (no free-threading support: Py_mod_gil not declared).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h> /* offsetof */
#include <stdint.h> /* uintptr_t, uint64_t */
#include <string.h> /* memset */
#include <time.h>   /* clock_gettime (POSIX; Python.h set the feature macros) */

/* As in FlowTrace's clock.h: the TSC only on x86-64 with GCC/clang. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>     /* __get_cpuid */
#include <x86intrin.h> /* __rdtsc */
#define FLOOR_HAVE_TSC 1
#endif

#if PY_VERSION_HEX < 0x030C0000
#error "floormod needs Python 3.12 or later (sys.monitoring)"
#endif

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

enum {
    EV_PY_START,
    EV_PY_RESUME,
    EV_PY_RETURN,
    EV_PY_YIELD,
    EV_PY_UNWIND,
    EV_PY_THROW,
    N_EVENTS
};

/* Names as in sys.monitoring.events; whether the event accepts DISABLE. The bit
 * values are read from sys.monitoring.events at start(): they are renumbered
 * between CPython versions. */
static const struct {
    const char *name;
    int may_disable;
} EVENT_INFO[N_EVENTS] = {
    [EV_PY_START] = {"PY_START", 1},
    [EV_PY_RESUME] = {"PY_RESUME", 1},
    [EV_PY_RETURN] = {"PY_RETURN", 1},
    [EV_PY_YIELD] = {"PY_YIELD", 1},
    [EV_PY_UNWIND] = {"PY_UNWIND", 0},
    [EV_PY_THROW] = {"PY_THROW", 0},
};

/* Tool ids tried, in order: PROFILER_ID first, then the others. */
static const int TOOL_ID_ORDER[] = {2, 0, 1, 3, 4, 5};
#define N_TOOL_IDS ((int)(sizeof(TOOL_ID_ORDER) / sizeof(TOOL_ID_ORDER[0])))

#define TOOL_NAME "flowtrace-bench-floor"

/* ------------------------------------------------------------------------ */
/* Code map: code object pointer -> verdict                                   */
/* ------------------------------------------------------------------------ */

/* Open addressing with linear probing; capacity is a power of two, kept at most
 * half full. Entries are never removed individually (the map is emptied at
 * stop()), so a strong reference to each key keeps its address from being reused
 * by another code object while the map is alive. */

enum { VERDICT_USER = 0, VERDICT_SKIP = 1 };

typedef struct {
    PyObject *code; /* owned: the key (a code object); NULL marks an empty slot */
    int verdict;    /* VERDICT_USER or VERDICT_SKIP */
} CodeEntry;

typedef struct {
    CodeEntry *slots; /* owned: PyMem array of mask + 1 entries; NULL when not started */
    size_t mask;      /* capacity - 1 */
    size_t used;      /* occupied slots */
    size_t skipped;   /* occupied slots whose verdict is VERDICT_SKIP */
} CodeMap;

#define CODEMAP_INITIAL_CAPACITY 1024 /* power of two */

static inline size_t
codemap_hash(const PyObject *key)
{
    /* Objects are 16-byte aligned: drop the low bits, then Fibonacci-hash and
     * keep the well-mixed high half. */
    uint64_t h = (uint64_t)((uintptr_t)key >> 4) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32);
}

/* The slot holding `key`, or the empty slot where it would go. The map is never
 * full, so the probe always terminates. */
static inline CodeEntry *
codemap_slot(const CodeMap *map, const PyObject *key)
{
    size_t i = codemap_hash(key) & map->mask;
    for (;;) {
        CodeEntry *e = &map->slots[i];
        if (e->code == key || e->code == NULL) {
            return e;
        }
        i = (i + 1) & map->mask;
    }
}

/* Allocate an empty map. Returns 0, or -1 with MemoryError set. */
static int
codemap_init(CodeMap *map, size_t capacity)
{
    map->slots = PyMem_Calloc(capacity, sizeof(CodeEntry));
    if (map->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    map->mask = capacity - 1;
    map->used = 0;
    map->skipped = 0;
    return 0;
}

/* Release every key and the slot array; the map becomes empty (slots == NULL). */
static void
codemap_clear(CodeMap *map)
{
    CodeEntry *slots = map->slots;
    size_t capacity = map->mask + 1;
    map->slots = NULL;
    map->mask = 0;
    map->used = 0;
    map->skipped = 0;
    if (slots == NULL) {
        return;
    }
    /* Detached first: a DECREF below may run arbitrary code. */
    for (size_t i = 0; i < capacity; i++) {
        Py_XDECREF(slots[i].code);
    }
    PyMem_Free(slots);
}

/* Double the capacity. Returns 0, or -1 with MemoryError set (map unchanged). */
static int
codemap_grow(CodeMap *map)
{
    CodeMap bigger;
    if (codemap_init(&bigger, (map->mask + 1) * 2) < 0) {
        return -1;
    }
    for (size_t i = 0; i <= map->mask; i++) {
        CodeEntry *old = &map->slots[i];
        if (old->code != NULL) {
            *codemap_slot(&bigger, old->code) = *old; /* reference moves over */
        }
    }
    bigger.used = map->used;
    bigger.skipped = map->skipped;
    PyMem_Free(map->slots);
    *map = bigger;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Clock (start(..., clock=True))                                             */
/* ------------------------------------------------------------------------ */

#define CLOCK_RING_SIZE 4096 /* power of two: 32 KiB of timestamps */
#define CLOCK_RING_MASK (CLOCK_RING_SIZE - 1)

/* Whether the TSC can serve as a clock: CPUID 0x80000007 EDX bit 8 (invariant
 * TSC: constant rate in all power states, across cores). FlowTrace makes the same
 * test (clock.c) and falls back to CLOCK_MONOTONIC otherwise. */
static int
tsc_is_usable(void)
{
#ifdef FLOOR_HAVE_TSC
    unsigned a, b, c, d;
    return __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
#else
    return 0;
#endif
}

/* The cheapest timestamp: raw TSC ticks, or CLOCK_MONOTONIC nanoseconds. */
static inline uint64_t
read_clock(int use_tsc)
{
#ifdef FLOOR_HAVE_TSC
    if (use_tsc) {
        return (uint64_t)__rdtsc();
    }
#else
    (void)use_tsc;
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Module state                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyTypeObject *callback_type; /* owned: the FloorCallback heap type */
    int use_tsc;                 /* set once by exec: read the TSC (else CLOCK_MONOTONIC) */

    /* Everything below is set by start() and released by stop(). */
    int tool_id;                    /* claimed tool id, or -1 when stopped */
    int events_set;                 /* set_events(tool_id, mask) was done */
    PyObject *monitoring;           /* owned: the sys.monitoring module */
    PyObject *disable;              /* owned: sys.monitoring.DISABLE */
    PyObject *prefixes;             /* owned: tuple of str, the caller's prefixes + "<frozen" */
    PyObject *callbacks[N_EVENTS];  /* owned: registered callback objects (NULL = not registered) */
    long event_bits[N_EVENTS];      /* bit of each event in sys.monitoring.events */
    CodeMap map;                    /* verdict per code object seen */
    int clock;                      /* start(clock=True): user-code callbacks read the clock */

    /* Set to zero by start(), kept after stop() (read by clock_reads()/clock_last()). */
    uint64_t clock_reads;                  /* clock reads made by the callbacks */
    uint64_t clock_ring[CLOCK_RING_SIZE];  /* inline (part of the state): timestamps, the
                                              n-th read in slot n & CLOCK_RING_MASK */
} floor_state;

static inline floor_state *
get_state(PyObject *module)
{
    return (floor_state *)PyModule_GetState(module);
}

/* ------------------------------------------------------------------------ */
/* Verdicts                                                                   */
/* ------------------------------------------------------------------------ */

/* Decide whether `code` is skipped. Never fails: an error is reported as
 * unraisable and the code is treated as user code. */
static int
classify(floor_state *st, PyObject *code)
{
    /* Direct field access (CPython's non-limited API): no attribute lookup. */
    PyObject *filename = ((PyCodeObject *)code)->co_filename; /* borrowed */
    if (filename == NULL || !PyUnicode_Check(filename)) {
        return VERDICT_USER;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(st->prefixes);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *prefix = PyTuple_GET_ITEM(st->prefixes, i); /* borrowed */
        Py_ssize_t match = PyUnicode_Tailmatch(filename, prefix, 0, PY_SSIZE_T_MAX, -1);
        if (match < 0) {
            PyErr_WriteUnraisable(code);
            return VERDICT_USER;
        }
        if (match) {
            return VERDICT_SKIP;
        }
    }
    return VERDICT_USER;
}

/* Slow path: first sight of `code`. Classify it and remember the verdict.
 * Never fails (on MemoryError the verdict is used uncached). */
static Py_NO_INLINE int
classify_and_insert(floor_state *st, PyObject *code)
{
    int verdict = classify(st, code);
    CodeMap *map = &st->map;
    if ((map->used + 1) * 2 > map->mask + 1 && codemap_grow(map) < 0) {
        PyErr_WriteUnraisable(code);
        return verdict;
    }
    CodeEntry *e = codemap_slot(map, code);
    e->code = Py_NewRef(code);
    e->verdict = verdict;
    map->used++;
    if (verdict == VERDICT_SKIP) {
        map->skipped++;
    }
    return verdict;
}

/* ------------------------------------------------------------------------ */
/* Callback objects                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall; /* per-instance vectorcall slot: floorcb_vectorcall or
                                  floorcb_vectorcall_clock (fixed at creation) */
    PyObject *module;          /* owned: keeps `state` alive; never cleared before dealloc */
    floor_state *state;        /* borrowed: the state of `module` */
    int may_disable;           /* the event accepts DISABLE */
} FloorCallback;

/* The callback: (code, offset[, value or exc]) -> None or DISABLE. Inlined into
 * two vectorcall functions: `with_clock` is a constant, so the floor's own
 * function has no clock code at all. */
static inline Py_ALWAYS_INLINE PyObject *
floorcb_body(PyObject *callable, PyObject *const *args, size_t nargsf, const int with_clock)
{
    FloorCallback *self = (FloorCallback *)callable;
    floor_state *st = self->state;

    /* Not started (a stale reference called after stop()), or not a code object
     * (3.13's PyMonitoring_* firing API allows other first arguments). */
    if (st->map.slots == NULL || PyVectorcall_NARGS(nargsf) < 1 || !PyCode_Check(args[0])) {
        return Py_NewRef(Py_None);
    }
    PyObject *code = args[0]; /* borrowed */
    CodeEntry *e = codemap_slot(&st->map, code);
    int verdict = (e->code == code) ? e->verdict : classify_and_insert(st, code);
    if (verdict == VERDICT_SKIP && self->may_disable) {
        return Py_NewRef(st->disable);
    }
    if (with_clock && verdict == VERDICT_USER) {
        st->clock_ring[st->clock_reads & CLOCK_RING_MASK] = read_clock(st->use_tsc);
        st->clock_reads++;
    }
    return Py_NewRef(Py_None);
}

/* start(prefixes): no clock. */
static PyObject *
floorcb_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                   PyObject *kwnames)
{
    (void)kwnames;
    return floorcb_body(callable, args, nargsf, 0);
}

/* start(prefixes, clock=True): one clock read per user-code event. */
static PyObject *
floorcb_vectorcall_clock(PyObject *callable, PyObject *const *args, size_t nargsf,
                         PyObject *kwnames)
{
    (void)kwnames;
    return floorcb_body(callable, args, nargsf, 1);
}

static int
floorcb_traverse(PyObject *op, visitproc visit, void *arg)
{
    FloorCallback *self = (FloorCallback *)op;
    Py_VISIT(Py_TYPE(op)); /* instances of heap types own a reference to their type */
    Py_VISIT(self->module);
    return 0;
}

/* No tp_clear on purpose: `module` must outlive the instance because `state`
 * points into it. Cycles (module state -> callback -> module) are broken by the
 * module's m_clear. */
static void
floorcb_dealloc(PyObject *op)
{
    FloorCallback *self = (FloorCallback *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    Py_CLEAR(self->module);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMemberDef floorcb_members[] = {
    {.name = "__vectorcalloffset__",
     .type = Py_T_PYSSIZET,
     .offset = offsetof(FloorCallback, vectorcall),
     .flags = Py_READONLY},
    {.name = NULL},
};

static PyType_Slot floorcb_slots[] = {
    {Py_tp_doc, (void *)"sys.monitoring callback of the floor tracer (one per event)."},
    {Py_tp_call, (void *)PyVectorcall_Call},
    {Py_tp_members, floorcb_members},
    {Py_tp_traverse, (void *)floorcb_traverse},
    {Py_tp_dealloc, (void *)floorcb_dealloc},
    {0, NULL},
};

static PyType_Spec floorcb_spec = {
    .name = "floormod.FloorCallback",
    .basicsize = sizeof(FloorCallback),
    .itemsize = 0,
    .flags = (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
              Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE),
    .slots = floorcb_slots,
};

/* New reference to a callback for event `ev`, or NULL with an exception set. */
static PyObject *
floorcb_new(PyObject *module, floor_state *st, int ev, int with_clock)
{
    PyTypeObject *tp = st->callback_type;
    FloorCallback *self = (FloorCallback *)tp->tp_alloc(tp, 0); /* zeroed, GC-tracked */
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = with_clock ? floorcb_vectorcall_clock : floorcb_vectorcall;
    self->module = Py_NewRef(module);
    self->state = st;
    self->may_disable = EVENT_INFO[ev].may_disable;
    return (PyObject *)self;
}

/* ------------------------------------------------------------------------ */
/* start / stop                                                               */
/* ------------------------------------------------------------------------ */

/* Keep the first error seen in *first; later ones are dropped. */
static void
keep_first_error(PyObject **first)
{
    if (!PyErr_Occurred()) {
        return;
    }
    PyObject *exc = PyErr_GetRaisedException();
    if (*first == NULL) {
        *first = exc;
    }
    else {
        Py_DECREF(exc);
    }
}

/* Call sys.monitoring.<name>(args...) and drop the result. Returns 0 or -1. */
static int
call_monitoring(floor_state *st, const char *name, const char *format, ...)
{
    va_list va;
    va_start(va, format);
    PyObject *func = PyObject_GetAttrString(st->monitoring, name);
    PyObject *result = NULL;
    if (func != NULL) {
        PyObject *args = Py_VaBuildValue(format, va);
        if (args != NULL) {
            result = PyObject_CallObject(func, args);
            Py_DECREF(args);
        }
        Py_DECREF(func);
    }
    va_end(va);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* Undo whatever start() has done, in the order the notes require: set_events(id,
 * 0); register_callback(id, ev, None) for each event; free_tool_id(id). Every
 * step runs even if an earlier one failed. Returns 0, or -1 with the first error
 * set. */
static int
floor_teardown(floor_state *st)
{
    PyObject *first = NULL;
    if (st->tool_id >= 0 && st->monitoring != NULL) {
        if (st->events_set) {
            if (call_monitoring(st, "set_events", "(ii)", st->tool_id, 0) < 0) {
                keep_first_error(&first);
            }
            st->events_set = 0;
        }
        for (int ev = 0; ev < N_EVENTS; ev++) {
            if (st->callbacks[ev] == NULL) {
                continue;
            }
            if (call_monitoring(st, "register_callback", "(ilO)", st->tool_id,
                                st->event_bits[ev], Py_None) < 0) {
                keep_first_error(&first);
            }
        }
        if (call_monitoring(st, "free_tool_id", "(i)", st->tool_id) < 0) {
            keep_first_error(&first);
        }
    }
    st->tool_id = -1;
    st->clock = 0; /* clock_reads and the ring stay readable */
    for (int ev = 0; ev < N_EVENTS; ev++) {
        Py_CLEAR(st->callbacks[ev]);
    }
    Py_CLEAR(st->monitoring);
    Py_CLEAR(st->disable);
    Py_CLEAR(st->prefixes);
    codemap_clear(&st->map);
    if (first != NULL) {
        PyErr_SetRaisedException(first);
        return -1;
    }
    return 0;
}

/* Claim the first free tool id in TOOL_ID_ORDER. Returns it, or -1 with an
 * exception set. Never takes an id that is in use. */
static int
claim_tool_id(floor_state *st)
{
    for (int i = 0; i < N_TOOL_IDS; i++) {
        int id = TOOL_ID_ORDER[i];
        PyObject *owner = PyObject_CallMethod(st->monitoring, "get_tool", "i", id);
        if (owner == NULL) {
            return -1;
        }
        int is_free = (owner == Py_None);
        Py_DECREF(owner);
        if (!is_free) {
            continue;
        }
        if (call_monitoring(st, "use_tool_id", "(is)", id, TOOL_NAME) == 0) {
            return id;
        }
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            return -1;
        }
        PyErr_Clear(); /* taken meanwhile (ValueError "already in use"): try the next */
    }
    PyErr_SetString(PyExc_RuntimeError, "floormod: no free sys.monitoring tool id (0-5)");
    return -1;
}

/* Validate `prefixes` and return a new tuple: prefixes + ("<frozen",). */
static PyObject *
build_prefixes(PyObject *prefixes)
{
    if (!PyTuple_Check(prefixes)) {
        PyErr_Format(PyExc_TypeError, "start() expects a tuple of str, not %.100s",
                     Py_TYPE(prefixes)->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(prefixes);
    PyObject *all = PyTuple_New(n + 1);
    if (all == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(prefixes, i); /* borrowed */
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "start(): prefix %zd is %.100s, not str", i,
                         Py_TYPE(item)->tp_name);
            Py_DECREF(all);
            return NULL;
        }
        PyTuple_SET_ITEM(all, i, Py_NewRef(item)); /* steals the new reference */
    }
    PyObject *frozen = PyUnicode_FromString("<frozen");
    if (frozen == NULL) {
        Py_DECREF(all);
        return NULL;
    }
    PyTuple_SET_ITEM(all, n, frozen); /* steals */
    return all;
}

/* Read sys.monitoring.events.<name> into st->event_bits. Returns 0 or -1. */
static int
read_event_bits(floor_state *st)
{
    PyObject *events = PyObject_GetAttrString(st->monitoring, "events");
    if (events == NULL) {
        return -1;
    }
    int rc = 0;
    for (int ev = 0; ev < N_EVENTS && rc == 0; ev++) {
        PyObject *bit = PyObject_GetAttrString(events, EVENT_INFO[ev].name);
        if (bit == NULL) {
            rc = -1;
            break;
        }
        st->event_bits[ev] = PyLong_AsLong(bit);
        Py_DECREF(bit);
        if (st->event_bits[ev] == -1 && PyErr_Occurred()) {
            rc = -1;
        }
    }
    Py_DECREF(events);
    return rc;
}

/* The body of start(); on failure the caller tears down the partial state. */
static int
floor_setup(PyObject *module, floor_state *st, PyObject *prefixes, int with_clock)
{
    st->clock = with_clock;
    st->clock_reads = 0;
    memset(st->clock_ring, 0, sizeof(st->clock_ring));
    st->prefixes = build_prefixes(prefixes);
    if (st->prefixes == NULL) {
        return -1;
    }
    PyObject *sys = PyImport_ImportModule("sys");
    if (sys == NULL) {
        return -1;
    }
    st->monitoring = PyObject_GetAttrString(sys, "monitoring");
    Py_DECREF(sys);
    if (st->monitoring == NULL) {
        return -1;
    }
    st->disable = PyObject_GetAttrString(st->monitoring, "DISABLE");
    if (st->disable == NULL || read_event_bits(st) < 0) {
        return -1;
    }
    if (codemap_init(&st->map, CODEMAP_INITIAL_CAPACITY) < 0) {
        return -1;
    }
    st->tool_id = claim_tool_id(st);
    if (st->tool_id < 0) {
        return -1;
    }
    long mask = 0;
    for (int ev = 0; ev < N_EVENTS; ev++) {
        PyObject *cb = floorcb_new(module, st, ev, with_clock);
        if (cb == NULL) {
            return -1;
        }
        if (call_monitoring(st, "register_callback", "(ilO)", st->tool_id,
                            st->event_bits[ev], cb) < 0) {
            Py_DECREF(cb);
            return -1;
        }
        st->callbacks[ev] = cb; /* registered: teardown must unregister it */
        mask |= st->event_bits[ev];
    }
    if (call_monitoring(st, "set_events", "(il)", st->tool_id, mask) < 0) {
        return -1;
    }
    st->events_set = 1;
    return 0;
}

PyDoc_STRVAR(floor_start_doc,
"start(prefixes, /, *, clock=False) -> int\n\n"
"Claim a free sys.monitoring tool id (2 first, then 0-5), register the floor\n"
"callbacks for PY_START, PY_RESUME, PY_RETURN, PY_YIELD, PY_UNWIND, PY_THROW and\n"
"enable those events. Code whose co_filename starts with one of `prefixes`\n"
"(a tuple of str) or with '<frozen' is disabled at first sight. Returns the id.\n\n"
"clock=True: every event of user code also reads the clock once (CLOCK_SOURCE)\n"
"and stores the timestamp in a fixed ring in the module state; clock_reads()\n"
"counts the reads (reset by start()).");

static PyObject *
floor_start(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"", "clock", NULL}; /* "": positional-only */
    PyObject *prefixes = NULL;                   /* borrowed */
    int with_clock = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$p:start", kwlist, &prefixes,
                                     &with_clock)) {
        return NULL;
    }
    floor_state *st = get_state(module);
    if (st->tool_id >= 0) {
        PyErr_SetString(PyExc_RuntimeError, "floormod is already started");
        return NULL;
    }
    if (floor_setup(module, st, prefixes, with_clock) < 0) {
        PyObject *exc = PyErr_GetRaisedException();
        if (floor_teardown(st) < 0) {
            PyErr_WriteUnraisable(module); /* secondary error; report, keep the first */
        }
        PyErr_SetRaisedException(exc);
        return NULL;
    }
    return PyLong_FromLong(st->tool_id);
}

PyDoc_STRVAR(floor_stop_doc,
"stop() -> dict\n\n"
"Disable the events, unregister the callbacks and free the tool id. Returns\n"
"{'tool_id': id, 'codes': code objects seen, 'skipped': of which disabled,\n"
" 'clock': clock=True was given, 'clock_reads': clock reads made}.\n"
"Raises RuntimeError if not started.");

static PyObject *
floor_stop(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    floor_state *st = get_state(module);
    if (st->tool_id < 0) {
        PyErr_SetString(PyExc_RuntimeError, "floormod is not started");
        return NULL;
    }
    int tool_id = st->tool_id, clock = st->clock;
    size_t codes = st->map.used, skipped = st->map.skipped;
    if (floor_teardown(st) < 0) {
        return NULL;
    }
    return Py_BuildValue("{s:i,s:n,s:n,s:O,s:K}", "tool_id", tool_id, "codes",
                         (Py_ssize_t)codes, "skipped", (Py_ssize_t)skipped, "clock",
                         clock ? Py_True : Py_False, "clock_reads",
                         (unsigned long long)st->clock_reads);
}

PyDoc_STRVAR(floor_active_doc, "active() -> bool\n\nTrue between start() and stop().");

static PyObject *
floor_active(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(get_state(module)->tool_id >= 0);
}

PyDoc_STRVAR(floor_clock_reads_doc,
"clock_reads() -> int\n\n"
"Clock reads made by the callbacks since the last start() (0 unless it was given\n"
"clock=True); still readable after stop().");

static PyObject *
floor_clock_reads(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLongLong(get_state(module)->clock_reads);
}

PyDoc_STRVAR(floor_clock_last_doc,
"clock_last() -> int\n\n"
"The timestamp of the last clock read, as stored in the ring (TSC ticks or\n"
"CLOCK_MONOTONIC ns, see CLOCK_SOURCE); 0 if no read since the last start().");

static PyObject *
floor_clock_last(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    floor_state *st = get_state(module);
    uint64_t n = st->clock_reads;
    return PyLong_FromUnsignedLongLong(n ? st->clock_ring[(n - 1) & CLOCK_RING_MASK] : 0);
}

static PyMethodDef floor_methods[] = {
    {"start", (PyCFunction)(void (*)(void))floor_start, METH_VARARGS | METH_KEYWORDS,
     floor_start_doc},
    {"stop", floor_stop, METH_NOARGS, floor_stop_doc},
    {"active", floor_active, METH_NOARGS, floor_active_doc},
    {"clock_reads", floor_clock_reads, METH_NOARGS, floor_clock_reads_doc},
    {"clock_last", floor_clock_last, METH_NOARGS, floor_clock_last_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------ */
/* Module                                                                     */
/* ------------------------------------------------------------------------ */

static int
floor_exec(PyObject *module)
{
    floor_state *st = get_state(module);
    st->tool_id = -1;
    st->use_tsc = tsc_is_usable();
    st->callback_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &floorcb_spec, NULL);
    if (st->callback_type == NULL) {
        return -1;
    }
    const char *source = st->use_tsc ? "rdtsc" : "clock_gettime(CLOCK_MONOTONIC)";
    return PyModule_AddStringConstant(module, "CLOCK_SOURCE", source);
}

static int
floor_traverse(PyObject *module, visitproc visit, void *arg)
{
    floor_state *st = get_state(module);
    if (st == NULL) {
        return 0;
    }
    Py_VISIT(st->callback_type);
    Py_VISIT(st->monitoring);
    Py_VISIT(st->disable);
    Py_VISIT(st->prefixes);
    for (int ev = 0; ev < N_EVENTS; ev++) {
        Py_VISIT(st->callbacks[ev]);
    }
    /* Map keys are code objects, which are not GC containers: not visited. */
    return 0;
}

/* Breaks reference cycles only; does not talk to sys.monitoring (the module is
 * unreachable, so its callbacks are no longer registered). */
static int
floor_clear(PyObject *module)
{
    floor_state *st = get_state(module);
    if (st == NULL) {
        return 0;
    }
    st->tool_id = -1;
    st->events_set = 0;
    st->clock = 0;
    codemap_clear(&st->map); /* late callbacks see slots == NULL and return None */
    for (int ev = 0; ev < N_EVENTS; ev++) {
        Py_CLEAR(st->callbacks[ev]);
    }
    Py_CLEAR(st->monitoring);
    Py_CLEAR(st->disable);
    Py_CLEAR(st->prefixes);
    Py_CLEAR(st->callback_type);
    return 0;
}

static void
floor_free(void *module)
{
    (void)floor_clear((PyObject *)module);
}

static PyModuleDef_Slot floor_slots[] = {
    {Py_mod_exec, (void *)floor_exec},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef floor_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "floormod",
    .m_doc = "Cost floor of a C sys.monitoring tracer (FlowTrace benchmark).",
    .m_size = sizeof(floor_state),
    .m_methods = floor_methods,
    .m_slots = floor_slots,
    .m_traverse = floor_traverse,
    .m_clear = floor_clear,
    .m_free = floor_free,
};

PyMODINIT_FUNC
PyInit_floormod(void)
{
    return PyModuleDef_Init(&floor_module);
}
