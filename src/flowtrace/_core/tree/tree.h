/* tree.h - the call tree of a trace: the model every writer reads.
 *
 * An ft_tree owns what a stopped recording left (the threads' buffers and
 * the code table) or what a loader rebuilt, and the nodes built from it on
 * demand. It is plain C: the Python type Trace (python/trace.h) holds one
 * and only dispatches; writers (output/) take it as `const ft_tree *`,
 * built. The functions that build one are declared here and defined in
 * this folder: build.c (from the records), from_events.c (from CallEvent
 * objects), load_json.c (from a saved FlowTrace JSON file).
 */
#ifndef FLOWTRACE_TREE_H
#define FLOWTRACE_TREE_H

#include <Python.h>
#include <stdint.h>

#include "recording/buffer.h"
#include "recording/codetable.h"

typedef struct {
    double ns_per_tick; /* converts the recorded timestamps to ns (1.0 once
                           the nodes are built: they hold ns) */
    double records_ns_per_tick; /* the same for the records themselves:
                                   kept when the nodes are converted (set
                                   by ft_tree_init) */
    int timing;  /* every event carries a timestamp */
    int results; /* returned/yielded values were captured */
    int args;      /* arguments of every call were captured (--args) */
    int midflight; /* show frames that began before tracing (not for the
                      trace of a @trace call: its callers are not its story) */
    uint64_t anchor;     /* 0, or the raw timestamp of the moment
                            anchor_wall was read (a snapshot, snapshot.h);
                            once the nodes are built, in their clock: ns
                            from the trace's first timestamp */
    int64_t anchor_wall; /* CLOCK_REALTIME ns at `anchor` */
} ft_trace_config;

/* What a node is: a call, a resumption, or an exception marker inside a
 * call (FT_NODE_RAISE and after: no children, `exc` says which). */
enum {
    FT_NODE_CALL = 0,    /* the frame started */
    FT_NODE_RESUME = 1,  /* a generator/coroutine resumed (next, send, await) */
    FT_NODE_THROW = 2,   /* resumed by throw() or close() */
    FT_NODE_RAISE = 3,   /* an exception raised in the parent's frame */
    FT_NODE_RERAISE = 4, /* re-raised in the parent's frame */
    FT_NODE_HANDLED = 5, /* caught in the parent's frame */
    FT_NODE_TASK = 6,    /* an asyncio task's lane: its steps are its
                            children; args = its name, result = the name of
                            the task that created it */
};
#define FT_NODE_IS_MARKER(k) ((k) >= FT_NODE_RAISE && (k) <= FT_NODE_HANDLED)
#define FT_NODE_NKINDS 7
/* How a node ended. */
enum {
    FT_END_RETURN = 0,
    FT_END_RAISE = 1,
    FT_END_YIELD = 2,
    FT_END_UNFINISHED = 3,
    FT_END_CLOSED = 4, /* a generator closed by GeneratorExit */
};
#define FT_END_NENDS 5

/* The names of kinds and ends, as CallEvent, the saved files and the
 * loaders say them (the one table, in model.c): static strings, NULL for
 * a number out of range. */
const char *ft_node_kind_name(unsigned kind);
const char *ft_node_end_name(unsigned end);
/* Node flags. */
#define FT_NF_LEFT_SUSPENDED 1u /* last segment of a generator: never
                                   resumed again while tracing */
#define FT_NF_BEGAN_BEFORE 2u   /* the frame was running when tracing
                                   started: only its exit was seen */
#define FT_NF_CUT 4u            /* ...or it began before the events that
                                   were kept (ring mode) */

/* One call (or one resumption of a generator/coroutine) in the tree. */
typedef struct {
    int32_t parent;     /* index of the parent node, -1 for a thread root */
    int32_t origin;     /* resume/throw nodes: index of the generator's first
                           node (its call), -1 if it began before tracing;
                           other nodes: their own index */
    uint32_t code_id;   /* index in the trace's code table */
    uint32_t args;      /* value payload of the args text, FT_VAL_ABSENT if
                           the arguments were not captured */
    uint32_t result;    /* payload of the returned/yielded value */
    uint32_t exc;       /* payload of the exception text (FT_END_RAISE) */
    uint32_t nchildren; /* direct children */
    uint32_t thread;    /* index of its thread in the trace */
    uint8_t kind;       /* FT_NODE_* */
    uint8_t end;        /* FT_END_* */
    uint8_t timed;      /* its span (ft_tree.spans) is valid */
    uint8_t flags;      /* FT_NF_* */
} ft_node;

/* Nodes a tree may hold: indices are 32-bit (36 bytes a node). */
#define FT_NODES_MAX ((size_t)INT32_MAX)

