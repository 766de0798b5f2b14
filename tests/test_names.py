"""A tree that reads well: a class body is `class Account` (not
`Account()`, which reads like an instantiation), a module body `<module
pkg.mod>`, lambdas and comprehensions Python's own qualified names; the
same names in the JSON, Chrome and Perfetto files and in CallEvent; and
`flowtrace --help` lists each command with an example."""
import json
import sys

from conftest import run_cmd, session, tree_text, write_program

import flowtrace

FT = [sys.executable, "-m", "flowtrace"]

PROG = """
import shop.prices

class Account:
    rate = shop.prices.rate()

    class Entry:
        pass

    def __init__(self):
        self.f = lambda x: x + 1

def make():
    class Local:
        pass
    return Local

def main():
    a = Account()
    make()
    return [a.f(i) for i in range(2)], sum(i for i in range(2))

main()
try:
    import shop.bad
except ZeroDivisionError:
    pass
"""


def project(tmp_path):
    write_program(tmp_path, PROG)
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "prices.py").write_text("def rate():\n    return 3\n")
    (tmp_path / "shop" / "bad.py").write_text("x = 1 / 0\n")


def test_class_and_module_bodies_read_as_what_they_are(tmp_path):
    project(tmp_path)
    r = run_cmd([*FT, "run", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == (
        "→ <module __main__>\n"
        "  → <module shop>\n"
        "  → <module shop.prices>\n"
        "  → class Account\n"
        "    → rate()  → 3\n"
        "    → class Account.Entry\n"
        "  ← class Account\n"
        "  → main()\n"
        "    → Account.__init__()  → None\n"
        "    → make()\n"
        "      → class make.<locals>.Local\n"
        "    ← make()  → <class 'make.<locals>.Local'>\n"
        "    → Account.__init__.<locals>.<lambda>()  → 1\n"
        "    → Account.__init__.<locals>.<lambda>()  → 2\n"
        "    → main.<locals>.<genexpr>()  ⏸ 0\n"
        "    ▶ main.<locals>.<genexpr>()  ⏸ 1\n"
        "    ▶ main.<locals>.<genexpr>()  → None\n"
        "  ← main()  → ([1, 2], 1)\n"
        "  ↯ <module shop.bad> ZeroDivisionError: division by zero\n"
        "  ⚡ raise ZeroDivisionError: division by zero\n"
        "  ✓ caught ZeroDivisionError: division by zero\n"
        "← <module __main__>\n")


def test_a_body_that_raises_and_a_timed_body(tmp_path):
    write_program(tmp_path, "class Broken:\n    oops = 1 / 0\n")
    r = run_cmd([*FT, "run", "prog.py"], tmp_path)
    lines = r.stderr.splitlines()
    assert "  ↯ class Broken ZeroDivisionError: division by zero" in lines
    assert lines[-1] == "↯ <module __main__> ZeroDivisionError: division by zero"
    write_program(tmp_path, "class Fine:\n    pass\n")
    r = run_cmd([*FT, "run", "--timing", "prog.py"], tmp_path)
    lines = r.stderr.splitlines()
    assert lines[1].startswith("  → class Fine [") and lines[1].endswith("s]"), lines


def test_saved_files_name_them_as_the_tree_does(tmp_path):
    project(tmp_path)
    for fmt, name in (("json", "t.json"), ("chrome", "t.chrome.json")):
        r = run_cmd([*FT, "run", "--format", fmt, "-o", name, "prog.py"], tmp_path)
        assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "t.json").read_text())
    names = {f["name"] for f in doc["functions"]}
    assert {"<module __main__>", "<module shop.prices>", "class Account",
            "class Account.Entry", "class make.<locals>.Local",
            "Account.__init__.<locals>.<lambda>"} <= names
    chrome = json.loads((tmp_path / "t.chrome.json").read_text())
    slices = {e["name"] for e in chrome["traceEvents"] if e.get("ph") == "X"}
    assert {"<module __main__>", "class Account", "class Account.Entry"} <= slices
    shown = run_cmd([*FT, "show", "t.json"], tmp_path)
    direct = run_cmd([*FT, "run", "prog.py"], tmp_path)
    assert shown.stdout == direct.stderr


def test_call_events_and_a_rebuilt_tree_use_the_same_names():
    def work():
        class Point:
            pass
        return Point

    _, t = session(work)
    assert [e.func_name for e in t] == [
        "test_call_events_and_a_rebuilt_tree_use_the_same_names.<locals>.work",
        "class test_call_events_and_a_rebuilt_tree_use_the_same_names.<locals>.work"
        ".<locals>.Point"]
    assert tree_text(list(t), color=False) == tree_text(t, color=False)
    assert "  → class test_call" in tree_text(t, color=False)


def test_help_lists_every_command_with_an_example():
    r = run_cmd([*FT, "--help"], ".")
    assert r.returncode == 0
    from flowtrace.cli import _parser
    commands = _parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"\n  {name} " in r.stdout and f"flowtrace {name} " in r.stdout, name


def test_run_help_groups_its_options():
    r = run_cmd([*FT, "run", "--help"], ".")
    heads = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith(" ")
             and ln.endswith(":")]
    assert heads[-3:] == ["what is recorded:", "output:", "display (text tree):"]
    for option in ("--include", "--max-events", "--timing", "--args"):
        assert r.stdout.index("\n  " + option) < r.stdout.index("output:")
    assert r.stdout.index("\n  --fold") > r.stdout.index("display (text tree):")


def test_print_tree_of_module_level_code():
    flowtrace.start_tracing()
    exec(compile("def f():\n    return 1\nf()\n", "gen.py", "exec"), {"__name__": "gen"})
    t = flowtrace.stop_tracing()
    assert tree_text(t, color=False) == "→ <module gen>\n  → f()  → 1\n← <module gen>\n"
