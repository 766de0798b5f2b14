/* codetable.h - code object -> small integer id, with its verdict.
 *
 * Each code object seen during a session is entered once: it gets an id
 * (its index in `entries`) and the flags the filter decides at first sight
 * (ft_filter_decide, filter.h: excluded, decorated with @trace, timed...),
 * packed together in one uint32 "verdict". The table holds a strong reference
 * to every code object it has seen, so an address can never be reused by
 * another code object while the table lives, and names can be computed
 * later, when the trace is written, never on the hot path.
 */
#ifndef FLOWTRACE_CODETABLE_H
#define FLOWTRACE_CODETABLE_H

#include <Python.h>
#include <stdint.h>

#include "recording/filter.h"

/* The id of a code object, below its verdict flags (filter.h). */
#define FT_CODE_ID_MASK ((1u << 26) - 1u) /* = FT_CODE_ID_MAX of record.h */

typedef struct {
    PyObject *code;   /* owned: the code object */
    uint32_t verdict; /* id | FT_CODE_* flags */
    PyObject *module; /* owned or NULL: name of the module the code runs
                         in (its globals' __name__), read at first sight
                         for code that is traced */
} ft_code_entry;

typedef struct {
    PyObject *key; /* borrowed (owned by entries[]): NULL = empty slot */
    uint32_t verdict;
} ft_code_slot;

typedef struct {
    ft_code_entry *entries; /* owned array, `count` used of `capacity` */
    uint32_t count;
    uint32_t capacity;
    ft_code_slot *slots; /* owned open-addressing table, size mask+1 */
    size_t mask;
} ft_codetable;

int ft_codetable_init(ft_codetable *t);
void ft_codetable_clear(ft_codetable *t);
/* `dst` (uninitialised) becomes a copy of `src`'s entries, each code
 * object and module name referenced again, without the lookup slots: a
 * table to read names from (a snapshot's trace), not to enter codes in.
 * 0, or -1 with MemoryError (dst then empty). */
int ft_codetable_copy(ft_codetable *dst, const ft_codetable *src);
/* Move `src` into `dst` (dst must be cleared); src becomes empty. */
void ft_codetable_move(ft_codetable *dst, ft_codetable *src);

/* Verdict of `code`, entering it if new (the filter `f` decides the flags
 * of a new code object, once). Returns FT_CODE_EXCLUDED for a
 * non-code object. On memory failure returns FT_CODE_EXCLUDED with no
 * exception set (the event is dropped, never the program's behaviour). */
uint32_t ft_codetable_lookup(ft_codetable *t, const ft_filter *f, PyObject *code);

/* Re-read the flags of an entered code (after @trace marked it). */
void ft_codetable_set_flags(ft_codetable *t, PyObject *code, uint32_t flags);

static inline PyObject *
ft_codetable_code(const ft_codetable *t, uint32_t id)
{
    return id < t->count ? t->entries[id].code : NULL;
}

/* Module name of a code id (borrowed str), or NULL when unknown. */
static inline PyObject *
ft_codetable_module(const ft_codetable *t, uint32_t id)
{
    return id < t->count ? t->entries[id].module : NULL;
}

#endif
