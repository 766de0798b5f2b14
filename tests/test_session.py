"""Sessions: start_tracing / stop_tracing / get_trace_data / tracing() /
print_tree, the CallEvent model and the Trace sequence."""
import collections.abc
import dataclasses
import io
import os
import sys
import threading

import pytest

from conftest import assert_golden, children, run_py, session, tree_text

import flowtrace
from flowtrace import (
    CallEvent,
    get_trace_data,
    print_tree,
    start_tracing,
    stop_tracing,
    tracing,
)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def leaf(x):
    return x


def branch(x):
    a = leaf(x)
    b = leaf(x + 1)
    return a + b


def root():
    return branch(1) + leaf(10)


def stops_inside():
    return stop_tracing()


def calls_stop():
    return stops_inside()


# ---------------------------------------------------------------------------
# public names

def test_public_api_imports():
    from flowtrace import (  # noqa: F401
        CallEvent,
        get_trace_data,
        print_tree,
        start_tracing,
        stop_tracing,
            tracing,
    )
    for name in ("trace", "start_tracing", "stop_tracing", "get_trace_data",
                 "print_tree", "tracing", "CallEvent"):
        assert name in flowtrace.__all__


def test_callevent_fields():
    names = [f.name for f in dataclasses.fields(CallEvent)]
    assert names[:7] == ["id", "kind", "func_name", "parent_id", "args_repr",
                         "result_repr", "duration"]
    for extra in ("exception", "end", "thread", "thread_id", "filename", "lineno"):
        assert extra in names


def test_engine_events_are_named_as_callevent():
    """The engine gives each event as a flowtrace._core.Event, a struct
    sequence whose fields have CallEvent's names: model.py makes the
    CallEvent by name, and a field added on one side only shows here."""
    _, t = session(root)
    ev = t._core[1]
    names = tuple(f.name for f in dataclasses.fields(CallEvent))
    assert type(ev) is flowtrace._core.Event
    assert type(ev).__match_args__ == names
    assert t[1] == CallEvent(**{n: getattr(ev, n) for n in names})
    assert repr(t[1]).startswith(
        "CallEvent(id=1, kind='call', func_name='branch', parent_id=0, args_repr=None, "
        "result_repr='3', duration=None, exception=None, end='return', thread='MainThread', ")


# ---------------------------------------------------------------------------
# stop_tracing's result

def test_stop_returns_sequence_of_callevents():
    start_tracing()
    root()
    t = stop_tracing()
    assert isinstance(t, collections.abc.Sequence)
    assert len(t) == 5
    events = list(t)
    assert all(isinstance(e, CallEvent) for e in events)
    assert [e.id for e in events] == [0, 1, 2, 3, 4]
    assert [e.func_name for e in events] == ["root", "branch", "leaf", "leaf", "leaf"]
    assert [e.parent_id for e in events] == [None, 0, 1, 1, 0]
    assert [e.result_repr for e in events] == ["13", "3", "1", "2", "10"]
    assert all(e.kind == "call" for e in events)
    assert all(e.end == "return" for e in events)
    assert all(e.args_repr is None for e in events)
    assert all(e.duration is None for e in events)
    assert all(e.exception is None for e in events)


def test_event_location_and_thread_fields():
    start_tracing()
    leaf(1)
    t = stop_tracing()
    (e,) = t
    assert os.path.samefile(e.filename, __file__)
    assert e.lineno == leaf.__code__.co_firstlineno
    assert e.thread == threading.current_thread().name
    assert e.thread_id == threading.get_ident()


def test_callevent_is_frozen():
    start_tracing()
    leaf(1)
    (e,) = stop_tracing()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.func_name = "x"


def test_parent_ids_form_the_call_tree():
    _, t = session(fib, 4)
    events = list(t)
    assert len(events) == 9  # fib(4) makes 9 calls
    by_id = {e.id: e for e in events}
    roots = [e for e in events if e.parent_id is None]
    assert len(roots) == 1 and roots[0].result_repr == "3"
    # every call of fib(n) with n >= 2 has exactly two children whose results add up
    for e in events:
        kids = children(t, e.id)
        if kids:
            assert len(kids) == 2
            assert int(kids[0].result_repr) + int(kids[1].result_repr) == int(e.result_repr)
        if e.parent_id is not None:
            assert e.parent_id < e.id  # pre-order
            assert by_id[e.parent_id] is not None


