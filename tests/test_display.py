"""A trace's tree, bounded (flowtrace._display): what a failing test's
report and a notebook show."""
from __future__ import annotations

import pytest

from conftest import session, tree_text
from flowtrace._display import TreeView, render


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def loop(n):
    for _ in range(n):
        fib(1)


def test_short_tree_is_whole():
    text, trace = session(fib, 4)
    tree = render(trace, max_depth=None, max_lines=200)
    assert tree.omitted == 0 and tree.tail == []
    assert tree.text() == text


def test_long_tree_keeps_start_and_end():
    text, trace = session(loop, 100)
    lines = text.splitlines()
    assert len(lines) == 102
    tree = render(trace, max_depth=None, max_lines=9)
    assert tree.total == 102 and tree.omitted == 93
    assert tree.head == lines[:6] and tree.tail == lines[-3:]
    assert tree.text().splitlines() == lines[:6] + [
        "⋯ 93 lines left out (lines 7-99 of 102)"] + lines[-3:]


def test_exactly_at_the_cap():
    text, trace = session(loop, 7)  # 9 lines
    assert render(trace, max_depth=None, max_lines=9).text() == text
    tree = render(trace, max_depth=None, max_lines=8)
    assert tree.omitted == 1 and len(tree.text().splitlines()) == 9


def test_depth_and_colour():
    text, trace = session(fib, 6)
    assert render(trace, max_depth=2, max_lines=None).text() == tree_text(trace, max_depth=2)
    assert render(trace, max_depth=2, max_lines=None, color=True).text() == tree_text(
        trace, max_depth=2, color="always")


def test_bad_line_cap():
    _, trace = session(fib, 2)
    with pytest.raises(ValueError, match="max_lines must be >= 2"):
        render(trace, max_lines=1)


def test_tree_view_says_how_to_see_all():
    _, trace = session(loop, 100)
    view = TreeView(trace, max_lines=10, color=False, whole="flowtrace.print_tree(t)")
    text = str(view)
    assert text.splitlines()[7] == "⋯ 92 lines left out (lines 8-99 of 102)"
    assert text.endswith("(whole tree: flowtrace.print_tree(t))\n")
    _, trace = session(fib, 6)
    text = str(TreeView(trace, max_depth=2, whole="flowtrace.print_tree(t)"))
    assert "(+" in text and text.endswith("(whole tree: flowtrace.print_tree(t))\n")
    _, trace = session(fib, 2)
    assert "whole tree" not in str(TreeView(trace, whole="flowtrace.print_tree(t)"))
