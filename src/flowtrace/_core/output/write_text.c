/* write_text.c - the text tree, streamed to a file object.
 *
 *   → fib(3)                 a call with children opens...
 *     → fib(1) → 1           ...a call without children is one line...
 *   ← fib(3) → 2             ...and closes with its result.
 *   ↯ div(1, 0) ZeroDivisionError: division by zero
 *   ▶ gen() ⏸ 1              a generator resumed, suspended again
 *
 * Two spaces of indent per level. When the arguments were not captured the
 * empty argument slot still takes its space: "→ fib()  → 1" (the seed's
 * format). Text goes out in 256 KiB pieces: memory does not grow with the
 * trace.
 *
 * Colour (opts.color) only adds ANSI codes around pieces of the same text:
 * the layout is identical with and without it. With opts.max_depth, a call
 * at the last shown depth is written as one line, followed by
 * "(+N calls)" when calls below it are hidden. With opts.fold, runs of
 * repeated calls are folded (fold.h): "⋯ ×996 more price(): all returned".
 */
#include "output/write_text.h"

#include "common/growable.h"

#include "recording/filter.h"

#include "output/fold.h"
#include "output/sink.h"
#include "recording/record.h"
#include "common/sbuf.h"
#include "recording/values.h"
#include "tree/walk.h"


typedef struct {
    const char *call, *resume, *close, *raise, *yield, *header;
    const char *raised, *reraised, *caught, *closed, *task;
    size_t arrow_len; /* bytes of each of call..yield (all the same) */
} symbols;

static const symbols UNICODE_SYMBOLS = {
    "\xe2\x86\x92", "\xe2\x96\xb6", "\xe2\x86\x90", "\xe2\x86\xaf", "\xe2\x8f\xb8",
    "\xe2\x94\x80\xe2\x94\x80",
    "\xe2\x9a\xa1 raise", "\xe2\x9f\xb3 re-raise", "\xe2\x9c\x93 caught",
    "\xe2\x8f\xb9 closed", "\xe2\x97\x86 task", 3,
};
static const symbols ASCII_SYMBOLS = {"->", ">>", "<-", "!!", "||", "--",
                                      "!> raise", "^^ re-raise", "<< caught", "[] closed",
                                      "## task", 2};

/* SGR codes of each element. */
#define C_MARK "36"  /* arrows, thread headers, (unfinished), (+N calls) */
#define C_NAME "1"   /* function names */
#define C_ARGS "33"  /* arguments */
#define C_RESULT "32" /* returned and yielded values */
#define C_EXC "31"   /* exceptions and their marker */
#define C_TIME "35"  /* durations */

typedef struct {
    const ft_tree *t;         /* borrowed */
    ft_sink sink;        /* owned: file.write (str), or raw.write (bytes),
                            and the pending text */
    const symbols *sym;  /* borrowed: static table */
    int ascii;           /* non-ASCII value text is escaped */
    int color;           /* ANSI colours on */
    const char **name_utf8; /* owned array (items borrowed from the trace's
                               names), or NULL: UTF-8 of each code id's
                               name, found on first use */
    size_t *name_len;    /* owned: their lengths */
    uint8_t *body;       /* owned (PyMem_Raw) or NULL: per code id, 0 not
                            known yet, 1 a module's or class's body (no
                            argument slot, no result), 2 a function */
    size_t hidden;       /* calls below the depth limit, for the open call
                            at the limit */
    PyObject *focus;     /* borrowed str or NULL: the --focus glob */
    uint8_t *focused;    /* owned (PyMem_Raw) or NULL: per code id, 0 not
                            decided, 1 matches, 2 does not */
    size_t nfocused;     /* focused subtrees written */
    int folding;         /* runs of repeated calls are folded */
    ft_fold fold;        /* owned: the runs and the stretch being hidden */
    int64_t *pins;       /* owned (PyMem_Raw) or NULL: the nodes read again
                            after the walk has passed them (give_back) */
    size_t cap_pins;     /* entries allocated in pins */
} writer;

static void
paint(writer *w, const char *sgr)
{
    if (w->color) {
        ft_sbuf_puts(&w->sink.out, "\x1b[");
        ft_sbuf_puts(&w->sink.out, sgr);
        ft_sbuf_puts(&w->sink.out, "m");
    }
}

