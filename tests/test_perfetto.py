"""Perfetto's native format (--format perfetto), parsed with Perfetto's own
message definitions (the `perfetto` package's perfetto_trace_pb2) and
checked packet by packet: every packet on a sequence, every sequence
starting with its cleared state, its incremental clock and its track;
every interned name and string defined on its sequence before use;
slices balanced and time going forward on every track; a track per thread
and per asyncio task; and the slices are the tree's calls, in order, with
the tree's arguments, results and exceptions.
"""
from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import threading

import pytest

from conftest import run_cmd, write_program

import flowtrace

# installed with the test tools (tools/venv.sh): never skipped
from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb  # noqa: E402

BEGIN, END, INSTANT = 1, 2, 3


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def boom(x):
    try:
        raise ValueError(f"bad {x}")
    except ValueError:
        return x


async def job(i):
    await asyncio.sleep(0)
    return fib(i)


async def amain():
    return await asyncio.gather(job(3), job(4))


def program():
    fib(4)
    boom(1)
    t = threading.Thread(target=fib, args=(3,), name="worker")
    t.start()
    t.join()
    return asyncio.run(amain())


def perfetto(trace) -> "pb.Trace":
    buf = io.BytesIO()
    flowtrace.save(trace, buf, format="perfetto")
    out = pb.Trace()
    out.ParseFromString(buf.getvalue())
    return out


def check_stream(tr) -> dict:
    """The format's rules, on every packet; returns per-track slices as
    [(type, name, annotations)] in order, and the tracks."""
    seqs: dict[int, dict] = {}
    tracks: dict[int, object] = {}
    slices: dict[int, list] = {}
    for p in tr.packet:
        sid = p.trusted_packet_sequence_id
        assert sid > 0
        if sid not in seqs:
            # the first packet of a sequence: cleared state, the clock, the
            # defaults (the track's descriptor is the next packet: both the
            # snapshot and the descriptor are of the packet's "data" oneof)
            assert p.sequence_flags == pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
            clocks = {c.clock_id: c for c in p.clock_snapshot.clocks}
            assert clocks[64].is_incremental and clocks[64].unit_multiplier_ns in (1, 1000)
            assert p.trace_packet_defaults.timestamp_clock_id == 64
            seqs[sid] = {"uuid": p.trace_packet_defaults.track_event_defaults.track_uuid,
                         "names": {}, "strings": {}, "ann": {}, "open": [], "track": False}
        s = seqs[sid]
        if p.HasField("track_descriptor"):
            uuid = p.track_descriptor.uuid
            assert uuid == s["uuid"] and uuid not in tracks and not s["track"]
            tracks[uuid] = p.track_descriptor
            slices[uuid] = []
            s["track"] = True
        for n in p.interned_data.event_names:
            s["names"][n.iid] = n.name
        for n in p.interned_data.debug_annotation_names:
            s["ann"][n.iid] = n.name
        for n in p.interned_data.debug_annotation_string_values:
            s["strings"][n.iid] = n.str.decode()
        if not p.HasField("track_event"):
            continue
        assert s["track"], "an event before its track's descriptor"
        assert p.sequence_flags == pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE
        assert p.HasField("timestamp")  # a delta: never negative (unsigned)
        ev = p.track_event
        assert not ev.HasField("track_uuid") or ev.track_uuid == s["uuid"]
        anns = {}
        for a in ev.debug_annotations:
            assert a.name_iid in s["ann"], "annotation name used before its definition"
            assert a.string_value_iid in s["strings"], "string used before its definition"
            anns[s["ann"][a.name_iid]] = s["strings"][a.string_value_iid]
        if ev.type in (BEGIN, INSTANT):
            assert ev.name_iid in s["names"], "event name used before its definition"
            name = s["names"][ev.name_iid]
        else:
            name = None
        if ev.type == BEGIN:
            s["open"].append(name)
        elif ev.type == END:
            assert s["open"], "an end without a begin"
            name = s["open"].pop()
        slices[s["uuid"]].append((ev.type, name, anns))
    for s in seqs.values():
        assert s["open"] == [], "slices left open"
    return {"tracks": tracks, "slices": slices}


