/* frame_args.h - the arguments of an undecorated call, read from its frame
 * (the --args option). Only used when the session asks for it: the default
 * entry path never comes here. */
#ifndef FLOWTRACE_FRAME_ARGS_H
#define FLOWTRACE_FRAME_ARGS_H

#include "recording/state.h"

/* Record the arguments of the START that follows: one FT_REC_ARGV record
 * per named parameter (values captured like results: small ints inline,
 * immutables by reference, no text made now; with full reprs, objects' own
 * reprs as text), FT_REC_ARGX for *args items and **kwargs. 0, or -1 when the
 * session ended while a user repr ran (`tb` is gone: do not touch). */
int ft_record_frame_args(ft_state *st, ft_threadbuf *tb, PyObject *code, uint32_t verdict);

#define FT_ARGV_MAX 16 /* named parameters kept; *args items likewise; past
                          them, a text "… +N more" ends the arguments */
#define FT_ARGV_TEXTS 2 /* texts after the *args items: **kwargs, "more" */

/* The arguments gathered from FT_REC_ARGV/ARGX records, by the builder. */
typedef struct {
    uint32_t code_id;             /* the code they belong to */
    uint32_t named[FT_ARGV_MAX];  /* payloads, co_varnames order */
    uint32_t nnamed;
    uint32_t extra[FT_ARGV_MAX + FT_ARGV_TEXTS]; /* *args items, then the
                                                    texts */
    uint8_t extra_kw[FT_ARGV_MAX + FT_ARGV_TEXTS]; /* 1: a text, shown as is */
    uint32_t nextra;
} ft_argv;

/* Their text, "3, 'x', *rest..., k=1, a=2", stored in `tb`: the payload, or
 * FT_VAL_ABSENT. Runs at build time: `npos` is the code's co_argcount and
 * `names` (borrowed tuple of str, or NULL when unknown) its parameter
 * names, from the code object or a loaded file (ft_tree_argspec). */
uint32_t ft_argv_text(ft_threadbuf *tb, Py_ssize_t npos, PyObject *names, const ft_argv *a);

#endif
