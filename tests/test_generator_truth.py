"""Generators tell the same story on every Python (issue 9, item 2): a
generator resumed on another thread is left suspended on its real last
segment, and a close() that runs none of the generator's code is the same
on 3.12 (which reports it) and 3.13 (which does not)."""
import itertools
import threading

import pytest

import flowtrace
from conftest import tree_text


def gen():
    yield 1
    yield 2
    yield 3


@pytest.mark.parametrize("timing", [False, True])
def test_a_generator_resumed_on_another_thread_ends_where_it_really_ended(timing):
    def main():
        g = gen()
        next(g)
        t = threading.Thread(target=lambda: next(g), name="worker")
        t.start()
        t.join()
        next(g)
        return g  # alive: its last segment is left suspended

    with flowtrace.tracing(timing=timing) as trace:
        keep = main()
    segments = [e for e in trace if e.func_name == "gen"]
    assert [(e.thread, e.kind, e.result_repr) for e in segments] == [
        ("MainThread", "call", "1"), ("MainThread", "resume", "3"), ("worker", "resume", "2")]
    first = segments[0]
    assert all(e.origin_id == first.id for e in segments)
    assert [e.left_suspended for e in segments] == [False, True, False]
    del keep


def test_a_generator_started_on_a_thread_and_resumed_on_the_main_one():
    box = []

    def start():
        g = gen()
        next(g)
        box.append(g)

    def main():
        t = threading.Thread(target=start, name="starter")
        t.start()
        t.join()
        next(box[0])

    with flowtrace.tracing() as trace:
        main()
    segments = [e for e in trace if e.func_name == "gen"]
    first = next(e for e in segments if e.kind == "call")
    assert first.thread == "starter"
    resumed = next(e for e in segments if e.kind == "resume")
    assert resumed.thread == "MainThread" and resumed.origin_id == first.id
    assert resumed.left_suspended and not first.left_suspended


def plain():
    yield 1
    yield 2


def with_finally():
    try:
        yield 1
    finally:
        pass


def naturals():
    n = 0
    while True:
        yield n
        n += 1


def squares():
    for n in naturals():
        yield n * n


def closes():
    for f in (plain, with_finally):
        g = f()
        next(g)
        g.close()
    list(itertools.islice(squares(), 2))  # dropped: closes squares, then naturals


# The same on 3.12 and 3.13: a close() of a generator suspended outside any
# try block runs nothing and shows nothing (3.13 reports no event for it);
# one with a finally runs it, and shows as closed.
CLOSES = """\
→ closes()
  → plain()  ⏸ 1 (left suspended)
  → with_finally()  ⏸ 1
  ▶ with_finally()  ⏹ closed
  → squares()
    → naturals()  ⏸ 0
  ← squares()  ⏸ 0
  ▶ squares()
    ▶ naturals()  ⏸ 1 (left suspended)
  ← squares()  ⏸ 1 (left suspended)
← closes()  → None
"""


def test_close_gives_the_same_tree_on_every_python():
    with flowtrace.tracing() as trace:
        closes()
    assert tree_text(trace) == CLOSES
    assert not any(e.began_before for e in trace)
