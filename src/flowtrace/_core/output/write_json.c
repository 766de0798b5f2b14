/* write_json.c - FlowTrace's own JSON format, streamed.
 *
 *   {"format": "flowtrace", "version": 1, "meta": {...},
 *    "timing": true, "results": true, "ncalls": N,
 *    "functions": [{"id", "name", "module", "file", "line"}, ...],
 *    "threads": [{"id", "ident", "name", "dropped"?}, ...],
 *    "calls": [{"id", "parent", "thread", "function", "kind", "end",
 *               "origin"?, "args"?, "result"?, "exception"?, "t0"?, "t1"?,
 *               "left_suspended"?, "began_before"?, "cut"?}, ...]}
 *
 * One function, thread or call per line. Optional keys (?) are left out
 * when they have no value or say the default: "origin" only where it is
 * not the node's own id (a resumption; null when its generator began
 * before tracing), the flags only when true, "dropped" only when > 0.
 * Exception markers (kind raise/reraise/handled) carry "exception" and
 * "t0" (an instant); task lanes carry "args" (the task's name) and
 * "result" (its creator's name). Memory: the function and thread id maps
 * (one word per code object and thread), never anything per call; the
 * text goes out in 256 KiB pieces.
 */
#include "output/write_json.h"

#include "output/jsonbuf.h"
#include "output/sink.h"
#include "recording/record.h"

/* A word of a node; a node the builders never make is a bug, said so
 * rather than written as something it is not. */
static int
put_word(ft_sbuf *s, const char *key, const char *word)
{
    if (word == NULL) {
        PyErr_Format(PyExc_SystemError, "flowtrace: node with an unknown %s", key);
        return -1;
    }
    ft_sbuf_puts(s, ",\"");
    ft_sbuf_puts(s, key);
    ft_sbuf_puts(s, "\":\"");
    ft_sbuf_puts(s, word);
    ft_sbuf_puts(s, "\"");
    return 0;
}

#define UNUSED_ID UINT32_MAX

static void
put_key(ft_sbuf *s, const char *key)
{
    ft_sbuf_puts(s, ",\"");
    ft_sbuf_puts(s, key);
    ft_sbuf_puts(s, "\":");
}

static void
put_str_or_null(ft_sbuf *s, PyObject *str)
{
    if (str != NULL && PyUnicode_Check(str)) {
        ft_json_put_str(s, str);
    }
    else {
        ft_sbuf_puts(s, "null");
    }
}

/* The earliest timestamp of the trace: times are written from there. */
static uint64_t
time_origin(const ft_tree *t)
{
    uint64_t origin = UINT64_MAX;
    for (size_t i = 0; i < t->nspans; i++) {
        if (t->nodes[i].timed && t->spans[i].t0 < origin) {
            origin = t->spans[i].t0;
        }
    }
    return origin == UINT64_MAX ? 0 : origin;
}

static int
write_functions(const ft_tree *t, ft_sink *k, uint32_t *fmap)
{
    uint32_t next = 0;
    ft_sbuf_puts(&k->out, ",\n\"functions\":[");
    for (size_t i = 0; i < t->nnodes; i++) {
        uint32_t c = t->nodes[i].code_id;
        if (c >= t->nnames || fmap[c] != UNUSED_ID) {
            continue;
        }
        fmap[c] = next;
        PyObject *name = ft_tree_name(t, c);
        if (name == NULL) {
            return -1;
        }
        ft_sbuf_puts(&k->out, next ? ",\n{\"id\":" : "\n{\"id\":");
        ft_json_put_u64(&k->out, next);
        put_key(&k->out, "name");
        ft_json_put_str(&k->out, name);
        put_key(&k->out, "module");
        put_str_or_null(&k->out, ft_tree_module(t, c));
        put_key(&k->out, "file");
        put_str_or_null(&k->out, ft_tree_file(t, c));
        put_key(&k->out, "line");
        ft_json_put_i64(&k->out, ft_tree_line(t, c));
        ft_sbuf_puts(&k->out, "}");
        next++;
        if (ft_sink_maybe_flush(k) < 0) {
            return -1;
        }
    }
    ft_sbuf_puts(&k->out, "]");
    return 0;
}

static int
write_threads(const ft_tree *t, ft_sink *k, uint32_t *tmap)
{
    uint32_t next = 0;
    ft_sbuf_puts(&k->out, ",\n\"threads\":[");
    for (uint32_t i = 0; i < t->nthreads; i++) {
        uint64_t dropped = t->thread_vec[i]->dropped;
        if (t->thread_first[i] == t->thread_first[i + 1] && dropped == 0) {
            tmap[i] = UNUSED_ID;
            continue; /* ran only untraced code */
        }
        tmap[i] = next;
        PyObject *name = ft_tree_thread_name(t, i);
        if (name == NULL) {
            return -1;
        }
        ft_sbuf_puts(&k->out, next ? ",\n{\"id\":" : "\n{\"id\":");
        ft_json_put_u64(&k->out, next);
        put_key(&k->out, "ident");
        ft_json_put_u64(&k->out, t->thread_vec[i]->ident);
        put_key(&k->out, "name");
        ft_json_put_str(&k->out, name);
        if (dropped > 0) {
            put_key(&k->out, "dropped");
            ft_json_put_u64(&k->out, dropped);
        }
        ft_sbuf_puts(&k->out, "}");
        next++;
    }
    ft_sbuf_puts(&k->out, "]");
    return 0;
}

