"""@trace: printing, arguments as written, methods, nesting, wraps semantics."""
import functools
import inspect
import re

import pytest

from conftest import assert_golden, run_py, session

from flowtrace import get_trace_data, start_tracing, stop_tracing, trace


# ---------------------------------------------------------------------------
# module-level subjects (their qualified names are short and stable)

@trace
def f(a, b=0):
    return a + b


@trace
def inner(x):
    return x + 1


@trace
def outer(x):
    return inner(x) * 2


def plain_helper(x):
    return x * 10


@trace
def uses_plain(x):
    return plain_helper(x) + 1


@trace
def countdown_rec(n):
    return 0 if n == 0 else 1 + countdown_rec(n - 1)


class Num:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"Num({self.v})"


class Calc:
    def __init__(self, base):
        self.base = base

    def __repr__(self):
        return f"Calc({self.base})"

    @trace
    def add(self, x):
        return self.base + x

    @trace
    @staticmethod
    def twice_outer(a):
        return a * 2

    @staticmethod
    @trace
    def twice_inner(a):
        return a * 2

    @trace
    @classmethod
    def make_outer(cls, base):
        return cls(base)

    @classmethod
    @trace
    def make_inner(cls, base):
        return cls(base)


@trace(measure_time=True)
def timed(a, b):
    return a * b


@trace
def returns_arg(x):
    return x


def documented(a, b: int = 2, *rest, key=None, **extra) -> int:
    """Add things."""
    return a + b


# ---------------------------------------------------------------------------
# arguments as written

def test_keyword_args_shown_as_written(capsys):
    assert f(4, b=5) == 9
    assert capsys.readouterr().out == "→ f(4, b=5) → 9\n"
    ev = get_trace_data()
    assert len(ev) == 1
    assert ev[0].args_repr == "4, b=5"
    assert ev[0].result_repr == "9"
    assert ev[0].func_name == "f"
    assert ev[0].kind == "call"
    assert ev[0].parent_id is None


def test_positional_and_default_args(capsys):
    assert f(4) == 4
    assert capsys.readouterr().out == "→ f(4) → 4\n"
    assert get_trace_data()[0].args_repr == "4"


def test_all_keyword_args(capsys):
    assert f(a=1, b=2) == 3
    assert capsys.readouterr().out == "→ f(a=1, b=2) → 3\n"
    assert get_trace_data()[0].args_repr == "a=1, b=2"


def test_star_args_are_shown_expanded(capsys):
    args = (1,)
    kwargs = {"b": 2}
    assert f(*args, **kwargs) == 3
    assert capsys.readouterr().out == "→ f(1, b=2) → 3\n"


def test_string_args_and_results_use_repr(capsys):
    assert returns_arg("hi") == "hi"
    assert capsys.readouterr().out == "→ returns_arg('hi') → 'hi'\n"


def test_user_objects_use_their_repr_in_decorated_calls(capsys):
    n = Num(3)
    assert returns_arg(n) is n
    assert capsys.readouterr().out == "→ returns_arg(Num(3)) → Num(3)\n"


# ---------------------------------------------------------------------------
# tree shape

def test_nested_decorated_calls_print_once_from_outermost(capsys):
    assert outer(1) == 4
    out = capsys.readouterr().out
    assert out == "→ outer(1)\n  → inner(1) → 2\n← outer(1) → 4\n"
    ev = get_trace_data()
    assert [(e.func_name, e.args_repr, e.parent_id) for e in ev] == [
        ("outer", "1", None),
        ("inner", "1", 0),
    ]


def test_inner_decorated_call_alone_prints_itself(capsys):
    assert inner(5) == 6
    assert capsys.readouterr().out == "→ inner(5) → 6\n"


def test_undecorated_calls_inside_decorated_call_are_recorded(capsys):
    assert uses_plain(2) == 21
    out = capsys.readouterr().out
    assert out == "→ uses_plain(2)\n  → plain_helper()  → 20\n← uses_plain(2) → 21\n"


