"""Saved traces: JSON round trip (trace -> JSON -> load -> the same tree),
Chrome Trace Event output checked against the format's required fields,
stats, and hostile files (truncated, malformed, wrong types) giving a
one-line TraceFileError, never a crash or an internal traceback."""
import asyncio
import io
import json
import random
import threading

import pytest

from conftest import assert_golden, session, tree_text

import flowtrace
from flowtrace import CallEvent, TraceFileError, load, save, start_tracing, stop_tracing, trace


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        yield i


def consume():
    return sum(gen(3))


def boom(x):
    raise ValueError(f"bad {x!r}\nsecond line \"quoted\"")


def catches():
    try:
        boom("é")
    except ValueError:
        return "caught"


async def coro(x):
    await asyncio.sleep(0)
    return x * 2


def run_async():
    return asyncio.run(coro(21))


def threads():
    ts = [threading.Thread(target=fib, args=(3,), name=f"w{i}") for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


@trace
def decorated(a, b=2):
    return fib(a) + b


def mixed():
    fib(3)
    consume()
    catches()
    decorated(2, b=5)
    return [1, 2, {"k": (1, "x")}]


WORKLOADS = [
    ("fib", fib, (4,)),
    ("generator", consume, ()),
    ("exception", catches, ()),
    ("async", run_async, ()),
    ("threads", threads, ()),
    ("mixed", mixed, ()),
]


def roundtrip(t, tmp_path, name="t.json"):
    path = tmp_path / name
    save(t, path)
    return load(path)


def event_fields(e):
    """Every field of a CallEvent but the duration (compared apart)."""
    return tuple(getattr(e, f) for f in CallEvent.__slots__ if f != "duration")


def assert_same_trace(t, t2):
    """t2 (loaded) is t: same trees, events, threads, counts, stats."""
    for kw in ({}, {"ascii": True}, {"max_depth": 2}):
        assert tree_text(t2, **kw) == tree_text(t, **kw)
    assert len(t2) == len(t)
    for a, b in zip(t, t2):
        assert event_fields(b) == event_fields(a)
        if a.duration is None:
            assert b.duration is None
        else:
            assert b.duration == pytest.approx(a.duration, abs=1e-9)
    assert t2.timing == t.timing
    assert t2.dropped == t.dropped
    assert t2.threads() == t.threads()
    s1, s2 = t.stats(), t2.stats()
    assert [(r.name, r.calls, r.resumes, r.raised) for r in s2] == \
           [(r.name, r.calls, r.resumes, r.raised) for r in s1]
    for r1, r2 in zip(s1, s2):
        assert (r1.total is None) == (r2.total is None)
        if r1.total is not None:
            assert r2.total == pytest.approx(r1.total, abs=1e-8)


def saved_doc(t):
    buf = io.StringIO()
    save(t, buf)
    return json.loads(buf.getvalue())


@pytest.mark.parametrize("name, fn, args", WORKLOADS)
@pytest.mark.parametrize("options", [{}, {"timing": True}, {"args": True}, {"results": False}])
def test_roundtrip_same_tree(tmp_path, name, fn, args, options):
    text, t = session(fn, *args, **options)
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_same_trace(t, t2)
    # and again: a loaded trace saves the same document and loads the same
    t3 = roundtrip(t2, tmp_path, "t3.json")
    assert tree_text(t3) == text
    d1, d2 = saved_doc(t), saved_doc(t2)
    assert {k: v for k, v in d2.items() if k != "meta"} == \
           {k: v for k, v in d1.items() if k != "meta"}


def test_roundtrip_list_of_events(tmp_path):
    _, t = session(mixed)
    sub = [e for e in t if e.func_name != "gen"]
    path = tmp_path / "sub.json"
    save(sub, path)
    assert tree_text(load(path)) == tree_text(sub)


@pytest.mark.parametrize("name, head", [
    ("t.ftrace", b"\x89FTR"), ("t.FTRACE", b"\x89FTR"), ("t.json", b'{"format":"flowtrace"'),
    ("t.trace", b'{"format":"flowtrace"'), ("t.html", b"<!doctype html>"),
    ("t.pftrace", None)])
def test_save_picks_the_format_a_path_says(tmp_path, name, head):
    """Trace.save(path) without a format: the suffix says which, as
    `flowtrace run -o` does (a .ftrace name got JSON before)."""
    _, t = session(fib, 3)
    t.save(tmp_path / name)
    data = (tmp_path / name).read_bytes()
    if head is None:  # Perfetto's protobuf: a TracePacket field, never JSON
        assert not data.startswith(b"{") and len(data) > 0
    else:
        assert data.startswith(head), data[:40]
    if head is not None and not name.endswith(".html"):
        assert tree_text(load(tmp_path / name)) == tree_text(t)
    save(t, tmp_path / "explicit.ftrace", format="json")  # told: the name does not matter
    assert (tmp_path / "explicit.ftrace").read_bytes().startswith(b'{"format"')


def test_save_to_open_files():
    _, t = session(fib, 3)
    text_buf, bin_buf = io.StringIO(), io.BytesIO()
    save(t, text_buf)
    save(t, bin_buf)
    assert json.loads(text_buf.getvalue()) == json.loads(bin_buf.getvalue().decode())


def test_json_schema_fields(tmp_path):
    _, t = session(mixed, timing=True)
    path = tmp_path / "t.json"
    t.save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "flowtrace" and doc["version"] == 1
    assert doc["timing"] is True and doc["results"] is True
    assert doc["meta"]["flowtrace"] == flowtrace.__version__
    assert doc["ncalls"] == len(doc["calls"]) == len(t)
    fnames = {f["name"] for f in doc["functions"]}
    assert {"mixed", "fib", "gen", "catches", "boom", "decorated"} <= fnames
    for f in doc["functions"]:
        assert set(f) == {"id", "name", "module", "file", "line"}
        assert f["module"] == __name__
    assert doc["threads"][0]["name"] == "MainThread"
    assert set(doc["threads"][0]) == {"id", "ident", "name"}  # nothing dropped
    keys = {"id", "parent", "thread", "function", "kind", "end", "origin", "args",
            "result", "exception", "t0", "t1", "left_suspended", "began_before", "cut"}
    for i, c in enumerate(doc["calls"]):
        assert c["id"] == i
        assert set(c) <= keys
        assert c["kind"] in ("call", "resume", "throw", "raise", "reraise", "handled", "task")
        assert c["end"] in ("return", "raise", "yield", "unfinished", "closed")
        assert c["parent"] is None or c["parent"] < i
        if c["kind"] in ("raise", "reraise", "handled"):
            # an instant inside its parent's frame, with the exception
            assert c["end"] == "return" and "t1" not in c and "exception" in c
            parent = doc["calls"][c["parent"]]
            assert parent["function"] == c["function"]
            assert parent["t0"] <= c["t0"] <= parent["t1"]
        else:
            assert 0 <= c["t0"] <= c["t1"]
        if c["kind"] in ("resume", "throw"):
            first = doc["calls"][c["origin"]]
            assert first["kind"] == "call" and first["function"] == c["function"]
        else:
            assert "origin" not in c
    exc = [c for c in doc["calls"] if c["end"] == "raise"]
    assert exc and exc[0]["exception"].startswith("ValueError: bad 'é'")
    caught = [c for c in doc["calls"] if c["kind"] == "handled"]
    assert [doc["functions"][c["function"]]["name"] for c in caught] == ["catches"]
    assert caught[0]["exception"] == exc[0]["exception"]
    last = [c for c in doc["calls"] if doc["functions"][c["function"]]["name"] == "gen"][-1]
    assert last["end"] == "return" and "left_suspended" not in last
    dec = [c for c in doc["calls"] if doc["functions"][c["function"]]["name"] == "decorated"]
    assert dec[0]["args"] == "2, b=5" and dec[0]["result"] == "6"


def test_empty_trace_roundtrip(tmp_path):
    start_tracing()
    t = stop_tracing()
    t2 = roundtrip(t, tmp_path)
    assert len(t2) == 0 and tree_text(t2) == ""


# ---------------------------------------------------------------------------
# round trips of what the tree model says beyond calls

def raise_and_catch():
    try:
        raise KeyError("k")
    except KeyError:
        pass


def rethrows():
    try:
        boom(1)
    except ValueError:
        fib(1)
        raise


def exception_markers():
    raise_and_catch()
    try:
        rethrows()
    except ValueError:
        return "ok"


def closable(n):
    try:
        yield from range(n)
    finally:  # so that close() runs the frame (3.13 skips it otherwise)
        pass


def closes_generator():
    g = closable(5)
    next(g)
    g.close()
    return "closed"


ABANDONED = []


def abandons_generator():
    g = gen(5)
    next(g)
    next(g)
    ABANDONED.append(g)  # resumed after tracing stops, if ever


async def step(n):
    for _ in range(n):
        await asyncio.sleep(0)
    return n


async def lanes_main():
    worker = asyncio.create_task(step(2), name="worker")
    r = await asyncio.gather(step(1), step(2))
    return await worker + sum(r)


def run_lanes():
    return asyncio.run(lanes_main())


def starts_tracing_inside(n, options):
    """The frames of this recursion were running when tracing started."""
    if n:
        return starts_tracing_inside(n - 1, options) + 1
    start_tracing(**options)
    fib(2)
    consume()
    return 0


TIMINGS = pytest.mark.parametrize("options", [{}, {"timing": True}, {"args": True}])


def kinds(t):
    return {e.kind for e in t}


@TIMINGS
def test_roundtrip_exception_markers(tmp_path, options):
    text, t = session(exception_markers, **options)
    assert {"raise", "reraise", "handled"} <= kinds(t)
    assert "⚡ raise KeyError: 'k'" in text and "⟳ re-raise ValueError: bad 1" in text
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_same_trace(t, t2)
    markers = [e for e in t2 if e.kind in ("raise", "reraise", "handled")]
    assert all(e.exception and e.duration is None for e in markers)
    assert all(t2[e.parent_id].func_name == e.func_name for e in markers)


@TIMINGS
def test_roundtrip_closed_generator(tmp_path, options):
    text, t = session(closes_generator, **options)
    assert "⏹ closed" in text
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_same_trace(t, t2)
    closed = [e for e in t2 if e.end == "closed"]
    assert len(closed) == 1 and closed[0].kind == "throw"
    assert t2[closed[0].origin_id].kind == "call"
    assert saved_doc(t2)["calls"][closed[0].id]["end"] == "closed"


@TIMINGS
def test_roundtrip_left_suspended_generator(tmp_path, options):
    try:
        text, t = session(abandons_generator, **options)
    finally:
        ABANDONED.clear()
    assert "(left suspended)" in text
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_same_trace(t, t2)
    left = [e for e in t2 if e.left_suspended]
    assert len(left) == 1 and left[0].kind == "resume" and left[0].end == "yield"
    c = saved_doc(t2)["calls"][left[0].id]
    assert c["left_suspended"] is True and c["origin"] == left[0].origin_id


@TIMINGS
def test_roundtrip_asyncio_task_lanes(tmp_path, options):
    text, t = session(run_lanes, **options)
    lanes = [e for e in t if e.kind == "task"]
    assert len(lanes) == 4 and "◆ task worker (from " in text
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_same_trace(t, t2)
    doc = saved_doc(t2)
    worker = [c for c in doc["calls"] if c["kind"] == "task" and c["args"] == "worker"]
    assert worker and worker[0]["result"] == lanes[0].args_repr  # its creator
    steps = [c for c in doc["calls"] if c["parent"] == worker[0]["id"]]
    assert [c["kind"] for c in steps] == ["call", "resume", "resume"]
    assert all(c["origin"] == steps[0]["id"] for c in steps[1:])
    if options.get("timing"):
        assert t2.timing  # lanes carry no time of their own
        assert all(r.total is not None for r in t2.stats())


@TIMINGS
def test_roundtrip_session_started_inside_a_frame(tmp_path, options):
    starts_tracing_inside(2, options)
    t = stop_tracing()
    text = tree_text(t)
    assert text.startswith("→ starts_tracing_inside() (began before tracing)\n")
    before = [e for e in t if e.began_before]
    assert len(before) == 3
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_same_trace(t, t2)
    assert t2.timing == bool(options.get("timing"))
    calls = saved_doc(t2)["calls"]
    assert [c.get("began_before") for c in calls[:4]] == [True, True, True, None]
    assert not any("cut" in c for c in calls)


def ring_leaf(i):
    return [i]


def ring_mid(i):
    return ring_leaf(i)


def ring_loop(n):
    for i in range(n):
        ring_mid(i)


def test_roundtrip_max_events(tmp_path):
    start_tracing(max_events=1000)
    ring_loop(220_000)  # 880k records: more than the ring's two chunks
    t = stop_tracing()
    assert t.dropped > 0
    text = tree_text(t)
    assert text.startswith(f"⋯ {t.dropped} earlier events not kept (max_events)\n"
                           "→ ring_loop() (began before the kept events)\n")
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert t2.dropped == t.dropped
    assert tree_text(t2, ascii=True) == tree_text(t, ascii=True)
    assert [event_fields(e) for e in t2[:5]] == [event_fields(e) for e in t[:5]]
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert doc["threads"][0]["dropped"] == t.dropped
    assert doc["calls"][0]["began_before"] is True and doc["calls"][0]["cut"] is True


def two_threads_one_ring():
    th = threading.Thread(target=ring_loop, args=(220_000,), name="ringer")
    th.start()
    th.join()
    fib(2)


def test_roundtrip_max_events_per_thread(tmp_path):
    start_tracing(max_events=1000)
    two_threads_one_ring()
    t = stop_tracing()
    text = tree_text(t)
    assert "── thread ringer ──\n⋯ " in text
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text and t2.dropped == t.dropped
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert [th.get("dropped", 0) > 0 for th in doc["threads"]] == [False, True]


# ---------------------------------------------------------------------------
# stats

def test_stats_counts_and_recursion():
    _, t = session(mixed, timing=True)
    rows = {r.name: r for r in t.stats()}
    assert rows["fib"].calls == 5 + 3  # fib(3) makes 5 calls; decorated's fib(2) 3
    assert rows["fib"].calls == sum(1 for e in t if e.func_name == "fib")
    assert rows["gen"].calls == 1 and rows["gen"].resumes == 3
    assert rows["boom"].raised == 1
    # recursion counted once: fib's total is the outermost fib calls' durations
    outer = [e for e in t if e.func_name == "fib" and t[e.parent_id].func_name != "fib"]
    assert rows["fib"].total == pytest.approx(sum(e.duration for e in outer), abs=1e-9)
    assert 0 <= rows["mixed"].self <= rows["mixed"].total


def test_stats_without_timing():
    _, t = session(mixed)
    assert all(r.total is None and r.self is None for r in t.stats())


def test_stats_markers_and_lanes_are_not_calls(tmp_path):
    _, t = session(exception_markers, timing=True)
    rows = {r.name: r for r in t.stats()}
    # before the markers were known they counted as resumptions
    assert [(rows[n].calls, rows[n].resumes, rows[n].raised)
            for n in ("exception_markers", "raise_and_catch", "rethrows", "boom")] == \
           [(1, 0, 0), (1, 0, 0), (1, 0, 1), (1, 0, 1)]
    assert all(r.total is not None for r in rows.values())
    _, t = session(run_lanes, timing=True)
    rows = {r.name: r for r in t.stats()}
    assert rows["step"].calls == 3
    assert rows["step"].resumes == sum(1 for e in t if e.func_name == "step" and
                                       e.kind == "resume")
    assert rows["lanes_main"].calls == 1
    assert [r.name for r in t.stats()] == ["run_lanes", "lanes_main", "step"]
    # the steps' time is taken from the frame that ran the event loop
    (root,) = [e for e in t if e.func_name == "run_lanes"]
    steps = [e for e in t if e.parent_id is not None and t[e.parent_id].kind == "task"]
    assert rows["run_lanes"].self == pytest.approx(
        root.duration - sum(e.duration for e in steps), abs=1e-8)
    assert rows["step"].total == pytest.approx(
        sum(e.duration for e in steps if e.func_name == "step"), abs=1e-8)
    assert roundtrip(t, tmp_path).stats() == t.stats()


def test_stats_with_frames_that_began_before():
    starts_tracing_inside(2, {"timing": True})
    t = stop_tracing()
    rows = {r.name: r for r in t.stats()}
    assert rows["starts_tracing_inside"].calls == 3
    assert rows["fib"].total is not None and rows["fib"].calls == 3


# ---------------------------------------------------------------------------
# Chrome trace events

REQUIRED = {"name", "ph", "pid", "tid"}
MARKERS = ("raise", "reraise", "handled")


def check_chrome(doc, nesting=True):
    """The events are well-formed: metadata, complete events that nest per
    thread (unless the times were edited by hand: nesting=False), instant
    events (markers) and matched async slices (tasks)."""
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    spans = {}
    open_tasks = {}
    for ev in doc["traceEvents"]:
        assert REQUIRED <= set(ev), ev
        assert isinstance(ev["name"], str) and isinstance(ev["pid"], int)
        assert isinstance(ev["tid"], int)
        if ev["ph"] == "M":
            assert ev["name"] in ("process_name", "thread_name", "thread_sort_index")
            assert isinstance(ev["args"], dict)
            continue
        assert ev["ph"] in ("X", "i", "b", "e"), ev
        assert isinstance(ev["ts"], (int, float)) and ev["ts"] >= 0
        assert isinstance(ev.get("args", {}), dict)
        if ev["ph"] == "X":
            assert isinstance(ev["dur"], (int, float)) and ev["dur"] >= 0
            assert ev["args"]["kind"] in ("call", "resume", "throw")
            spans.setdefault(ev["tid"], []).append((ev["ts"], ev["ts"] + ev["dur"]))
        elif ev["ph"] == "i":
            assert ev["s"] == "t" and ev["cat"] == "exception"
            assert ev["args"]["kind"] in MARKERS and ev["name"].startswith(ev["args"]["kind"])
        elif ev["ph"] == "b":
            assert ev["cat"] == "asyncio.task" and ev["args"]["kind"] == "task"
            assert ev["id"] not in open_tasks
            open_tasks[ev["id"]] = ev
        else:
            b = open_tasks.pop(ev["id"])
            assert (ev["cat"], ev["name"], ev["tid"]) == (b["cat"], b["name"], b["tid"])
            assert ev["ts"] >= b["ts"]
    assert not open_tasks
    # complete events of one thread nest or follow each other, never overlap
    for tid, ss in spans.items() if nesting else ():
        ss.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for a, b in ss:
            while stack and stack[-1][1] <= a:
                stack.pop()
            if stack:
                assert b <= stack[-1][1] + 1e-6, (tid, (a, b), stack[-1])
            stack.append((a, b))
    return [ev for ev in doc["traceEvents"] if ev["ph"] == "X"]


def chrome_doc(t):
    buf = io.StringIO()
    save(t, buf, format="chrome")
    return json.loads(buf.getvalue())


def of_kind(doc, ph):
    return [ev for ev in doc["traceEvents"] if ev["ph"] == ph]


@pytest.mark.parametrize("timing", [False, True])
def test_chrome_events(tmp_path, timing):
    _, t = session(mixed, timing=timing)
    path = tmp_path / "t.chrome.json"
    save(t, path, format="chrome")
    doc = json.loads(path.read_text(encoding="utf-8"))
    xs = check_chrome(doc)
    assert len(xs) == sum(1 for e in t if e.kind in ("call", "resume", "throw"))
    clock = doc["otherData"]["clock"]
    assert clock.startswith("monotonic" if timing else "event order")
    names = [ev["args"]["name"] for ev in doc["traceEvents"] if ev["name"] == "thread_name"]
    assert names == ["MainThread"]
    dec = [ev for ev in xs if ev["name"] == "decorated"][0]
    assert dec["args"]["args"] == "2, b=5" and dec["args"]["result"] == "6"
    assert dec["args"]["file"] == __file__ and dec["cat"] == __name__
    raised = [ev for ev in xs if ev["name"] == "boom"][0]
    assert raised["args"]["exception"].startswith("ValueError")
    # the handler in catches(): an instant inside catches' span, after boom
    (caught,) = of_kind(doc, "i")
    assert caught["name"] == "handled ValueError"
    assert caught["args"]["exception"] == raised["args"]["exception"]
    assert caught["args"]["function"] == "catches"
    (catches_ev,) = [ev for ev in xs if ev["name"] == "catches"]
    assert raised["ts"] + raised["dur"] <= caught["ts"]
    assert caught["ts"] <= catches_ev["ts"] + catches_ev["dur"]


@pytest.mark.parametrize("timing", [False, True])
def test_chrome_task_lanes(timing):
    _, t = session(run_lanes, timing=timing)
    doc = chrome_doc(t)
    xs = check_chrome(doc)
    begins = of_kind(doc, "b")
    assert all(ev["name"] == ev["args"]["task"] for ev in begins)
    # the first lane is asyncio.run's task; the three others it created
    main_task = begins[0]["name"] if begins[0]["args"]["coroutine"] == "lanes_main" else None
    assert [ev["args"]["coroutine"] for ev in begins].count("lanes_main") == 1
    created = [ev for ev in begins if ev["args"]["coroutine"] == "step"]
    assert len(created) == 3 and "worker" in [ev["name"] for ev in created]
    if main_task is not None:
        assert all(ev["args"]["created_by"] == main_task for ev in created)
    ends = {ev["id"]: ev for ev in of_kind(doc, "e")}
    # each task's slice spans its steps, which stay on the thread's track
    lanes = [e for e in t if e.kind == "task"]
    assert len(begins) == len(lanes) == 4
    step_events = [ev for ev in xs if ev["name"] in ("lanes_main", "step")]
    assert len(step_events) == sum(1 for e in t if e.parent_id is not None
                                   and t[e.parent_id].kind == "task")
    (root,) = [ev for ev in xs if ev["name"] == "run_lanes"]
    for b in begins:
        e = ends[b["id"]]
        assert b["tid"] == root["tid"]
        assert root["ts"] <= b["ts"] <= e["ts"] <= root["ts"] + root["dur"]
    if timing:
        assert doc["otherData"]["clock"].startswith("monotonic")
        for ev in step_events:
            assert root["ts"] <= ev["ts"] and ev["ts"] + ev["dur"] <= root["ts"] + root["dur"]
        worker = [b for b in begins if b["name"] == "worker"][0]
        mine = [ev for ev in step_events if ev["name"] == "step"
                and worker["ts"] <= ev["ts"] <= ends[worker["id"]]["ts"]]
        assert len(mine) >= 3  # its three steps (others' interleave)


def test_chrome_flags_and_began_before():
    starts_tracing_inside(1, {"timing": True})
    t = stop_tracing()
    doc = chrome_doc(t)
    xs = check_chrome(doc)
    assert doc["otherData"]["clock"].startswith("monotonic")
    before = [ev for ev in xs if ev["args"].get("began_before")]
    assert len(before) == 2 and all(ev["ts"] == 0 for ev in before)
    inner = [ev for ev in xs if not ev["args"].get("began_before")]
    outer_end = max(ev["ts"] + ev["dur"] for ev in before)
    assert all(ev["ts"] + ev["dur"] <= outer_end + 1e-6 for ev in inner)
    try:
        _, t = session(abandons_generator)
    finally:
        ABANDONED.clear()
    xs = check_chrome(chrome_doc(t))
    assert [ev["args"]["end"] for ev in xs if ev["args"].get("left_suspended")] == ["yield"]
    _, t = session(closes_generator)
    xs = check_chrome(chrome_doc(t))
    assert [ev["args"]["kind"] for ev in xs if ev["args"]["end"] == "closed"] == ["throw"]


def test_chrome_of_a_loaded_trace_keeps_real_time(tmp_path):
    _, t = session(mixed, timing=True)
    before = check_chrome(chrome_doc(t))
    t2 = roundtrip(t, tmp_path)
    doc = chrome_doc(t2)
    after = check_chrome(doc)
    assert doc["otherData"]["clock"].startswith("monotonic")
    assert [(ev["name"], ev["ts"], ev["dur"]) for ev in after] == \
           [(ev["name"], ev["ts"], ev["dur"]) for ev in before]
    # a list of events has durations but no start times: event order
    assert chrome_doc(list(t))["otherData"]["clock"].startswith("event order")


def test_chrome_threads(tmp_path):
    _, t = session(threads)
    path = tmp_path / "c.json"
    save(t, path, format="chrome")
    doc = json.loads(path.read_text(encoding="utf-8"))
    check_chrome(doc)
    names = {ev["tid"]: ev["args"]["name"] for ev in doc["traceEvents"]
             if ev["name"] == "thread_name"}
    assert sorted(names.values()) == ["MainThread", "w0", "w1"]
    xs = [ev for ev in doc["traceEvents"] if ev["ph"] == "X"]
    assert {ev["tid"] for ev in xs} == set(names)


def test_chrome_event_order_clock_nests():
    _, t = session(fib, 3)
    buf = io.StringIO()
    save(t, buf, format="chrome")
    xs = check_chrome(json.loads(buf.getvalue()))
    root = max(xs, key=lambda e: e["dur"])
    assert root["ts"] == 0 and root["dur"] == 2 * len(t)


# ---------------------------------------------------------------------------
# hostile files

@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "good.json"
    start_tracing(timing=True)
    mixed()
    threads()
    save(stop_tracing(), path)
    return path.read_bytes()


def load_bytes(tmp_path, data, name="bad.json"):
    path = tmp_path / name
    path.write_bytes(data)
    return load(path)


def one_line_error(tmp_path, data):
    with pytest.raises(TraceFileError) as ei:
        load_bytes(tmp_path, data)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path))
    return msg


