/* strtable.h - a map from exact str (by content) to an int64: open
 * addressing on the str's own cached hash, a reference held on every key.
 * For the writers' tables of distinct texts, where a dict of millions of
 * str -> int paid a new int per entry and a lookup through two arrays.
 * Never on a per-event path. */
#ifndef FLOWTRACE_STRTABLE_H
#define FLOWTRACE_STRTABLE_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_hash_t hash; /* the key's hash (PyObject_Hash of an exact str) */
    PyObject *key;  /* owned exact str; NULL: an empty slot */
    int64_t val;    /* its value */
} ft_strslot;

typedef struct {
    ft_strslot *slots; /* owned (PyMem_Raw) array of mask + 1 slots */
    size_t mask;       /* slots - 1; 0 before the first put */
    size_t count;      /* keys in use */
} ft_strtable;

static inline int
ft_str_equal(PyObject *a, PyObject *b)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    return a == b || (n == PyUnicode_GET_LENGTH(b) && PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
                      memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                             (size_t)n * PyUnicode_KIND(a)) == 0);
}

/* The slot of `s` (hash `h`): its own, or the empty one where it goes. */
static inline ft_strslot *
ft_strtable_slot(const ft_strtable *t, PyObject *s, Py_hash_t h)
{
    size_t j = (size_t)h & t->mask;
    for (;;) {
        ft_strslot *e = &t->slots[j];
        if (e->key == NULL || (e->hash == h && ft_str_equal(e->key, s))) {
            return e;
        }
        j = (j + 1) & t->mask;
    }
}

/* The value of `s` (an exact str): >= 0 as stored; -2 when absent; -1
 * with an exception (its hash failed). */
static inline int64_t
ft_strtable_get(const ft_strtable *t, PyObject *s)
{
    if (t->count == 0) {
        return -2;
    }
    Py_hash_t h = PyObject_Hash(s);
    if (h == -1) {
        return -1;
    }
    ft_strslot *e = ft_strtable_slot(t, s, h);
    return e->key != NULL ? e->val : -2;
}

/* s -> val (a new key: `s` is not in the table). 0, or -1 with an
 * exception. */
static inline int
ft_strtable_add(ft_strtable *t, PyObject *s, int64_t val)
{
    Py_hash_t h = PyObject_Hash(s);
    if (h == -1) {
        return -1;
    }
    if ((t->count + 1) * 2 > t->mask) { /* at most half full */
        size_t nsize = t->mask ? (t->mask + 1) * 2 : 1024;
        ft_strslot *ns = PyMem_RawCalloc(nsize, sizeof(ft_strslot));
        if (ns == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ft_strtable old = *t;
        t->slots = ns;
        t->mask = nsize - 1;
        for (size_t i = 0; old.slots != NULL && i <= old.mask; i++) {
            if (old.slots[i].key != NULL) {
                *ft_strtable_slot(t, old.slots[i].key, old.slots[i].hash) = old.slots[i];
            }
        }
        PyMem_RawFree(old.slots);
    }
    ft_strslot *e = ft_strtable_slot(t, s, h);
    *e = (ft_strslot){h, Py_NewRef(s), val};
    t->count++;
    return 0;
}

static inline void
ft_strtable_free(ft_strtable *t)
{
    for (size_t i = 0; t->slots != NULL && i <= t->mask; i++) {
        Py_XDECREF(t->slots[i].key);
    }
    PyMem_RawFree(t->slots);
    memset(t, 0, sizeof(*t));
}

#endif