/* When a timed node began and ended: raw timestamps while building, ns
 * from the trace's first timestamp once built (a tree rebuilt from events:
 * t0 0, t1 the duration). Apart from the nodes, so that an untimed trace
 * (the default) pays nothing for them. */
typedef struct {
    uint64_t t0, t1;
} ft_span;

typedef struct {
    ft_codetable codes;         /* owned: every code object seen */
    ft_threadbuf *threads;      /* owned: list of the threads' buffers */
    ft_threadbuf **thread_vec;  /* owned array; items borrowed from threads */
    uint32_t nthreads;          /* length of thread_vec */
    ft_trace_config cfg;        /* how it was recorded */
    ft_node *nodes;             /* owned: the tree, NULL until built */
    size_t nnodes;              /* length of nodes */
    ft_span *spans;             /* owned, or NULL when no node is timed:
                                   spans[i] is node i's, for i < nspans
                                   (later nodes are untimed) */
    size_t nspans;              /* length of spans */
    size_t *thread_first;       /* owned: nodes of thread i are
                                   [thread_first[i], thread_first[i+1]) */
    uint32_t nnames;            /* length of names (and files, lines) */
    PyObject **names;           /* owned array of owned str (or NULL): display
                                   name per code id, made on first use */
    PyObject **files;           /* owned array of owned str, or NULL: file of
                                   each code id when there is no code object
                                   (a trace rebuilt from events) */
    int *lines;                 /* owned, or NULL: first line, likewise */
    PyObject **modules;         /* owned array of owned str (or NULL), or
                                   NULL: module of each code id, likewise */
    int *argpos;                /* owned, or NULL: co_argcount of each code
                                   id when there is no code object (a trace
                                   loaded from a .ftrace file); -1: a code
                                   the session never recorded */
    PyObject **argnames;        /* owned array of owned tuples of str (or
                                   NULL), or NULL: its first parameter names,
                                   likewise */
    int rebuilt;                /* built from CallEvents or saved JSON: the
                                   nodes exist, the records do not (t0 is 0,
                                   t1 the duration) */
    int release_records;        /* set before building, by a reader that
                                   needs only the tree (show, stats, the
                                   viewer of a loaded file): the records'
                                   pages are given back as the builder reads
                                   them, so that they and the nodes are not
                                   held at once */
    int records_released;       /* they were: no record is kept (write_ftrace
                                   refuses); ft_tree_count answers with
                                   kept_calls and kept_events */
    size_t kept_calls, kept_events; /* ft_tree_count's answer, taken before
                                   the records were released */
    struct ft_lazy *lazy;       /* owned (lazy.c), or NULL: the tree is being
                                   built as a walk reads it; nodes, spans and
                                   thread_first are then the builder's, only
                                   as far as ft_tree_walkable says, and
                                   nnodes is 0 until ft_tree_build */
} ft_tree;

/* Take a stopped recording: steals the code table (moved) and the buffer
 * list (NULL, 0 for an empty tree a loader fills). 0, or -1 with
 * MemoryError, having freed what it was given. */
int ft_tree_init(ft_tree *t, ft_codetable *codes, ft_threadbuf *threads, uint32_t nthreads,
                 const ft_trace_config *cfg);

/* Free everything the tree owns (chunks go back to `pool` when given). */
void ft_tree_clear(ft_tree *t, ft_chunkpool *pool);

/* Build the nodes from the records if not built yet (build.c). 0, or -1
 * with an exception. */
int ft_tree_build(ft_tree *t);

/* A tree built as one walk reads it (lazy.c): for a writer that walks
 * each thread once, in pre-order (the text tree). 1 when the tree is now
 * built that way, 0 when it is not (already built, or a trace a lazy
 * build cannot make: call ft_tree_build), -1 with MemoryError. Whatever
 * the walk did not read is built by ft_tree_build, which every other
 * reader calls first: the tree is then the one a full build makes. */
int ft_tree_build_lazily(ft_tree *t);
typedef struct ft_lazy ft_lazy;

/* A FlowTrace JSON file read as a walk reads its tree (lazy.c): 1 (t is a
 * lazy tree, the file read up to its calls), 2 (read whole), 0 (cannot be
 * read lazily: t is cleared, read the file whole again), -1 with an
 * exception. `release`: a reader that needs only the walk (give the walked
 * nodes back). */
int ft_tree_from_json_lazily(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk,
                             uint64_t size_hint, int release);
int ft_lazy_finish(ft_tree *t); /* ft_tree_build's, for a lazy tree */
void ft_lazy_free(ft_tree *t);  /* ft_tree_clear's */

/* Where thread `thread`'s nodes begin (a lazy tree: once earlier threads
 * are built). 0, or -1 with an exception. */
