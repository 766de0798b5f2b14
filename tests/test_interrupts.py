"""A KeyboardInterrupt or SystemExit raised in user code FlowTrace runs (a
__repr__ with @trace or --full-repr, an exception's __str__) reaches the
program, raised where the event happened, as it would have untraced a
moment later (issue 9, item 6). An ordinary error in a __repr__ is still
FlowTrace's to show and the program goes on."""
import io
import signal
import subprocess
import sys

import pytest

import flowtrace
from conftest import SUBPROCESS_TIMEOUT, _env, run_py, write_program

CTRL_C = """\
import os, signal

class Slow:
    def __repr__(self):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while it is being shown
        return "Slow()"
"""


class Interrupts:
    def __init__(self, exc):
        self.exc = exc
        self.calls = 0

    def __repr__(self):
        self.calls += 1
        raise self.exc


def test_ctrl_c_in_an_argument_repr_interrupts_before_the_call():
    ran = []

    @flowtrace.trace
    def f(x):
        ran.append(x)
        return 1

    with pytest.raises(KeyboardInterrupt):
        f(Interrupts(KeyboardInterrupt()))
    assert ran == []
    assert f(2) == 1 and ran == [2]  # and the next call is traced as usual


def test_ctrl_c_in_a_result_repr_is_raised_by_the_call():
    out = io.StringIO()

    @flowtrace.trace
    def g():
        return Interrupts(KeyboardInterrupt())

    old = sys.stdout
    sys.stdout = out
    try:
        with pytest.raises(KeyboardInterrupt):
            g()
    finally:
        sys.stdout = old
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("↯ ") and last.endswith(".g() KeyboardInterrupt"), out.getvalue()


def test_sys_exit_in_a_repr_exits():
    r = run_py("""\
        import sys, flowtrace
        class Exit:
            def __repr__(self):
                sys.exit(7)
        @flowtrace.trace
        def h():
            return Exit()
        h()
        print("not reached")
    """)
    assert r.returncode == 7
    assert "not reached" not in r.stdout


def test_one_interruption_runs_no_more_reprs():
    """After the Ctrl-C, the remaining arguments are shown without running
    their __repr__: the program is being interrupted."""
    second = Interrupts(ValueError())

    @flowtrace.trace
    def f(a, b):
        return 0

    with pytest.raises(KeyboardInterrupt):
        f(Interrupts(KeyboardInterrupt()), second)
    assert second.calls == 0


def test_an_error_in_a_repr_is_shown_and_the_program_goes_on():
    @flowtrace.trace
    def f(x):
        return 5

    out = io.StringIO()
    old = sys.stdout
    sys.stdout = out
    try:
        assert f(Interrupts(ValueError("no"))) == 5
    finally:
        sys.stdout = old
    assert out.getvalue().endswith(".f(<repr failed: ValueError>) → 5\n")


@pytest.mark.parametrize("where", ["argument", "result", "exception"])
def test_run_full_repr_ctrl_c_ends_the_program_as_sigint_would(tmp_path, where):
    body = {
        "argument": "def f(x):\n    return 1\n\nf(Slow())\n",
        "result": "def f():\n    return Slow()\n\nf()\n",
        "exception": ("class E(Exception):\n    def __str__(self):\n"
                      "        os.kill(os.getpid(), signal.SIGINT)\n        return 'e'\n\n"
                      "def f():\n    raise E()\n\ntry:\n    f()\nexcept E:\n    pass\n"),
    }[where]
    write_program(tmp_path, CTRL_C + body + "print('went on')\n")
    r = subprocess.run([sys.executable, "-m", "flowtrace", "run", "--full-repr", "--args",
                        "prog.py"], cwd=tmp_path, capture_output=True, text=True,
                       env=_env(), timeout=SUBPROCESS_TIMEOUT)
    assert "went on" not in r.stdout
    assert r.returncode == -signal.SIGINT, r.stderr
    assert "KeyboardInterrupt" in r.stderr
