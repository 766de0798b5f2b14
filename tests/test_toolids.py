"""sys.monitoring tool ids: taken politely, released fully, C callbacks."""
import inspect
import sys
import types
import warnings

import pytest

from conftest import run_cmd, session, tree_text

from flowtrace import _core, start_tracing, stop_tracing, trace

M = sys.monitoring
ALL_IDS = range(6)


def work(x):
    return x + 1


@trace
def traced_work(x):
    return work(x) * 2


def flowtrace_ids():
    return [i for i in ALL_IDS if M.get_tool(i) == "flowtrace"]


class Holding:
    """Take the given free tool ids under test names; free them on exit."""

    def __init__(self, ids):
        self.ids = [i for i in ids if M.get_tool(i) is None]

    def __enter__(self):
        self.taken = []
        try:
            for i in self.ids:
                M.use_tool_id(i, f"holder{i}")
                self.taken.append(i)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for i in self.taken:
            M.set_events(i, 0)
            for ev in (M.events.PY_START, M.events.PY_RETURN):
                M.register_callback(i, ev, None)
            M.free_tool_id(i)
        self.taken = []


def test_all_ids_taken_raises_naming_holders():
    with Holding(ALL_IDS) as h:
        assert all(M.get_tool(i) is not None for i in ALL_IDS)
        with pytest.raises(RuntimeError) as info:
            start_tracing()
        msg = str(info.value)
        for i in h.taken:
            assert f"holder{i}" in msg
        assert not _core.is_active()
        assert flowtrace_ids() == []
    # and it works again once an id is free
    _, t = session(work, 1)
    assert [e.func_name for e in t] == ["work"]


def test_decorator_with_no_free_id_runs_untraced(capsys):
    with Holding(ALL_IDS):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert traced_work(1) == 4
    assert capsys.readouterr().out == ""
    assert any(issubclass(w.category, RuntimeWarning) and "tool id" in str(w.message)
               for w in caught)
    assert not _core.is_active()
    assert flowtrace_ids() == []


def test_tool_id_is_freed_after_stop():
    start_tracing()
    try:
        tid = _core._tool_id()
        assert tid is not None
        assert M.get_tool(tid) == "flowtrace"
    finally:
        stop_tracing()
    assert M.get_tool(tid) is None
    assert _core._tool_id() is None
    assert flowtrace_ids() == []


def test_tool_id_is_freed_after_decorated_call(capsys):
    assert traced_work(1) == 4
    capsys.readouterr()
    assert flowtrace_ids() == []
    assert not _core.is_active()


def test_tool_id_is_freed_after_failed_session_body():
    with pytest.raises(ZeroDivisionError):
        start_tracing()
        try:
            1 / 0
        finally:
            stop_tracing()
    assert flowtrace_ids() == []


def test_profiler_id_taken_uses_another_id():
    assert M.get_tool(M.PROFILER_ID) is None, "test needs PROFILER_ID free to begin with"
    M.use_tool_id(M.PROFILER_ID, "someprofiler")
    try:
        start_tracing()
        try:
            tid = _core._tool_id()
            assert tid is not None and tid != M.PROFILER_ID
            assert M.get_tool(tid) == "flowtrace"
            assert work(1) == 2
        finally:
            t = stop_tracing()
        assert M.get_tool(tid) is None
        assert M.get_tool(M.PROFILER_ID) == "someprofiler"
        assert tree_text(t) == "→ work()  → 2\n"
    finally:
        M.free_tool_id(M.PROFILER_ID)


def test_other_tool_keeps_receiving_events():
    """Another tool's callbacks and events are untouched by a session."""
    other = next(i for i in (4, 3, 1, 0, 5) if M.get_tool(i) is None)
    seen = []

    def on_start(code, offset):
        if code is work.__code__:
            seen.append(code.co_name)

    M.use_tool_id(other, "othertool")
    try:
        M.register_callback(other, M.events.PY_START, on_start)
        M.set_events(other, M.events.PY_START)
        work(1)
        assert seen == ["work"]
        _, t = session(work, 2)
        assert [e.func_name for e in t] == ["work"]
        assert seen == ["work", "work"]
        work(3)
        assert seen == ["work"] * 3
        assert M.get_events(other) == M.events.PY_START
    finally:
        M.set_events(other, 0)
        M.register_callback(other, M.events.PY_START, None)
        M.free_tool_id(other)


