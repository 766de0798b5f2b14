/* threads.c - the per-thread lookup layer (threads.h): each thread's
 * buffer for the running session, found from two thread-locals. */
#include "recording/threads.h"

#include "recording/recorder.h"

FT_TLS uint64_t ft_tl_gen = 0;
FT_TLS ft_threadbuf *ft_tl_buf = NULL;

/* The thread's name, read from threading._active[ident]._name without
 * running any Python code (no property, no threading.current_thread(),
 * which would create a dummy Thread). Leaves tb->name NULL when the thread
 * is not registered yet (a thread's first events come from threading's
 * bootstrap, before it registers): retried on later events and at stop. */
void
ft_resolve_thread_name(ft_threadbuf *tb)
{
    PyObject *saved = PyErr_GetRaisedException();
    PyObject *modname = PyUnicode_FromString("threading");
    PyObject *mod = modname ? PyImport_GetModule(modname) : NULL;
    PyObject *active = mod && PyModule_Check(mod) ? PyDict_GetItemString(PyModule_GetDict(mod), "_active") : NULL; /* borrowed */
    PyObject *key = PyLong_FromUnsignedLong(tb->ident);
    if (active != NULL && key != NULL && PyDict_Check(active)) {
        PyObject *t = PyDict_GetItemWithError(active, key); /* borrowed */
        PyObject *d = t ? PyObject_GenericGetDict(t, NULL) : NULL;
        if (d != NULL && PyDict_Check(d)) {
            PyObject *name = PyDict_GetItemString(d, "_name"); /* borrowed */
            if (name != NULL && PyUnicode_Check(name)) {
                tb->name = Py_NewRef(name);
            }
        }
        Py_XDECREF(d);
    }
    Py_XDECREF(modname);
    Py_XDECREF(mod);
    Py_XDECREF(key);
    PyErr_Clear();
    PyErr_SetRaisedException(saved);
}

ft_threadbuf *
ft_attach_thread(ft_state *st)
{
    if (st->gen == 0) {
        ft_recorder_idle_event(st); /* events still on (lingering) */
        return NULL;
    }
    if (st->broken) {
        return NULL;
    }
    ft_threadbuf *tb = ft_threadbuf_new(&st->pool, st->ring_records);
    ft_tl_gen = st->gen;
    ft_tl_buf = tb;
    if (tb == NULL) {
        return NULL; /* this thread records nothing; the program goes on */
    }
    tb->ident = PyThread_get_thread_ident();
    tb->next = st->threads;
    st->threads = tb;
    st->gseq_owner = NULL;
    st->nthreads++;
    ft_resolve_thread_name(tb);
    return tb;
}