/* The value keys of a node: what it was called with and how it ended. */
static int
put_values(ft_sbuf *s, const ft_threadbuf *tb, const ft_node *nd)
{
    if (nd->args != FT_VAL_ABSENT) {
        put_key(s, "args");
        if (ft_json_put_payload(s, tb, nd->args) < 0) {
            return -1;
        }
    }
    if (FT_NODE_IS_MARKER(nd->kind) || nd->end == FT_END_RAISE) {
        if (nd->exc != FT_VAL_ABSENT) {
            put_key(s, "exception");
            if (ft_json_put_payload(s, tb, nd->exc) < 0) {
                return -1;
            }
        }
    }
    else if ((nd->end == FT_END_RETURN || nd->end == FT_END_YIELD) &&
             nd->result != FT_VAL_ABSENT) {
        put_key(s, "result");
        if (ft_json_put_payload(s, tb, nd->result) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
write_calls(const ft_tree *t, ft_sink *k, const uint32_t *fmap, const uint32_t *tmap)
{
    uint64_t base = time_origin(t);
    ft_sbuf *s = &k->out;
    ft_sbuf_puts(s, ",\n\"calls\":[");
    for (size_t i = 0; i < t->nnodes; i++) {
        const ft_node *nd = &t->nodes[i];
        const ft_threadbuf *tb = t->thread_vec[nd->thread];
        int marker = FT_NODE_IS_MARKER(nd->kind);
        ft_sbuf_puts(s, i ? ",\n{\"id\":" : "\n{\"id\":");
        ft_json_put_u64(s, i);
        put_key(s, "parent");
        if (nd->parent >= 0) {
            ft_json_put_i64(s, nd->parent);
        }
        else {
            ft_sbuf_puts(s, "null");
        }
        put_key(s, "thread");
        ft_json_put_u64(s, tmap[nd->thread]);
        put_key(s, "function");
        ft_json_put_u64(s, nd->code_id < t->nnames ? fmap[nd->code_id] : 0);
        /* a marker has no end of its own: "return", as in CallEvent */
        if (put_word(s, "kind", ft_node_kind_name(nd->kind)) < 0 ||
            put_word(s, "end", ft_node_end_name(marker ? FT_END_RETURN : nd->end)) < 0) {
            return -1;
        }
        if (nd->origin != (int64_t)i) {
            put_key(s, "origin");
            if (nd->origin >= 0 && (size_t)nd->origin < t->nnodes) {
                ft_json_put_i64(s, nd->origin);
            }
            else {
                ft_sbuf_puts(s, "null");
            }
        }
        if (put_values(s, tb, nd) < 0) {
            return -1;
        }
        if (nd->timed) {
            put_key(s, "t0");
            ft_json_put_u64(s, ft_node_t0(t, nd) - base);
            if (!marker && nd->end != FT_END_UNFINISHED) {
                put_key(s, "t1");
                ft_json_put_u64(s, ft_node_t1(t, nd) - base);
            }
        }
        ft_json_put_node_flags(s, nd->flags);
        ft_sbuf_puts(s, "}");
        if (ft_sink_maybe_flush(k) < 0) {
            return -1;
        }
    }
    ft_sbuf_puts(s, "]");
    return 0;
}

int
ft_write_json(const ft_tree *t, PyObject *file, int binary, PyObject *meta)
{
    ft_sink k;
    if (ft_sink_open(&k, file, binary) < 0) {
        return -1;
    }
    uint32_t *fmap = PyMem_RawMalloc(((size_t)t->nnames + 1) * sizeof(uint32_t));
    uint32_t *tmap = PyMem_RawMalloc(((size_t)t->nthreads + 1) * sizeof(uint32_t));
    int rc = -1;
    if (fmap == NULL || tmap == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint32_t i = 0; i < t->nnames; i++) {
        fmap[i] = UNUSED_ID;
    }
    ft_sbuf *s = &k.out;
    ft_sbuf_puts(s, "{\"format\":\"" FT_JSON_FORMAT "\",\"version\":");
    ft_json_put_u64(s, FT_JSON_VERSION);
    if (meta != NULL) {
        ft_sbuf_puts(s, ",\n\"meta\":");
        ft_sbuf_put_str(s, meta);
    }
    ft_sbuf_puts(s, ",\n\"timing\":");
    ft_sbuf_puts(s, t->cfg.timing ? "true" : "false");
    ft_sbuf_puts(s, ",\"results\":");
    ft_sbuf_puts(s, t->cfg.results ? "true" : "false");
    ft_sbuf_puts(s, ",\"ncalls\":");
    ft_json_put_u64(s, t->nnodes);
    if (write_functions(t, &k, fmap) < 0 || write_threads(t, &k, tmap) < 0 ||
        write_calls(t, &k, fmap, tmap) < 0) {
        goto done;
    }
    ft_sbuf_puts(s, "}\n");
    rc = ft_sink_flush(&k);
done:
    PyMem_RawFree(fmap);
    PyMem_RawFree(tmap);
    ft_sink_close(&k);
    return rc;
}
