"""Default filtering: user code only; the standard library, site-packages
and FlowTrace itself stay out (include_stdlib=True brings the first two)."""
import collections
import dataclasses
import io
import json
import re
import textwrap

import pytest

from conftest import FLOWTRACE_DIR, session, tree_text

import flowtrace
from flowtrace import get_trace_data, print_tree, start_tracing, stop_tracing, trace, tracing


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


Pair = collections.namedtuple("Pair", "a b")


def use_json():
    return len(json.dumps({"a": [1, 2]}))


def use_dataclass():
    p = Point(1, 2)
    q = Point(1, 2)
    return p == q


def use_dataclass_repr():
    return repr(Point(3))


def use_namedtuple():
    p = Pair(1, 2)
    return p.a + p.b


def use_re():
    return bool(re.compile("a+b").match("aab"))


def use_textwrap():
    return textwrap.shorten("hello world again", 12)


def use_pytest_approx():
    return 0.1 + 0.2 == pytest.approx(0.3)


def repl(m):
    return m.group(0).upper()


def use_re_callback():
    return re.sub("a", repl, "banana")


def user_only(x):
    return x + 1


def calls_print_tree():
    print_tree(get_trace_data(), file=io.StringIO())
    return 1


@trace
def tgen(n):
    yield from range(n)


def consume_tgen():
    return sum(tgen(3))


@pytest.mark.parametrize("fn, result", [
    (use_json, 13),
    (use_re, True),
    (use_textwrap, "hello [...]"),
])
def test_stdlib_calls_not_in_tree(fn, result):
    text, t = session(fn)
    assert [e.func_name for e in t] == [fn.__name__]
    assert text == f"→ {fn.__name__}()  → {result!r}\n"


def test_dataclass_generated_methods_not_in_tree():
    text, t = session(use_dataclass)
    assert [e.func_name for e in t] == ["use_dataclass"]
    assert text == "→ use_dataclass()  → True\n"


def test_dataclass_generated_repr_not_in_tree():
    text, t = session(use_dataclass_repr)
    assert [e.func_name for e in t] == ["use_dataclass_repr"]


def test_namedtuple_not_in_tree():
    text, t = session(use_namedtuple)
    assert [e.func_name for e in t] == ["use_namedtuple"]
    assert text == "→ use_namedtuple()  → 3\n"


def test_site_packages_not_in_tree():
    text, t = session(use_pytest_approx)
    assert [e.func_name for e in t] == ["use_pytest_approx"]


def test_user_callback_from_stdlib_is_child_of_user_caller():
    text, t = session(use_re_callback)
    assert text == ("→ use_re_callback()\n"
                    "  → repl()  → 'A'\n"
                    "  → repl()  → 'A'\n"
                    "  → repl()  → 'A'\n"
                    "← use_re_callback()  → 'bAnAnA'\n")


def test_exec_code_of_user_is_traced():
    ns = {"__name__": __name__}
    exec("def made(x):\n    return x * 3\n", ns)
    made = ns["made"]

    def call():
        return made(2)

    text, t = session(call)
    assert [e.func_name.rsplit(".", 1)[-1] for e in t] == ["call", "made"]


@pytest.mark.parametrize("fn, name", [
    (use_json, "dumps"),
    (use_re, "compile"),
    (use_textwrap, "shorten"),
])
def test_include_stdlib_shows_stdlib(fn, name):
    _, t = session(fn, include_stdlib=True)
    names = [e.func_name for e in t]
    assert names[0] == fn.__name__
    assert name in names
    assert len(names) > 1
    # the stdlib calls are children of the user function
    assert all(e.parent_id is not None for e in list(t)[1:])


def test_include_stdlib_shows_generated_dataclass_code():
    _, t = session(use_dataclass, include_stdlib=True)
    assert any(e.func_name.endswith("__init__") for e in t)


def test_include_stdlib_then_default_again():
    """Code silenced (DISABLEd) by one session's filter comes back when the
    next session's filter wants it, and vice versa."""
    for _ in range(2):
        _, t = session(use_json)
        assert [e.func_name for e in t] == ["use_json"]
        _, t = session(use_json, include_stdlib=True)
        assert "dumps" in [e.func_name for e in t]


def _flowtrace_events(t):
    return [e for e in t
            if e.filename.startswith(str(FLOWTRACE_DIR))
            or e.filename.startswith(flowtrace.__file__.rsplit("/", 1)[0])]


@pytest.mark.parametrize("include_stdlib", [False, True])
def test_flowtrace_own_code_never_in_tree(include_stdlib):
    def work():
        calls_print_tree()
        consume_tgen()
        return user_only(1)

    with tracing(include_stdlib=include_stdlib) as t:
        work()
    assert _flowtrace_events(t) == []
    names = {e.func_name for e in t}
    for own in ("print_tree", "_needs_ascii", "get_trace_data", "_drive_generator",
                "_Finisher.__call__", "tracing", "stop_tracing", "start_tracing"):
        assert own not in names
    assert "tgen" in names and "user_only" in names


def test_flowtrace_code_not_in_decorator_tree(capsys):
    def consume():
        return sum(tgen(2))

    p = trace(consume)
    assert p() == 1
    out = capsys.readouterr().out
    assert "_drive" not in out and "Finisher" not in out
    assert "tgen(2)" in out


def test_session_of_only_stdlib_is_empty():
    start_tracing()
    try:
        json.dumps([1, 2, 3])
        re.compile("x+y")
    finally:
        t = stop_tracing()
    assert len(t) == 0
    assert tree_text(t) == ""
