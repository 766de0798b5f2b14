/* module.c - flowtrace._core: module init and the Python-visible functions.
 *
 * The Python layer (flowtrace/api.py) configures the module once at import
 * (_configure, _set_hooks), then starts and stops sessions. Everything
 * mutable lives in the module state (state.h).
 */
#include "recording/clock.h"
#include "recording/filter.h"
#include "recording/origin.h"
#include "recording/recorder.h"
#include "recording/snapshot.h"
#include "recording/state.h"
#include "python/trace.h"
#include "recording/wrapper.h"
#include "output/write_text.h"

static PyObject *
mod_configure(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"default_excludes", "own_dirs", NULL};
    PyObject *excludes, *own;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!:_configure", kwlist, &PyTuple_Type,
                                     &excludes, &PyTuple_Type, &own)) {
        return NULL;
    }
    ft_state *st = ft_get_state(module);
    Py_XSETREF(st->default_excludes, Py_NewRef(excludes));
    Py_XSETREF(st->own_dirs, Py_NewRef(own));
    Py_RETURN_NONE;
}

static PyObject *
mod_set_hooks(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"finish", "drive", NULL};
    PyObject *finish, *drive;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:_set_hooks", kwlist, &finish, &drive)) {
        return NULL;
    }
    ft_state *st = ft_get_state(module);
    Py_XSETREF(st->hook_finish, Py_NewRef(finish));
    Py_XSETREF(st->hook_drive, Py_NewRef(drive));
    Py_RETURN_NONE;
}

static int
check_prefixes(PyObject *excludes)
{
    if (excludes == NULL || excludes == Py_None) {
        return 0;
    }
    if (!PyTuple_Check(excludes)) {
        PyErr_SetString(PyExc_TypeError, "patterns must be a tuple of str");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(excludes); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(excludes, i))) {
            PyErr_SetString(PyExc_TypeError, "patterns must be a tuple of str");
            return -1;
        }
    }
    return 0;
}

static PyObject *
mod_start(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timing", "full_repr", "results", "include_stdlib", "excludes",
                             "include", "exclude", "args", "max_events", NULL};
    int timing = 0, full_repr = 0, results = 1, include_stdlib = 0, frame_args = 0;
    PyObject *excludes = NULL, *include = NULL, *exclude = NULL;
    unsigned long long max_events = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$ppppOOOpK:start", kwlist, &timing,
                                     &full_repr, &results, &include_stdlib, &excludes,
                                     &include, &exclude, &frame_args, &max_events)) {
        return NULL;
    }
    if (check_prefixes(excludes) < 0 || check_prefixes(include) < 0 ||
        check_prefixes(exclude) < 0) {
        return NULL;
    }
    ft_session_config cfg = {
        .timing = timing,
        .full_repr = full_repr,
        .results = results,
        .include_stdlib = include_stdlib,
        .implicit = 0,
        .excludes = excludes == Py_None ? NULL : excludes,
        .include = include == Py_None ? NULL : include,
        .exclude = exclude == Py_None ? NULL : exclude,
        .args = frame_args,
        .max_events = max_events,
    };
    if (ft_recorder_start(module, ft_get_state(module), &cfg) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
mod_glob_match(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *pattern, *text;
    int path_mode;
    if (!PyArg_ParseTuple(args, "UUp:_glob_match", &pattern, &text, &path_mode)) {
        return NULL;
    }
    return PyBool_FromLong(ft_glob_match(pattern, text, path_mode));
}

static PyObject *
mod_stop(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return ft_recorder_stop(module, ft_get_state(module));
}

static PyObject *
mod_mark(PyObject *module, PyObject *args)
{
    PyObject *task = Py_None, *code = Py_None;
    if (!PyArg_ParseTuple(args, "|OO:_mark", &task, &code)) {
        return NULL;
    }
    return ft_snapshot_mark(ft_get_state(module), task, code);
}

static PyObject *
mod_snapshot(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"mark", "task_only", NULL};
    PyObject *mark;
    int task_only = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$p:_snapshot", kwlist, &mark, &task_only)) {
        return NULL;
    }
    return ft_snapshot_take(ft_get_state(module), mark, task_only);
}

static PyObject *
mod_finish_implicit(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    ft_finish_implicit(module);
    Py_RETURN_NONE;
}

static PyObject *
mod_is_active(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    ft_state *st = ft_get_state(module);
    if (st->gen == 0) {
        Py_RETURN_FALSE;
    }
    return PyUnicode_FromString(st->implicit ? "implicit" : "session");
}

static PyObject *
mod_last_trace(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    ft_state *st = ft_get_state(module);
    return Py_NewRef(st->last_trace ? st->last_trace : Py_None);
}

static PyObject *
mod_memory(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    ft_state *st = ft_get_state(module);
    size_t session = 0;
    for (const ft_threadbuf *tb = st->threads; tb != NULL; tb = tb->next) {
        session += ft_threadbuf_nbytes(tb);
    }
    return Py_BuildValue("{s:n,s:I,s:n}", "session", (Py_ssize_t)session,
                         "session_threads", (unsigned)st->nthreads,
                         "spare", (Py_ssize_t)ft_chunkpool_nbytes(&st->pool));
}

static PyObject *
mod_callbacks(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    ft_state *st = ft_get_state(module);
    PyObject *t = PyTuple_New(FT_NEVENTS);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < FT_NEVENTS; i++) {
        PyTuple_SET_ITEM(t, i, Py_NewRef(st->callbacks[i]));
    }
    return t;
}

