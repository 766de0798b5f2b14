/* codetable.c - code object -> id; the filter decides the flags once per
 * code object (filter.h). */
#include "recording/codetable.h"

#include <string.h>

#include "common/growable.h"
#include "common/ptrhash.h"

_Static_assert((FT_CODE_ID_MASK & FT_CODE_FLAGS) == 0, "an id never overlaps the flags");

int
ft_codetable_init(ft_codetable *t)
{
    memset(t, 0, sizeof(*t));
    t->mask = 255;
    t->slots = PyMem_RawCalloc(t->mask + 1, sizeof(ft_code_slot));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void
ft_codetable_clear(ft_codetable *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        Py_XDECREF(t->entries[i].code);
        Py_XDECREF(t->entries[i].module);
    }
    PyMem_RawFree(t->entries);
    PyMem_RawFree(t->slots);
    memset(t, 0, sizeof(*t));
}

int
ft_codetable_copy(ft_codetable *dst, const ft_codetable *src)
{
    memset(dst, 0, sizeof(*dst));
    if (src->count == 0) {
        return 0;
    }
    dst->entries = PyMem_RawMalloc((size_t)src->count * sizeof(ft_code_entry));
    if (dst->entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(dst->entries, src->entries, (size_t)src->count * sizeof(ft_code_entry));
    for (uint32_t i = 0; i < src->count; i++) {
        Py_XINCREF(dst->entries[i].code);
        Py_XINCREF(dst->entries[i].module);
    }
    dst->count = dst->capacity = src->count;
    return 0;
}

void
ft_codetable_move(ft_codetable *dst, ft_codetable *src)
{
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

static int
grow_slots(ft_codetable *t)
{
    size_t newmask = t->mask * 2 + 1;
    ft_code_slot *ns = PyMem_RawCalloc(newmask + 1, sizeof(ft_code_slot));
    if (ns == NULL) {
        return -1;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].key == NULL) {
            continue;
        }
        size_t j = ft_hash_ptr(t->slots[i].key) & newmask;
        while (ns[j].key != NULL) {
            j = (j + 1) & newmask;
        }
        ns[j] = t->slots[i];
    }
    PyMem_RawFree(t->slots);
    t->slots = ns;
    t->mask = newmask;
    return 0;
}

uint32_t
ft_codetable_lookup(ft_codetable *t, const ft_filter *f, PyObject *code)
{
    if (t->slots == NULL || !PyCode_Check(code)) {
        return FT_CODE_EXCLUDED;
    }
    size_t i = ft_hash_ptr(code) & t->mask;
    for (;;) {
        ft_code_slot *s = &t->slots[i];
        if (s->key == code) {
            return s->verdict;
        }
        if (s->key == NULL) {
            break;
        }
        i = (i + 1) & t->mask;
    }
    /* New code object. */
    if (t->count >= FT_CODE_ID_MASK) {
        return FT_CODE_EXCLUDED;
    }
    size_t cap = t->capacity; /* <= FT_CODE_ID_MASK + 1 entries: fits */
    if (FT_GROW(t->entries, cap, t->count + 1, 256) < 0) {
        return FT_CODE_EXCLUDED;
    }
    t->capacity = (uint32_t)cap;
    if ((size_t)(t->count + 1) * 2 > t->mask) {
        if (grow_slots(t) < 0) {
            return FT_CODE_EXCLUDED;
        }
        i = ft_hash_ptr(code) & t->mask;
        while (t->slots[i].key != NULL) {
            i = (i + 1) & t->mask;
        }
    }
    PyObject *module = NULL;
    uint32_t verdict = t->count | ft_filter_decide(f, code, &module);
    t->entries[t->count].code = Py_NewRef(code);
    t->entries[t->count].verdict = verdict;
    t->entries[t->count].module = module; /* owned */
    t->count++;
    t->slots[i].key = code;
    t->slots[i].verdict = verdict;
    return verdict;
}

void
ft_codetable_set_flags(ft_codetable *t, PyObject *code, uint32_t flags)
{
    if (t->slots == NULL) {
        return;
    }
    size_t i = ft_hash_ptr(code) & t->mask;
    while (t->slots[i].key != NULL) {
        if (t->slots[i].key == code) {
            uint32_t keep = t->slots[i].verdict &
                            (FT_CODE_ID_MASK | FT_CODE_GEN | FT_CODE_CORO | FT_CODE_TASKHOOK);
            uint32_t v = keep | (flags & (FT_CODE_FULLREPR | FT_CODE_TIMED));
            t->slots[i].verdict = v;
            t->entries[keep & FT_CODE_ID_MASK].verdict = v;
            return;
        }
        i = (i + 1) & t->mask;
    }
}
