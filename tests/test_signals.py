"""`flowtrace run` killed by SIGTERM or SIGHUP still writes its trace, then
dies by the same signal, as the untraced program would (issue 9, item 10).
A handler the program installs, a signal it ignores, and a forked child's
death are left as they are without FlowTrace."""
import os
import signal
import subprocess
import sys

import pytest

from conftest import SUBPROCESS_TIMEOUT, _env, write_program
from flowtrace import load

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

WAITS = """\
import sys

def work(n):
    return n * 2

def wait():
    print("ready", flush=True)
    return sys.stdin.readline()

work(21)
wait()
print("after", flush=True)
"""


def start(tmp_path, source, traced=True, ignore=()):
    write_program(tmp_path, source)
    cmd = [sys.executable, "-m", "flowtrace", "run", "--format", "json", "-o", "t.json",
           "prog.py"] if traced else [sys.executable, "prog.py"]

    def child_setup():
        for sig in ignore:
            signal.signal(sig, signal.SIG_IGN)

    p = subprocess.Popen(cmd, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=_env(),
                         preexec_fn=child_setup)
    assert p.stdout.readline() == "ready\n"
    return p


def finish(p, line=""):
    try:
        out, err = p.communicate(line, timeout=SUBPROCESS_TIMEOUT)
    except BrokenPipeError:  # it has gone: nothing to tell it
        out, err = p.communicate(timeout=SUBPROCESS_TIMEOUT)
    return p.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_killed_run_writes_its_trace_and_dies_by_the_signal(tmp_path, sig):
    plain = start(tmp_path, WAITS, traced=False)
    plain.send_signal(sig)
    code0, out0, _ = finish(plain)
    assert code0 == -sig

    p = start(tmp_path, WAITS)
    p.send_signal(sig)
    code, out, err = finish(p)
    assert code == code0 == -sig
    assert out == out0 == ""  # "after" never printed: the program did not go on
    assert "saved to t.json" in err
    calls = load(tmp_path / "t.json")
    names = [c.func_name for c in calls]
    assert names[:3] == ["<module __main__>", "work", "wait"]
    assert calls[1].result_repr == "42"


def test_the_programs_own_handler_wins(tmp_path):
    source = WAITS.replace("work(21)\n", (
        "import signal\n"
        "def bye(signum, frame):\n"
        "    print('bye', flush=True)\n"
        "    sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "work(21)\n"))
    p = start(tmp_path, source)
    p.send_signal(signal.SIGTERM)
    code, out, err = finish(p)
    assert (code, out) == (3, "bye\n")
    names = [c.func_name for c in load(tmp_path / "t.json")]
    assert "bye" in names  # the program went on to its own end, traced


def test_an_ignored_signal_stays_ignored(tmp_path):
    p = start(tmp_path, WAITS, ignore=(signal.SIGTERM,))
    p.send_signal(signal.SIGTERM)
    code, out, err = finish(p, "go on\n")
    assert (code, out) == (0, "after\n")
    assert "saved to t.json" in err


def test_a_forked_child_killed_by_sigterm_does_not_write_the_trace(tmp_path):
    source = """\
import multiprocessing as mp, time

def sleeper():
    time.sleep(60)

def main():
    ctx = mp.get_context("fork")
    c = ctx.Process(target=sleeper)
    c.start()
    time.sleep(0.2)
    c.terminate()
    c.join()
    print("child", c.exitcode, flush=True)

main()
"""
    write_program(tmp_path, source)
    r = subprocess.run([sys.executable, "-m", "flowtrace", "run", "--format", "json",
                        "-o", "t.json", "prog.py"], cwd=tmp_path, capture_output=True,
                       text=True, env=_env(), timeout=SUBPROCESS_TIMEOUT)
    assert (r.returncode, r.stdout) == (0, f"child {-signal.SIGTERM}\n"), r.stderr
    assert r.stderr.count("saved to t.json") == 1, r.stderr
    names = [c.func_name for c in load(tmp_path / "t.json")]
    assert "main" in names and "sleeper" not in names