static PyObject *
mod_origin_count(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(ft_origin_count());
}

static PyObject *
mod_tool_id(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    ft_state *st = ft_get_state(module);
    if (st->tool_id < 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(st->tool_id);
}

static PyMethodDef module_methods[] = {
    {"_configure", (PyCFunction)(void (*)(void))mod_configure, METH_VARARGS | METH_KEYWORDS,
     "_configure(default_excludes, own_dirs): path prefixes not traced by default, "
     "and FlowTrace's own directories (never traced)."},
    {"_set_hooks", (PyCFunction)(void (*)(void))mod_set_hooks, METH_VARARGS | METH_KEYWORDS,
     "_set_hooks(finish, drive): Python helpers of @trace."},
    {"start", (PyCFunction)(void (*)(void))mod_start, METH_VARARGS | METH_KEYWORDS,
     "start(*, timing=False, full_repr=False, results=True, include_stdlib=False, "
     "excludes=None, include=None, exclude=None, args=False, max_events=0): start "
     "recording. include/exclude: tuples of glob patterns (see filter.h)."},
    {"_glob_match", (PyCFunction)(void (*)(void))mod_glob_match, METH_VARARGS,
     "_glob_match(pattern, text, path_mode) -> bool: the C glob (for tests)."},
    {"stop", mod_stop, METH_NOARGS, "stop() -> Trace: stop recording, release the tool id."},
    {"_mark", mod_mark, METH_VARARGS,
     "_mark(task=None, code=None) -> mark or None: this thread's position in the running "
     "session (None: no session); task: the asyncio task the work runs in, code: the code "
     "of its coroutine (recording/snapshot.h)."},
    {"_snapshot", (PyCFunction)(void (*)(void))mod_snapshot, METH_VARARGS | METH_KEYWORDS,
     "_snapshot(mark, *, task_only=False) -> Trace or None: what the marked thread recorded "
     "since the mark, while the session goes on (task_only: only the steps of the mark's "
     "asyncio task); None when the mark's session is over."},
    {"_finish_implicit", mod_finish_implicit, METH_NOARGS,
     "End the session an outermost @trace call started."},
    {"is_active", mod_is_active, METH_NOARGS,
     "False, or 'session' / 'implicit' (started by @trace)."},
    {"last_trace", mod_last_trace, METH_NOARGS, "The last stopped Trace, or None."},
    {"_memory", mod_memory, METH_NOARGS,
     "_memory() -> {'session': bytes, 'session_threads': n, 'spare': bytes}: what the "
     "module itself holds: the running session's buffers, and the spare big chunks "
     "kept for the next session (at most 16 MiB). Stopped traces hold their own "
     "(Trace.nbytes)."},
    {"_callbacks", mod_callbacks, METH_NOARGS, "The callbacks registered with sys.monitoring."},
    {"_origin_count", mod_origin_count, METH_NOARGS,
     "Notes held on where generated code was created (origin.h)."},
    {"_tool_id", mod_tool_id, METH_NOARGS, "The tool id in use, or None."},
    {NULL, NULL, 0, NULL},
};

static int
module_exec(PyObject *module)
{
    ft_state *st = ft_get_state(module);
    ft_clock_init();
    ft_origin_install();
    if (ft_recorder_init(module, st) < 0) {
        return -1;
    }
    st->decorated = PyDict_New();
    if (st->decorated == NULL) {
        return -1;
    }
    st->trace_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ft_trace_spec, NULL);
    if (st->trace_type == NULL || PyModule_AddType(module, st->trace_type) < 0) {
        return -1;
    }
    st->traced_function_type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &ft_traced_function_spec, NULL);
    if (st->traced_function_type == NULL ||
        PyModule_AddType(module, st->traced_function_type) < 0) {
        return -1;
    }
    st->event_type = ft_event_type_new();
    if (st->event_type == NULL || PyModule_AddType(module, st->event_type) < 0) {
        return -1;
    }
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    ft_state *st = ft_get_state(module);
    if (st == NULL) {
        return 0;
    }
    Py_VISIT(st->decorated);
    Py_VISIT(st->hook_finish);
    Py_VISIT(st->hook_drive);
    Py_VISIT(st->trace_type);
    Py_VISIT(st->traced_function_type);
    Py_VISIT(st->event_type);
    Py_VISIT(st->last_trace);
    Py_VISIT(st->current_task_fn);
    Py_VISIT(st->task_type);
    Py_VISIT(st->task_get_name);
    Py_VISIT(st->callback_type);
    for (int i = 0; i < FT_NEVENTS; i++) {
        Py_VISIT(st->callbacks[i]);
    }
    return 0;
}

static int
module_clear(PyObject *module)
{
    ft_state *st = ft_get_state(module);
    if (st == NULL) {
        return 0;
    }
    ft_recorder_clear(st);
    Py_CLEAR(st->decorated);
    Py_CLEAR(st->hook_finish);
    Py_CLEAR(st->hook_drive);
    Py_CLEAR(st->last_trace);
    Py_CLEAR(st->current_task_fn);
    Py_CLEAR(st->task_type);
    Py_CLEAR(st->task_get_name);
    Py_CLEAR(st->trace_type);
    Py_CLEAR(st->traced_function_type);
    Py_CLEAR(st->event_type);
    Py_CLEAR(st->default_excludes);
    Py_CLEAR(st->own_dirs);
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "flowtrace._core",
    .m_doc = "FlowTrace's recorder: sys.monitoring callbacks, buffers and writers in C.",
    .m_size = sizeof(ft_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&module_def);
}
