/* origin.h - where code compiled from a string was created.
 *
 * Code made by exec()/compile() has a file name such as "<string>" that no
 * path rule can judge. A code watcher (PyCode_AddWatcher) notes, as each
 * such code object is created, the file of the Python code that created it
 * (for code created by code that was itself generated, the file that one
 * came from). The code table asks at first sight, so a library's generated
 * functions are judged as the library's, wherever they run.
 *
 * The notes are keyed by the code object's address without holding a
 * reference, which is sound only because the same watcher removes a note
 * when its code object is destroyed (PY_CODE_EVENT_DESTROY), before the
 * address can be reused.
 */
#ifndef FLOWTRACE_ORIGIN_H
#define FLOWTRACE_ORIGIN_H

#include <Python.h>

/* Start watching code creation in the main interpreter, once per process
 * (later calls, and calls from other interpreters, do nothing). Never
 * fails: without a free code watcher slot nothing is noted and generated
 * code is judged by its globals alone. */
void ft_origin_install(void);

/* The file of the code that created `code` (borrowed, a str), or NULL when
 * it was not noted: created before the watcher, by C with no Python frame,
 * or not compiled from a string. */
PyObject *ft_origin_file(PyObject *code);

/* Number of notes held (for the tests: they must not outlive their code). */
Py_ssize_t ft_origin_count(void);

#endif