int ft_tree_thread_start(const ft_tree *t, uint32_t thread, size_t *first);

/* *last: the end of the thread's nodes that a walk can enter, past
 * `want` if the thread has that many (a lazy tree builds until it is).
 * A node below it and the one after it are made and stay; a node left by
 * the walk (the next one entered is outside its subtree) is closed. 0, or
 * -1 with an exception. */
int ft_tree_walkable(const ft_tree *t, uint32_t thread, size_t want, size_t *last);

/* Node j (made) is closed: its outcome, children and time are final (a
 * lazy tree builds until it is). 0, or -1 with an exception. */
int ft_tree_closed(const ft_tree *t, size_t j);

/* A lazy tree of a reader that needs only what it walks (release_records:
 * `flowtrace show`): the nodes below `upto` are never read again except
 * `pins` (the walk's open nodes, what its writer keeps; sorted here), so
 * their pages are given back, FT_GIVE_NODES at a time at least. The tree
 * is then spent: ft_tree_build says so. Nothing for other trees. */
#define FT_GIVE_NODES ((size_t)1 << 18)
void ft_tree_give_back(const ft_tree *t, size_t upto, int64_t *pins, size_t npins);

/* A walk of a lazy tree is over: the rest is built (ft_tree_build), or,
 * when the walk gave nodes back, the trace is spent. 0, or -1. */
int ft_tree_walked(ft_tree *t);

/* Thread `thread` has nodes. */
int ft_tree_thread_busy(const ft_tree *t, uint32_t thread);

/* The tree has more than k nodes: 1, 0, or -1 with an exception. */
int ft_tree_nodes_over(const ft_tree *t, size_t k);

/* Rebuild from a sequence of CallEvent-like objects (from_events.c): what
 * print_tree does with a list. `t` is initialised here. 0 or -1. */
int ft_tree_from_events(ft_tree *t, PyObject *events);

/* From a FlowTrace JSON file, read in pieces of `chunk` bytes through
 * `file` (an object with readinto; seek too when the file's keys are not
 * in the writer's order) after `prefix` (bytes already read from it, or
 * NULL), never held whole; every field checked (load_json.c, with the
 * tokenizer json_reader.c): ValueError naming the first bad field
 * ("calls[12].parent: ...") or the place of a syntax error. `size_hint`:
 * the file's size when known (0: unknown), to bound what the header's
 * "ncalls" may reserve. `t` is initialised here. 0 or -1. */
int ft_tree_from_json(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk,
                      uint64_t size_hint);

/* load_json.c, for a lazy tree (lazy.c): the document read up to its
 * calls, where the loader pauses (1, *out); 2 when it was read whole
 * anyway (calls before the tables); 0 when it cannot be read lazily (no
 * thread table that says which threads have calls, no count announced:
 * read it whole again), -1 with an exception (`t` cleared). */
typedef struct ft_json_load ft_json_load;
int ft_json_begin_lazily(ft_tree *t, PyObject *file, PyObject *prefix, size_t chunk,
                         uint64_t size_hint, ft_json_load **out);
/* Up to `max` more calls: 1, 0 when the document is over (checked: the
 * tree is whole), -1 with an exception. */
int ft_json_step(ft_json_load *ld, size_t max);
size_t ft_json_calls(const ft_json_load *ld);   /* calls read so far */
size_t ft_json_announced(const ft_json_load *ld); /* the header's count */
uint32_t ft_json_thread(const ft_json_load *ld); /* the thread being read */
void ft_json_free(ft_json_load *ld);
void ft_json_retarget(ft_json_load *ld, ft_tree *t); /* the tree moved (ft_tree_moved) */

/* The tree's struct was moved to `t` (into its Python object): a lazy
 * source that refers to it follows (lazy.c). */
void ft_tree_moved(ft_tree *t);

/* Does the node carry its own start and end times when the trace is timed?
 * Exception markers, task lanes, unfinished calls and frames that began
 * before tracing do not. */
static inline int
ft_node_needs_time(const ft_node *nd)
{
    return (nd->kind == FT_NODE_CALL || nd->kind == FT_NODE_RESUME ||
            nd->kind == FT_NODE_THROW) &&
           nd->end != FT_END_UNFINISHED && !(nd->flags & FT_NF_BEGAN_BEFORE);
}

/* The span of node `nd` (a node of t->nodes): its start and end, 0 when
 * it is not timed. */
static inline uint64_t
ft_node_t0(const ft_tree *t, const ft_node *nd)
{
    size_t i = (size_t)(nd - t->nodes);
    return i < t->nspans ? t->spans[i].t0 : 0;
}