static void
unpaint(writer *w)
{
    if (w->color) {
        ft_sbuf_puts(&w->sink.out, "\x1b[0m");
    }
}

/* A piece of fixed text in a colour. */
static void
put_painted_n(writer *w, const char *sgr, const char *text, size_t n)
{
    paint(w, sgr);
    ft_sbuf_put(&w->sink.out, text, n);
    unpaint(w);
}

static void
put_painted(writer *w, const char *sgr, const char *text)
{
    put_painted_n(w, sgr, text, strlen(text));
}


static void
put_indent(writer *w, size_t depth)
{
    if (depth == 0 || ft_sbuf_reserve(&w->sink.out, 2 * depth) < 0) {
        return;
    }
    memset(w->sink.out.buf + w->sink.out.len, ' ', 2 * depth);
    w->sink.out.len += 2 * depth;
}

static void
put_text(writer *w, PyObject *s)
{
    if (!w->ascii) {
        ft_sbuf_put_str(&w->sink.out, s);
        return;
    }
    PyObject *a = PyObject_ASCII(s); /* 'quoted' with escapes */
    if (a == NULL) {
        PyErr_Clear();
        ft_sbuf_puts(&w->sink.out, "?");
        return;
    }
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(a, &n);
    if (u != NULL && n >= 2) {
        ft_sbuf_put(&w->sink.out, u + 1, (size_t)n - 2); /* drop the quotes */
    }
    Py_DECREF(a);
}

/* A function's name: its UTF-8 bytes are found once per code id (they live
 * as long as the trace's name strings). */
static int
put_name(writer *w, uint32_t code_id)
{
    PyObject *name = ft_tree_name(w->t, code_id);
    if (name == NULL) {
        return -1;
    }
    paint(w, C_NAME);
    if (w->ascii || w->name_utf8 == NULL) {
        put_text(w, name);
    }
    else {
        if (w->name_utf8[code_id] == NULL) {
            Py_ssize_t n;
            const char *u = PyUnicode_AsUTF8AndSize(name, &n);
            if (u == NULL) { /* a lone surrogate: escaped, not cached */
                PyErr_Clear();
                put_text(w, name);
                unpaint(w);
                return 0;
            }
            w->name_utf8[code_id] = u;
            w->name_len[code_id] = (size_t)n;
        }
        ft_sbuf_put(&w->sink.out, w->name_utf8[code_id], w->name_len[code_id]);
    }
    unpaint(w);
    return 0;
}

/* Is code id a module's or a class's body ("<module m>", "class C")?
 * 1, 0, or -1 with an exception. */
static int
is_body(writer *w, uint32_t code_id)
{
    if (w->body != NULL && w->body[code_id] != 0) {
        return w->body[code_id] == 1;
    }
    PyObject *name = ft_tree_name(w->t, code_id);
    if (name == NULL) {
        return -1;
    }
    int b = ft_name_is_body(name);
    if (w->body != NULL) {
        w->body[code_id] = b ? 1 : 2;
    }
    return b;
}