def test_trace_indexing_and_slicing():
    _, t = session(root)
    assert t[0].func_name == "root"
    assert t[-1].func_name == "leaf" and t[-1].result_repr == "10"
    assert t[-1] == t[len(t) - 1]
    sl = t[1:3]
    assert isinstance(sl, list)
    assert [e.id for e in sl] == [1, 2]
    with pytest.raises(IndexError):
        t[len(t)]
    with pytest.raises(IndexError):
        t[-len(t) - 1]


def test_trace_threads_and_repr():
    _, t = session(root)
    assert t.threads() == [(threading.get_ident(), threading.current_thread().name)]
    assert repr(t) == "<flowtrace.Trace 5 calls, 1 thread(s)>"
    assert t.timing is False


def test_empty_session():
    start_tracing()
    t = stop_tracing()
    assert len(t) == 0
    assert list(t) == []
    assert tree_text(t) == ""


# ---------------------------------------------------------------------------
# get_trace_data / tracing()

def test_get_trace_data_returns_last_trace():
    _, t = session(root)
    last = get_trace_data()
    assert len(last) == len(t)
    assert list(last) == list(t)
    _, t2 = session(leaf, 5)
    assert list(get_trace_data()) == list(t2)


def test_get_trace_data_before_any_recording_is_empty():
    p = run_py("""
        from flowtrace import get_trace_data, print_tree
        t = get_trace_data()
        print(len(t))
        print(list(t))
        print_tree(t)
        print_tree()
        print("end")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "0\n[]\nend\n"


def test_tracing_context_manager():
    with tracing() as t:
        root()
    assert len(t) == 5
    assert [e.func_name for e in t] == ["root", "branch", "leaf", "leaf", "leaf"]
    assert list(get_trace_data()) == list(t)
    assert not flowtrace._core.is_active()


def test_tracing_context_manager_takes_options():
    with tracing(timing=True) as t:
        leaf(1)
    assert t.timing is True
    assert isinstance(t[0].duration, float) and t[0].duration >= 0


def boom():
    raise KeyError("k")


def test_tracing_context_manager_stops_on_exception():
    with pytest.raises(KeyError):
        with tracing() as t:
            boom()
    assert not flowtrace._core.is_active()
    assert [(e.func_name, e.end, e.exception) for e in t] == [("boom", "raise", "KeyError: 'k'")]


def test_print_tree_default_is_last_trace_on_stdout(capsys):
    session(root)
    capsys.readouterr()
    print_tree()
    assert capsys.readouterr().out == read_root_tree()


def read_root_tree():
    return ("→ root()\n"
            "  → branch()\n"
            "    → leaf()  → 1\n"
            "    → leaf()  → 2\n"
            "  ← branch()  → 3\n"
            "  → leaf()  → 10\n"
            "← root()  → 13\n")


def test_print_tree_of_session(capsys):
    text, _ = session(root)
    assert text == read_root_tree()


def test_print_tree_accepts_a_list_of_callevents():
    """print_tree(events) takes any sequence of CallEvent, e.g. a filtered
    list: it prints the same tree as for the Trace."""
    _, t = session(root)
    assert tree_text(list(t)) == tree_text(t)


def test_print_tree_of_a_filtered_list():
    _, t = session(root)
    no_leaves = [e for e in t if e.func_name != "leaf"]
    assert tree_text(no_leaves) == "→ root()\n  → branch()  → 3\n← root()  → 13\n"
    only_leaves = [e for e in t if e.func_name == "leaf"]
    # their parents are gone: each is a root
    assert tree_text(only_leaves) == "→ leaf()  → 1\n→ leaf()  → 2\n→ leaf()  → 10\n"


def test_print_tree_ascii():
    _, t = session(root)
    assert tree_text(t, ascii=True) == read_root_tree().replace("→", "->").replace("←", "<-")


def non_ascii():
    return "é→"


def test_print_tree_ascii_escapes_values():
    text, t = session(non_ascii)
    assert text == "→ non_ascii()  → 'é→'\n"
    assert tree_text(t, ascii=True) == "-> non_ascii()  -> '\\xe9\\u2192'\n"


def test_print_tree_of_hand_made_events():
    events = [
        CallEvent(0, "call", "a", None, "1", "2", None),
        CallEvent(1, "call", "b", 0, None, None, 0.5, exception="E: x", end="raise"),
        CallEvent(2, "call", "c", None, None, "3", None),
    ]
    assert tree_text(events) == ("→ a(1)\n"
                                 "  ↯ b()  [0.500000s] E: x\n"
                                 "← a(1) → 2\n"
                                 "→ c()  → 3\n")


def test_hand_made_marker_given_children(tmp_path):
    """An exception marker has no children (a saved file with one is
    refused): an event that names a marker as its parent belongs to the
    marker's frame. It was once written twice, as if the marker opened."""
    events = [
        CallEvent(0, "call", "main", None, "", None, None),
        CallEvent(1, "raise", "main", 0, None, None, None, exception="ValueError: x"),
        CallEvent(2, "call", "child", 1, "", "1", None),
        CallEvent(3, "call", "after", 0, "", "2", None),
    ]
    text = ("→ main()\n"
            "  ⚡ raise ValueError: x\n"
            "  → child() → 1\n"
            "  → after() → 2\n"
            "← main()\n")
    assert tree_text(events) == text
    path = tmp_path / "m.json"
    flowtrace.save(events, path)
    assert tree_text(flowtrace.load(path)) == text
    assert [e.parent_id for e in flowtrace.load(path)] == [None, 0, 0, 0]


def test_print_tree_ascii_automatic_for_ascii_files():
    _, t = session(root)
    raw = io.BytesIO()
    f = io.TextIOWrapper(raw, encoding="ascii")
    print_tree(t, file=f)
    f.flush()
    assert raw.getvalue().decode("ascii") == tree_text(t, ascii=True)


def test_unfinished_calls():
    start_tracing()
    t = calls_stop()
    assert tree_text(t) == ("→ calls_stop()\n"
                            "  → stops_inside()  (unfinished)\n"
                            "← calls_stop()  (unfinished)\n")
    assert [(e.func_name, e.end, e.result_repr) for e in t] == [
        ("calls_stop", "unfinished", None),
        ("stops_inside", "unfinished", None),
    ]


def starter():
    start_tracing()
    return leaf(1)


def test_session_started_inside_a_frame():
    """The frame that started the session returns during it: only its end
    is seen; it is shown as having begun before tracing, and adopts the
    calls it made."""
    starter()
    t = stop_tracing()
    assert tree_text(t) == ("→ starter() (began before tracing)\n"
                            "  → leaf()  → 1\n"
                            "← starter()  → 1\n")
    assert [(e.func_name, e.parent_id, e.began_before, e.args_repr, e.duration)
            for e in t] == [("starter", None, True, None, None),
                            ("leaf", 0, False, None, None)]


def deep_starter(n):
    if n:
        return deep_starter(n - 1) + 1
    start_tracing()
    leaf(1)
    return leaf(2)


def after_deep():
    return deep_starter(2)


def test_session_started_deep_in_a_call_stack():
    """Every frame that was running exits during the session: they nest,
    innermost adopted by the next, and calls made after them are roots."""
    after_deep()
    leaf(3)
    t = stop_tracing()
    assert tree_text(t) == ("→ after_deep() (began before tracing)\n"
                            "  → deep_starter() (began before tracing)\n"
                            "    → deep_starter() (began before tracing)\n"
                            "      → deep_starter() (began before tracing)\n"
                            "        → leaf()  → 1\n"
                            "        → leaf()  → 2\n"
                            "      ← deep_starter()  → 2\n"
                            "    ← deep_starter()  → 3\n"
                            "  ← deep_starter()  → 4\n"
                            "← after_deep()  → 4\n"
                            "→ leaf()  → 3\n")


def two():
    yield 1
    yield 2


def test_generator_created_before_session_resumed_during():
    it = two()
    next(it)

    def resumer():
        return next(it)

    start_tracing()
    try:
        assert resumer() == 2
    finally:
        t = stop_tracing()
    assert [(e.kind, e.func_name.rsplit(".", 1)[-1], e.parent_id, e.result_repr)
            for e in t] == [("call", "resumer", None, "2"), ("resume", "two", 0, "2")]


def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)


