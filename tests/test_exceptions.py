"""Exceptions: shown with ↯, and reaching the caller untouched."""
import sys

import pytest

from conftest import assert_golden, run_py, session, tree_text

from flowtrace import get_trace_data, start_tracing, stop_tracing, trace

RAISED = []


def plain_div(a, b):
    return a / b


div = trace(plain_div)


@trace
def tdiv(a, b):
    return a / b


@trace
def safe_div(a, b):
    try:
        return tdiv(a, b)
    except ZeroDivisionError:
        return None


def sdiv(a, b):
    return a / b


def caller():
    try:
        sdiv(1, 0)
    except ZeroDivisionError:
        return "handled"


def level3():
    raise LookupError("deep")


def level2():
    return level3()


def level1():
    try:
        return level2()
    except LookupError:
        return -1


def raiser_plain():
    e = ValueError("kept")
    RAISED.append(e)
    raise e


raiser = trace(raiser_plain)


class CountingStrError(Exception):
    str_calls = 0

    def __str__(self):
        CountingStrError.str_calls += 1
        return "custom str"


class BrokenStrError(Exception):
    def __str__(self):
        raise TypeError("no str")


def raise_counting():
    raise CountingStrError("hi")


@trace
def traced_raise_broken():
    raise BrokenStrError("hi")


def raise_empty():
    raise RuntimeError


def raise_multiline():
    raise ValueError("line1\nline2")


def raise_long():
    raise ValueError("m" * 500)


