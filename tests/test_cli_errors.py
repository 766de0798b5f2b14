"""FlowTrace's own errors are one line, and its files never harm what is there
(issue 9, items 9, 11, 12): output paths that cannot be written, /dev/full,
closed pipes, symlinks, devices and FIFOs, and saved traces that are damaged
or not traces at all."""
import json
import os
import resource
import stat
import subprocess
import sys
import threading

import pytest

import flowtrace
from conftest import SUBPROCESS_TIMEOUT, _env, run_cmd, session, write_program
from flowtrace import TraceFileError, load

PROG = "def f(x):\n    return x * 2\n\nfor i in range(3):\n    f(i)\n"


def ft(args, cwd):
    return run_cmd([sys.executable, "-m", "flowtrace", *args], cwd=cwd)


@pytest.fixture
def saved(tmp_path):
    write_program(tmp_path, PROG)
    r = ft(["run", "--format", "json", "-o", "t.json", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path / "t.json"


def one_line(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowtrace: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# --- output paths -----------------------------------------------------------

@pytest.mark.parametrize("target, words", [
    ("missing/dir/t.txt", "No such file or directory"),
    (".", "Is a directory"),
])
def test_show_to_an_unwritable_path_is_one_line(saved, target, words):
    r = ft(["show", "-o", target, str(saved)], saved.parent)
    assert r.returncode == 1
    assert words in one_line(r)


@pytest.mark.parametrize("cmd", [["show"], ["stats"]])
def test_show_and_stats_to_dev_full_is_one_line(saved, cmd):
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "flowtrace", *cmd, str(saved)],
                           stdout=full, stderr=subprocess.PIPE, text=True,
                           env=_env(), timeout=SUBPROCESS_TIMEOUT)
    assert r.returncode == 1
    assert "No space left on device" in one_line(r)


def test_a_closed_pipe_ends_quietly(tmp_path):
    # 10,000 functions: more tree and more stats than a pipe's buffer holds,
    # so the writes go on after the reader has gone
    write_program(tmp_path, "\n".join(f"def g{i}():\n    return {i}\ng{i}()"
                                       for i in range(10000)))
    r = ft(["run", "--format", "json", "-o", "t.json", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    for cmd in ("show", "stats"):
        p = subprocess.Popen([sys.executable, "-m", "flowtrace", cmd, "t.json"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=_env())
        p.stdout.readline()
        p.stdout.close()  # as `| head -1` does
        err = p.stderr.read().decode()
        assert p.wait(timeout=SUBPROCESS_TIMEOUT) == 141, err
        assert err == ""


def test_run_checks_its_output_path_before_running_the_program(tmp_path):
    write_program(tmp_path, "open('ran', 'w').close()\n")
    r = ft(["run", "--format", "json", "-o", "missing/t.json", "prog.py"], tmp_path)
    assert r.returncode == 2
    assert "no such directory: missing" in one_line(r)
    assert not (tmp_path / "ran").exists()


def test_save_follows_a_symlink_and_keeps_it(tmp_path):
    with flowtrace.tracing() as t:
        sum(range(3))
    real = tmp_path / "real.json"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    t.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["format"] == "flowtrace"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []


def test_save_to_a_device_writes_through_it(tmp_path):
    with flowtrace.tracing() as t:
        sum(range(3))
    t.save("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(OSError) as ei:
        t.save("/dev/full")
    assert ei.value.errno == 28  # ENOSPC, and /dev/full is still a device
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_save_to_a_fifo_writes_through_it(tmp_path):
    with flowtrace.tracing() as t:
        sum(range(3))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    t.save(fifo)
    reader.join(timeout=SUBPROCESS_TIMEOUT)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["format"] == "flowtrace"


def test_run_output_through_a_symlink(tmp_path):
    write_program(tmp_path, PROG)
    (tmp_path / "real.json").write_text("")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    r = ft(["run", "--format", "json", "-o", "link.json", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert load(tmp_path / "real.json")[1].func_name == "f"


# --- damaged or foreign trace files ------------------------------------------

def test_a_huge_integer_is_a_trace_file_error(saved, tmp_path):
    text = saved.read_text().replace('"line":1', '"line":1' + "9" * 5000, 1)
    bad = tmp_path / "big.json"
    bad.write_text(text)
    with pytest.raises(TraceFileError, match="not a FlowTrace trace"):
        load(bad)
    for cmd in ("show", "stats"):
        r = ft([cmd, str(bad)], tmp_path)
        assert r.returncode == 1
        assert "4300 digits" in one_line(r)


def test_a_lone_surrogate_in_a_name_is_shown_escaped(saved, tmp_path):
    text = saved.read_text().replace('"name":"f"', '"name":"f\\udcff"', 1)
    bad = tmp_path / "sur.json"
    bad.write_text(text)
    for cmd in ("show", "stats"):
        r = ft([cmd, str(bad)], tmp_path)
        assert r.returncode == 0, r.stderr
        assert "f\\udcff" in r.stdout
        assert "Traceback" not in r.stderr


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's shadow memory needs more address space than the cap")
def test_dev_zero_is_refused_at_once_in_bounded_memory(tmp_path):
    code = ("import resource, flowtrace\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "try:\n    flowtrace.load('/dev/zero')\n"
            "except flowtrace.TraceFileError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(), timeout=SUBPROCESS_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "not a FlowTrace JSON trace" in r.stdout
    r = ft(["show", "/dev/zero"], tmp_path)
    assert r.returncode == 1 and "not a FlowTrace JSON trace" in one_line(r)


def test_a_large_file_of_something_else_is_refused_before_reading_it(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.write(b'{"traceEvents": [' + b"0," * (50 << 20) + b"0]}")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TraceFileError, match="Chrome trace"):
        load(big)
    grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grew_kb < 20 << 10  # the 100 MB file was not read


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_dev_stdout_is_written_into_as_it_is(tmp_path, fmt):
    """`-o /dev/stdout` goes where stdout goes: through a pipe (which has no
    path to resolve), and into a file opened by `>>` without truncating it."""
    write_program(tmp_path, PROG)
    cmd = [sys.executable, "-m", "flowtrace", "run", "--format", fmt, "-o", "/dev/stdout",
           "prog.py"]
    piped = subprocess.run(cmd, cwd=tmp_path, capture_output=True, env=_env(),
                           timeout=SUBPROCESS_TIMEOUT)
    assert piped.returncode == 0, piped.stderr
    log = tmp_path / "log"
    log.write_bytes(b"before\n")
    with open(log, "ab") as out:
        r = subprocess.run(cmd, cwd=tmp_path, stdout=out, stderr=subprocess.PIPE,
                           env=_env(), timeout=SUBPROCESS_TIMEOUT)
    assert r.returncode == 0, r.stderr
    head, rest = log.read_bytes().split(b"\n", 1)
    assert head == b"before"
    if fmt == "json":  # the same calls (the time it was made, thread ids differ)
        assert json.loads(rest)["calls"] == json.loads(piped.stdout)["calls"]
    else:
        assert rest == piped.stdout
    assert b"f()" in piped.stdout or b'"f"' in piped.stdout


def test_a_program_that_stops_the_session_itself_gets_one_line(tmp_path):
    write_program(tmp_path, "import flowtrace\nflowtrace.stop_tracing()\nprint('done')\n")
    r = ft(["run", "--format", "json", "-o", "t.json", "prog.py"], tmp_path)
    assert r.stdout == "done\n"
    assert r.returncode == 1
    assert "stopped the tracing session itself" in one_line(r)


def test_a_perfetto_trace_is_named_as_such(tmp_path):
    # a trace written with --format perfetto is not one FlowTrace reads
    # back: the one line says what it is and where it opens (for a file
    # bigger than the head that is sniffed: a smaller one is parsed, so
    # that its message does not depend on how it is read)
    def step(i):
        return i * 2

    _, t = session(lambda: [step(i) for i in range(2000)])
    path = tmp_path / "t.pftrace"
    t.save(path, format="perfetto")
    assert path.stat().st_size > 4096
    with pytest.raises(TraceFileError, match=r"looks like a Perfetto trace .* ui\.perfetto\.dev"):
        load(path)
    r = ft(["show", str(path)], tmp_path)
    assert r.returncode == 1 and "Perfetto trace" in one_line(r)
