"""Values are captured safely: failing or huge reprs, user __repr__ not run
in sessions, bounded containers, values as they were at return time."""
import gc
import json
import os
import sys
import tempfile
import weakref

import pytest

from conftest import session

import flowtrace
from flowtrace import get_trace_data, start_tracing, stop_tracing, trace


class BadRepr:
    def __repr__(self):
        raise ValueError("nope")


class HugeRepr:
    def __repr__(self):
        return "x" * 10_000


class MultiLineRepr:
    def __repr__(self):
        return "first\nsecond"


class Point:
    repr_calls = 0

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __repr__(self):
        Point.repr_calls += 1
        return f"Point({self.x}, {self.y})"


class Forbidden:
    """Any repr/str/iteration of this object during a session is a failure."""
    def __repr__(self):
        raise AssertionError("__repr__ called")

    def __str__(self):
        raise AssertionError("__str__ called")

    def __iter__(self):
        raise AssertionError("__iter__ called")

    def __len__(self):
        raise AssertionError("__len__ called")


class MyList(list):
    def __repr__(self):
        raise AssertionError("MyList.__repr__ called")


def noisy(x):
    return x


class ReprCallsCode:
    def __repr__(self):
        noisy(1)
        return "RCC"


@trace
def identity(x):
    return x


@trace
def returns_bad(x):
    return BadRepr()


def make_point(x):
    return Point(x, x)


def take(p):
    return p


def point_user():
    return take(make_point(1))


def big_list():
    return list(range(100))


def big_dict():
    return {i: i for i in range(20)}


def big_tuple():
    return tuple(range(9))


def big_set():
    return set(range(20))


def nested_list():
    return [[[[[1]]]]]


def long_str():
    return "a" * 500


def long_bytes():
    return b"a" * 500


def multi_line_str():
    return "a\nb"


def huge_int():
    return 10 ** 5000


def forbidden():
    return Forbidden()


def forbidden_in_list():
    return [Forbidden(), {"k": Forbidden()}]


def my_list():
    return MyList([1, 2])


def ret_list():
    lst = [1, 2]
    return lst


def mutate_after_return():
    lst = ret_list()
    lst.append(3)
    return lst


def ret_tuple_with_list():
    return ([1], 2)


def mutate_inside_tuple():
    t = ret_tuple_with_list()
    t[0].append(9)
    return 0


def ret_dict():
    return {"a": 1}


def mutate_dict():
    d = ret_dict()
    d["b"] = 2
    return 0


@trace
def traced_ret_list():
    return [1, 2]


# ---------------------------------------------------------------------------
# @trace (full reprs)

def test_failing_repr_in_args_and_result(capsys):
    arg = BadRepr()
    res = returns_bad(arg)
    assert type(res) is BadRepr  # returned normally
    out = capsys.readouterr().out
    assert out == "→ returns_bad(<repr failed: ValueError>) → <repr failed: ValueError>\n"
    (e,) = get_trace_data()
    assert e.args_repr == "<repr failed: ValueError>"
    assert e.result_repr == "<repr failed: ValueError>"


def test_failing_repr_does_not_leak_exception(capsys):
    identity(BadRepr())
    assert sys.exception() is None
    capsys.readouterr()


def test_huge_repr_in_args_is_cut(capsys):
    h = HugeRepr()
    assert identity(h) is h
    out = capsys.readouterr().out
    (e,) = get_trace_data()
    assert e.args_repr.startswith("xxxxxxxxxx")
    assert e.args_repr.endswith("…")
    assert len(e.args_repr) < 1000
    assert e.result_repr.startswith("xxxxxxxxxx")
    assert e.result_repr.endswith("…")
    assert len(e.result_repr) < 1000
    assert out.startswith("→ identity(xxxxxxxxxx")
    assert len(out) < 2500


def test_multiline_repr_stays_on_one_line(capsys):
    identity(MultiLineRepr())
    out = capsys.readouterr().out
    assert out == "→ identity(first\\nsecond) → first\\nsecond\n"