def test_callbacks_are_c_callables():
    cbs = _core._callbacks()
    assert len(cbs) >= 6
    for cb in cbs:
        assert callable(cb)
        assert not isinstance(cb, types.FunctionType), cb
        assert not isinstance(cb, types.MethodType) or not isinstance(
            cb.__func__, types.FunctionType), cb
        assert not hasattr(cb, "__code__"), cb
        # a builtin function, or an instance of a C type: its __call__ is a
        # slot wrapper, not Python code
        if not isinstance(cb, types.BuiltinFunctionType):
            call = inspect.getattr_static(type(cb), "__call__")
            assert isinstance(call, types.WrapperDescriptorType), call


def test_registered_callbacks_are_the_c_ones():
    start_tracing()
    try:
        tid = _core._tool_id()
        cbs = _core._callbacks()
        for ev in (M.events.PY_START, M.events.PY_RETURN, M.events.PY_YIELD,
                   M.events.PY_RESUME, M.events.PY_UNWIND, M.events.PY_THROW):
            # register_callback returns the previous callback: put it back
            prev = M.register_callback(tid, ev, None)
            M.register_callback(tid, ev, prev)
            assert prev is not None
            assert any(prev is cb for cb in cbs)
            assert not isinstance(prev, types.FunctionType)
    finally:
        stop_tracing()


def test_standard_tool_ids_are_taken_last():
    """The ids no standard tool claims come first (issue 9, item 4): the
    program's profiler (2), coverage (1) and debugger (0) keep theirs."""
    start_tracing()
    try:
        assert _core._tool_id() == 3
    finally:
        stop_tracing()
    with Holding([3, 4]):
        start_tracing()
        try:
            assert _core._tool_id() == 5
        finally:
            stop_tracing()
    with Holding([3, 4, 5]):
        start_tracing()
        try:
            assert _core._tool_id() == M.DEBUGGER_ID
        finally:
            stop_tracing()


def test_cprofile_works_inside_a_session():
    import cProfile
    import pstats
    import io
    start_tracing()
    try:
        prof = cProfile.Profile()
        prof.enable()
        work(1)
        prof.disable()
    finally:
        t = stop_tracing()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).print_stats()
    assert "work" in out.getvalue()
    assert [e.func_name for e in t] == ["work"]


def test_cprofile_module_runs_under_flowtrace_run(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text("def leaf(n):\n    return n + 1\n\n"
                    "def main():\n    return sum(leaf(i) for i in range(3))\n\n"
                    "print(main())\n")
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "-m", "cProfile", "-s", "ncalls",
                 str(prog)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("6\n")
    assert "prog.py:1(leaf)" in r.stdout  # cProfile's own table


def test_stop_leaves_an_id_that_another_tool_took_meanwhile():
    """The program freed FlowTrace's id and another tool took it (issue 9,
    item 5): stopping must not undo the other tool's registration."""
    seen = []

    def on_start(code, offset):
        if code is work.__code__:
            seen.append("other")

    start_tracing()
    tid = _core._tool_id()
    try:
        work(1)
        M.set_events(tid, 0)
        for ev in (M.events.PY_START, M.events.PY_RETURN):
            M.register_callback(tid, ev, None)
        M.free_tool_id(tid)
        M.use_tool_id(tid, "othertool")
        M.register_callback(tid, M.events.PY_START, on_start)
        M.set_events(tid, M.events.PY_START)
    finally:
        t = stop_tracing()
    try:
        assert M.get_tool(tid) == "othertool"
        assert M.get_events(tid) == M.events.PY_START
        work(2)
        assert seen == ["other"]
        assert [e.func_name for e in t][:1] == ["work"]
    finally:
        M.set_events(tid, 0)
        M.register_callback(tid, M.events.PY_START, None)
        M.free_tool_id(tid)
