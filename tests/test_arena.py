"""Small immutable values kept by value in the thread's arena (issue 11, goal 1).

Floats, ints of up to 64 bits, complex numbers, short str and bytes and small
tuples of those are stored as bytes in a per-thread arena instead of being
kept alive as objects; equal ones are stored once. What is shown must be the
text today's code shows (the object's builtin repr, bounded the same way),
in the text tree, in FlowTrace JSON and after a .ftrace save and load.
"""
from __future__ import annotations

import io
import json

import flowtrace
from flowtrace import _core

from conftest import run_py

# Each value is passed to f() and returned: it is shown as the argument and
# as the result.
VALUES = [
    1.5, float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e16, 1e15, 5e-324,
    2.2250738585072014e-308, 1 / 3, 123456789.125, 2**30, -2**30 - 1, 2**40, -2**63,
    2**63 - 1, 2**63, 2**64 + 1, 1 + 2j, complex(-0.0, float("nan")), -1j,
    "", "ab", "it's", 'say "hi"', "both ' and \"", "tab\tnl\nx\\", "\x00\x7f",
    "é", "日本語", "\ud800x", "😀", "x" * 63, "x" * 252, "x" * 253, "y" * 300,
    b"", b"\x00\xff'", b'"', b"a" * 250, b"a" * 300,
    (), (1,), ("a",), (1.5, "a", b"b", None, True, False), (1, (2,)), ("x" * 200, "y" * 100),
    (2**70,), (1, 2, 3, 4, 5, 6, 7, 8), (1, 2, 3, 4, 5, 6, 7, 8, 9), (-0.0, float("nan")),
]


def f(v):
    return v


def bounded(text: str, limit: int = 120) -> str:
    """What FlowTrace shows of a text: cut to `limit` characters with "…",
    newlines as \\n."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\n", "\\n")


def shown(v) -> str:
    """The builtin display of a scalar or tuple of scalars (values.c)."""
    if isinstance(v, str) and len(v) > 240:
        return bounded(repr(v[:240]))
    if isinstance(v, bytes) and len(v) > 240:
        return bounded(repr(v[:240]))
    if isinstance(v, tuple) and len(v) > 8:
        return bounded("(" + ", ".join(shown(x) for x in v[:8]) + f", … ({len(v)} items))")
    return bounded(repr(v))


def record(values, **options):
    flowtrace.start_tracing(args=True, **options)
    for v in values:
        f(v)
    return flowtrace.stop_tracing()


def calls(trace):
    return [e for e in trace if e.kind == "call" and e.func_name == "f"]


def test_values_show_as_their_repr_in_every_form():
    trace = record(VALUES)
    events = calls(trace)
    assert len(events) == len(VALUES)
    for v, e in zip(VALUES, events):
        assert e.args_repr == shown(v), (v, e.args_repr)
        assert e.result_repr == shown(v), (v, e.result_repr)
    # .ftrace: saved, loaded, the same texts; saved again, the same bytes
    data = io.BytesIO()
    trace._core.write_ftrace(data)
    back = _core.Trace._from_ftrace(data.getvalue())
    text = io.StringIO()
    flowtrace.print_tree(trace, file=text)
    text_back = io.StringIO()
    flowtrace.print_tree(flowtrace.Trace(back), file=text_back)
    assert text.getvalue() == text_back.getvalue()
    again = io.BytesIO()
    back.write_ftrace(again)
    assert again.getvalue() == data.getvalue()


def test_json_and_text_show_the_same_values(tmp_path):
    trace = record(VALUES)
    path = tmp_path / "t.json"
    flowtrace.save(trace, str(path), format="json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    found = json.dumps(doc, ensure_ascii=False)
    for v in VALUES:
        assert json.dumps(shown(v), ensure_ascii=False) in found, v


def test_equal_values_are_kept_once():
    # 100,000 fresh but equal strs, floats and tuples: before, each capture
    # cost an 8-byte value-store entry (800 KB of the trace's own memory)
    n = 100_000
    trace = record([x for i in range(n // 3) for x in ("ab" + str(i % 1), float(i % 3), (i % 2, "z"))])
    kept = trace._core.nbytes  # before the tree is built
    ints = record([i % 3 for i in range(n // 3 * 3)])  # inline: no value kept
    assert trace._core.nrecords == ints._core.nrecords
    assert kept - ints._core.nbytes < 100_000, (kept, ints._core.nbytes)
    assert len(calls(trace)) == n // 3 * 3


RING = r"""
import json, flowtrace
def f(v):
    return v
flowtrace.start_tracing(args=True, timing=True, max_events=2000)
sizes = []
for k in range(6):
    for i in range(50_000):
        f(float(k * 50_000 + i))   # all distinct: nothing to share
        f("s%d" % (k * 50_000 + i))
t = flowtrace.stop_tracing()
last = [e for e in t if e.kind == "call"][-2:]
kept = t._core.nbytes
print(json.dumps({"nbytes": kept, "last": [[e.args_repr, e.result_repr] for e in last]}))
"""


def test_ring_mode_releases_arena_space_with_its_chunks(tmp_path):
    proc = run_py(RING)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.splitlines()[-1])
    # 600,000 distinct values went through a window of 2,000 events: what
    # is kept is the window's records and values, not the run's
    assert r["nbytes"] < 512 * 1024, r
    assert r["last"] == [["299999.0", "299999.0"], ["'s299999'", "'s299999'"]]