def test_repr_inside_decorated_call_is_not_traced(capsys):
    """The reprs @trace makes are FlowTrace's: code they run is not shown."""
    identity(ReprCallsCode())
    out = capsys.readouterr().out
    assert out == "→ identity(RCC) → RCC\n"


def test_decorated_result_is_value_at_return(capsys):
    lst = traced_ret_list()
    lst.append(3)
    capsys.readouterr()
    assert get_trace_data()[0].result_repr == "[1, 2]"


# ---------------------------------------------------------------------------
# sessions (no user code runs)

def test_user_objects_shown_by_class_without_calling_repr():
    Point.repr_calls = 0
    text, t = session(point_user)
    assert Point.repr_calls == 0
    assert text == ("→ point_user()\n"
                    "  → make_point()\n"
                    "    → Point.__init__()  → None\n"
                    "  ← make_point()  → <Point object>\n"
                    "  → take()  → <Point object>\n"
                    "← point_user()  → <Point object>\n")
    assert Point.repr_calls == 0
    assert [e.result_repr for e in t] == ["<Point object>", "<Point object>", "None",
                                          "<Point object>"]
    assert Point.repr_calls == 0


def test_no_user_dunder_runs_in_session():
    text, t = session(forbidden)
    assert text == "→ forbidden()  → <Forbidden object>\n"
    text, t = session(forbidden_in_list)
    assert text == "→ forbidden_in_list()  → [<Forbidden object>, {'k': <Forbidden object>}]\n"


def test_builtin_subclass_is_a_user_object():
    text, _ = session(my_list)
    assert text == "→ my_list()  → <MyList object>\n"


def test_full_repr_calls_user_repr():
    Point.repr_calls = 0
    text, t = session(point_user, full_repr=True)
    assert Point.repr_calls >= 1
    assert text == ("→ point_user()\n"
                    "  → make_point()\n"
                    "    → Point.__init__()  → None\n"
                    "  ← make_point()  → Point(1, 1)\n"
                    "  → take()  → Point(1, 1)\n"
                    "← point_user()  → Point(1, 1)\n")


def test_full_repr_failing_repr():
    def bad():
        return BadRepr()

    _, t = session(bad, full_repr=True)
    assert t[0].result_repr == "<repr failed: ValueError>"


@pytest.mark.parametrize("fn, shown", [
    (big_list, "[0, 1, 2, 3, 4, 5, 6, 7, … (100 items)]"),
    (big_dict, "{0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, … (20 items)}"),
    (big_tuple, "(0, 1, 2, 3, 4, 5, 6, 7, … (9 items))"),
    (big_set, "{0, 1, 2, 3, 4, 5, 6, 7, … (20 items)}"),
    (nested_list, "[[[[…]]]]"),
    (multi_line_str, "'a\\nb'"),
])
def test_container_formats(fn, shown):
    text, t = session(fn)
    assert t[0].result_repr == shown
    assert text == f"→ {fn.__name__}()  → {shown}\n"


@pytest.mark.parametrize("fn, start", [
    (long_str, "'aaaaaaaaaa"),
    (long_bytes, "b'aaaaaaaaaa"),
])
def test_long_scalars_are_cut(fn, start):
    text, t = session(fn)
    shown = t[0].result_repr
    assert shown is not None
    assert shown.startswith(start)
    assert shown.endswith("…")
    assert len(shown) <= 130
    assert text == f"→ {fn.__name__}()  → {shown}\n"


def test_unreprable_int():
    text, t = session(huge_int)
    assert t[0].result_repr == "<repr failed: ValueError>"


@pytest.mark.parametrize("fn, shown", [
    (mutate_after_return, "[1, 2]"),
    (mutate_inside_tuple, "([1], 2)"),
    (mutate_dict, "{'a': 1}"),
])
def test_mutable_value_shown_as_at_return(fn, shown):
    _, t = session(fn)
    assert t[1].result_repr == shown


