/* codetable.h - code object -> small integer id, with the filter verdict.
 *
 * Each code object seen during a session is entered once: it gets an id
 * (its index in `entries`) and flags decided at first sight (excluded by the
 * filters, decorated with @trace, timed). The table holds a strong reference
 * to every code object it has seen, so an address can never be reused by
 * another code object while the table lives, and names can be computed
 * later, when the trace is written, never on the hot path.
 */
#ifndef FLOWTRACE_CODETABLE_H
#define FLOWTRACE_CODETABLE_H

#include <Python.h>
#include <stdint.h>

#include "recording/filter.h"

/* Flags of a code entry, packed with the id in one uint32 "verdict". */
#define FT_CODE_GEN (1u << 26)      /* generator, coroutine, async generator */
#define FT_CODE_EXCLUDED (1u << 27) /* not traced: DISABLE its events */
#define FT_CODE_FULLREPR (1u << 28) /* @trace: full reprs of its values */
#define FT_CODE_TIMED (1u << 29)    /* @trace(measure_time=True) */
#define FT_CODE_CORO (1u << 30)     /* a coroutine or async generator: its
                                       entries may start an asyncio task's
                                       step */
#define FT_CODE_TASKHOOK (1u << 31) /* asyncio's BaseEventLoop.create_task:
                                       never disabled, its return value is
                                       the new task */
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

/* What decides the verdict of a code object: set at session start. */
typedef struct {
    PyObject *exclude_prefixes; /* owned: tuple of str, path prefixes */
    PyObject *decorated;        /* owned: dict code -> (FT_CODE_* flags, module
                                   name or None) of @trace functions */
    int include_stdlib;         /* 1: stdlib/site-packages are traced */
    PyObject *always_excluded;  /* owned: tuple of str, FlowTrace's own dir */
    ft_patterns include;        /* owned: when not empty, only matching code
                                   is traced (stdlib too) */
    ft_patterns exclude;        /* owned: matching code is never traced */
} ft_filter;

/* The precedence rule, applied once per code object by decide():
 *   1. FlowTrace's own code: never traced;
 *   2. @trace-decorated functions: always traced;
 *   3. an exclude pattern matches: not traced;
 *   4. include patterns given: traced if one matches (even the stdlib);
 *   5. otherwise the default: user code, not the stdlib or site-packages
 *      (unless include_stdlib). */

typedef struct {
    ft_code_entry *entries; /* owned array, `count` used of `capacity` */
    uint32_t count;
    uint32_t capacity;
    ft_code_slot *slots; /* owned open-addressing table, size mask+1 */
    size_t mask;
} ft_codetable;

int ft_codetable_init(ft_codetable *t);
void ft_codetable_clear(ft_codetable *t);
/* Move `src` into `dst` (dst must be cleared); src becomes empty. */
void ft_codetable_move(ft_codetable *dst, ft_codetable *src);

/* Verdict of `code`, entering it if new. Returns FT_CODE_EXCLUDED for a
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

void ft_filter_clear(ft_filter *f);

/* Module name of a code id (borrowed str), or NULL when unknown. */
static inline PyObject *
ft_codetable_module(const ft_codetable *t, uint32_t id)
{
    return id < t->count ? t->entries[id].module : NULL;
}

#endif
