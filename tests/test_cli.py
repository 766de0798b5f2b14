"""`flowtrace run` / `python -m flowtrace run`: the program behaves as
without FlowTrace (stdout, stderr, exit code); the tree goes to stderr."""
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import assert_golden, run_cmd, write_program

PROG = """\
import sys

def greet(name):
    print(f"hello {name}")
    return len(name)

def main():
    print("args", sys.argv[1:])
    print("name", __name__)
    n = greet("bob")
    print("to stderr", file=sys.stderr)
    return n

main()
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "exit3":
    sys.exit(3)
if mode == "exit0":
    sys.exit(0)
if mode == "exitmsg":
    sys.exit("bad things")
if mode == "boom":
    def boom():
        raise KeyError("k")
    boom()
if mode == "interrupt":
    raise KeyboardInterrupt
print("end", end="")
"""

TREE = ("→ <module __main__>\n"
        "  → main()\n"
        "    → greet()  → 3\n"
        "  ← main()  → 3\n")


@pytest.fixture
def prog(tmp_path):
    return write_program(tmp_path, PROG)


def plain(prog, *args):
    return run_cmd([sys.executable, str(prog), *args], cwd=prog.parent)


def traced(prog, *args, options=()):
    return run_cmd([sys.executable, "-m", "flowtrace", "run", *options, str(prog), *args],
                   cwd=prog.parent)


def console_script():
    exe = Path(sys.executable).parent / ("flowtrace.exe" if os.name == "nt" else "flowtrace")
    if exe.exists():
        return str(exe)
    return shutil.which("flowtrace")


@pytest.mark.parametrize("args", [(), ("a", "b c"), ("exit0",)])
def test_stdout_unchanged_and_tree_on_stderr(prog, args):
    p0 = plain(prog, *args)
    p1 = traced(prog, *args)
    assert p1.returncode == p0.returncode == 0
    assert p1.stdout == p0.stdout
    assert p0.stderr == "to stderr\n"
    # the program's own stderr first, then the tree
    assert p1.stderr.startswith(p0.stderr)
    tree = p1.stderr[len(p0.stderr):]
    assert tree.startswith(TREE)


def test_golden_tree(prog):
    p = traced(prog)
    assert p.returncode == 0, p.stderr
    assert_golden("cli_prog_tree", p.stderr[len("to stderr\n"):])


def test_console_script(prog):
    exe = console_script()
    if exe is None:
        pytest.skip("the flowtrace command is not installed in this environment")
    p0 = plain(prog, "x")
    p1 = run_cmd([exe, "run", str(prog), "x"], cwd=prog.parent)
    assert p1.returncode == 0
    assert p1.stdout == p0.stdout
    assert p1.stderr.startswith("to stderr\n" + TREE)


def test_script_argv_and_name(prog):
    p = traced(prog, "one", "--two")
    assert "args ['one', '--two']\n" in p.stdout
    assert "name __main__\n" in p.stdout


def test_exit_code_propagated(prog):
    p0 = plain(prog, "exit3")
    p1 = traced(prog, "exit3")
    assert p0.returncode == 3
    assert p1.returncode == 3
    assert p1.stdout == p0.stdout
    assert p1.stderr.startswith("to stderr\n" + TREE)
    assert "SystemExit: 3" in p1.stderr  # the module body ended by SystemExit


def test_exit_with_message(prog):
    p0 = plain(prog, "exitmsg")
    p1 = traced(prog, "exitmsg")
    assert p0.returncode == p1.returncode == 1
    assert p1.stdout == p0.stdout
    assert "bad things\n" in p1.stderr


def test_uncaught_exception(prog):
    p0 = plain(prog, "boom")
    p1 = traced(prog, "boom")
    assert p0.returncode == 1
    assert p1.returncode == 1
    assert p1.stdout == p0.stdout
    assert "Traceback (most recent call last):" in p1.stderr
    assert f'File "{prog}"' in p1.stderr or 'prog.py", line' in p1.stderr
    assert "KeyError: 'k'\n" in p1.stderr
    # the tree is still written, after the traceback
    tb_end = p1.stderr.index("KeyError: 'k'\n") + len("KeyError: 'k'\n")
    tree = p1.stderr[tb_end:]
    assert tree == TREE + ("  ↯ boom()  KeyError: 'k'\n"
                           "↯ <module __main__> KeyError: 'k'\n")


def test_keyboard_interrupt_exit_code(prog):
    """An escaping KeyboardInterrupt ends the process as Python ends it
    (killed by SIGINT on POSIX), after the trace is written."""
    p0 = plain(prog, "interrupt")
    p = traced(prog, "interrupt")
    assert p.returncode == p0.returncode != 0
    assert "KeyboardInterrupt" in p.stderr
    assert p.stderr.rstrip().endswith("↯ <module __main__> KeyboardInterrupt")


