"""GuestSession: a session (the pytest plugin's) that gives way to the
program's own use of FlowTrace, so that the program behaves as untraced."""
from __future__ import annotations

import pytest

import flowtrace
from flowtrace import _core, get_trace_data, start_tracing, stop_tracing, tracing
from flowtrace.api import GuestSession


def work(n):
    return n * 2


def program():
    """A program that records itself."""
    with tracing() as t:
        work(1)
    return t


def test_guest_records_like_a_session():
    g = GuestSession()
    work(3)
    t = g.stop()
    assert [e.func_name for e in t] == ["work"]
    assert g.gave_way_at is None
    assert g.stop() is t  # a second stop: the same trace
    assert not _core.is_active()


def test_program_session_takes_over():
    g = GuestSession()
    work(5)
    t = program()  # start_tracing inside: the guest's session ends here
    assert [e.func_name for e in t] == ["work"]
    assert t[0].result_repr == "2"
    # the guest's trace: up to where the program took over
    assert g.trace is not None
    assert [(e.func_name, e.end) for e in g.trace] == [("work", "return"),
                                                       ("program", "unfinished")]
    assert g.trace[0].result_repr == "10"
    assert g.gave_way_at is not None and g.gave_way_at.startswith(__file__ + ":")
    assert g.stop() is g.trace
    assert not _core.is_active()


def test_stop_tracing_as_if_no_session():
    g = GuestSession()
    with pytest.raises(RuntimeError, match="^flowtrace: no tracing session is running$"):
        stop_tracing()
    assert _core.is_active() == "session"  # the guest's, untouched
    assert len(g.stop()) == 0


def test_get_trace_data_is_the_programs():
    with tracing():
        work(7)
    mine = get_trace_data()
    assert mine[0].result_repr == "14"
    g = GuestSession()
    work(8)
    g.stop()
    assert get_trace_data()[0].result_repr == "14"  # not the guest's
    g2 = GuestSession()
    g2.stop()
    assert get_trace_data()[0].result_repr == "14"
    start_tracing()
    work(9)
    stop_tracing()
    assert get_trace_data()[0].result_repr == "18"


def test_get_trace_data_empty_when_program_never_traced():
    # as a fresh process would see it: run in one
    from conftest import run_py

    r = run_py("""
        from flowtrace import get_trace_data
        from flowtrace.api import GuestSession
        def f(): return 1
        g = GuestSession(); f(); g.stop()
        print(len(g.trace), len(get_trace_data()))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "0"]


def test_guest_refuses_to_start_over_a_session():
    start_tracing()
    with pytest.raises(RuntimeError, match="already running"):
        GuestSession()
    t = stop_tracing()  # the program's session is its own
    assert isinstance(t, flowtrace.Trace)


def test_stopped_behind_its_back():
    # the engine's private stop (FlowTrace's own test suite does this)
    g = GuestSession()
    _core.stop()
    start_tracing()  # someone else's session now
    assert g.stop() is None  # left alone
    assert _core.is_active() == "session"
    stop_tracing()


def test_decorated_registry():
    @flowtrace.trace
    def decorated_fn():
        return 1

    code = decorated_fn.__wrapped__.__code__
    assert (code.co_filename, code.co_firstlineno, code.co_qualname) in flowtrace.api.decorated
