/* handback.c - exceptions that belong to the program, handed back to it. */
#include "recording/handback.h"

FT_TLS PyObject *ft_tl_handback = NULL;

int
ft_handback_keep(PyObject *exc)
{
    if (ft_tl_handback != NULL) {
        return 1;
    }
    if (exc == NULL || PyErr_GivenExceptionMatches(exc, PyExc_Exception)) {
        return 0; /* an error of the repr: FlowTrace shows it and goes on */
    }
    ft_tl_handback = Py_NewRef(exc);
    return 1;
}

PyObject *
ft_handback_take(void)
{
    PyObject *exc = ft_tl_handback;
    ft_tl_handback = NULL;
    return exc;
}

PyObject *
ft_handback_raise(void)
{
    PyErr_SetRaisedException(ft_handback_take()); /* steals */
    return NULL;
}
