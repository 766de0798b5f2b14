/* origin.c - where code compiled from a string was created (origin.h). */
#include "recording/origin.h"

#include "common/ptrhash.h"

typedef struct {
    PyCodeObject *code; /* not owned: the key, NULL = empty; removed by the
                           watcher when the code object is destroyed */
    PyObject *file;     /* owned: a str, the creating code's file */
} origin_slot;

/* One table per process, used under the GIL of the main interpreter (the
 * only one watched). */
static struct {
    origin_slot *slots; /* owned (PyMem_Raw), NULL until the first note */
    size_t mask;        /* slots - 1 (a power of two minus one) */
    size_t count;       /* slots in use */
    int watcher;        /* the code watcher's id, -1: not installed */
    int installed;      /* ft_origin_install ran (once per process) */
} origins = {NULL, 0, 0, -1, 0};

/* A name in angle brackets: "<string>", "<genlib>", "<ipython-input-1>". */
static int
is_generated_name(PyObject *filename)
{
    static const char frozen[] = "<frozen ";
    if (filename == NULL || !PyUnicode_Check(filename) || PyUnicode_GET_LENGTH(filename) < 1 ||
        PyUnicode_READ_CHAR(filename, 0) != '<') {
        return 0;
    }
    Py_ssize_t n = (Py_ssize_t)sizeof(frozen) - 1;
    if (PyUnicode_GET_LENGTH(filename) < n) {
        return 1;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        if (PyUnicode_READ_CHAR(filename, i) != (Py_UCS4)frozen[i]) {
            return 1;
        }
    }
    return 0;
}

static size_t
find(PyCodeObject *code)
{
    size_t i = ft_hash_ptr(code) & origins.mask;
    while (origins.slots[i].code != NULL && origins.slots[i].code != code) {
        i = (i + 1) & origins.mask;
    }
    return i;
}

static int
grow(void)
{
    size_t n = origins.slots ? (origins.mask + 1) * 2 : 64;
    origin_slot *ns = PyMem_RawCalloc(n, sizeof(origin_slot));
    if (ns == NULL) {
        return -1;
    }
    origin_slot *old = origins.slots;
    size_t oldn = old ? origins.mask + 1 : 0;
    origins.slots = ns;
    origins.mask = n - 1;
    for (size_t i = 0; i < oldn; i++) {
        if (old[i].code != NULL) {
            origins.slots[find(old[i].code)] = old[i];
        }
    }
    PyMem_RawFree(old);
    return 0;
}

/* Remove the note of `code`, shifting back the run after it so that every
 * key stays reachable from its home slot (no tombstones). */
static void
forget(PyCodeObject *code)
{
    if (origins.count == 0) {
        return;
    }
    size_t i = find(code);
    if (origins.slots[i].code == NULL) {
        return;
    }
    PyObject *file = origins.slots[i].file;
    origins.slots[i].code = NULL;
    origins.slots[i].file = NULL;
    origins.count--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & origins.mask;
        if (origins.slots[j].code == NULL) {
            break;
        }
        size_t home = ft_hash_ptr(origins.slots[j].code) & origins.mask;
        /* Move j back to the hole at i unless its home lies in (i, j]. */
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            origins.slots[i] = origins.slots[j];
            origins.slots[j].code = NULL;
            origins.slots[j].file = NULL;
            i = j;
        }
    }
    Py_DECREF(file); /* a str: its deallocation runs no Python code */
}

/* The file a creating frame stands for: its code's file, or, if that code
 * was generated too, the file noted for it. New reference or NULL. */
static PyObject *
creator_file(void)
{
    PyFrameObject *f = PyEval_GetFrame(); /* borrowed */
    if (f == NULL) {
        return NULL;
    }
    PyCodeObject *cc = PyFrame_GetCode(f); /* new reference */
    PyObject *file = cc->co_filename;
    if (is_generated_name(file)) {
        PyObject *noted = ft_origin_file((PyObject *)cc);
        file = noted != NULL ? noted : file;
    }
    file = PyUnicode_Check(file) ? Py_NewRef(file) : NULL;
    Py_DECREF(cc);
    return file;
}

static void
note(PyCodeObject *code)
{
    PyObject *file = creator_file();
    if (file == NULL) {
        return;
    }
    if ((origins.count + 1) * 2 > (origins.slots ? origins.mask + 1 : 0) && grow() < 0) {
        Py_DECREF(file);
        return;
    }
    size_t i = find(code);
    if (origins.slots[i].code != NULL) {
        Py_SETREF(origins.slots[i].file, file); /* cannot happen: DESTROY came first */
        return;
    }
    origins.slots[i].code = code;
    origins.slots[i].file = file;
    origins.count++;
}

/* Runs for every code object created or destroyed in the main interpreter:
 * one character compared for all but generated code. Never fails and never
 * leaves an exception set. */
static int
on_code_event(PyCodeEvent event, PyCodeObject *co)
{
    if (!is_generated_name(co->co_filename)) {
        return 0;
    }
    if (event == PY_CODE_EVENT_CREATE) {
        PyObject *exc = PyErr_GetRaisedException(); /* compile() may be unwinding */
        note(co);
        PyErr_SetRaisedException(exc);
    }
    else if (event == PY_CODE_EVENT_DESTROY) {
        forget(co);
    }
    return 0;
}

void
ft_origin_install(void)
{
    if (origins.installed || PyInterpreterState_Get() != PyInterpreterState_Main()) {
        return;
    }
    origins.installed = 1;
    origins.watcher = PyCode_AddWatcher(on_code_event);
    if (origins.watcher < 0) {
        PyErr_Clear(); /* all watcher slots taken: judge by globals only */
    }
}

PyObject *
ft_origin_file(PyObject *code)
{
    if (origins.count == 0 || !PyCode_Check(code)) {
        return NULL;
    }
    size_t i = find((PyCodeObject *)code);
    return origins.slots[i].code != NULL ? origins.slots[i].file : NULL;
}

Py_ssize_t
ft_origin_count(void)
{
    return (Py_ssize_t)origins.count;
}
