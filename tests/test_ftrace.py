"""The .ftrace binary trace (docs/ftrace-format.md): the recording itself.

A trace saved as .ftrace and loaded back must be the same trace: the same
text tree, the same FlowTrace JSON (but its "meta"), the same stats, the
same threads and dropped count, on every program of tests/programs and with
every recording option. A damaged file (truncated anywhere, any byte
flipped, a wrong version) is one TraceFileError line, never a crash. The
CLI picks the format for a .ftrace name, and show/stats read it.
"""
from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SUBPROCESS_TIMEOUT, _env, run_cmd, session, tree_text, write_program

import flowtrace
from flowtrace import TraceFileError, load, save

HERE = Path(__file__).resolve().parent
MAGIC = b"\x89FTR\r\n\x1a\n"

ROUNDTRIP_ALL = r"""
import contextlib, importlib.util, io, json, os, sys
import flowtrace
from flowtrace import _core

def text(core):
    s = io.StringIO(); core.write_text(s); return s.getvalue()

def doc(core):
    s = io.StringIO(); core.write_json(s); d = json.loads(s.getvalue()); d.pop("meta", None)
    return d

bad = []
programs = sys.argv[2:]
options = json.loads(sys.argv[1])
for path in programs:
    spec = importlib.util.spec_from_file_location("prog_" + os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for opts in options:
        with contextlib.redirect_stdout(io.StringIO()):
            flowtrace.start_tracing(**opts)
            try:
                mod.main()
            except BaseException:
                pass
            t = flowtrace.stop_tracing()
        core = t._core
        buf = io.BytesIO()
        core.write_ftrace(buf)
        data = buf.getvalue()
        back = _core.Trace._from_ftrace(data)
        again = io.BytesIO()
        back.write_ftrace(again)
        checks = {
            "text": text(core) == text(back),
            "json": doc(core) == doc(back),
            "stats": core.stats() == back.stats(),
            "threads": core.threads() == back.threads(),
            "resave": again.getvalue() == data,
        }
        failed = [k for k, ok in checks.items() if not ok]
        if failed:
            bad.append([os.path.basename(path), opts, failed])
print(json.dumps(bad))
"""


def test_every_program_round_trips_through_ftrace(tmp_path):
    programs = sorted(str(p) for p in (HERE / "programs").glob("*.py")
                      if not p.name.startswith("_"))
    options = [{}, {"timing": True, "args": True}, {"full_repr": True}, {"results": False}]
    script = write_program(tmp_path, ROUNDTRIP_ALL, "roundtrip_all.py")
    proc = subprocess.run([sys.executable, str(script), json.dumps(options), *programs],
                          cwd=tmp_path, capture_output=True, text=True, encoding="utf-8",
                          env=_env(), timeout=SUBPROCESS_TIMEOUT * 3)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def work():
    out = []
    for i in range(50):
        out.append(str(i) * 3)
        fib(5)
    try:
        int("x")
    except ValueError:
        pass
    return out[-1]


def record(**options):
    flowtrace.start_tracing(**options)
    work()
    return flowtrace.stop_tracing()


def ftrace_bytes(t) -> bytes:
    buf = io.BytesIO()
    save(t, buf, format="ftrace")
    return buf.getvalue()


def test_flight_recorder_keeps_what_it_kept(tmp_path):
    t = record(max_events=200)
    assert t.dropped > 0
    path = tmp_path / "ring.ftrace"
    t.save(path, format="ftrace")
    t2 = load(path)
    assert tree_text(t2) == tree_text(t)
    assert t2.dropped == t.dropped


def test_ftrace_is_smaller_than_json(tmp_path):
    t = record(timing=True)
    data = ftrace_bytes(t)
    js = io.StringIO()
    save(t, js, format="json")
    assert data.startswith(MAGIC)
    assert len(data) * 2 < len(js.getvalue().encode())


def test_rebuilt_trace_cannot_be_saved_as_ftrace():
    _, t = session(work)
    rebuilt = flowtrace.Trace(flowtrace._core.Trace.from_events(list(t)))
    with pytest.raises(ValueError, match="keeps a recording's events"):
        save(rebuilt, io.BytesIO(), format="ftrace")


def test_ftrace_needs_a_binary_file():
    with pytest.raises(ValueError, match="binary"):
        save(record(), io.StringIO(), format="ftrace")


@pytest.fixture(scope="module")
def good() -> bytes:
    return ftrace_bytes(record(timing=True, args=True))


def blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(kind, offset, end) of each block."""
    out, off = [], 32
    while off < len(data):
        kind, _, length = struct.unpack_from("<IIQ", data, off)
        end = off + 16 + (length + 7) // 8 * 8 + 8
        out.append((kind, off, end))
        off = end
        if kind == 4:
            break
    return out


def test_good_file_layout(good):
    kinds = [k for k, _, _ in blocks(good)]
    assert kinds[-3:] == [2, 1, 4] and set(kinds[:-3]) == {3}
    assert blocks(good)[-1][2] == len(good)


def load_error(tmp_path, data: bytes) -> str:
    path = tmp_path / "bad.ftrace"
    path.write_bytes(data)
    with pytest.raises(TraceFileError) as e:
        load(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


def test_truncated_at_every_block_boundary_and_inside(tmp_path, good):
    cuts = {8, 31, 32}
    for _, off, end in blocks(good):
        cuts |= {off, off + 8, off + 16, (off + end) // 2, end - 8, end - 1}
    for cut in sorted(c for c in cuts if 0 < c < len(good)):
        msg = load_error(tmp_path, good[:cut])
        assert "truncated" in msg or "ftrace signature" in msg, (cut, msg)


def test_every_flipped_byte_is_refused(tmp_path, good):
    rng = random.Random(7)
    spots = sorted(set(range(0, 32)) | set(rng.sample(range(32, len(good)), 300)))
    for i in spots:
        bad = bytearray(good)
        bad[i] ^= 1 << rng.randrange(8)
        try:
            t = load(_write(tmp_path, bytes(bad)))
        except TraceFileError as e:
            assert "\n" not in str(e)
            continue
        raise AssertionError(f"byte {i} flipped and the file loaded: {len(t)} calls")


def _write(tmp_path, data: bytes) -> Path:
    path = tmp_path / "x.ftrace"
    path.write_bytes(data)
    return path


def test_newer_version_is_named(tmp_path, good):
    bad = bytearray(good)
    struct.pack_into("<I", bad, 8, 2)
    assert "written by a newer FlowTrace" in load_error(tmp_path, bytes(bad))


def test_valid_checksum_but_bad_content_is_refused(tmp_path, good):
    """A hand-made file with correct checksums but a code id out of the
    table: refused by the checks, not only by the checksum."""
    from flowtrace._core import Trace  # noqa: F401
    data = bytearray(good)
    kind, off, end = blocks(good)[0]
    assert kind == 3
    _, _, length = struct.unpack_from("<IIQ", data, off)
    payload = off + 16
    nrec = struct.unpack_from("<Q", data, payload + 16)[0]
    rec_at = payload + length - 8 * nrec
    word = struct.unpack_from("<Q", data, rec_at)[0]
    word = (word & ~(((1 << 26) - 1) << 6)) | (((1 << 26) - 1) << 6)  # code id 2^26-1
    struct.pack_into("<Q", data, rec_at, word)
    struct.pack_into("<Q", data, end - 8, _checksum(bytes(data[off:end - 8])))
    assert "code" in load_error(tmp_path, bytes(data))


def _checksum(payload: bytes) -> int:
    mask = (1 << 64) - 1
    h = 0x9E3779B97F4A7C15 ^ len(payload)
    padded = payload + b"\0" * (-len(payload) % 8)
    for (w,) in struct.iter_unpack("<Q", padded):
        h = ((h ^ w) * 0xFF51AFD7ED558CCD) & mask
        h = ((h << 29) | (h >> 35)) & mask
    return h ^ (h >> 32)


def test_checksum_is_the_documented_one(good):
    for kind, off, end in blocks(good):
        assert struct.unpack_from("<Q", good, end - 8)[0] == _checksum(good[off:end - 8]), kind
    header = bytearray(good[:32])
    header[20:24] = b"\0\0\0\0"
    assert struct.unpack_from("<I", good, 20)[0] == _checksum(bytes(header)) & 0xFFFFFFFF


PROGRAM = """
import threading
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
def main():
    t = threading.Thread(target=fib, args=(4,), name="worker")
    t.start(); t.join()
    return fib(6)
