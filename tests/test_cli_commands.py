"""The installed `flowtrace` console script, run for real in a subprocess:
exit codes, argv, -m, stdout untouched, Ctrl-C by a signal, a script that
raises, sys.exit(3), saved formats, show/stats, colour conventions."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SUBPROCESS_TIMEOUT, _env, assert_golden, run_cmd, write_program

ANSI = re.compile(r"\x1b\[[0-9;]*m")

PROG = """\
import sys

def greet(name):
    print(f"hello {name}")
    return len(name)

def fail(x):
    raise ValueError(f"no {x}")

def main():
    n = greet(sys.argv[1] if len(sys.argv) > 1 else "bob")
    if "raise" in sys.argv:
        fail(n)
    if "exit3" in sys.argv:
        sys.exit(3)
    return n

main()
"""


def flowtrace_cmd():
    exe = Path(sys.executable).parent / "flowtrace"
    if not exe.exists():
        pytest.skip("the flowtrace console script is not installed")
    return [str(exe)]


@pytest.fixture
def prog(tmp_path):
    return write_program(tmp_path, PROG)


def ft(args, cwd, env=None):
    return run_cmd([*flowtrace_cmd(), *args], cwd=cwd, env=env)


def test_help_explains_every_option(tmp_path):
    p = ft(["run", "--help"], tmp_path)
    assert p.returncode == 0
    for opt in ("-o", "--format", "--timing", "--args", "--no-results", "--max-depth",
                "--include", "--exclude", "--include-stdlib", "--color", "--ascii", "-m"):
        assert re.search(rf"(^|\s){re.escape(opt)}[\s,]", p.stdout), opt
    assert "precedence" in p.stdout
    for cmd in ("show", "stats"):
        assert ft([cmd, "--help"], tmp_path).returncode == 0
    p = ft(["--help"], tmp_path)
    assert all(c in p.stdout for c in ("run", "show", "stats"))


def test_version(tmp_path):
    import flowtrace
    assert ft(["--version"], tmp_path).stdout.strip() == f"flowtrace {flowtrace.__version__}"


def test_exit_code_argv_stdout(prog):
    p0 = run_cmd([sys.executable, str(prog), "ann", "exit3"], cwd=prog.parent)
    p1 = ft(["run", str(prog), "ann", "exit3"], prog.parent)
    assert p0.returncode == p1.returncode == 3
    assert p1.stdout == p0.stdout == "hello ann\n"
    assert "  → greet()  → 3\n" in p1.stderr


def test_script_that_raises_still_writes_trace(prog, tmp_path):
    out = tmp_path / "t.json"
    p = ft(["run", "--format", "json", "-o", str(out), str(prog), "x", "raise"], prog.parent)
    assert p.returncode == 1
    assert "Traceback (most recent call last):" in p.stderr
    assert "ValueError: no 1" in p.stderr
    assert "flowtrace" not in p.stderr.split("ValueError: no 1")[0].split("Traceback")[1]
    doc = json.loads(out.read_text(encoding="utf-8"))
    ends = {doc["functions"][c["function"]]["name"]: c["end"] for c in doc["calls"]}
    assert ends["fail"] == "raise" and ends["greet"] == "return"


def test_run_module_with_options_after_it(tmp_path):
    write_program(tmp_path, """\
        import sys

        def hello():
            print("argv", sys.argv[1:])
            return 1

        hello()
    """, name="mymod.py")
    p = ft(["run", "--timing", "-m", "mymod", "--timing", "-o", "x"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "argv ['--timing', '-o', 'x']\n"
    assert re.search(r"→ hello\(\)  \[\d\.\d{6}s\] → 1", p.stderr)


def test_python_dash_m_flowtrace(prog):
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", str(prog)], cwd=prog.parent)
    assert p.returncode == 0 and p.stdout == "hello bob\n"


def test_ctrl_c_stops_and_writes(tmp_path):
    script = write_program(tmp_path, """\
        import time

        def tick(i):
            return i

        def main():
            i = 0
            print("ready", flush=True)
            while True:
                tick(i)
                i += 1
                time.sleep(0.001)

        main()
    """)
    out = tmp_path / "t.json"
    proc = subprocess.Popen([*flowtrace_cmd(), "run", "--format", "json", "-o", str(out),
                             str(script)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env())
    try:
        ready, _, _ = select.select([proc.stdout], [], [], SUBPROCESS_TIMEOUT)
        assert ready and proc.stdout.readline() == b"ready\n"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGINT  # as python itself ends
    err = err.decode()
    assert "KeyboardInterrupt" in err and "calls saved to" in err
    doc = json.loads(out.read_text(encoding="utf-8"))
    names = [doc["functions"][c["function"]]["name"] for c in doc["calls"]]
    assert names[:2] == ["<module __main__>", "main"] and names.count("tick") > 3


def test_default_output_files(prog):
    p = ft(["run", "--format", "json", str(prog)], prog.parent)
    assert p.returncode == 0 and p.stdout == "hello bob\n"
    assert (prog.parent / "flowtrace.json").exists()
    p = ft(["run", "--format", "chrome", str(prog)], prog.parent)
    assert p.returncode == 0
    doc = json.loads((prog.parent / "flowtrace.chrome.json").read_text(encoding="utf-8"))
    assert any(ev["ph"] == "X" and ev["name"] == "greet" for ev in doc["traceEvents"])


def test_show_reproduces_run_tree(prog, tmp_path):
    p1 = ft(["run", "--args", str(prog), "ann"], prog.parent)
    out = tmp_path / "t.json"
    ft(["run", "--args", "--format", "json", "-o", str(out), str(prog), "ann"], prog.parent)
    p2 = ft(["show", str(out)], tmp_path)
    assert p2.returncode == 0
    assert p2.stdout == p1.stderr
    assert "→ greet('ann') → 3" in p2.stdout
    p3 = ft(["show", "--max-depth", "1", str(out)], tmp_path)
    assert p3.stdout == "→ <module __main__> (+2 calls)\n"
    assert_golden("cli_show_args", p2.stdout)


def test_stats(tmp_path):
    script = write_program(tmp_path, """\
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        def main():
            return fib(6) + fib(2)

        main()
    """)
    out = tmp_path / "t.json"
    ft(["run", "--timing", "--format", "json", "-o", str(out), str(script)], tmp_path)
    p = ft(["stats", str(out)], tmp_path)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["calls", "raised", "total", "s", "self", "s", "function"]
    assert " <module __main__>  (" in lines[1]  # largest total first
    fib = [ln for ln in lines if " fib  (" in ln][0].split()
    assert fib[0] == "28"  # 25 calls for fib(6), 3 for fib(2)
    assert lines[-1] == "30 calls, 3 functions"  # as run counts calls
    p = ft(["stats", "--top", "1", "--sort", "calls", str(out)], tmp_path)
    assert len(p.stdout.splitlines()) == 3 and " fib  (" in p.stdout.splitlines()[1]
    # without timing: counts only
    ft(["run", "--format", "json", "-o", str(out), str(script)], tmp_path)
    p = ft(["stats", str(out)], tmp_path)
    assert p.stdout.splitlines()[0].split() == ["calls", "raised", "function"]
    assert "(no timing recorded)" in p.stdout


@pytest.mark.parametrize("content, words", [
    (b'{"format": "flowtrace", "version": 1, "functions": [', "truncated"),
    (b"garbage", "not valid JSON"),
    (b'{"format": "flowtrace", "version": 1, "functions": [], "threads": [], '
     b'"calls": [{"id": 0}]}', "calls[0]"),
])
@pytest.mark.parametrize("cmd", ["show", "stats"])
def test_bad_file_one_line_error(tmp_path, content, words, cmd):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    p = ft([cmd, str(path)], tmp_path)
    assert p.returncode == 1
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and words in p.stderr
    assert p.stderr.startswith("flowtrace: ") and "Traceback" not in p.stderr


def test_missing_file(tmp_path):
    p = ft(["show", str(tmp_path / "none.json")], tmp_path)
    assert p.returncode == 1 and len(p.stderr.splitlines()) == 1


# ---------------------------------------------------------------------------
# colour

def test_color_never_on_non_terminal(prog):
    p = ft(["run", str(prog)], prog.parent)
    assert "\x1b[" not in p.stderr


def test_color_always(prog):
    p0 = ft(["run", str(prog)], prog.parent)
    p1 = ft(["run", "--color", "always", str(prog)], prog.parent)
    assert "\x1b[" in p1.stderr
    assert ANSI.sub("", p1.stderr) == p0.stderr  # same layout
    assert p1.stdout == p0.stdout == "hello bob\n"  # the program's output untouched


def test_force_color_env(prog):
    p = ft(["run", str(prog)], prog.parent, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in p.stderr
    p = ft(["run", "--color", "never", str(prog)], prog.parent, env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in p.stderr


def test_no_color_env_wins(prog):
    p = ft(["run", str(prog)], prog.parent, env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert "\x1b[" not in p.stderr
    p = ft(["run", "--color", "always", str(prog)], prog.parent, env={"NO_COLOR": "1"})
    assert "\x1b[" in p.stderr


@pytest.mark.skipif(os.name != "posix", reason="needs a pty")
def test_color_auto_on_a_terminal(prog):
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.run([*flowtrace_cmd(), "run", str(prog)], cwd=prog.parent,
                           stdout=subprocess.PIPE, stderr=slave, env=_env(),
                           timeout=SUBPROCESS_TIMEOUT)
        os.close(slave)
        slave = -1
        data = b""
        while True:
            r, _, _ = select.select([master], [], [], 2)
            if not r:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    assert b"\x1b[" in data and b"greet" in data


def test_ascii_when_encoding_cannot_show_arrows(prog):
    p = ft(["run", str(prog)], prog.parent, env={"PYTHONIOENCODING": "ascii"})
    assert p.returncode == 0
    assert "-> greet()  -> 3" in p.stderr


def test_show_converts_a_saved_trace(prog, tmp_path):
    # `show --format` turns a saved trace into any other format, as `run`
    # would have written it: the same tree comes back from each.
    rec = tmp_path / "t.ftrace"
    assert ft(["run", "--args", "-o", str(rec), str(prog), "ann"], prog.parent).returncode == 0
    tree = ft(["show", str(rec)], tmp_path).stdout
    assert "→ greet('ann') → 3" in tree
    p = ft(["show", "--format", "json", str(rec)], tmp_path)  # next to it: t.json
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"flowtrace: 3 calls saved to .*t\.json \(json, [\d.]+ kB\)\n", p.stderr)
    assert ft(["show", str(tmp_path / "t.json")], tmp_path).stdout == tree
    p = ft(["show", str(rec), "-o", str(tmp_path / "c.json"), "--format", "chrome"], tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert any(ev["ph"] == "X" and ev["name"] == "greet" for ev in doc["traceEvents"])
    # the output's name says the format, as with run
    p = ft(["show", str(tmp_path / "t.json"), "-o", str(tmp_path / "p.pftrace")], tmp_path)
    assert p.returncode == 0 and (tmp_path / "p.pftrace").read_bytes()[:1] == b"\x0a"
    p = ft(["show", str(rec), "--format", "json", "-o", "-"], tmp_path)
    assert json.loads(p.stdout)["format"] == "flowtrace" and p.stderr == ""


def test_show_conversion_errors_are_one_line(prog, tmp_path):
    js = tmp_path / "t.json"
    ft(["run", "-o", str(js), "--format", "json", str(prog)], prog.parent)
    # a JSON trace has no records to keep in a .ftrace
    p = ft(["show", str(js), "--format", "ftrace"], tmp_path)
    assert p.returncode == 1 and not (tmp_path / "t.ftrace").exists()
    assert p.stderr.startswith("flowtrace: ") and p.stderr.count("\n") == 1, p.stderr
    assert "save it as json" not in p.stderr and "saves as json, chrome" in p.stderr
    # never written over the file it reads
    p = ft(["show", str(js), "--format", "json"], tmp_path)
    assert p.returncode == 1 and "is the file being read" in p.stderr
    assert p.stderr.count("\n") == 1
    # a place that cannot be written is said before the trace is read
    p = ft(["show", str(js), "--format", "chrome", "-o", str(tmp_path / "no" / "c.json")], tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "no such directory" in p.stderr
    # the tree's own options do not apply to another format
    p = ft(["show", str(js), "--format", "chrome", "--callers", "greet"], tmp_path)
    assert p.returncode == 2 and "--callers" in p.stderr
