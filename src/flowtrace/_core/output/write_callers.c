/* write_callers.c - where the functions matching a pattern were called
 * from, merged like a profiler's inverted call graph (show --callers):
 *
 *     parse  3 calls
 *       ← parse_all  2
 *         ← main  2
 *       ← helper  1
 *         ← main  1
 *
 * Every call of a matching function counts once, with the chain of calls
 * it was in, innermost first (task lanes are not calls: skipped). The
 * chains are merged into a trie keyed by code id; siblings are written
 * most calls first. Memory: the trie, at most one node per distinct chain
 * prefix (bounded by max_depth levels of callers when given).
 */
#include "output/write_callers.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/growable.h"
#include "output/sink.h"
#include "recording/filter.h"
#include "tree/walk.h"

#define NONE UINT32_MAX

typedef struct {
    uint32_t code_id; /* the function */
    uint32_t child;   /* first child (a caller), NONE */
    uint32_t next;    /* next sibling, NONE */
    uint64_t count;   /* calls through this chain */
} trie_node;

typedef struct {
    trie_node *v; /* owned (PyMem_Raw) */
    size_t n, cap;
    uint32_t roots; /* first root (a matching function), NONE */
} trie;

/* The child of `parent` (NONE: a root) for `code_id`, made if missing.
 * NONE when out of memory. */
static uint32_t
child_of(trie *t, uint32_t parent, uint32_t code_id)
{
    uint32_t *link = parent == NONE ? &t->roots : &t->v[parent].child;
    for (uint32_t c = *link; c != NONE; c = t->v[c].next) {
        if (t->v[c].code_id == code_id) {
            return c;
        }
    }
    if (t->n >= NONE - 1 || FT_GROW(t->v, t->cap, t->n + 1, 256) < 0) {
        return NONE;
    }
    uint32_t i = (uint32_t)t->n++;
    link = parent == NONE ? &t->roots : &t->v[parent].child; /* v may have moved */
    t->v[i] = (trie_node){code_id, NONE, *link, 0};
    *link = i;
    return i;
}

/* Per code id: 1 matches the pattern, 2 does not, 0 not decided yet. */
static int
matches(const ft_tree *t, PyObject *pattern, uint8_t *seen, uint32_t code_id)
{
    if (seen[code_id] == 0) {
        PyObject *name = ft_tree_name(t, code_id);
        if (name == NULL) {
            return -1;
        }
        seen[code_id] = ft_glob_match(pattern, name, 0) ? 1 : 2;
    }
    return seen[code_id] == 1;
}

