/* threads.h - which buffer an event goes to, and the verdict of its code
 * for this thread: the per-thread lookup layer under every callback.
 */
#ifndef FLOWTRACE_THREADS_H
#define FLOWTRACE_THREADS_H

#include "common/compat.h"
#include "recording/state.h"

/* Per-thread lookup. These two thread-locals are the one piece of global
 * mutable state outside the module state, on purpose: every event must
 * find its thread's buffer in a few instructions, and a thread-state dict
 * lookup costs more than the rest of the callback. They are only trusted
 * when ft_tl_gen equals the running session's generation, which is unique
 * in the process (an atomic counter), so a stale pointer from an earlier
 * session or another interpreter is never dereferenced. */
extern FT_TLS uint64_t ft_tl_gen;
extern FT_TLS ft_threadbuf *ft_tl_buf;

/* The slow path of ft_current_buffer: this thread's first event of the
 * session makes its buffer (NULL: no session, or no memory: the thread
 * records nothing and the program goes on). */
ft_threadbuf *ft_attach_thread(ft_state *st);
/* Fill tb->name from threading, running no Python code. */
void ft_resolve_thread_name(ft_threadbuf *tb);

static inline ft_threadbuf *
ft_current_buffer(ft_state *st)
{
    if (ft_tl_gen == st->gen) {
        return ft_tl_buf;
    }
    return ft_attach_thread(st);
}

static inline ft_vcache_entry *
ft_vcache_slot(ft_threadbuf *tb, PyObject *code)
{
    uintptr_t p = (uintptr_t)code;
    return &tb->vcache[((p >> 4) ^ (p >> 12)) & (FT_VCACHE_SIZE - 1)];
}

/* Verdict of a code object for the running session: one compare with the
 * last code seen on this thread, then a direct-mapped per-thread cache,
 * then the code table (first sight: the filters decide). */
static inline uint32_t
ft_verdict(ft_state *st, ft_threadbuf *tb, PyObject *code)
{
    if (code == tb->last_code) {
        return tb->last_verdict;
    }
    ft_vcache_entry *e = ft_vcache_slot(tb, code);
    if (e->code != code) {
        e->verdict = ft_codetable_lookup(&st->codes, &st->filter, code);
        e->code = code;
        if (tb->name == NULL && tb->name_tries < 4 && !(e->verdict & FT_CODE_EXCLUDED)) {
            tb->name_tries++;
            ft_resolve_thread_name(tb);
        }
    }
    tb->last_code = code;
    tb->last_verdict = e->verdict;
    return e->verdict;
}

/* Drop this thread's cached verdict of `code` (its flags changed). */
static inline void
ft_verdict_forget(ft_threadbuf *tb, PyObject *code)
{
    ft_vcache_entry *e = ft_vcache_slot(tb, code);
    if (e->code == code) {
        e->code = NULL;
    }
    tb->last_code = NULL;
}

#endif