@pytest.mark.parametrize("options", [{}, {"timing": True, "args": True}, {"results": False}])
def test_stream_follows_the_format(options):
    flowtrace.start_tracing(**options)
    program()
    t = flowtrace.stop_tracing()
    got = check_stream(perfetto(t))
    tracks = got["tracks"]
    procs = [d for d in tracks.values() if d.HasField("process")]
    threads = [d for d in tracks.values() if d.HasField("thread")]
    tasks = [d for d in tracks.values() if not d.HasField("process") and not d.HasField("thread")]
    assert len(procs) == 1
    assert sorted(d.thread.thread_name for d in threads) == ["MainThread", "worker"]
    assert all(d.parent_uuid == procs[0].uuid for d in threads)
    assert len(tasks) == 3 and all(d.name.startswith("Task-") for d in tasks)
    main_uuid = next(d.uuid for d in threads if d.thread.thread_name == "MainThread")
    assert all(d.parent_uuid == main_uuid for d in tasks)
    # the tasks' coroutines are on their own tracks
    for d in tasks:
        names = {n for _, n, _ in got["slices"][d.uuid]}
        assert names & {"job", "amain"}, names


def test_slices_are_the_tree():
    flowtrace.start_tracing(args=True)
    fib(3)
    boom(7)
    t = flowtrace.stop_tracing()
    got = check_stream(perfetto(t))
    main = next(u for u, d in got["tracks"].items() if d.HasField("thread"))
    begins = [(n, a) for ty, n, a in got["slices"][main] if ty == BEGIN]
    assert [n for n, _ in begins] == [e.func_name for e in t if e.kind in ("call", "resume")]
    assert begins[0] == ("fib", {"args": "3"})
    ends = [a for ty, n, a in got["slices"][main] if ty == END]
    assert {"result": "7"} in ends
    instants = [(n, a) for ty, n, a in got["slices"][main] if ty == INSTANT]
    assert instants == [("raise", {"exception": "ValueError: bad 7"}),
                        ("handled", {"exception": "ValueError: bad 7"})]


def test_real_time_is_the_tree_s_time():
    flowtrace.start_tracing(timing=True)
    fib(8)
    t = flowtrace.stop_tracing()
    tr = perfetto(t)
    ts, total = 0, []
    for p in tr.packet:
        if p.HasField("track_event"):
            ts += p.timestamp
            total.append(ts)
    root = t[0]
    # the outermost call's begin and end are the first and last events
    assert (total[-1] - total[0]) / 1e9 == pytest.approx(root.duration, rel=1e-6, abs=2e-9)


def test_size_per_event_structure_only():
    flowtrace.start_tracing(results=False)
    fib(18)
    t = flowtrace.stop_tracing()
    buf = io.BytesIO()
    flowtrace.save(t, buf, format="perfetto")
    events = 2 * len(t)
    assert len(buf.getvalue()) / events < 14


def test_cli_writes_perfetto(tmp_path):
    prog = write_program(tmp_path, "def f():\n    return 1\nf()\n")
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "--format", "perfetto", str(prog)],
                tmp_path)
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "flowtrace.pftrace").read_bytes()
    tr = pb.Trace()
    tr.ParseFromString(data)
    check_stream(tr)
    procs = [p.track_descriptor for p in tr.packet
             if p.HasField("track_descriptor") and p.track_descriptor.HasField("process")]
    assert procs[0].process.process_name.startswith("flowtrace: ")
    # a .pftrace name is enough
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "-o", "x.pftrace", str(prog)], tmp_path)
    assert r.returncode == 0 and "saved to x.pftrace (perfetto, " in r.stderr, r.stderr
    tr.ParseFromString((tmp_path / "x.pftrace").read_bytes())
    check_stream(tr)