def test_recursion(capsys):
    assert countdown_rec(3) == 3
    assert_golden("decorator_recursion", capsys.readouterr().out)
    ev = get_trace_data()
    assert [e.parent_id for e in ev] == [None, 0, 1, 2]
    assert [e.args_repr for e in ev] == ["3", "2", "1", "0"]
    assert [e.result_repr for e in ev] == ["3", "2", "1", "0"]


def test_each_outermost_call_prints_its_own_tree(capsys):
    f(1)
    f(2)
    assert capsys.readouterr().out == "→ f(1) → 1\n→ f(2) → 2\n"
    assert [e.args_repr for e in get_trace_data()] == ["2"]


def test_decorated_call_inside_session_prints_nothing_and_adds_args(capsys):
    start_tracing()
    try:
        assert outer(2) == 6
        assert plain_helper(1) == 10
    finally:
        t = stop_tracing()
    assert capsys.readouterr().out == ""
    assert [(e.func_name, e.args_repr, e.result_repr, e.parent_id) for e in t] == [
        ("outer", "2", "6", None),
        ("inner", "2", "3", 0),
        ("plain_helper", None, "10", None),
    ]


def test_decorated_call_in_session_tree_text():
    text, _ = session(outer, 2)
    assert text == "→ outer(2)\n  → inner(2) → 3\n← outer(2) → 6\n"


def test_start_tracing_inside_decorated_call_raises(capsys):
    @trace
    def starts():
        start_tracing()

    with pytest.raises(RuntimeError, match="@trace call is being recorded"):
        starts()
    capsys.readouterr()


# ---------------------------------------------------------------------------
# methods

def test_method(capsys):
    c = Calc(10)
    assert c.add(5) == 15
    assert capsys.readouterr().out == "→ Calc.add(Calc(10), 5) → 15\n"


def test_method_through_class(capsys):
    c = Calc(1)
    assert Calc.add(c, 2) == 3
    assert capsys.readouterr().out == "→ Calc.add(Calc(1), 2) → 3\n"


@pytest.mark.parametrize("name", ["twice_outer", "twice_inner"])
def test_staticmethod_both_orders(capsys, name):
    assert getattr(Calc, name)(4) == 8
    assert getattr(Calc(0), name)(5) == 10
    out = capsys.readouterr().out
    assert out == f"→ Calc.{name}(4) → 8\n→ Calc.{name}(5) → 10\n"
    assert isinstance(inspect.getattr_static(Calc, name), staticmethod)


@pytest.mark.parametrize("name", ["make_outer", "make_inner"])
def test_classmethod_both_orders(capsys, name):
    made = getattr(Calc, name)(7)
    assert type(made) is Calc and made.base == 7
    made2 = getattr(Calc(0), name)(8)
    assert type(made2) is Calc and made2.base == 8
    out = capsys.readouterr().out
    cls = "<class 'test_decorator.Calc'>"
    assert out == (f"→ Calc.{name}({cls}, 7)\n"
                   f"  → Calc.__init__()  → None\n"
                   f"← Calc.{name}({cls}, 7) → Calc(7)\n"
                   f"→ Calc.{name}({cls}, 8)\n"
                   f"  → Calc.__init__()  → None\n"
                   f"← Calc.{name}({cls}, 8) → Calc(8)\n")
    assert isinstance(inspect.getattr_static(Calc, name), classmethod)


def test_classmethod_on_subclass_binds_subclass(capsys):
    class Sub(Calc):
        pass

    assert type(Sub.make_outer(1)) is Sub
    assert type(Sub.make_inner(1)) is Sub
    capsys.readouterr()


# ---------------------------------------------------------------------------
# timing

def test_measure_time_records_duration(capsys):
    assert timed(6, 7) == 42
    out = capsys.readouterr().out
    assert re.fullmatch(r"→ timed\(6, 7\) \[\d+\.\d{6}s\] → 42\n", out), out
    ev = get_trace_data()[0]
    assert isinstance(ev.duration, float) and ev.duration >= 0