def test_truncated_everywhere(tmp_path, good):
    end = len(good.rstrip())
    for cut in sorted({1, 10, 50, end // 3, end // 2, end - 3, end - 1}):
        msg = one_line_error(tmp_path, good[:cut])
        assert "truncated" in msg or "not valid JSON" in msg, msg


def test_missing_file(tmp_path):
    with pytest.raises(TraceFileError, match="cannot read"):
        load(tmp_path / "nope.json")


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\xff\xfe", "UTF-8"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"traceEvents": []}', "Chrome trace"),
    (b'{"format": "other", "version": 1}', "not a FlowTrace trace"),
    (b'{"format": "flowtrace", "version": 99}', "newer FlowTrace"),
    (b'{"format": "flowtrace", "version": "1"}', "version"),
    (b'{"format": "flowtrace", "version": 1}', 'missing "functions"'),
    (b'{"format": "flowtrace", "version": 1, "functions": {}, "threads": [], "calls": []}',
     "functions: expected an array"),
    (b'{"format": "flowtrace", "version": 1, "functions": ' + b"[" * 100000,
     "nested too deeply"),
    (b"[" * 100000, "does not begin with"),
    (b"\0" * 100000, "does not begin with"),
])
def test_malformed(tmp_path, data, words):
    assert words in one_line_error(tmp_path, data)