def test_deep_recursion():
    text, t = session(deep, 500)
    assert len(t) == 501
    assert t[500].parent_id == 499
    lines = text.splitlines()
    assert lines[500] == " " * 1000 + "→ deep()  → 0"
    assert lines[-1] == "← deep()  → 500"


def test_recursion_error_unchanged():
    def runaway(n):
        return runaway(n + 1)

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        start_tracing()
        try:
            with pytest.raises(RecursionError):
                runaway(0)
        finally:
            t = stop_tracing()
    finally:
        sys.setrecursionlimit(old)
    assert len(t) > 50
    assert t[0].end == "raise"
    assert t[0].exception.startswith("RecursionError: maximum recursion depth exceeded")


def test_session_never_stopped_exits_cleanly():
    p = run_py("""
        import threading
        from flowtrace import start_tracing

        def f(x):
            return x

        def spin():
            while True:
                f(1)

        threading.Thread(target=spin, daemon=True).start()
        start_tracing()
        f(2)
        print("bye")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "bye\n"
    assert p.stderr == ""


# ---------------------------------------------------------------------------
# options

def test_duration_none_without_timing():
    _, t = session(root)
    assert all(e.duration is None for e in t)
    assert t.timing is False
    assert "[" not in tree_text(t)


def test_duration_float_with_timing():
    text, t = session(root, timing=True)
    assert t.timing is True
    for e in t:
        assert isinstance(e.duration, float)
        assert e.duration >= 0
    # a parent lasts at least as long as each of its children
    for e in t:
        for k in children(t, e.id):
            assert e.duration >= k.duration
    first = text.splitlines()[0]
    assert first.startswith("→ root()") and "[" not in first  # open line: no time
    assert text.splitlines()[2].startswith("    → leaf()  [")


def test_results_false():
    text, t = session(root, results=False)
    assert all(e.result_repr is None for e in t)
    assert text == ("→ root()\n"
                    "  → branch()\n"
                    "    → leaf()\n"
                    "    → leaf()\n"
                    "  ← branch()\n"
                    "  → leaf()\n"
                    "← root()\n")


# ---------------------------------------------------------------------------
# errors

def test_starting_twice_raises():
    start_tracing()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            start_tracing()
        assert flowtrace._core.is_active()
    finally:
        stop_tracing()


def test_stop_without_start_raises():
    with pytest.raises(RuntimeError, match="no tracing session"):
        stop_tracing()


def test_stop_twice_raises():
    start_tracing()
    stop_tracing()
    with pytest.raises(RuntimeError):
        stop_tracing()


def test_session_can_be_restarted():
    for _ in range(3):
        _, t = session(root)
        assert len(t) == 5


def test_session_golden_tree():
    text, _ = session(fib, 3)
    assert_golden("seed_session_fib", text)



# ---------------------------------------------------------------------------
# a large session: counted and printed without making CallEvent objects

def many(n):
    for i in range(n):
        leaf(i)
    return n


def test_large_session_is_lazy(monkeypatch):
    import flowtrace.model

    n = 200_000
    start_tracing()
    try:
        many(n)
    finally:
        t = stop_tracing()

    def no_events(*a, **k):
        raise AssertionError("a CallEvent was built")

    monkeypatch.setattr(flowtrace.model, "CallEvent", no_events)
    assert len(t) == n + 1
    buf = io.StringIO()
    print_tree(t, file=buf, fold=False)  # every line (folded by default at this size)
    lines = buf.getvalue().splitlines()
    assert len(lines) == n + 2
    assert lines[:3] == ["→ many()", "  → leaf()  → 0", "  → leaf()  → 1"]
    assert lines[-2:] == [f"  → leaf()  → {n - 1}", f"← many()  → {n}"]
    monkeypatch.undo()
    # random access still works afterwards
    assert t[n].func_name == "leaf" and t[n].result_repr == str(n - 1)
    assert t[n].parent_id == 0


# --- flight recorder (max_events) ------------------------------------------

def ring_leaf(i):
    return [i, i + 1]  # a mutable value: kept in the value store


def ring_mid(i):
    return ring_leaf(i)


def ring_outer(n):
    for i in range(n):
        ring_mid(i)
    return n


def test_max_events_keeps_the_most_recent_events_only():
    from flowtrace import _core

    start_tracing(max_events=1000)
    ring_outer(300_000)  # 1.2M events: the window recycles many times
    t = stop_tracing()
    assert t.dropped > 0
    # at least max_events kept, and little more: chunks stay small for a
    # small window (a few KiB, not megabytes)
    assert 1000 <= t._c().nrecords <= 2000
    assert t._c().nbytes < 64 * 1024
    text = tree_text(t)
    lines = text.splitlines()
    assert lines[0] == f"⋯ {t.dropped} earlier events not kept (max_events)"
    # the last calls are there, with their values
    assert lines[-4:] == ["  → ring_mid()", "    → ring_leaf()  → [299999, 300000]",
                          "  ← ring_mid()  → [299999, 300000]", "← ring_outer()  → 300000"]
    # the window starts mid-stream (inside ring_outer, whatever the chunk
    # sizes): what began before it is marked, and the tree is well-formed
    first = t[0]
    assert first.func_name == "ring_outer"
    assert first.began_before and first.args_repr is None
    for e in t:
        assert e.parent_id is None or e.parent_id < e.id
    assert _core.is_active() is False


def test_max_events_must_be_positive():
    with pytest.raises(ValueError):
        start_tracing(max_events=0)
