"""Folding runs of repeated calls in the text tree (print_tree(fold=...),
--fold / --no-fold): the first 3 calls of a run, every call that ended in
a new way, and one line per stretch of the others; on by default only
for a trace of more than 10,000 nodes; composes with max_depth and
focus; the seed's trees are unchanged."""
import io
import re

from conftest import read_golden, run_cmd, session, tree_text, write_program

import flowtrace
from flowtrace import _core


def price(i):
    if i % 400 == 7:
        raise ValueError(f"bad {i}")
    if i == 555:
        raise KeyError(i)
    return i * 2


def shop(n):
    total = 0
    for i in range(n):
        try:
            total += price(i)
        except (ValueError, KeyError):
            pass
    return total


def numbers(n):
    yield from range(n)


def consume(n):
    return sum(numbers(n))


def leaf(x):
    return x


def step(x):
    return leaf(x) + leaf(x + 1)


def steps(n):
    return [step(i) for i in range(n)]


def other(x):
    return -x


def calls(fn, n):
    for i in range(n):
        fn(i)


def text(t, **kw):
    return tree_text(t, color=False, **kw)


def test_a_long_run_shows_its_first_calls_and_a_line_for_the_rest():
    _, t = session(shop, 1000)
    assert text(t, fold=True) == (
        "→ shop()\n"
        "  → price()  → 0\n"
        "  → price()  → 2\n"
        "  → price()  → 4\n"
        "  ⋯ ×4 more price(): all returned\n"
        "  ↯ price()  ValueError: bad 7\n"
        "  ✓ caught ValueError: bad 7\n"
        "  ⋯ ×992 more price(): 989 returned, 2 raised ValueError, 1 raised KeyError\n"
        "← shop()  → 995448\n"
    )


def test_resumptions_of_a_generator_make_their_own_run():
    _, t = session(consume, 50)
    assert text(t, fold=True) == (
        "→ consume()\n"
        "  → numbers()  ⏸ 0\n"
        "  ▶ numbers()  ⏸ 1\n"
        "  ▶ numbers()  ⏸ 2\n"
        "  ▶ numbers()  ⏸ 3\n"
        "  ⋯ ×46 more ▶ numbers(): all yielded\n"
        "  ▶ numbers()  → None\n"  # it ended in a new way: shown
        "← consume()  → 1225\n"
    )


def test_hidden_calls_count_the_calls_inside_them():
    _, t = session(steps, 10)
    assert text(t, fold=True) == (
        "→ steps()\n"
        "  → step()\n"
        "    → leaf()  → 0\n"
        "    → leaf()  → 1\n"
        "  ← step()  → 1\n"
        "  → step()\n"
        "    → leaf()  → 1\n"
        "    → leaf()  → 2\n"
        "  ← step()  → 3\n"
        "  → step()\n"
        "    → leaf()  → 2\n"
        "    → leaf()  → 3\n"
        "  ← step()  → 5\n"
        "  ⋯ ×7 more step(): all returned (+14 calls)\n"
        "← steps()  → [1, 3, 5, 7, 9, 11, 13, 15, … (10 items)]\n"
    )


def test_a_stretch_of_one_call_is_shown_not_folded():
    _, t4 = session(calls, leaf, 4)
    assert "⋯" not in text(t4, fold=True)
    assert text(t4, fold=True) == text(t4, fold=False)
    _, t5 = session(calls, leaf, 5)
    assert text(t5, fold=True).splitlines()[-2:] == [
        "  ⋯ ×2 more leaf(): all returned", "← calls()  → None"]


def test_a_call_of_another_function_ends_the_run():
    def two_loops():
        calls(leaf, 6)
        calls(leaf, 6)
        leaf(0)

    _, t = session(two_loops)
    lines = text(t, fold=True).splitlines()
    assert lines.count("    ⋯ ×3 more leaf(): all returned") == 2
    assert lines[-2:] == ["  → leaf()  → 0", "← test_a_call_of_another_function_ends_the_run"
                          ".<locals>.two_loops()  → None"]


def test_exception_types_are_counted_and_named():
    def raiser(i):
        raise [ValueError, KeyError, TypeError, OSError, IndexError][i % 5](i)

    def loop():
        for i in range(30):
            try:
                raiser(i)
            except Exception:
                pass

    _, t = session(loop)
    lines = text(t, fold=True).splitlines()
    # all raised: the first 3 are shown, and the others folded with their types
    assert lines[1:4] == [
        "  ↯ test_exception_types_are_counted_and_named.<locals>.raiser()  ValueError: 0",
        "  ✓ caught ValueError: 0",
        "  ↯ test_exception_types_are_counted_and_named.<locals>.raiser()  KeyError: 1",
    ]
    assert lines[-2] == (
        "  ⋯ ×27 more test_exception_types_are_counted_and_named.<locals>.raiser(): "
        "6 raised OSError, 6 raised IndexError, 5 raised ValueError, "
        "10 raised other exceptions")


def test_all_of_one_exception_says_all():
    def raiser():
        raise ValueError("no")

    def loop():
        for _ in range(10):
            try:
                raiser()
            except ValueError:
                pass

    _, t = session(loop)
    assert text(t, fold=True).splitlines()[-2] == (
        "  ⋯ ×7 more test_all_of_one_exception_says_all.<locals>.raiser(): "
        "all raised ValueError")


