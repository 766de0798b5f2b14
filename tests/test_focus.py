"""show --focus / print_tree(focus=...): only the subtrees of matching
calls, each after a line with the calls it is in; depths and max_depth
count from the matching call; a match inside a match is part of the
outer subtree; no match is said, not an empty output."""
import io
import sys

from conftest import run_cmd, write_program

import flowtrace


def leaf(x):
    return x + 1


def parse(x):
    return leaf(x) * 2


def parse_all(xs):
    return [parse(x) for x in xs]


def helper():
    return parse(10)


def main():
    parse_all([1, 2])
    return helper()


def text(t, **kw):
    out = io.StringIO()
    flowtrace.print_tree(t, out, color=False, **kw)
    return out.getvalue()


def record():
    flowtrace.start_tracing()
    main()
    return flowtrace.stop_tracing()


def test_each_outermost_match_with_its_path():
    t = record()
    # (comprehensions are inlined since 3.12, PEP 709: no <listcomp> frame)
    assert text(t, focus="parse") == (
        "⋯ main › parse_all\n"
        "→ parse()\n"
        "  → leaf()  → 2\n"
        "← parse()  → 4\n"
        "⋯ main › parse_all\n"
        "→ parse()\n"
        "  → leaf()  → 3\n"
        "← parse()  → 6\n"
        "⋯ main › helper\n"
        "→ parse()\n"
        "  → leaf()  → 11\n"
        "← parse()  → 22\n"
    )


def test_a_match_inside_a_match_stays_in_the_outer_subtree():
    t = record()
    out = text(t, focus="parse*")
    assert out.count("⋯") == 2  # parse_all, then helper's parse
    assert out.splitlines()[:2] == ["⋯ main", "→ parse_all()"]


def test_max_depth_counts_from_the_match():
    t = record()
    assert text(t, focus="parse_all", max_depth=1) == (
        "⋯ main\n"
        "→ parse_all()  → [4, 6] (+4 calls)\n")


def test_root_match_and_ascii():
    t = record()
    assert text(t, focus="main", max_depth=1, ascii=True) == (
        "... (a root)\n"
        "-> main()  -> 22 (+8 calls)\n")


def test_no_match_is_said():
    t = record()
    assert text(t, focus="nothing*") == "⋯ no call matches the focus nothing*\n"


def test_focus_must_be_a_string():
    import pytest
    with pytest.raises(TypeError):
        text(record(), focus=3)


def test_cli_show_focus(tmp_path):
    prog = write_program(tmp_path, """
        def leaf(x):
            return x + 1
        def parse(x):
            return leaf(x)
        def main():
            return parse(1) + parse(2)
        main()
    """)
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "-o", "t.ftrace", str(prog)], tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cmd([sys.executable, "-m", "flowtrace", "show", "--color", "never", "--focus",
                 "parse", "t.ftrace"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("⋯ <module __main__> › main\n→ parse()\n  → leaf()  → 2\n← parse()  → 2\n"
                        "⋯ <module __main__> › main\n→ parse()\n  → leaf()  → 3\n← parse()  → 3\n")


def callers(t, pattern, **kw):
    out = io.StringIO()
    t._c().write_callers(out, pattern, **kw)
    return out.getvalue()


def test_callers_merge_the_paths_most_calls_first():
    t = record()
    assert callers(t, "parse") == (
        "parse  3 calls\n"
        "  ← parse_all  2\n"
        "    ← main  2\n"
        "  ← helper  1\n"
        "    ← main  1\n")


def test_callers_depth_and_ascii_and_no_match():
    t = record()
    assert callers(t, "leaf", max_depth=1, ascii=True) == "leaf  3 calls\n  <- parse  3\n"
    assert callers(t, "nothing*") == "⋯ no call matches nothing*\n"


def test_callers_of_a_recursive_function_count_each_call():
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    flowtrace.start_tracing()
    fib(3)
    t = flowtrace.stop_tracing()
    out = callers(t, "*fib")
    first = out.splitlines()[0]
    assert first.endswith("fib  5 calls"), out
    assert "  ← test_callers_of_a_recursive_function_count_each_call.<locals>.fib  4" in out


def test_cli_show_callers(tmp_path):
    prog = write_program(tmp_path, """
        def leaf(x):
            return x + 1
        def a():
            return leaf(1)
        def b():
            return leaf(2) + a()
        b()
    """)
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "-o", "t.ftrace", str(prog)], tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cmd([sys.executable, "-m", "flowtrace", "show", "--callers", "leaf", "t.ftrace"],
                tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("leaf  2 calls\n"
                        "  ← b  1\n"
                        "    ← <module __main__>  1\n"
                        "  ← a  1\n"
                        "    ← b  1\n"
                        "      ← <module __main__>  1\n")


def test_a_run_of_one_function_in_the_path_is_counted():
    def rec(n):
        return rec(n - 1) if n else leaf(0)

    flowtrace.start_tracing()
    rec(3)
    t = flowtrace.stop_tracing()
    out = text(t, focus="leaf")
    assert out.splitlines()[0] == \
        "⋯ test_a_run_of_one_function_in_the_path_is_counted.<locals>.rec ×4"
    assert text(t, focus="leaf", ascii=True).splitlines()[0].endswith(".rec x4")


def test_callers_counts_have_thousands_separators():
    flowtrace.start_tracing()
    for i in range(1500):
        leaf(i)
    t = flowtrace.stop_tracing()
    # (the test's own frame never left while tracing: the calls are roots)
    assert callers(t, "leaf").splitlines() == ["leaf  1,500 calls"]