print(main())
"""


def test_cli_run_infers_ftrace_then_show_and_stats(tmp_path):
    prog = write_program(tmp_path, PROGRAM)
    exe = [sys.executable, "-m", "flowtrace"]
    direct = run_cmd([*exe, "run", "--color", "never", str(prog)], tmp_path)
    saved = run_cmd([*exe, "run", "-o", "t.ftrace", str(prog)], tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout == direct.stdout == "8\n"
    assert (tmp_path / "t.ftrace").read_bytes().startswith(MAGIC)
    assert " calls saved to t.ftrace (ftrace, " in saved.stderr
    shown = run_cmd([*exe, "show", "--color", "never", "t.ftrace"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == direct.stderr
    stats = run_cmd([*exe, "stats", "t.ftrace"], tmp_path)
    assert stats.returncode == 0 and " fib " in stats.stdout, stats.stderr


def test_cli_show_of_a_damaged_ftrace_is_one_line(tmp_path, good):
    (tmp_path / "bad.ftrace").write_bytes(good[:len(good) // 2])
    r = run_cmd([sys.executable, "-m", "flowtrace", "show", "bad.ftrace"], tmp_path)
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "truncated" in r.stderr


def ring_step(i):
    return i


def ring_gen(n):
    for i in range(n):
        yield i  # a generator's entries carry their order too: an odd word


def test_timed_flight_recorder_never_starts_on_a_bare_timestamp(tmp_path):
    # A timed event is a record and its timestamp. When a chunk boundary
    # fell between the two, the ring could drop the chunk holding the
    # record and keep the one starting with its timestamp: read as a
    # record, the timestamp made a bogus event (or an unloadable file).
    # Every window size and loop length below lands the boundaries
    # differently; each must give a well-formed tree that saves and loads.
    for max_events in (200, 333, 1000, 1001):
        for n in (5_000, 5_001, 5_003):
            flowtrace.start_tracing(max_events=max_events, timing=True)
            for i in ring_gen(n):
                ring_step(i)
            t = flowtrace.stop_tracing()
            assert t.dropped > 0
            names = {e.func_name for e in t}
            assert names <= {"ring_step", "ring_gen", "test_timed_flight_recorder_never_starts_on_a_bare_timestamp"}, names
            path = tmp_path / "ring.ftrace"
            t.save(path, format="ftrace")
            assert tree_text(load(path)) == tree_text(t)


def ring_args(a, b, c, d, e, f):
    return a


def test_flight_recorder_never_shows_part_of_a_calls_arguments():
    # With args=True a call's arguments are records before its start. When
    # the ring dropped the chunk holding the first of them, the call must
    # not show the others as if they were all (f(e=5, f=6) for a call of
    # six): its arguments are unknown, not fewer.
    full = "0, 1, 2, 3, 4, 5"
    cut = 0
    for max_events in (100, 333):
        for shift in range(8):  # a call is 8 records: each shift moves the cut
            flowtrace.start_tracing(max_events=max_events, args=True)
            for i in range(shift):
                ring_step(i)  # 3 records
            for i in range(3_000):
                ring_args(0, 1, 2, 3, 4, 5)
            t = flowtrace.stop_tracing()
            assert t.dropped > 0
            for e in t:
                if e.func_name == "ring_args":
                    assert e.args_repr in (full, None), e.args_repr
                    cut += e.args_repr is None
    assert cut > 0  # some window did begin inside a call's arguments


def test_a_trace_read_for_its_tree_gives_its_records_back(tmp_path):
    # show, stats and the viewer read a .ftrace for its tree only: the
    # records are given back as the tree is built from them, so that a big
    # file is never held twice. The tree, the counts and every other
    # format are the same; saving it as ftrace is refused in one line.
    t = record(timing=True, args=True)
    path = tmp_path / "t.ftrace"
    t.save(path, format="ftrace")
    whole, lean = load(path), load(path)
    counts, nbytes = lean._c().counts(), lean._c().nbytes
    lean._c()._release_records()
    assert tree_text(lean) == tree_text(whole)
    assert lean._c().counts() == counts == whole._c().counts()
    assert lean._c().nrecords == 0 and lean._c().nbytes < whole._c().nbytes
    for fmt in ("json", "chrome", "perfetto"):
        a, b = io.BytesIO(), io.BytesIO()
        save(lean, a, format=fmt)
        save(whole, b, format=fmt)
        assert a.getvalue() == b.getvalue(), fmt
    assert lean.stats() == whole.stats()
    with pytest.raises(ValueError, match="read for its tree only"):
        save(lean, io.BytesIO(), format="ftrace")
    # asked once the tree is built: nothing is given back
    whole._c()._release_records()
    assert whole._c().nrecords > 0
    again = tmp_path / "again.ftrace"
    save(whole, again, format="ftrace")
    assert tree_text(load(again)) == tree_text(whole)
    assert nbytes > 0


def test_records_are_given_back_while_the_tree_is_built(tmp_path):
    # a trace of several million records: the pages of the records read are
    # given back piece by piece, so the process holds about the nodes, not
    # the records and the nodes
    flowtrace.start_tracing()
    for i in range(1_600_000):
        ring_step(i)
    t = flowtrace.stop_tracing()
    path = tmp_path / "big.ftrace"
    t.save(path, format="ftrace")
    del t
    code = (
        "import sys, flowtrace\n"
        "t = flowtrace.load(sys.argv[1])\n"
        "if sys.argv[2] == 'lean': t._c()._release_records()\n"
        "len(t)\n"
        "print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]))\n")
    peaks = {}
    for mode in ("whole", "lean"):
        r = subprocess.run([sys.executable, "-c", code, str(path), mode], capture_output=True,
                           text=True, check=True)
        peaks[mode] = int(r.stdout)
    records_kb = 1_600_000 * 2 * 8 // 1024  # a start and a return per call
    assert peaks["whole"] - peaks["lean"] > records_kb // 2, peaks