def test_results_identical_with_and_without_tracing():
    fns = [point_user, big_list, big_dict, long_str, mutate_after_return, my_list]
    plain = [fn() for fn in fns]
    start_tracing()
    try:
        traced = [fn() for fn in fns]
    finally:
        stop_tracing()
    for a, b in zip(plain, traced):
        assert type(a) is type(b)
    assert traced[1:4] == plain[1:4]
    assert (traced[0].x, traced[0].y) == (1, 1)
    assert traced[4] == [1, 2, 3]
    assert list(traced[5]) == [1, 2]


def _big():
    return 10**12  # above the inline-int range: kept by reference


class Owned:
    pass


def _make_owned():
    return Owned()


def _text_values():
    return {"k": [1, 2]}, "x" * 500, ValueError  # formatted, cut, a class


def test_references_kept_by_a_trace_are_released():
    """Values kept by reference (immutables, user types) are released when
    the trace goes away; tagged store entries are untagged before DECREF."""
    import gc

    big = _big()
    before_big = sys.getrefcount(big)
    before_type = sys.getrefcount(Owned)
    start_tracing()
    for _ in range(50):
        assert _big() == big
        _make_owned()
        _text_values()
    tr = stop_tracing()
    assert len(tr) == 150
    assert sys.getrefcount(Owned) > before_type  # the trace holds the type
    # get_trace_data() also holds the last trace: replace it, then drop ours
    start_tracing()
    stop_tracing()
    del tr
    gc.collect()
    assert sys.getrefcount(Owned) == before_type
    assert sys.getrefcount(big) == before_big


# ---------------------------------------------------------------------------
# values recorded without a stored reference: one-character strings and
# instances of user classes (a per-thread class table)

def chars():
    return ["", "a", "\n", "'", '"', "\\", "\x00", "é", "\xff", "€", "ab"]


def ret(v):
    return v


def return_each(values):
    for v in values:
        ret(v)


def test_short_strings_show_as_their_repr():
    values = chars()
    _, t = session(return_each, values)
    got = [e.result_repr for e in t if e.func_name == "ret"]
    assert got == [repr(v) for v in values]
    # and the same in JSON and in a rebuilt trace
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.json")
        flowtrace.save(t, path)
        doc = json.load(open(path, encoding="utf-8"))
        assert [c.get("result") for c in doc["calls"][1:]] == [repr(v) for v in values]
        back = flowtrace.load(path)
        assert [e.result_repr for e in back if e.func_name == "ret"] == got


def test_instances_are_not_kept_alive_but_still_named():
    class Short:
        pass

    refs = []

    def make():
        o = Short()
        refs.append(weakref.ref(o))
        return o

    def run():
        for _ in range(3):
            make()

    _, t = session(run)
    gc.collect()
    assert all(r() is None for r in refs)  # the trace holds no instance
    assert [e.result_repr for e in t if e.func_name.endswith("make")] == [
        "<test_instances_are_not_kept_alive_but_still_named.<locals>.Short object>"] * 3


def test_many_classes_in_one_session_and_in_ring_mode():
    classes = [type(f"C{i}", (), {}) for i in range(300)]  # the table grows

    def run():
        for c in classes:
            ret(c())
        for c in reversed(classes):
            ret(c())

    for opts in ({}, {"max_events": 200}):
        _, t = session(run, **opts)
        got = [e.result_repr for e in t if e.func_name == "ret"]
        names = [f"<C{i} object>" for i in range(300)]
        expected = names + names[::-1]
        assert got and got == expected[-len(got):]
        if not opts:
            assert len(got) == 600


def test_args_and_results_with_chars_and_objects():
    class P:
        pass

    def f(c, p):
        return c

    _, t = session(lambda: f("x", P()), args=True)
    e = [e for e in t if e.func_name.endswith("f")][0]
    assert e.args_repr.startswith("'x', <")
    assert e.args_repr.endswith(".P object>")
    assert e.result_repr == "'x'"