static int
collect(const ft_tree *t, PyObject *pattern, size_t max_depth, trie *tr)
{
    uint8_t *seen = PyMem_RawCalloc(t->nnames ? t->nnames : 1, 1);
    if (seen == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ft_walk walk = {0};
    int rc = 0;
    for (uint32_t th = 0; th < t->nthreads && rc == 0; th++) {
        ft_walk_thread(&walk, t, th);
        ft_walk_step s;
        int r;
        while ((r = ft_walk_next(&walk, &s)) > 0) {
            const ft_node *nd = &t->nodes[s.node];
            if (s.event != FT_WALK_ENTER || nd->kind != FT_NODE_CALL) {
                continue;
            }
            int m = matches(t, pattern, seen, nd->code_id);
            if (m < 0) {
                rc = -1;
                break;
            }
            if (!m) {
                continue;
            }
            uint32_t at = child_of(tr, NONE, nd->code_id);
            size_t levels = 0;
            if (at != NONE) {
                tr->v[at].count++;
            }
            for (size_t d = s.depth; d-- > 0 && at != NONE;) {
                const ft_node *a = &t->nodes[walk.open[d]];
                if (a->kind == FT_NODE_TASK) {
                    continue;
                }
                if (max_depth > 0 && levels >= max_depth) {
                    break;
                }
                levels++;
                at = child_of(tr, at, a->code_id);
                if (at != NONE) {
                    tr->v[at].count++;
                }
            }
            if (at == NONE) {
                PyErr_NoMemory();
                rc = -1;
                break;
            }
        }
        if (r < 0) {
            rc = -1;
        }
    }
    ft_walk_free(&walk);
    PyMem_RawFree(seen);
    return rc;
}

static const trie_node *sort_base;

static int
by_count(const void *a, const void *b)
{
    const trie_node *x = &sort_base[*(const uint32_t *)a];
    const trie_node *y = &sort_base[*(const uint32_t *)b];
    if (x->count != y->count) {
        return x->count < y->count ? 1 : -1;
    }
    return x->code_id < y->code_id ? -1 : x->code_id > y->code_id;
}

/* The children of a list, most calls first. Owned array, or NULL. */
static uint32_t *
sorted(const trie *tr, uint32_t first, size_t *n)
{
    *n = 0;
    for (uint32_t c = first; c != NONE; c = tr->v[c].next) {
        (*n)++;
    }
    uint32_t *v = PyMem_RawMalloc((*n ? *n : 1) * sizeof(uint32_t));
    if (v == NULL) {
        return NULL;
    }
    size_t i = 0;
    for (uint32_t c = first; c != NONE; c = tr->v[c].next) {
        v[i++] = c;
    }
    sort_base = tr->v; /* under the GIL: one sort at a time */
    qsort(v, *n, sizeof(uint32_t), by_count);
    return v;
}

/* 1234567 as "1,234,567". */
static void
put_count(char *out, size_t size, uint64_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0) {
            out[o++] = ',';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static int
write_level(const ft_tree *t, const trie *tr, ft_sink *k, uint32_t first, size_t depth,
            int ascii)
{
    size_t n;
    uint32_t *v = sorted(tr, first, &n);
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const trie_node *x = &tr->v[v[i]];
        for (size_t d = 0; d < depth; d++) {
            ft_sbuf_puts(&k->out, "  ");
        }
        if (depth > 0) {
            ft_sbuf_puts(&k->out, ascii ? "<- " : "\xe2\x86\x90 ");
        }
        PyObject *name = ft_tree_name(t, x->code_id);
        if (name == NULL) {
            PyMem_RawFree(v);
            return -1;
        }
        ft_sbuf_put_str(&k->out, name);
        char num[48];
        put_count(num, sizeof(num), x->count);
        ft_sbuf_puts(&k->out, "  ");
        ft_sbuf_puts(&k->out, num);
        ft_sbuf_puts(&k->out, depth > 0 ? "\n" : x->count != 1 ? " calls\n" : " call\n");
        if (ft_sink_maybe_flush(k) < 0 || write_level(t, tr, k, x->child, depth + 1, ascii) < 0) {
            PyMem_RawFree(v);
            return -1;
        }
    }
    PyMem_RawFree(v);
    return 0;
}

int
ft_write_callers(const ft_tree *t, PyObject *file, PyObject *pattern, size_t max_depth,
                 int ascii)
{
    trie tr = {NULL, 0, 0, NONE};
    ft_sink k;
    if (ft_sink_open(&k, file, 0) < 0) {
        return -1;
    }
    int rc = collect(t, pattern, max_depth, &tr);
    if (rc == 0 && tr.roots == NONE) {
        ft_sbuf_puts(&k.out, ascii ? "... " : "\xe2\x8b\xaf ");
        ft_sbuf_puts(&k.out, "no call matches ");
        ft_sbuf_put_str(&k.out, pattern);
        ft_sbuf_puts(&k.out, "\n");
    }
    else if (rc == 0) {
        rc = write_level(t, &tr, &k, tr.roots, 0, ascii);
    }
    if (rc == 0) {
        rc = ft_sink_flush(&k);
    }
    ft_sink_close(&k);
    PyMem_RawFree(tr.v);
    return rc;
}
