/* viewer_search.c - search a whole tree (viewer_search.h). */
#include "output/viewer_search.h"

#include "common/u64map.h"
#include "recording/record.h"
#include "recording/values.h"

/* Does lower(text) contain the needle? 1, 0, or -1 with an exception. */
static int
contains(PyObject *text, PyObject *needle)
{
    PyObject *low = PyObject_CallMethod(text, "lower", NULL);
    if (low == NULL) {
        return -1;
    }
    int r = PyUnicode_Contains(low, needle);
    Py_DECREF(low);
    return r;
}

typedef struct {
    const ft_tree *t;  /* borrowed */
    PyObject *needle;  /* borrowed */
    uint8_t *by_code;  /* owned: per code id, 0 unknown, 1 match, 2 not */
    uint8_t **stored;  /* owned: per thread, an owned array with the answer
                          for each entry of its value store (0 unknown) */
    ft_u64map values;  /* owned: other payloads (small ints, characters,
                          classes): (thread + 1) << 32 | payload -> 1 or 2 */
} search;

/* Where the answer for a payload is kept: its value store's entry, or
 * NULL for a payload that is not an index into the store. */
static uint8_t *
stored_slot(search *s, uint32_t thread, uint32_t payload)
{
    const ft_threadbuf *tb = s->t->thread_vec[thread];
    if (payload < FT_VAL_FIRST_INDEX || payload >= FT_VAL_CHAR_BASE || s->stored == NULL) {
        return NULL;
    }
    uint32_t off = (payload - FT_VAL_FIRST_INDEX - tb->vbase) & FT_VALUE_INDEX_MASK;
    if (off >= tb->nvalues) {
        return NULL;
    }
    if (s->stored[thread] == NULL) {
        s->stored[thread] = PyMem_RawCalloc(tb->nvalues, 1);
        if (s->stored[thread] == NULL) {
            return NULL; /* the map will do */
        }
    }
    return &s->stored[thread][off];
}

static int
name_matches(search *s, uint32_t code)
{
    if (code >= s->t->nnames) {
        return 0;
    }
    if (s->by_code[code] == 0) {
        PyObject *name = ft_tree_name(s->t, code);
        int r = name == NULL ? -1 : contains(name, s->needle);
        if (r < 0) {
            return -1;
        }
        s->by_code[code] = r ? 1 : 2;
    }
    return s->by_code[code] == 1;
}

static int
value_matches(search *s, uint32_t thread, uint32_t payload)
{
    if (payload == FT_VAL_ABSENT) {
        return 0;
    }
    uint8_t *slot = stored_slot(s, thread, payload);
    uint64_t key = ((uint64_t)thread + 1) << 32 | payload;
    if (slot != NULL && *slot) {
        return *slot == 1;
    }
    if (slot == NULL) {
        int64_t known = ft_u64map_get(&s->values, key);
        if (known > 0) {
            return known == 1;
        }
    }
    PyObject *text = ft_value_text(s->t->thread_vec[thread], payload);
    if (text == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int r = contains(text, s->needle);
    Py_DECREF(text);
    if (r < 0) {
        return -1;
    }
    if (slot != NULL) {
        *slot = r ? 1 : 2;
    }
    else if (ft_u64map_put(&s->values, key, r ? 1 : 2) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return r;
}

static int
node_matches(search *s, const ft_node *nd)
{
    int r = 0;
    if (!FT_NODE_IS_MARKER(nd->kind) && nd->kind != FT_NODE_TASK) {
        r = name_matches(s, nd->code_id);
    }
    if (r == 0) {
        r = value_matches(s, nd->thread, nd->args);
    }
    if (r == 0) {
        uint32_t out = FT_NODE_IS_MARKER(nd->kind) || nd->end == FT_END_RAISE ? nd->exc
                                                                              : nd->result;
        r = value_matches(s, nd->thread, out);
    }
    return r;
}

static void
search_free(search *s)
{
    for (uint32_t th = 0; s->stored != NULL && th < s->t->nthreads; th++) {
        PyMem_RawFree(s->stored[th]);
    }
    PyMem_RawFree(s->stored);
    PyMem_RawFree(s->by_code);
    ft_u64map_free(&s->values);
}

PyObject *
ft_viewer_search(const ft_tree *t, PyObject *needle, size_t limit, int count, size_t *total)
{
    search s = {.t = t, .needle = needle};
    PyObject *ids = PyList_New(0);
    s.stored = PyMem_RawCalloc(t->nthreads ? t->nthreads : 1, sizeof(uint8_t *));
    s.by_code = PyMem_RawCalloc(t->nnames ? t->nnames : 1, 1);
    if (ids == NULL || s.by_code == NULL) {
        if (s.by_code == NULL) {
            PyErr_NoMemory();
        }
        goto fail;
    }
    *total = 0;
    for (size_t i = 0; i < t->nnodes; i++) {
        int r = node_matches(&s, &t->nodes[i]);
        if (r < 0) {
            goto fail;
        }
        if (r == 0) {
            continue;
        }
        if (*total < limit) {
            PyObject *id = PyLong_FromSize_t(i);
            if (id == NULL || PyList_Append(ids, id) < 0) {
                Py_XDECREF(id);
                goto fail;
            }
            Py_DECREF(id);
        }
        (*total)++;
        if (!count && *total >= limit) {
            break; /* what is on screen: the first `limit` */
        }
    }
    search_free(&s);
    return ids;
fail:
    Py_XDECREF(ids);
    search_free(&s);
    return NULL;
}
