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
from flowtrace import TraceFileError, load, save, start_tracing, stop_tracing, trace


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


@pytest.mark.parametrize("name, fn, args", WORKLOADS)
@pytest.mark.parametrize("options", [{}, {"timing": True}, {"args": True}, {"results": False}])
def test_roundtrip_same_tree(tmp_path, name, fn, args, options):
    text, t = session(fn, *args, **options)
    t2 = roundtrip(t, tmp_path)
    assert tree_text(t2) == text
    assert tree_text(t2, ascii=True) == tree_text(t, ascii=True)
    assert tree_text(t2, max_depth=2) == tree_text(t, max_depth=2)
    assert len(t2) == len(t)
    for a, b in zip(t, t2):
        assert (a.kind, a.func_name, a.parent_id, a.args_repr, a.result_repr, a.exception,
                a.end, a.thread, a.thread_id, a.filename, a.lineno, a.module) == \
               (b.kind, b.func_name, b.parent_id, b.args_repr, b.result_repr, b.exception,
                b.end, b.thread, b.thread_id, b.filename, b.lineno, b.module)
        if a.duration is None:
            assert b.duration is None
        else:
            assert b.duration == pytest.approx(a.duration, abs=1e-9)
    assert t2.timing == t.timing
    # and again: a loaded trace saves and loads the same
    t3 = roundtrip(t2, tmp_path, "t3.json")
    assert tree_text(t3) == text


def test_roundtrip_list_of_events(tmp_path):
    _, t = session(mixed)
    sub = [e for e in t if e.func_name != "gen"]
    path = tmp_path / "sub.json"
    save(sub, path)
    assert tree_text(load(path)) == tree_text(sub)


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
    for i, c in enumerate(doc["calls"]):
        assert c["id"] == i
        assert c["kind"] in ("call", "resume", "throw")
        assert c["end"] in ("return", "raise", "yield", "unfinished")
        assert c["parent"] is None or c["parent"] < i
        assert 0 <= c["t0"] <= c["t1"]
    exc = [c for c in doc["calls"] if c["end"] == "raise"]
    assert exc and exc[0]["exception"].startswith("ValueError: bad 'é'")
    dec = [c for c in doc["calls"] if doc["functions"][c["function"]]["name"] == "decorated"]
    assert dec[0]["args"] == "2, b=5" and dec[0]["result"] == "6"


def test_empty_trace_roundtrip(tmp_path):
    start_tracing()
    t = stop_tracing()
    t2 = roundtrip(t, tmp_path)
    assert len(t2) == 0 and tree_text(t2) == ""


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


# ---------------------------------------------------------------------------
# Chrome trace events

REQUIRED = {"name", "ph", "pid", "tid"}


def check_chrome(doc):
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    spans = {}
    for ev in doc["traceEvents"]:
        assert REQUIRED <= set(ev), ev
        assert isinstance(ev["name"], str) and isinstance(ev["pid"], int)
        assert isinstance(ev["tid"], int)
        if ev["ph"] == "M":
            assert ev["name"] in ("process_name", "thread_name", "thread_sort_index")
            assert isinstance(ev["args"], dict)
        else:
            assert ev["ph"] == "X"
            assert isinstance(ev["ts"], (int, float)) and ev["ts"] >= 0
            assert isinstance(ev["dur"], (int, float)) and ev["dur"] >= 0
            assert isinstance(ev.get("args", {}), dict)
            spans.setdefault(ev["tid"], []).append((ev["ts"], ev["ts"] + ev["dur"]))
    # complete events of one thread nest or follow each other, never overlap
    for tid, ss in spans.items():
        ss.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for a, b in ss:
            while stack and stack[-1][1] <= a:
                stack.pop()
            if stack:
                assert b <= stack[-1][1] + 1e-6, (tid, (a, b), stack[-1])
            stack.append((a, b))
    return [ev for ev in doc["traceEvents"] if ev["ph"] == "X"]


@pytest.mark.parametrize("timing", [False, True])
def test_chrome_events(tmp_path, timing):
    _, t = session(mixed, timing=timing)
    path = tmp_path / "t.chrome.json"
    save(t, path, format="chrome")
    doc = json.loads(path.read_text(encoding="utf-8"))
    xs = check_chrome(doc)
    assert len(xs) == len(t)
    clock = doc["otherData"]["clock"]
    assert clock.startswith("monotonic" if timing else "event order")
    names = [ev["args"]["name"] for ev in doc["traceEvents"] if ev["name"] == "thread_name"]
    assert names == ["MainThread"]
    dec = [ev for ev in xs if ev["name"] == "decorated"][0]
    assert dec["args"]["args"] == "2, b=5" and dec["args"]["result"] == "6"
    assert dec["args"]["file"] == __file__ and dec["cat"] == __name__
    raised = [ev for ev in xs if ev["name"] == "boom"][0]
    assert raised["args"]["exception"].startswith("ValueError")


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
    (b"[" * 100000, "nested too deeply"),
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
])
def test_schema_violations(tmp_path, good, change, words):
    assert words in one_line_error(tmp_path, edit(good, change))


def test_calls_out_of_thread_order(tmp_path, good):
    def swap_threads(d):
        last = d["calls"][-1]
        last["thread"] = 0
        last["parent"] = None
    assert "grouped by thread" in one_line_error(tmp_path, edit(good, swap_threads))


def test_random_corruption_never_crashes(tmp_path, good):
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
        save(t, io.StringIO(), format="chrome")


def test_show_golden(tmp_path):
    _, t = session(mixed, args=True)
    t2 = roundtrip(t, tmp_path)
    assert_golden("saved_mixed_show", tree_text(t2))
