"""print_tree's colour (NO_COLOR, FORCE_COLOR, non-terminals, always) and
max_depth, in process. Colour only wraps the same text in ANSI codes."""
import io
import re

import pytest

from conftest import assert_golden, session, tree_text

from flowtrace import print_tree
from flowtrace.api import want_color

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen():
    yield 1


def boom():
    raise KeyError("k")


def work():
    fib(3)
    list(gen())
    try:
        boom()
    except KeyError:
        pass
    return "done"


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_default_no_colour_for_non_terminal(monkeypatch):
    _, t = session(work)
    assert "\x1b" not in tree_text(t)


def test_terminal_gets_colour(monkeypatch):
    _, t = session(work)
    buf = Tty()
    print_tree(t, buf)
    assert "\x1b[" in buf.getvalue()
    assert ANSI.sub("", buf.getvalue()) == tree_text(t)


def test_no_color_env(monkeypatch):
    _, t = session(work)
    monkeypatch.setenv("NO_COLOR", "1")
    buf = Tty()
    print_tree(t, buf)
    assert "\x1b" not in buf.getvalue()
    monkeypatch.setenv("FORCE_COLOR", "1")  # NO_COLOR wins
    assert not want_color(buf)
    assert want_color(buf, "always") and want_color(buf, True)


def test_no_color_empty_means_unset(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "")
    assert want_color(Tty())


def test_force_color_env(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert want_color(io.StringIO())
    assert not want_color(io.StringIO(), "never")
    monkeypatch.setenv("FORCE_COLOR", "")
    assert not want_color(io.StringIO())


def test_term_dumb(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    assert not want_color(Tty())


def test_bad_color_value():
    with pytest.raises(ValueError):
        want_color(io.StringIO(), "sometimes")


@pytest.mark.parametrize("ascii", [False, True])
def test_colour_layout_identical(ascii):
    _, t = session(work, timing=True)
    plain = tree_text(t, ascii=ascii)
    coloured = tree_text(t, ascii=ascii, color="always")
    assert coloured != plain
    assert ANSI.sub("", coloured) == plain


def test_colour_golden():
    _, t = session(work)
    assert_golden("color_work", tree_text(t, color="always"))


def test_each_element_coloured():
    _, t = session(work, args=True)
    text = tree_text(t, color="always")
    assert "\x1b[1mfib\x1b[0m" in text            # names
    assert "(\x1b[33m3\x1b[0m)" in text            # arguments
    assert "\x1b[32m2\x1b[0m" in text             # results
    assert "\x1b[31mKeyError: 'k'\x1b[0m" in text  # exceptions
    assert "\x1b[31m↯\x1b[0m" in text and "\x1b[36m→\x1b[0m" in text  # markers


def test_max_depth():
    text, t = session(work)
    assert tree_text(t, max_depth=1) == "→ work()  → 'done' (+8 calls)\n"
    two = tree_text(t, max_depth=2)
    assert two.splitlines() == [
        "→ work()",
        "  → fib()  → 2 (+4 calls)",
        "  → gen()  ⏸ 1",
        "  ▶ gen()  → None",
        "  ↯ boom()  KeyError: 'k'",
        "  ✓ caught KeyError: 'k'",
        "← work()  → 'done'",
    ]
    assert tree_text(t, max_depth=50) == text
    with pytest.raises(ValueError):
        tree_text(t, max_depth=0)