def test_no_duration_without_measure_time(capsys):
    f(1)
    out = capsys.readouterr().out
    assert "[" not in out
    assert get_trace_data()[0].duration is None


def test_measure_time_keyword_only():
    with pytest.raises(TypeError):
        trace(documented, True)


# ---------------------------------------------------------------------------
# functools.wraps semantics

def test_wraps_semantics():
    w = trace(documented)
    assert w.__name__ == "documented"
    assert w.__qualname__ == "documented"
    assert w.__doc__ == "Add things."
    assert w.__module__ == documented.__module__
    assert w.__wrapped__ is documented
    assert inspect.signature(w) == inspect.signature(documented)
    assert str(inspect.signature(w)) == "(a, b: int = 2, *rest, key=None, **extra) -> int"
    assert w.__annotations__ == documented.__annotations__


def test_wraps_semantics_with_measure_time():
    w = trace(measure_time=True)(documented)
    assert w.__name__ == "documented"
    assert w.__wrapped__ is documented
    assert inspect.signature(w) == inspect.signature(documented)


def test_wraps_semantics_methods():
    assert Calc.add.__qualname__ == "Calc.add"
    assert str(inspect.signature(Calc.add)) == "(self, x)"
    assert str(inspect.signature(Calc(1).add)) == "(x)"
    assert Calc.twice_outer.__name__ == "twice_outer"
    assert Calc.make_outer.__name__ == "make_outer"
    assert str(inspect.signature(Calc.make_outer)) == "(base)"


def test_wrapper_keeps_function_attributes():
    def g():
        return 1

    g.marker = "kept"
    w = trace(g)
    assert w.marker == "kept"


def test_decorated_function_works_with_functools_partial(capsys):
    p = functools.partial(f, 1)
    assert p(b=2) == 3
    assert capsys.readouterr().out == "→ f(1, b=2) → 3\n"


def test_result_is_the_same_object(capsys):
    obj = object()
    assert returns_arg(obj) is obj
    lst = [1, 2]
    assert returns_arg(lst) is lst
    capsys.readouterr()


def test_non_function_callables_pass_through(capsys):
    class Callable:
        def __call__(self, x):
            return x + 1

    assert trace(len)([1, 2]) == 2
    assert trace(Callable())(1) == 2
    assert capsys.readouterr().out == ""


double = trace(lambda x: x * 2)


def test_lambda(capsys):
    assert double(3) == 6
    assert capsys.readouterr().out == "→ <lambda>(3) → 6\n"


def test_measure_time_inside_untimed_session():
    def top():
        return timed(2, 3)

    text, t = session(top)
    assert [(e.func_name.rsplit(".", 1)[-1], e.duration is None) for e in t] == [
        ("top", True), ("timed", False)]
    assert t[1].duration >= 0
    assert re.search(r"^  → timed\(2, 3\) \[\d+\.\d{6}s\] → 6$", text, re.M), text


def test_results_and_exceptions_identical_with_and_without_trace(capsys):
    def plain_fn(a, b=1):
        if a < 0:
            raise ValueError(a, b)
        return [a, b]

    traced_fn = trace(plain_fn)
    for args in [(1,), (2, 3), (-1,), (-2, 5)]:
        outcomes = []
        for fn in (plain_fn, traced_fn):
            try:
                outcomes.append(("ok", fn(*args)))
            except ValueError as e:
                outcomes.append(("err", e.args))
        assert outcomes[0] == outcomes[1]
    capsys.readouterr()


def test_trace_in_subprocess_prints_to_stdout_at_end():
    p = run_py("""
        from flowtrace import trace

        @trace
        def g(x):
            print("inside", x)
            return x

        g(1)
        print("after")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "inside 1\n→ g(1) → 1\nafter\n"
    assert p.stderr == ""
