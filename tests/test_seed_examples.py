"""The three examples of the founding README, character for character.

Each runs as its own program (a fresh interpreter, as a user would run it)
and its stdout is compared with the README's output.
"""
import re

from conftest import read_golden, run_py

from flowtrace import trace

SEED_FIB = """\
from flowtrace import trace

@trace
def fib(n):
    return n if n < 2 else fib(n-1) + fib(n-2)

fib(3)
"""

SEED_TIMING = """\
from flowtrace import trace

@trace(measure_time=True)
def compute(a, b):
    return a * b

compute(6, 7)
"""

SEED_SESSION = """\
from flowtrace import start_tracing, stop_tracing, print_tree

def fib(n):
    return n if n < 2 else fib(n-1) + fib(n-2)

start_tracing()
fib(3)
events = stop_tracing()
print_tree(events)
"""


def test_seed_example_1_decorator_fib():
    p = run_py(SEED_FIB)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout == read_golden("seed_decorator_fib")
    assert len(p.stdout.splitlines()) == 7


def test_seed_example_2_measure_time():
    p = run_py(SEED_TIMING)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert re.fullmatch(r"→ compute\(6, 7\) \[\d+\.\d{6}s\] → 42\n", p.stdout), p.stdout


def test_seed_example_3_manual_session():
    p = run_py(SEED_SESSION)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert p.stdout == read_golden("seed_session_fib")
    # the empty argument slot keeps its space: two spaces before the arrow
    assert "    → fib()  → 1\n" in p.stdout


def test_seed_example_3_events_model():
    """The seed's event model: seven fields, and a correct parent tree."""
    p = run_py(SEED_SESSION + """
for e in events:
    print(e.id, e.kind, e.func_name, e.parent_id, e.args_repr, e.result_repr, e.duration)
""")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()[7:]
    assert lines == [
        "0 call fib None None 2 None",
        "1 call fib 0 None 1 None",
        "2 call fib 1 None 1 None",
        "3 call fib 1 None 0 None",
        "4 call fib 0 None 1 None",
    ]


@trace
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_seed_example_1_in_process(capsys):
    """The same decorator example, run in this process (stdout captured)."""
    assert fib(3) == 2
    assert capsys.readouterr().out == read_golden("seed_decorator_fib")