static inline uint64_t
ft_node_t1(const ft_tree *t, const ft_node *nd)
{
    size_t i = (size_t)(nd - t->nodes);
    return i < t->nspans ? t->spans[i].t1 : 0;
}

/* Duration of a timed node in seconds. */
static inline double
ft_node_seconds(const ft_tree *t, const ft_node *nd)
{
    return (double)(ft_node_t1(t, nd) - ft_node_t0(t, nd)) * t->cfg.ns_per_tick / 1e9;
}

/* Span i of an array of spans that builders grow beside their nodes:
 * made on the first timed node, and as long as `need` (the nodes' count
 * or capacity) from then on, new entries zeroed. NULL when out of memory
 * (model.c). */
ft_span *ft_span_at(ft_span **spans, size_t *nspans, size_t need, size_t i);

/* Spans made for an estimate of the nodes, cut to the `n` there are: the
 * unused part is given back (model.c). */
void ft_spans_fit(ft_span **spans, size_t *nspans, size_t n);

/* Display name of a code id: borrowed reference, or NULL with an
 * exception. Made on first use (the cache is the tree's own), in this one
 * place for every writer and CallEvent.func_name: the qualified name
 * ("Account.deposit", "main.<locals>.<lambda>"), "<module pkg.mod>" for a
 * module's body, "class Account" for a class's. Saved files keep it, so
 * a loaded trace shows the same names. */
PyObject *ft_tree_name(const ft_tree *t, uint32_t code_id);
/* Is a display name a module's or a class's body ("<module ...>",
 * "class ...")? The text shows it without an argument slot or result. */
int ft_name_is_body(PyObject *name);
/* Thread name (borrowed; NULL only when out of memory: "Thread-<ident>"). */
PyObject *ft_tree_thread_name(const ft_tree *t, uint32_t thread);

/* Where a code id is defined and the module it ran in: borrowed str or
 * NULL when unknown; line 0 when unknown. Recorded trees read the code
 * table, rebuilt ones (from events, from a saved file) their arrays. */
PyObject *ft_tree_file(const ft_tree *t, uint32_t code_id);
int ft_tree_line(const ft_tree *t, uint32_t code_id);
PyObject *ft_tree_module(const ft_tree *t, uint32_t code_id);
/* Rebuilt from events: no raw timestamps (t0 is 0, t1 the duration). */
static inline int
ft_tree_is_rebuilt(const ft_tree *t)
{
    return t->rebuilt;
}

/* What the arguments of a code id's calls need to be shown (--args): the
 * number of positional parameters and the parameter names (new reference
 * to a tuple of str), from the code object or from a loaded file. 0, or -1
 * without an exception when unknown. */
int ft_tree_argspec(const ft_tree *t, uint32_t code_id, Py_ssize_t *npos, PyObject **names);

/* From the bytes of a .ftrace file (docs/ftrace-format.md), every block
 * checked (load_ftrace.c): ValueError naming the first bad block or field.
 * `mapped`: `data` is a read-only mmap of the file, whose pages are given
 * back as they are read (never for other memory). `t` is initialised
 * here. 0 or -1. */
int ft_tree_from_ftrace(ft_tree *t, const uint8_t *data, size_t size, int mapped);

/* A call with all its segments (a generator's or coroutine's resumptions
 * are the same activation): what a timeline of the program's time shows
 * as one bar. */
typedef struct {
    size_t call;     /* its call node */
    size_t last;     /* its segment that ended last (how it ended) */
    int64_t parent;  /* call node of the nearest enclosing activation in
                        the selection, -1 for none */
    int64_t lane;    /* the asyncio task lane it ran in, -1 for none */
    uint64_t t0, t1; /* its call's start, its last segment's end (ns) */
} ft_activation;

/* The finished activations of a built, timed tree that lasted at least
 * `min_ns`, in node order (activations.c): *out is owned by the caller
 * (PyMem_Raw). Calls still running (a segment unfinished), frames that
 * began before the trace and untimed nodes are left out. 0, or -1 with
 * MemoryError. */
int ft_tree_activations(const ft_tree *t, uint64_t min_ns, ft_activation **out, size_t *n);

/* Bytes the tree holds (records, value stores, nodes), and records. */
size_t ft_tree_nbytes(const ft_tree *t);
size_t ft_tree_nrecords(const ft_tree *t);
/* The calls (entries of a new frame) and events (what sys.monitoring
 * reported and was kept: entries, resumptions, exits, exception events)
 * of a recorded tree, read from its records without building the nodes;
 * a tree rebuilt without records counts its nodes (calls: those of kind
 * call; events: all of them). */
void ft_tree_count(const ft_tree *t, size_t *calls, size_t *events);

#endif