def test_off_by_default_for_a_small_trace_on_for_a_big_one():
    _, small = session(shop, 1000)
    assert "⋯" not in text(small)
    assert text(small) == text(small, fold=False)
    _, big = session(calls, leaf, 10_001)  # 10,002 nodes
    assert text(big).splitlines() == [
        "→ calls()",
        "  → leaf()  → 0",
        "  → leaf()  → 1",
        "  → leaf()  → 2",
        "  ⋯ ×9998 more leaf(): all returned",
        "← calls()  → None",
    ]
    assert len(text(big, fold=False).splitlines()) == 10_003
    _, edge = session(calls, leaf, 9_999)  # 10,000 nodes: not folded
    assert "⋯" not in text(edge)


def test_max_depth_folds_the_levels_it_shows():
    _, t = session(steps, 10)
    assert text(t, fold=True, max_depth=2) == (
        "→ steps()\n"
        "  → step()  → 1 (+2 calls)\n"
        "  → step()  → 3 (+2 calls)\n"
        "  → step()  → 5 (+2 calls)\n"
        "  ⋯ ×7 more step(): all returned (+14 calls)\n"
        "← steps()  → [1, 3, 5, 7, 9, 11, 13, 15, … (10 items)]\n"
    )
    # a run below the depth limit is counted, not folded
    assert text(t, fold=True, max_depth=1) == (
        "→ steps()  → [1, 3, 5, 7, 9, 11, 13, 15, … (10 items)] (+30 calls)\n")


def test_focus_folds_a_run_of_focused_calls():
    _, t = session(steps, 10)
    assert text(t, fold=True, focus="step") == (
        "⋯ steps\n"
        "→ step()\n"
        "  → leaf()  → 0\n"
        "  → leaf()  → 1\n"
        "← step()  → 1\n"
        "⋯ steps\n"
        "→ step()\n"
        "  → leaf()  → 1\n"
        "  → leaf()  → 2\n"
        "← step()  → 3\n"
        "⋯ steps\n"
        "→ step()\n"
        "  → leaf()  → 2\n"
        "  → leaf()  → 3\n"
        "← step()  → 5\n"
        "⋯ ×7 more step(): all returned (+14 calls)\n"
    )
    # inside a focused call, runs fold as anywhere
    _, t = session(shop, 20)
    assert text(t, fold=True, focus="shop").splitlines()[5:7] == [
        "  ⋯ ×4 more price(): all returned", "  ↯ price()  ValueError: bad 7"]


def test_focused_calls_with_other_calls_between_them_are_a_run():
    def mixed():
        for i in range(8):
            leaf(i)
            other(i)

    _, t = session(mixed)
    out = text(t, fold=True, focus="leaf")
    assert out.count("⋯ test_focused") == 3  # a path line per shown call
    assert out.endswith("⋯ ×5 more leaf(): all returned\n")


def test_ascii_and_colour_keep_the_layout():
    _, t = session(shop, 1000)
    plain = text(t, fold=True)
    assert "  ... x4 more price(): all returned\n" in text(t, fold=True, ascii=True)
    coloured = tree_text(t, color="always", fold=True)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert "\x1b[31mraised ValueError\x1b[0m" in coloured


def test_threads_fold_their_own_runs():
    import threading

    def work():
        calls(leaf, 10)

    def main():
        ts = [threading.Thread(target=work, name=f"w{i}") for i in range(2)]
        for th in ts:
            th.start()
            th.join()

    _, t = session(main)
    out = text(t, fold=True)
    assert out.count("  ⋯ ×7 more leaf(): all returned\n") == 2


def test_seed_examples_are_unchanged_by_folding():
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    _, t = session(fib, 3)
    for fold in (True, False, None):
        assert text(t, fold=fold).replace(
            "test_seed_examples_are_unchanged_by_folding.<locals>.", "") == read_golden(
            "seed_session_fib")


def test_print_tree_checks_fold():
    _, t = session(calls, leaf, 2)
    for bad in ("yes", 1):
        try:
            flowtrace.print_tree(t, io.StringIO(), fold=bad)
        except TypeError as e:
            assert "fold must be True, False or None" in str(e)
        else:
            raise AssertionError("accepted fold=%r" % (bad,))


def test_rebuilt_from_events_folds_the_same():
    _, t = session(shop, 1000)
    events = list(t)
    assert text(events, fold=True) == text(t, fold=True)


PROG = """
def price(i):
    return i * 2

def main():
    return sum([price(i) for i in range(20)])

main()
"""


def test_cli_run_and_show(tmp_path):
    write_program(tmp_path, PROG)
    r = run_cmd([*_core_cli(), "run", "--fold", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "    ⋯ ×17 more price(): all returned\n" in r.stderr
    r = run_cmd([*_core_cli(), "run", "-o", "t.ftrace", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    folded = run_cmd([*_core_cli(), "show", "--fold", "t.ftrace"], tmp_path)
    assert "    ⋯ ×17 more price(): all returned\n" in folded.stdout
    plain = run_cmd([*_core_cli(), "show", "--no-fold", "t.ftrace"], tmp_path)
    default = run_cmd([*_core_cli(), "show", "t.ftrace"], tmp_path)
    assert plain.stdout == default.stdout and "⋯" not in plain.stdout
    both = run_cmd([*_core_cli(), "show", "--fold", "--no-fold", "t.ftrace"], tmp_path)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def _core_cli():
    import sys
    return [sys.executable, "-m", "flowtrace"]


def test_write_text_checks_fold():
    _, t = session(calls, leaf, 2)
    try:
        t._c().write_text(io.StringIO(), fold=2)
    except ValueError as e:
        assert "fold must be" in str(e)
    else:
        raise AssertionError("accepted fold=2")
    assert _core is not None