def tb_names(exc):
    names = []
    tb = exc.__traceback__
    while tb is not None:
        names.append((tb.tb_frame.f_code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    return names


# ---------------------------------------------------------------------------
# @trace

def test_decorated_raise_prints_lightning(capsys):
    with pytest.raises(ZeroDivisionError):
        tdiv(1, 0)
    assert capsys.readouterr().out == "↯ tdiv(1, 0) ZeroDivisionError: division by zero\n"
    (e,) = get_trace_data()
    assert e.end == "raise"
    assert e.exception == "ZeroDivisionError: division by zero"
    assert e.result_repr is None
    assert e.args_repr == "1, 0"


def test_seed_style_div_in_subprocess():
    p = run_py("""
        from flowtrace import trace

        @trace
        def div(a, b):
            return a / b

        try:
            div(1, 0)
        except ZeroDivisionError as e:
            print("caught:", e)
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("↯ div(1, 0) ZeroDivisionError: division by zero\n"
                        "caught: division by zero\n")


def test_exception_is_the_same_object(capsys):
    RAISED.clear()
    with pytest.raises(ValueError) as info:
        raiser()
    assert info.value is RAISED[0]
    assert str(info.value) == "kept"
    capsys.readouterr()


def test_exception_traceback_is_unchanged(capsys):
    def call(fn):
        try:
            fn(1, 0)
        except ZeroDivisionError as e:
            return e
        raise AssertionError("no exception")

    plain = call(plain_div)
    traced = call(div)
    capsys.readouterr()
    # same frames (the wrapper adds none), same lines
    assert tb_names(traced) == tb_names(plain)
    assert [n for n, _ in tb_names(traced)] == ["call", "plain_div"]
    last = traced.__traceback__
    while last.tb_next is not None:
        last = last.tb_next
    assert last.tb_frame.f_code is plain_div.__code__
    assert traced.__context__ is None and traced.__cause__ is None


def test_exception_from_traced_call_propagates_through_frames(capsys):
    RAISED.clear()

    def outer_plain():
        return raiser()

    with pytest.raises(ValueError) as info:
        outer_plain()
    assert info.value is RAISED[0]
    assert [n for n, _ in tb_names(info.value)][-2:] == ["outer_plain", "raiser_plain"]
    capsys.readouterr()


def test_nested_decorated_call_raises_and_outer_catches(capsys):
    assert safe_div(1, 0) is None
    out = capsys.readouterr().out
    assert out == ("→ safe_div(1, 0)\n"
                   "  ↯ tdiv(1, 0) ZeroDivisionError: division by zero\n"
                   "  ✓ caught ZeroDivisionError: division by zero\n"
                   "← safe_div(1, 0) → None\n")


def test_decorated_exception_str_failing(capsys):
    with pytest.raises(BrokenStrError):
        traced_raise_broken()
    assert capsys.readouterr().out == "↯ traced_raise_broken() BrokenStrError: <str failed: TypeError>\n"


def test_tree_is_printed_before_exception_reaches_caller():
    p = run_py("""
        from flowtrace import trace

        @trace
        def boom():
            raise KeyError("k")

        try:
            boom()
        except KeyError:
            print("caller saw it")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "↯ boom() KeyError: 'k'\ncaller saw it\n"


# ---------------------------------------------------------------------------
# sessions

def test_session_caught_exception_under_caller():
    text, t = session(caller)
    assert_golden("session_caught_exception", text)
    assert [(e.func_name, e.parent_id, e.end, e.result_repr, e.exception) for e in t] == [
        ("caller", None, "return", "'handled'", None),
        ("sdiv", 0, "raise", None, "ZeroDivisionError: division by zero"),
        ("caller", 0, "return", None, "ZeroDivisionError: division by zero"),
    ]
    assert t[2].kind == "handled"


def test_session_exception_through_several_levels():
    text, t = session(level1)
    assert text == ("→ level1()\n"
                    "  → level2()\n"
                    "    ↯ level3()  LookupError: deep\n"
                    "  ↯ level2()  LookupError: deep\n"
                    "  ✓ caught LookupError: deep\n"
                    "← level1()  → -1\n")
    assert [(e.kind, e.end) for e in t] == [
        ("call", "return"), ("call", "raise"), ("call", "raise"), ("handled", "return")]


def test_session_uncaught_exception_propagates():
    start_tracing()
    try:
        with pytest.raises(ZeroDivisionError):
            sdiv(1, 0)
    finally:
        t = stop_tracing()
    assert tree_text(t) == "↯ sdiv()  ZeroDivisionError: division by zero\n"


def test_session_does_not_run_user_exception_str():
    CountingStrError.str_calls = 0
    start_tracing()
    try:
        with pytest.raises(CountingStrError):
            raise_counting()
    finally:
        t = stop_tracing()
    assert CountingStrError.str_calls == 0
    assert t[0].exception == "CountingStrError: hi"


def test_session_full_repr_runs_exception_str():
    CountingStrError.str_calls = 0
    start_tracing(full_repr=True)
    try:
        with pytest.raises(CountingStrError):
            raise_counting()
    finally:
        t = stop_tracing()
    assert t[0].exception == "CountingStrError: custom str"
    assert CountingStrError.str_calls >= 1


def test_exception_without_message():
    start_tracing()
    try:
        with pytest.raises(RuntimeError):
            raise_empty()
    finally:
        t = stop_tracing()
    assert t[0].exception == "RuntimeError"
    assert tree_text(t) == "↯ raise_empty()  RuntimeError\n"


def test_exception_message_on_one_line():
    start_tracing()
    try:
        with pytest.raises(ValueError):
            raise_multiline()
    finally:
        t = stop_tracing()
    assert t[0].exception == "ValueError: line1\\nline2"
    assert tree_text(t) == "↯ raise_multiline()  ValueError: line1\\nline2\n"


def test_long_exception_message_is_cut():
    start_tracing()
    try:
        with pytest.raises(ValueError):
            raise_long()
    finally:
        t = stop_tracing()
    (e,) = list(t)
    assert e.exception.startswith("ValueError: mmmm")
    assert e.exception.endswith("…")
    assert len(e.exception) <= 200
    line = tree_text(t)
    assert line.startswith("↯ raise_long()  ValueError: mmm")
    assert line.endswith("…\n")


# ---------------------------------------------------------------------------
# unchanged behaviour

def test_exceptions_identical_with_and_without_session():
    def outcome(fn, *args):
        try:
            return ("ok", fn(*args))
        except BaseException as e:  # noqa: BLE001
            return ("err", type(e), e.args, tb_names(e)[1:])

    cases = [(sdiv, 1, 0), (level1,), (caller,), (raise_multiline,)]
    for fn, *args in cases:
        before = outcome(fn, *args)
        start_tracing()
        try:
            during = outcome(fn, *args)
        finally:
            stop_tracing()
        assert before == during, fn.__name__


def test_exception_state_is_preserved_in_handlers():
    """sys.exception() inside an except block is the program's exception,
    also while tracing runs code (callbacks) in between."""
    def handler():
        try:
            sdiv(1, 0)
        except ZeroDivisionError as e:
            sdiv(4, 2)  # a traced call in the handler
            assert sys.exception() is e
            return "ok"

    start_tracing()
    try:
        assert handler() == "ok"
    finally:
        stop_tracing()


def test_exception_chaining_is_preserved():
    def chained():
        try:
            sdiv(1, 0)
        except ZeroDivisionError as e:
            raise ValueError("wrapped") from e

    start_tracing()
    try:
        with pytest.raises(ValueError) as info:
            chained()
    finally:
        stop_tracing()
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert isinstance(info.value.__context__, ZeroDivisionError)


# --- where exceptions were raised, caught, re-raised -----------------------

def conv_int(s):
    try:
        return int(s)
    except ValueError:
        return None


def inner_key():
    return {}["k"]


def bare_reraiser():
    try:
        inner_key()
    except KeyError:
        raise


def logging_reraiser():
    try:
        inner_key()
    except KeyError:
        note("retrying")
        raise


def note(msg):
    return msg


def catches(fn):
    try:
        fn()
    except KeyError:
        return "caught"


def translate():
    try:
        {}["x"]
    except KeyError as e:
        raise ValueError("bad") from e


def finally_passes_through():
    try:
        inner_key()
    finally:
        note("cleanup")


def test_exception_raised_and_caught_in_the_same_frame():
    text, t = session(conv_int, "x")
    assert text == ("→ conv_int()\n"
                    "  ⚡ raise ValueError: invalid literal for int() with base 10: 'x'\n"
                    "  ✓ caught ValueError: invalid literal for int() with base 10: 'x'\n"
                    "← conv_int()  → None\n")
    assert [e.kind for e in t] == ["call", "raise", "handled"]
    assert t[1].parent_id == 0 and t[1].exception.startswith("ValueError")


def test_bare_reraise_is_just_propagation():
    text, _ = session(catches, bare_reraiser)
    assert text == ("→ catches()\n"
                    "  → bare_reraiser()\n"
                    "    ↯ inner_key()  KeyError: 'k'\n"
                    "  ↯ bare_reraiser()  KeyError: 'k'\n"
                    "  ✓ caught KeyError: 'k'\n"
                    "← catches()  → 'caught'\n")


def test_handler_that_does_work_then_reraises_shows_both():
    text, _ = session(catches, logging_reraiser)
    assert text == ("→ catches()\n"
                    "  → logging_reraiser()\n"
                    "    ↯ inner_key()  KeyError: 'k'\n"
                    "    ✓ caught KeyError: 'k'\n"
                    "    → note()  → 'retrying'\n"
                    "    ⟳ re-raise KeyError: 'k'\n"
                    "  ↯ logging_reraiser()  KeyError: 'k'\n"
                    "  ✓ caught KeyError: 'k'\n"
                    "← catches()  → 'caught'\n")


def test_translated_exception_shows_the_original_caught():
    start_tracing()
    try:
        with pytest.raises(ValueError):
            translate()
    finally:
        t = stop_tracing()
    assert tree_text(t) == ("→ translate()\n"
                            "  ⚡ raise KeyError: 'x'\n"
                            "  ✓ caught KeyError: 'x'\n"
                            "↯ translate()  ValueError: bad\n")


def test_finally_lets_the_exception_through():
    text, _ = session(catches, finally_passes_through)
    # a finally block that runs code is a handler that re-raises: the
    # exception is shown entering it and going on
    assert "finally_passes_through()  KeyError: 'k'" in text
    lines = text.splitlines()
    i = lines.index("  → finally_passes_through()")
    assert lines[i + 1:i + 5] == ["    ↯ inner_key()  KeyError: 'k'",
                                  "    ✓ caught KeyError: 'k'",
                                  "    → note()  → 'cleanup'",
                                  "    ⟳ re-raise KeyError: 'k'"]


def stop_iteration_user():
    it = iter([])
    try:
        next(it)
    except StopIteration:
        return "done"


def test_iteration_machinery_is_not_reported():
    text, _ = session(stop_iteration_user)
    assert text == "→ stop_iteration_user()  → 'done'\n"
