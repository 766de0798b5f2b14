/* wrapper.h - flowtrace._core.TracedFunction, the object @trace returns. */
#ifndef FLOWTRACE_WRAPPER_H
#define FLOWTRACE_WRAPPER_H

#include <Python.h>

extern PyType_Spec ft_traced_function_spec;

/* End the session an outermost @trace call started: stop, hand the trace
 * to the finish hook (which prints it). Keeps any raised exception. */
void ft_finish_implicit(PyObject *module);

#endif