def test_output_file(prog, tmp_path):
    out = tmp_path / "tree.txt"
    p0 = plain(prog)
    p1 = traced(prog, options=("-o", str(out)))
    assert p1.returncode == 0
    assert p1.stdout == p0.stdout
    assert p1.stderr == p0.stderr  # nothing added
    text = out.read_text(encoding="utf-8")
    assert text.startswith(TREE)


def test_timing_option(prog):
    p = traced(prog, options=("--timing",))
    assert p.returncode == 0
    assert re.search(r"^    → greet\(\)  \[\d+\.\d{6}s\] → 3$", p.stderr, re.M), p.stderr


def test_no_results_option(prog):
    p = traced(prog, options=("--no-results",))
    assert p.returncode == 0
    assert p.stderr.startswith("to stderr\n→ <module __main__>\n  → main()\n    → greet()\n  ← main()\n")


def test_ascii_option(prog):
    p = traced(prog, options=("--ascii",))
    assert p.returncode == 0
    assert p.stderr.startswith("to stderr\n" + TREE.replace("→", "->").replace("←", "<-"))


def test_include_stdlib_option(tmp_path):
    script = write_program(tmp_path, """\
        import json

        def main():
            return json.dumps([1])

        main()
    """)
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", str(script)], cwd=tmp_path)
    assert "dumps" not in p.stderr
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", "--include-stdlib", str(script)],
                cwd=tmp_path)
    assert p.returncode == 0
    assert re.search(r"^ *→ dumps\(\)", p.stderr, re.M), p.stderr[-3000:]


def test_run_module(tmp_path):
    write_program(tmp_path, """\
        import sys

        def hello():
            print("hi from module", sys.argv[1:])
            return 1

        if __name__ == "__main__":
            hello()
    """, name="mymod.py")
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", "-m", "mymod", "x"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hi from module ['x']\n"
    assert "  → hello()  → 1\n" in p.stderr


def test_script_imports_sibling_module(tmp_path):
    write_program(tmp_path, """\
        def helper(x):
            return x * 2
    """, name="sibling.py")
    script = write_program(tmp_path, """\
        from sibling import helper

        print(helper(21))
    """, name="main_script.py")
    other = tmp_path / "elsewhere"
    other.mkdir()
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", str(script)], cwd=other)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "42\n"
    assert "  → helper()  → 42\n" in p.stderr


def test_missing_script(tmp_path):
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", "nope.py"], cwd=tmp_path)
    assert p.returncode == 2
    assert "nope.py" in p.stderr
    assert p.stdout == ""


def test_no_command(tmp_path):
    p = run_cmd([sys.executable, "-m", "flowtrace"], cwd=tmp_path)
    assert p.returncode == 2


def test_run_without_target(tmp_path):
    p = run_cmd([sys.executable, "-m", "flowtrace", "run"], cwd=tmp_path)
    assert p.returncode == 2
    assert "script" in p.stderr


def test_version(tmp_path):
    import flowtrace
    p = run_cmd([sys.executable, "-m", "flowtrace", "--version"], cwd=tmp_path)
    assert p.returncode == 0
    assert p.stdout.strip() == f"flowtrace {flowtrace.__version__}"


def test_program_output_unchanged_with_many_calls(tmp_path):
    script = write_program(tmp_path, """\
        def sq(x):
            return x * x

        total = 0
        for i in range(2000):
            total += sq(i)
            if i % 500 == 0:
                print(i, total)
        print("total", total)
    """)
    p0 = run_cmd([sys.executable, str(script)], cwd=tmp_path)
    p1 = run_cmd([sys.executable, "-m", "flowtrace", "run", str(script)], cwd=tmp_path)
    assert p0.returncode == p1.returncode == 0
    assert p1.stdout == p0.stdout
    lines = p1.stderr.splitlines()
    assert lines[0] == "→ <module __main__>"
    assert lines[-1] == "← <module __main__>"
    assert len(lines) == 2002


def test_decorated_function_under_cli(tmp_path):
    """Under `flowtrace run` a session is running: @trace prints nothing to
    the program's stdout and adds its arguments to the tree on stderr."""
    script = write_program(tmp_path, """\
        from flowtrace import trace

        @trace
        def add(a, b=0):
            return a + b

        print(add(2, b=3))
    """)
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", str(script)], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "5\n"
    assert "  → add(2, b=3) → 5\n" in p.stderr
