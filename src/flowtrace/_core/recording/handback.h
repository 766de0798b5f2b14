/* handback.h - exceptions that belong to the program, handed back to it.
 *
 * FlowTrace runs user code in a few places: a __repr__ with @trace or
 * --full-repr, an exception's __str__. If that code is interrupted by a
 * KeyboardInterrupt (Ctrl-C), a SystemExit (a signal handler calling
 * sys.exit()), or any other BaseException that is not an Exception, the
 * exception is not FlowTrace's to swallow: untraced, it would have been
 * raised in the program a moment later. It is kept here, the value shows
 * "<repr failed: KeyboardInterrupt>", no more user code is run for values
 * until it is handed back, and the FlowTrace entry point that ran the code
 * (a sys.monitoring callback, the @trace wrapper) raises it into the
 * program on its way out.
 */
#ifndef FLOWTRACE_HANDBACK_H
#define FLOWTRACE_HANDBACK_H

#include <Python.h>

#include "common/compat.h"
#include "recording/state.h"

/* owned, or NULL: the exception to hand back, on this thread. Set and
 * cleared with the GIL held, between two of FlowTrace's own returns. */
extern FT_TLS PyObject *ft_tl_handback;

/* `exc` (borrowed, may be NULL) was raised by user code FlowTrace ran:
 * keep it if it belongs to the program. 1 if kept (or one is already). */
int ft_handback_keep(PyObject *exc);

static inline int
ft_handback_pending(void)
{
    return ft_tl_handback != NULL;
}

/* Raise the kept exception (it becomes the current exception): NULL, for
 * a callback or wrapper to return. Only when ft_handback_pending(). */
PyObject *ft_handback_raise(void);

/* Take the kept exception (new reference, NULL if none): for an entry
 * point that must run more Python code before it raises it, so that no
 * callback of that code hands it back first. */
PyObject *ft_handback_take(void);

#endif