/* Append the text of a value payload; returns 0 or -1. */
static int
put_value(writer *w, const ft_node *nd, uint32_t payload, const char *sgr)
{
    if (payload != FT_VAL_ABSENT && (payload < FT_VAL_GENEXIT || ft_val_is_inline_int(payload))) {
        /* small ints, None, booleans: no object made */
        paint(w, sgr);
        ft_value_put_inline(&w->sink.out, payload);
        unpaint(w);
        return 0;
    }
    PyObject *s = ft_value_text(w->t->thread_vec[nd->thread], payload);
    if (s == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    paint(w, sgr);
    put_text(w, s);
    unpaint(w);
    Py_DECREF(s);
    return 0;
}

/* LINE_CUT: a call at the depth limit whose children are hidden. */
enum { LINE_LEAF, LINE_OPEN, LINE_CLOSE, LINE_CUT };

/* "⚡ raise ValueError: bad" — an exception raised, re-raised or caught
 * in the frame of the enclosing node. */
static int
put_marker(writer *w, const ft_node *nd, size_t depth)
{
    const symbols *y = w->sym;
    put_indent(w, depth);
    put_painted(w, nd->kind == FT_NODE_HANDLED ? C_MARK : C_EXC,
                nd->kind == FT_NODE_RAISE     ? y->raised
                : nd->kind == FT_NODE_RERAISE ? y->reraised
                                              : y->caught);
    ft_sbuf_put(&w->sink.out, " ", 1);
    if (put_value(w, nd, nd->exc, C_EXC) < 0) {
        return -1;
    }
    ft_sbuf_put(&w->sink.out, "\n", 1);
    return ft_sink_maybe_flush(&w->sink);
}

/* "◆ task Task-2 (from Task-1)": the lane of an asyncio task. */
static int
put_task(writer *w, const ft_node *nd, size_t depth)
{
    put_indent(w, depth);
    put_painted(w, C_MARK, w->sym->task);
    ft_sbuf_put(&w->sink.out, " ", 1);
    if (nd->args != FT_VAL_ABSENT && put_value(w, nd, nd->args, C_NAME) < 0) {
        return -1;
    }
    if (nd->result != FT_VAL_ABSENT) {
        ft_sbuf_puts(&w->sink.out, " (from ");
        if (put_value(w, nd, nd->result, C_NAME) < 0) {
            return -1;
        }
        ft_sbuf_puts(&w->sink.out, ")");
    }
    ft_sbuf_put(&w->sink.out, "\n", 1);
    return ft_sink_maybe_flush(&w->sink);
}

static int
put_line(writer *w, const ft_node *nd, size_t depth, int which)
{
    const symbols *y = w->sym;
    if (FT_NODE_IS_MARKER(nd->kind)) {
        return put_marker(w, nd, depth);
    }
    if (nd->kind == FT_NODE_TASK) {
        return which == LINE_CLOSE ? 0 : put_task(w, nd, depth);
    }
    const char *prefix;
    const char *prefix_sgr = C_MARK;
    if (which != LINE_OPEN && nd->end == FT_END_RAISE) {
        prefix = y->raise;
        prefix_sgr = C_EXC;
    }
    else if (which == LINE_CLOSE) {
        prefix = y->close;
    }
    else {
        prefix = nd->kind == FT_NODE_CALL ? y->call : y->resume;
    }
    int body = is_body(w, nd->code_id);
    if (body < 0) {
        return -1;
    }
    put_indent(w, depth);
    put_painted_n(w, prefix_sgr, prefix, y->arrow_len);
    ft_sbuf_put(&w->sink.out, " ", 1);
    if (put_name(w, nd->code_id) < 0) {
        return -1;
    }
    if (!body) { /* a module's or class's body is not called with arguments */
        ft_sbuf_put(&w->sink.out, "(", 1);
        if (nd->args != FT_VAL_ABSENT && put_value(w, nd, nd->args, C_ARGS) < 0) {
            return -1;
        }
        ft_sbuf_put(&w->sink.out, ")", 1);
    }
    const char *before = (nd->flags & FT_NF_CUT) ? "(began before the kept events)"
                                                 : "(began before tracing)";
    if (which == LINE_OPEN && (nd->flags & FT_NF_BEGAN_BEFORE)) {
        ft_sbuf_put(&w->sink.out, " ", 1);
        put_painted(w, C_MARK, before);
    }
    if (which != LINE_OPEN) {
        int has_outcome = nd->end != FT_END_RETURN || (nd->result != FT_VAL_ABSENT && !body);
        int timed = nd->timed && nd->end != FT_END_UNFINISHED;
        if (!body && nd->args == FT_VAL_ABSENT && (has_outcome || timed)) {
            ft_sbuf_put(&w->sink.out, " ", 1); /* the empty argument slot */
        }
        if (timed) {
            char buf[48];
            snprintf(buf, sizeof(buf), "[%.6fs]", ft_node_seconds(w->t, nd));
            ft_sbuf_put(&w->sink.out, " ", 1);
            put_painted(w, C_TIME, buf);
        }
        switch (nd->end) {
        case FT_END_RETURN:
            if (nd->result != FT_VAL_ABSENT && !body) { /* a body returns None */
                ft_sbuf_put(&w->sink.out, " ", 1);
                put_painted_n(w, C_MARK, y->call, y->arrow_len);
                ft_sbuf_put(&w->sink.out, " ", 1);
                if (put_value(w, nd, nd->result, C_RESULT) < 0) {
                    return -1;
                }
            }
            break;
        case FT_END_YIELD:
            ft_sbuf_put(&w->sink.out, " ", 1);
            put_painted_n(w, C_MARK, y->yield, y->arrow_len);
            if (nd->result != FT_VAL_ABSENT) {
                ft_sbuf_put(&w->sink.out, " ", 1);
                if (put_value(w, nd, nd->result, C_RESULT) < 0) {
                    return -1;
                }
            }
            if (nd->flags & FT_NF_LEFT_SUSPENDED) {
                ft_sbuf_put(&w->sink.out, " ", 1);
                put_painted(w, C_MARK, "(left suspended)");
            }
            break;
        case FT_END_CLOSED:
            ft_sbuf_put(&w->sink.out, " ", 1);
            put_painted(w, C_MARK, y->closed);
            break;
        case FT_END_RAISE:
            ft_sbuf_put(&w->sink.out, " ", 1);
            if (put_value(w, nd, nd->exc, C_EXC) < 0) {
                return -1;
            }
            break;
        default:
            ft_sbuf_put(&w->sink.out, " ", 1);
            put_painted(w, C_MARK, "(unfinished)");
            break;
        }
        if (which == LINE_LEAF && (nd->flags & FT_NF_BEGAN_BEFORE)) {
            ft_sbuf_put(&w->sink.out, " ", 1);
            put_painted(w, C_MARK, before);
        }
    }
    if (which == LINE_CUT && w->hidden > 0) {
        char buf[48];
        snprintf(buf, sizeof(buf), "(+%zu call%s)", w->hidden, w->hidden == 1 ? "" : "s");
        ft_sbuf_put(&w->sink.out, " ", 1);
        put_painted(w, C_MARK, buf);
    }
    ft_sbuf_put(&w->sink.out, "\n", 1);
    return ft_sink_maybe_flush(&w->sink);
}

/* Close the open call at `depth`: its closing line, or the one line of a
 * call at the depth limit, or nothing below the limit. */
static int
close_line(writer *w, const ft_node *nd, size_t depth, size_t limit)
{
    if (limit == 0 || depth + 1 < limit) {
        return put_line(w, nd, depth, LINE_CLOSE);
    }
    if (depth + 1 == limit) {
        int rc = put_line(w, nd, depth, LINE_CUT);
        w->hidden = 0;
        return rc;
    }
    return 0;
}

/* One step of the walk, at `depth` (counted from the focused call with
 * --focus): a node with children opens (its closing line comes when it
 * is left), a node without is one line; below the depth limit nodes are
 * counted, not shown. */
static int
put_step(writer *w, const ft_node *nd, int event, size_t depth, size_t limit)
{
    if (event == FT_WALK_LEAVE) {
        return nd->nchildren > 0 ? close_line(w, nd, depth, limit) : 0;
    }
    if (limit > 0 && depth >= limit) {
        if (!FT_NODE_IS_MARKER(nd->kind) && nd->kind != FT_NODE_TASK) {
            w->hidden++;
        }
        return 0;
    }
    if (nd->nchildren == 0) {
        return put_line(w, nd, depth, LINE_LEAF);
    }
    return limit == 0 || depth + 1 < limit ? put_line(w, nd, depth, LINE_OPEN) : 0;
}

/* "⋯ ×996 more price(): 994 returned, 2 raised ValueError (+12 calls)":
 * the stretch of a run that was folded, at the depth of its calls. */
static int
put_fold_line(writer *w, size_t depth)
{
    ft_fold *f = &w->fold;
    const ft_node *first = &w->t->nodes[f->first];
    char buf[64];
    put_indent(w, depth);
    snprintf(buf, sizeof(buf), w->ascii ? "... x%llu more" : "\xe2\x8b\xaf \xc3\x97%llu more",
             (unsigned long long)f->calls);
    put_painted(w, C_MARK, buf);
    ft_sbuf_put(&w->sink.out, " ", 1);
    if (first->kind != FT_NODE_CALL) {
        put_painted_n(w, C_MARK, w->sym->resume, w->sym->arrow_len);
        ft_sbuf_put(&w->sink.out, " ", 1);
    }
    int body = is_body(w, first->code_id);
    if (body < 0 || put_name(w, first->code_id) < 0) {
        return -1;
    }
    ft_sbuf_puts(&w->sink.out, body ? ":" : "():");
    int kinds = 0;
    for (unsigned o = 0; o < FT_OUT_N; o++) {
        kinds += f->outcomes[o] > 0;
    }
    int one_exc = f->other_excs == 0 && (FT_FOLD_NEXC < 2 || f->excs[1].name == NULL);
    int all = kinds == 1 && (f->outcomes[FT_OUT_RAISED] == 0 || one_exc);
    const char *sep = " ";
    for (unsigned o = 0; o < FT_OUT_N; o++) {
        if (f->outcomes[o] == 0) {
            continue;
        }
        const char *sgr = o == FT_OUT_RAISED ? C_EXC : C_MARK;
        if (o != FT_OUT_RAISED || all) {
            ft_sbuf_puts(&w->sink.out, sep);
            sep = ", ";
            if (all) {
                ft_sbuf_puts(&w->sink.out, "all ");
            }
            else {
                snprintf(buf, sizeof(buf), "%llu ", (unsigned long long)f->outcomes[o]);
                ft_sbuf_puts(&w->sink.out, buf);
            }
            paint(w, sgr);
            ft_sbuf_puts(&w->sink.out, ft_fold_outcome_word(o));
            if (o == FT_OUT_RAISED && f->excs[0].name != NULL) {
                ft_sbuf_put(&w->sink.out, " ", 1);
                put_text(w, f->excs[0].name);
            }
            unpaint(w);
            continue;
        }
        /* raised, with the count of each exception type */
        for (int k = 0; k < FT_FOLD_NEXC && f->excs[k].name != NULL; k++) {
            snprintf(buf, sizeof(buf), "%s%llu ", sep, (unsigned long long)f->excs[k].count);
            ft_sbuf_puts(&w->sink.out, buf);
            sep = ", ";
            paint(w, sgr);
            ft_sbuf_puts(&w->sink.out, "raised ");
            put_text(w, f->excs[k].name);
            unpaint(w);
        }
        if (f->other_excs > 0) {
            snprintf(buf, sizeof(buf), "%s%llu ", sep, (unsigned long long)f->other_excs);
            ft_sbuf_puts(&w->sink.out, buf);
            sep = ", ";
            put_painted(w, sgr, "raised other exceptions");
        }
    }
    if (f->inner > 0) {
        snprintf(buf, sizeof(buf), "(+%llu call%s)", (unsigned long long)f->inner,
                 f->inner == 1 ? "" : "s");
        ft_sbuf_put(&w->sink.out, " ", 1);
        put_painted(w, C_MARK, buf);
    }
    ft_sbuf_put(&w->sink.out, "\n", 1);
    ft_fold_close(f);
    return ft_sink_maybe_flush(&w->sink);
}

/* Folding, before a step is shown: 1 if the step is folded away (part of
 * a hidden stretch, or the start of one), 0 if it is shown as usual
 * (after the line of a stretch it ends), -1 with an exception. `depth` is
 * the writer's (from the focused call with --focus); nodes [.., last) are
 * the thread's. Below the depth limit nothing is folded: it is counted. */
static int
fold_step(writer *w, size_t node, int event, size_t depth, size_t limit, size_t last)
{
    ft_fold *f = &w->fold;
    if (event == FT_WALK_LEAVE) {
        if (f->depth == FT_FOLD_NONE) {
            return 0;
        }
        if (depth >= f->depth) {
            return 1;
        }
        return put_fold_line(w, f->depth) < 0 ? -1 : 0; /* its caller ends */
    }
    if (f->depth != FT_FOLD_NONE) {
        int c = ft_fold_continues(f, w->t, node, depth, last);
        if (c != 0) {
            return c;
        }
        if (put_fold_line(w, f->depth) < 0) {
            return -1;
        }
    }
    if (limit > 0 && depth >= limit) {
        return 0;
    }
    return ft_fold_starts(f, w->t, node, depth, last);
}

/* The end of a thread's tree: the line of a stretch still open. */
static int
fold_end(writer *w)
{
    int rc = w->fold.depth != FT_FOLD_NONE ? put_fold_line(w, w->fold.depth) : 0;
    ft_fold_reset(&w->fold);
    return rc;
}

/* Does node `nd` start a focused subtree (its function matches --focus)?
 * Decided once per code id. -1 with an exception. */
static int
matches_focus(writer *w, const ft_node *nd)
{
    if (FT_NODE_IS_MARKER(nd->kind) || nd->kind == FT_NODE_TASK) {
        return 0;
    }
    if (w->focused == NULL) {
        w->focused = PyMem_RawCalloc(w->t->nnames ? w->t->nnames : 1, 1);
        if (w->focused == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    uint8_t *v = &w->focused[nd->code_id];
    if (*v == 0) {
        PyObject *name = ft_tree_name(w->t, nd->code_id);
        if (name == NULL) {
            return -1;
        }
        *v = ft_glob_match(w->focus, name, 0) ? 1 : 2;
    }
    return *v == 1;
}

/* The line before a focused subtree: the names of the calls it is in,
 * outermost first ("⋯ <module> › main › run"). */
static int
put_path(writer *w, const ft_walk *walk, size_t depth)
{
    paint(w, C_MARK);
    ft_sbuf_puts(&w->sink.out, w->ascii ? "..." : "\xe2\x8b\xaf");
    unpaint(w);
    /* a run of calls of one function (recursion, a visitor's walk) is one
     * name with its count: "Node.walkabout ×4" */
    size_t shown = 0;
    for (size_t d = 0; d < depth; d++) {
        const ft_node *a = &w->t->nodes[walk->open[d]];
        if (a->kind == FT_NODE_TASK) {
            continue;
        }
        size_t run = 1;
        while (d + run < depth &&
               w->t->nodes[walk->open[d + run]].kind != FT_NODE_TASK &&
               w->t->nodes[walk->open[d + run]].code_id == a->code_id) {
            run++;
        }
        ft_sbuf_puts(&w->sink.out, shown++ == 0 ? " " : (w->ascii ? " > " : " \xe2\x80\xba "));
        if (put_name(w, a->code_id) < 0) {
            return -1;
        }
        if (run > 1) {
            char times[32];
            snprintf(times, sizeof(times), w->ascii ? " x%zu" : " \xc3\x97%zu", run);
            ft_sbuf_puts(&w->sink.out, times);
            d += run - 1;
        }
    }
    if (depth == 0) {
        ft_sbuf_puts(&w->sink.out, " (a root)");
    }
    ft_sbuf_put(&w->sink.out, "\n", 1);
    return ft_sink_maybe_flush(&w->sink);
}

/* Nodes entered between two looks at the clock (ft_sink_tick). */
#define TICK_STEPS 4096

/* Every TICK_STEPS nodes entered (and only as one is: no node just left
 * is read after it): what is pending may go out (ft_sink_tick), and a lazy
 * tree's nodes the walk has passed go back, except the ones read again:
 * the open ones (the one entered among them) and those folding keeps. 0,
 * or -1 with an exception. */
static int
tick(writer *w, const ft_walk *walk)
{
    if (ft_sink_tick(&w->sink) < 0) {
        return -1;
    }
    if (w->t->lazy == NULL || !w->t->release_records || walk->next < 1) {
        return 0;
    }
    size_t n = walk->depth + w->fold.nruns + 1;
    if (FT_GROW(w->pins, w->cap_pins, n, 256) < 0) {
        return 0; /* kept, then */
    }
    memcpy(w->pins, walk->open, walk->depth * sizeof(int64_t));
    n = walk->depth + ft_fold_pins(&w->fold, w->pins + walk->depth);
    ft_tree_give_back(w->t, walk->next - 1, w->pins, n);
    return 0;
}

/* --focus: only the subtrees of matching calls, each after its call path,
 * their depths counted from the matching call. */
static int thread_header(writer *w, uint32_t thread, int header);

static int
write_thread_focused(writer *w, uint32_t thread, int header, ft_walk *walk, size_t limit)
{
    const ft_tree *t = w->t;
    ft_walk_step s;
    int r, headed = 0;
    size_t root = 0;
    int inside = 0;
    if (ft_walk_thread_pull(walk, t, thread) < 0) {
        return -1;
    }
    size_t steps = 0;
    while ((r = ft_walk_next(walk, &s)) > 0) {
        size_t last = walk->last; /* as far as the nodes are known */
        if (s.event == FT_WALK_ENTER && ++steps % TICK_STEPS == 0 && tick(w, walk) < 0) {
            return -1;
        }
        const ft_node *nd = &t->nodes[s.node];
        /* folded away: a step of a focused subtree, or a whole subtree
         * (one of a run of focused calls of one function and caller) */
        int folded = 0;
        if (!inside) {
            if (s.event != FT_WALK_ENTER) {
                continue;
            }
            int m = matches_focus(w, nd);
            if (m < 0) {
                return -1;
            }
            if (!m) {
                continue;
            }
            inside = 1;
            root = s.depth;
            if (w->folding && (folded = fold_step(w, s.node, s.event, 0, limit, last)) < 0) {
                return -1;
            }
            if (!folded) {
                if (!headed && thread_header(w, thread, header) < 0) {
                    return -1;
                }
                headed = 1;
                w->nfocused++;
                if (put_path(w, walk, s.depth) < 0) {
                    return -1;
                }
            }
        }
        else if (w->folding &&
                 (folded = fold_step(w, s.node, s.event, s.depth - root, limit, last)) < 0) {
            return -1;
        }
        if (!folded && put_step(w, nd, s.event, s.depth - root, limit) < 0) {
            return -1;
        }
        if (s.event == FT_WALK_LEAVE && s.depth == root) {
            inside = 0;
        }
    }
    return r < 0 || fold_end(w) < 0 ? -1 : r;
}

/* The thread's header line, and what the flight recorder dropped. */
static int
thread_header(writer *w, uint32_t thread, int header)
{
    const ft_tree *t = w->t;
    if (header) {
        PyObject *name = ft_tree_thread_name(t, thread);
        if (name == NULL) {
            return -1;
        }
        paint(w, C_MARK);
        ft_sbuf_puts(&w->sink.out, w->sym->header);
        ft_sbuf_puts(&w->sink.out, " thread ");
        put_text(w, name);
        ft_sbuf_put(&w->sink.out, " ", 1);
        ft_sbuf_puts(&w->sink.out, w->sym->header);
        unpaint(w);
        ft_sbuf_put(&w->sink.out, "\n", 1);
    }
    uint64_t dropped = t->thread_vec[thread]->dropped;
    if (dropped) {
        char buf[96];
        snprintf(buf, sizeof(buf), "%s %llu earlier events not kept (max_events)\n",
                 w->ascii ? "..." : "\xe2\x8b\xaf", (unsigned long long)dropped);
        ft_sbuf_puts(&w->sink.out, buf);
    }
    return 0;
}

static int
write_thread(writer *w, uint32_t thread, int header, ft_walk *walk, size_t limit)
{
    const ft_tree *t = w->t;
    if (!ft_tree_thread_busy(t, thread)) {
        return 0;
    }
    if (w->focus != NULL) {
        return write_thread_focused(w, thread, header, walk, limit);
    }
    if (thread_header(w, thread, header) < 0 || ft_walk_thread_pull(walk, t, thread) < 0) {
        return -1;
    }
    ft_walk_step s;
    int r;
    size_t steps = 0;
    while ((r = ft_walk_next(walk, &s)) > 0) {
        if (s.event == FT_WALK_ENTER && ++steps % TICK_STEPS == 0 && tick(w, walk) < 0) {
            return -1;
        }
        if (w->folding) {
            int fr = fold_step(w, s.node, s.event, s.depth, limit, walk->last);
            if (fr < 0) {
                return -1;
            }
            if (fr > 0) {
                continue;
            }
        }
        if (put_step(w, &t->nodes[s.node], s.event, s.depth, limit) < 0) {
            return -1;
        }
    }
    return r < 0 || fold_end(w) < 0 ? -1 : r;
}

/* A line-buffered text file (a terminal) shows each line at once: bytes
 * written under it reach the screen when its buffer is flushed. */
static int
flush_raw_if_line_buffered(PyObject *file, PyObject *raw)
{
    PyObject *lb = PyObject_GetAttrString(file, "line_buffering");
    if (lb == NULL) {
        return -1;
    }
    int on = PyObject_IsTrue(lb);
    Py_DECREF(lb);
    if (on <= 0) {
        return on;
    }
    PyObject *r = PyObject_CallMethod(raw, "flush", NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

int
ft_write_text(const ft_tree *t, PyObject *file, const ft_text_opts *o)
{
    writer w = {0};
    w.t = t;
    w.sym = o->ascii ? &ASCII_SYMBOLS : &UNICODE_SYMBOLS;
    w.ascii = o->ascii;
    w.focus = o->focus;
    w.color = o->color;
    w.folding = o->fold < 0 ? ft_tree_nodes_over(t, FT_FOLD_AUTO_NODES) : o->fold;
    if (w.folding < 0) {
        return -1;
    }
    ft_fold_init(&w.fold, o->focus != NULL);
    if (o->raw != NULL) {
        /* what the text layer holds goes out first */
        PyObject *r = PyObject_CallMethod(file, "flush", NULL);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    if (ft_sink_open(&w.sink, o->raw != NULL ? o->raw : file, o->raw != NULL) < 0) {
        return -1;
    }
    uint32_t busy = 0;
    for (uint32_t i = 0; i < t->nthreads; i++) {
        busy += (uint32_t)ft_tree_thread_busy(t, i);
    }
    int headers = o->thread_headers < 0 ? busy > 1 : o->thread_headers;
    ft_walk walk = {0};
    int rc = 0;
    if (t->nnames > 0) {
        w.name_utf8 = PyMem_RawCalloc(t->nnames, sizeof(*w.name_utf8));
        w.name_len = PyMem_RawCalloc(t->nnames, sizeof(*w.name_len));
        w.body = PyMem_RawCalloc(t->nnames, sizeof(*w.body));
        if (w.name_utf8 == NULL || w.name_len == NULL || w.body == NULL) {
            PyMem_RawFree(w.name_utf8);
            PyMem_RawFree(w.name_len);
            PyMem_RawFree(w.body);
            w.name_utf8 = NULL; /* the slower path still works */
            w.name_len = NULL;
            w.body = NULL;
        }
    }
    /* one buffer for the whole tree, no larger than a small tree needs */
    size_t nodes = t->lazy != NULL ? SIZE_MAX : t->nnodes;
    size_t guess = nodes < FT_SINK_FLUSH_AT / 64 ? nodes * 64 + 256 : FT_SINK_FLUSH_AT + 4096;
    ft_sbuf_reserve(&w.sink.out, guess);
    for (uint32_t i = 0; i < t->nthreads && rc == 0; i++) {
        rc = write_thread(&w, i, headers, &walk, o->max_depth > 0 ? (size_t)o->max_depth : 0);
    }
    if (rc == 0 && w.focus != NULL && w.nfocused == 0 && busy > 0) {
        /* said, so that an empty output is not mistaken for an empty trace */
        paint(&w, C_MARK);
        ft_sbuf_puts(&w.sink.out, w.ascii ? "..." : "\xe2\x8b\xaf");
        ft_sbuf_puts(&w.sink.out, " no call matches the focus ");
        put_text(&w, w.focus);
        unpaint(&w);
        ft_sbuf_put(&w.sink.out, "\n", 1);
    }
    if (rc == 0) {
        rc = ft_sink_flush(&w.sink);
    }
    if (rc == 0 && o->raw != NULL) {
        rc = flush_raw_if_line_buffered(file, o->raw);
    }
    ft_walk_free(&walk);
    ft_fold_free(&w.fold);
    PyMem_RawFree(w.pins);
    PyMem_RawFree(w.focused);
    PyMem_RawFree(w.name_utf8);
    PyMem_RawFree(w.name_len);
    PyMem_RawFree(w.body);
    ft_sink_close(&w.sink);
    return rc;
}