def edit(good, fn):
    doc = json.loads(good)
    fn(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("change, words", [
    (lambda d: d["calls"][3].__setitem__("function", 999), "calls[3].function: out of range"),
    (lambda d: d["calls"][3].__setitem__("function", "1"), "calls[3].function: expected an integer"),
    (lambda d: d["calls"][3].__setitem__("thread", -1), "calls[3].thread"),
    (lambda d: d["calls"][3].__setitem__("parent", 3), "calls[3].parent"),
    (lambda d: d["calls"][3].__setitem__("parent", 10**30), "calls[3].parent"),
    (lambda d: d["calls"][3].__setitem__("kind", "jump"), "calls[3].kind"),
    (lambda d: d["calls"][3].__setitem__("end", None), "calls[3].end: missing"),
    (lambda d: d["calls"][3].__setitem__("args", 5), "calls[3].args: expected a string"),
    (lambda d: d["calls"][3].__setitem__("t1", 0), "calls[3].t1"),
    (lambda d: d["calls"][3].__setitem__("id", 7), "calls[3].id"),
    (lambda d: d["calls"].__setitem__(3, [1]), "calls[3]: expected an object"),
    (lambda d: d["calls"].pop(), "header announces"),
    (lambda d: d["functions"][0].pop("name"), "functions[0].name: missing"),
    (lambda d: d["threads"][0].__setitem__("ident", -5), "threads[0].ident"),
    (lambda d: d["calls"].reverse() or d.pop("ncalls"), "calls[0]"),
    (lambda d: d["calls"][3].__setitem__("end", "exploded"), "calls[3].end: unknown word"),
    (lambda d: d["threads"][0].__setitem__("dropped", -1), "threads[0].dropped: out of range"),
    (lambda d: d["threads"][1].__setitem__("dropped", "9"),
     "threads[1].dropped: expected an integer"),
    # exception markers
    (lambda d: marker(d).__setitem__("end", "closed"), "an exception marker ends as"),
    (lambda d: after(d, marker(d)).__setitem__("parent", marker(d)["id"]),
     "parent: an exception marker has no children"),
    # origins
    (lambda d: resume(d).__setitem__("origin", 10**6), "origin: out of range"),
    (lambda d: resume(d).__setitem__("origin", "2"), "origin: expected an integer"),
    (lambda d: resume(d).__setitem__("origin", resume(d)["id"]), "not its own generator"),
    (lambda d: resume(d).__setitem__("origin", marker(d)["id"]), 'not the id of a "call"'),
    (lambda d: d["calls"][3].__setitem__("origin", 0), "only a resumption refers to"),
    (lambda d: marker(d).__setitem__("origin", 1), "only a resumption refers to"),
    # flags
    (lambda d: d["calls"][3].__setitem__("left_suspended", "yes"),
     "calls[3].left_suspended: expected true or false"),
    (lambda d: d["calls"][3].__setitem__("left_suspended", 1), "expected true or false"),
    (lambda d: d["calls"][0].__setitem__("left_suspended", True),
     'calls[0].left_suspended: only a segment that ended by "yield"'),
    (lambda d: d["calls"][3].__setitem__("cut", True), 'calls[3].cut: only with'),
    (lambda d: resume(d).__setitem__("began_before", True), 'began_before: only a "call"'),
    (lambda d: marker(d).__setitem__("began_before", True), 'began_before: only a "call"'),
])
def test_schema_violations(tmp_path, good, change, words):
    assert words in one_line_error(tmp_path, edit(good, change))


def marker(d):
    return next(c for c in d["calls"] if c["kind"] == "handled")


def resume(d):
    return next(c for c in d["calls"] if c["kind"] == "resume")


def after(d, c):
    return d["calls"][c["id"] + 1]


def test_good_file_has_what_the_violations_edit(good):
    d = json.loads(good)
    m, r = marker(d), resume(d)
    assert after(d, m)["thread"] == m["thread"] and d["calls"][r["origin"]]["kind"] == "call"
    assert len(d["threads"]) == 3 and "left_suspended" not in d["calls"][0]


def test_new_fields_load_when_valid(tmp_path, good):
    """Flags and origins are optional and may be null or false."""
    def relax(d):
        for c in d["calls"]:
            c.setdefault("left_suspended", False)
            c["began_before"] = None
            if c["kind"] == "resume":
                c["origin"] = None
        d["threads"][0]["dropped"] = 0
    t = load_bytes(tmp_path, edit(good, relax))
    assert t.dropped == 0
    assert all(e.origin_id is None for e in t if e.kind == "resume")
    assert all(e.origin_id == e.id for e in t if e.kind != "resume")


def test_calls_out_of_thread_order(tmp_path, good):
    def swap_threads(d):
        last = d["calls"][-1]
        last["thread"] = 0
        last["parent"] = None
    assert "grouped by thread" in one_line_error(tmp_path, edit(good, swap_threads))


@pytest.mark.parametrize("source", ["good", "rich"])
def test_random_corruption_never_crashes(tmp_path, request, source):
    good = request.getfixturevalue(source)
    rng = random.Random(4)
    for i in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            data[pos] = rng.choice(b'{}[]",:0123456789-aenlrstu \\x\xff')
        try:
            t = load_bytes(tmp_path, bytes(data), f"fuzz{i}.json")
        except TraceFileError as e:
            assert "\n" not in str(e)
            continue
        # what loads must print, summarise and save again
        tree_text(t)
        t.stats()
        save(t, io.StringIO())
        check_chrome(chrome_doc(t), nesting=False)


def everything(options):
    """Began before tracing, then markers, lanes, closed and abandoned
    generators, threads: every kind, end and flag of the model."""
    if options is not None:
        start_tracing(**options)
    exception_markers()
    run_lanes()
    closes_generator()
    abandons_generator()
    threads()
    return 0


@pytest.fixture(scope="module")
def rich():
    try:
        everything({"timing": True})
        t = stop_tracing()
    finally:
        ABANDONED.clear()
    buf = io.StringIO()
    save(t, buf)
    return buf.getvalue().encode()


def test_rich_trace_has_every_kind_end_and_flag(rich):
    d = json.loads(rich)
    assert {c["kind"] for c in d["calls"]} == {"call", "resume", "throw", "raise", "reraise",
                                               "handled", "task"}
    assert {c["end"] for c in d["calls"]} == {"return", "raise", "yield", "closed"}
    for flag in ("left_suspended", "began_before"):
        assert any(c.get(flag) for c in d["calls"]), flag


def test_structured_corruption_never_crashes(tmp_path, rich):
    """Random fields of a trace using every kind set to random values: a
    one-line error, or a trace that prints, summarises and saves."""
    rng = random.Random(7)
    base = json.loads(rich)
    n = len(base["calls"])
    keys = ["id", "parent", "thread", "function", "kind", "end", "origin", "args", "result",
            "exception", "t0", "t1", "left_suspended", "began_before", "cut"]
    values = [None, True, False, -1, 0, 1, 2, n - 1, n, 2**63, 10**30, 1.5, "", "x", [], {},
              "call", "resume", "throw", "raise", "reraise", "handled", "task", "return",
              "yield", "closed", "unfinished"]
    loaded = 0
    for i in range(400):
        doc = json.loads(rich)
        for _ in range(rng.randint(1, 3)):
            c = doc["calls"][rng.randrange(n)]
            key = rng.choice(keys)
            if rng.random() < 0.2:
                c.pop(key, None)
            else:
                c[key] = rng.choice(values + [rng.randrange(n)])
        if rng.random() < 0.1:
            doc["threads"][rng.randrange(len(doc["threads"]))]["dropped"] = rng.choice(values)
        try:
            t = load_bytes(tmp_path, json.dumps(doc).encode(), f"s{i}.json")
        except TraceFileError as e:
            assert "\n" not in str(e)
            continue
        loaded += 1
        tree_text(t)
        tree_text(t, max_depth=2, ascii=True)
        t.stats()
        list(t)
        save(t, io.StringIO())
        check_chrome(chrome_doc(t), nesting=False)
    assert loaded > 20  # some edits are harmless (a text, a time)


def test_show_golden(tmp_path):
    text, t = session(mixed, args=True)
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert_golden("saved_mixed_show", tree_text(t2))
