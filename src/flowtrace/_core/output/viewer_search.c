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
    ft_u64map values;  /* owned: (thread + 1) << 32 | payload -> 1 or 2 */
} search;

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
    uint64_t key = ((uint64_t)thread + 1) << 32 | payload;
    int64_t known = ft_u64map_get(&s->values, key);
    if (known > 0) {
        return known == 1;
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
    if (ft_u64map_put(&s->values, key, r ? 1 : 2) < 0) {
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

PyObject *
ft_viewer_search(const ft_tree *t, PyObject *needle, size_t limit, size_t *total)
{
    search s = {.t = t, .needle = needle};
    PyObject *ids = PyList_New(0);
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
    }
    PyMem_RawFree(s.by_code);
    ft_u64map_free(&s.values);
    return ids;
fail:
    Py_XDECREF(ids);
    PyMem_RawFree(s.by_code);
    ft_u64map_free(&s.values);
    return NULL;
}
