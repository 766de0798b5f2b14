/* frame_args.h - the arguments of an undecorated call, read from its frame
 * (the --args option). Only used when the session asks for it: the default
 * entry path never comes here. */
#ifndef FLOWTRACE_FRAME_ARGS_H
#define FLOWTRACE_FRAME_ARGS_H

#include "state.h"

/* Text of the arguments of the call of `code` that is starting now (the
 * current frame must be its frame): "3, 'x', k=1". Values are shown by the
 * builtin formatter (no user code runs; objects of user classes are
 * "<Name object>"), or with their own repr() when `full`. New reference,
 * or NULL (no exception) when the frame is not the code's. */
PyObject *ft_frame_args_text(PyObject *code, int full);

/* Append an FT_REC_ARGS record for the START that follows. 0, or -1 when
 * the session ended while a user repr ran (`tb` is gone: do not touch). */
int ft_record_frame_args(ft_state *st, ft_threadbuf *tb, PyObject *code, uint32_t verdict);

#endif
