"""flowtrace.otel.FlowTraceSpanProcessor with the real OpenTelemetry SDK.

Spans are exported to the SDK's InMemorySpanExporter through a
SimpleSpanProcessor. Slow calls sleep 20-60 ms against thresholds of
5-10 ms, fast ones do nothing: the margins make every assertion
deterministic (no timed assertion beyond "a sleep lasted at least its
length").
"""
from __future__ import annotations

import asyncio
import io
import logging
import threading
import time

import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry import trace as trace_api  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF  # noqa: E402
from opentelemetry.trace import SpanContext, StatusCode, TraceFlags  # noqa: E402

import flowtrace  # noqa: E402
from flowtrace import _core  # noqa: E402
from flowtrace.otel import FILE_ATTRIBUTE, FlowTraceSpanProcessor  # noqa: E402

MS = 1_000_000  # ns


class Setup:
    def __init__(self, sampler=None, **options):
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
        self.processor = FlowTraceSpanProcessor(self.provider, **options)
        self.provider.add_span_processor(self.processor)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def spans(self):
        return list(self.exporter.get_finished_spans())

    def root(self, name):
        (s,) = [s for s in self.spans() if s.name == name]
        return s

    def children(self, span):
        sid = span.context.span_id
        return sorted((s for s in self.spans() if s.parent is not None and s.parent.span_id == sid),
                      key=lambda s: s.start_time)

    def names(self, span):
        return [s.name for s in self.children(span)]

    def subtree(self, span):
        """The names below span, as nested tuples: (name, [children])."""
        return [(c.name, self.subtree(c)) for c in self.children(span)]


@pytest.fixture
def otel():
    setups = []

    def make(**options):
        s = Setup(**options)
        setups.append(s)
        return s

    yield make
    for s in setups:
        s.provider.shutdown()


# -- the program under test ------------------------------------------------

def leaf():
    time.sleep(0.02)


def fast():
    return 1


def middle():
    leaf()
    fast()
    leaf()
    return "done"


class Store:
    def save(self):
        time.sleep(0.02)
        return 3


def fails():
    time.sleep(0.02)
    raise KeyError("missing")


def catches():
    try:
        fails()
    except KeyError:
        return "caught"


def handler(tracer):
    with tracer.start_as_current_span("request"):
        return middle(), Store().save(), catches()


# -- tests -------------------------------------------------------------------

def test_children_nest_as_the_calls(otel):
    o = otel(min_duration=0.005)
    assert handler(o.tracer) == ("done", 3, "caught")
    root = o.root("request")
    assert o.subtree(root) == [
        ("middle", [("leaf", []), ("leaf", [])]),
        ("Store.save", []),
        ("catches", [("fails", [])]),
    ]
    for s in o.spans():
        assert s.context.trace_id == root.context.trace_id


def test_code_attributes(otel):
    o = otel(min_duration=0.005)
    handler(o.tracer)
    save = [s for s in o.spans() if s.name == "Store.save"][0]
    code = Store.save.__code__
    assert save.attributes["code.function"] == "Store.save"
    assert save.attributes["code.namespace"] == __name__
    assert save.attributes["code.filepath"] == code.co_filename
    assert save.attributes["code.lineno"] == code.co_firstlineno
    assert save.attributes["thread.id"] == threading.get_ident()


def test_times_are_the_calls_wall_clock(otel):
    o = otel(min_duration=0.005)

    def later():
        time.sleep(0.03)
        leaf()

    with o.tracer.start_as_current_span("request"):
        later()
    root = o.root("request")
    (call,) = o.children(root)
    (inner,) = o.children(call)
    assert root.start_time <= call.start_time <= inner.start_time
    assert inner.end_time <= call.end_time <= root.end_time
    # leaf started after the 30 ms sleep, and lasted its 20 ms: the
    # clock is mapped, not just clamped into the root span
    assert inner.start_time - call.start_time >= 29 * MS
    assert inner.end_time - inner.start_time >= 19 * MS
    assert call.end_time - call.start_time >= 49 * MS


def test_threshold_leaves_fast_calls_out(otel):
    o = otel(min_duration=0.005)
    handler(o.tracer)
    names = {s.name for s in o.spans()}
    assert "fast" not in names and "handler" not in names
    o2 = otel(min_duration=0.1)  # above every call of the handler
    handler(o2.tracer)
    assert o2.names(o2.root("request")) == []


def test_exception_event_and_status(otel):
    o = otel(min_duration=0.005)
    handler(o.tracer)
    failed = [s for s in o.spans() if s.name == "fails"][0]
    assert failed.status.status_code is StatusCode.ERROR
    (event,) = failed.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'missing'"
    assert event.attributes["exception.escaped"] is True
    assert event.timestamp == failed.end_time
    caught = [s for s in o.spans() if s.name == "catches"][0]
    assert caught.events == () or list(caught.events) == []
    assert caught.status.status_code is StatusCode.UNSET


def test_max_spans_keeps_the_longest(otel):
    o = otel(min_duration=0.005, max_spans=2)

    def short():
        time.sleep(0.01)

    def longer():
        time.sleep(0.04)

    def outer():
        short()
        longer()

    with o.tracer.start_as_current_span("request"):
        outer()
        short()
    # outer (50 ms) and longer (40 ms) are kept; short calls are not
    assert o.subtree(o.root("request")) == [("test_max_spans_keeps_the_longest.<locals>.outer",
                                             [("test_max_spans_keeps_the_longest.<locals>.longer",
                                               [])])]


def test_only_local_roots_record(otel):
    o = otel(min_duration=0.005)
    with o.tracer.start_as_current_span("request"):
        with o.tracer.start_as_current_span("manual"):
            leaf()
    root, manual = o.root("request"), o.root("manual")
    assert o.names(manual) == []          # a local child span: not recorded itself
    assert o.names(root) == ["manual", "leaf"]  # its calls belong to the root's story
    # a span whose parent is remote (a request from another service) is a root
    remote = SpanContext(trace_id=0x1234, span_id=0x5678, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    ctx = trace_api.set_span_in_context(trace_api.NonRecordingSpan(remote))
    with o.tracer.start_as_current_span("from-remote", context=ctx):
        leaf()
    assert o.names(o.root("from-remote")) == ["leaf"]


def test_unsampled_spans_are_not_recorded(otel):
    o = otel(sampler=ALWAYS_OFF, min_duration=0.005)
    with o.tracer.start_as_current_span("request"):
        assert _core.is_active() is False
        leaf()
    assert o.spans() == []


def test_session_runs_only_while_a_root_span_is_open(otel):
    o = otel(min_duration=0.005)
    assert _core.is_active() is False
    with o.tracer.start_as_current_span("request"):
        assert _core.is_active() == "session"
        leaf()
    assert _core.is_active() is False
    # and the program's own API sees no session of its own
    with pytest.raises(RuntimeError):
        with o.tracer.start_as_current_span("again"):
            flowtrace.stop_tracing()


def test_threads_each_get_their_own_calls(otel):
    o = otel(min_duration=0.005)
    barrier = threading.Barrier(2, timeout=10)

    def work_a():
        time.sleep(0.03)

    def work_b():
        time.sleep(0.03)

    def run(name, work):
        with o.tracer.start_as_current_span(name):
            barrier.wait()   # both root spans are open
            work()
            barrier.wait()   # both did their work before either ends

    threads = [threading.Thread(target=run, args=("a", work_a)),
               threading.Thread(target=run, args=("b", work_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = o.root("a"), o.root("b")
    assert a.start_time < b.end_time and b.start_time < a.end_time  # concurrent
    assert o.names(a) == ["test_threads_each_get_their_own_calls.<locals>.work_a"]
    assert o.names(b) == ["test_threads_each_get_their_own_calls.<locals>.work_b"]
    assert _core.is_active() is False


async def fetch(n):
    await asyncio.sleep(0.02 * n)
    return n


def block(n):
    time.sleep(0.01 + 0.005 * n)


async def request_1(tracer):
    with tracer.start_as_current_span("r1"):
        await fetch(1)
        block(1)
        await fetch(2)


async def request_2(tracer):
    with tracer.start_as_current_span("r2"):
        block(2)
        await fetch(1)


async def request_3(tracer):
    with tracer.start_as_current_span("r3"):
        await fetch(3)
        block(3)


def test_async_requests_each_get_their_own_task(otel):
    o = otel(min_duration=0.005)

    async def main():
        await asyncio.gather(request_1(o.tracer), request_2(o.tracer), request_3(o.tracer))

    asyncio.run(main())
    r1, r2, r3 = o.root("r1"), o.root("r2"), o.root("r3")
    assert r1.start_time < r3.end_time and r3.start_time < r1.end_time  # concurrent
    assert o.names(r1) == ["fetch", "block", "fetch"]
    assert o.names(r2) == ["block", "fetch"]
    assert o.names(r3) == ["fetch", "block"]
    # an awaited sleep is the coroutine's time: from its call to its return
    f3 = o.children(r3)[0]
    assert f3.end_time - f3.start_time >= 59 * MS
    for root in (r1, r2, r3):
        for child in o.children(root):
            assert root.start_time <= child.start_time <= child.end_time <= root.end_time


def test_writes_the_recording_and_puts_its_path_on_the_span(otel, tmp_path):
    o = otel(min_duration=0.005, directory=tmp_path / "traces")
    handler(o.tracer)
    root = o.root("request")
    path = root.attributes[FILE_ATTRIBUTE]
    ctx = root.context
    assert path == str(tmp_path / "traces" / f"{ctx.trace_id:032x}-{ctx.span_id:016x}.ftrace")
    trace = flowtrace.load(path)
    assert trace.timing
    names = [e.func_name for e in trace if e.kind == "call"]
    assert names[:3] == ["middle", "leaf", "fast"]
    assert "Store.save" in names and "fails" in names
    out = io.StringIO()
    flowtrace.print_tree(trace, file=out, color="never")
    assert "↯ fails()" in out.getvalue()
    # children spans are in the file, not files of their own
    assert sorted(p.name for p in (tmp_path / "traces").iterdir()) == [
        f"{ctx.trace_id:032x}-{ctx.span_id:016x}.ftrace"]


def test_after_shutdown_spans_get_no_children(otel):
    o = otel(min_duration=0.005)
    with o.tracer.start_as_current_span("open"):
        assert _core.is_active() == "session"
        o.processor.shutdown()
        assert _core.is_active() is False
        leaf()
    handler(o.tracer)
    assert o.names(o.root("open")) == []
    assert o.names(o.root("request")) == []
    assert _core.is_active() is False


def test_a_session_of_the_program_comes_first(otel, caplog):
    o = otel(min_duration=0.005)
    caplog.set_level(logging.WARNING, logger="flowtrace.otel")
    with flowtrace.tracing() as t:
        handler(o.tracer)
        handler(o.tracer)
    assert [o.names(r) for r in o.spans() if r.name == "request"] == [[], []]
    assert "middle" in {e.func_name for e in t}   # the program's session saw it all
    warnings = [r for r in caplog.records if r.name == "flowtrace.otel"]
    assert len(warnings) == 1 and "another FlowTrace session" in warnings[0].getMessage()
    # once it is over, the processor records again
    o.exporter.clear()
    handler(o.tracer)
    assert "middle" in o.names(o.root("request"))


def test_the_program_may_start_its_own_session_inside_a_span(otel):
    o = otel(min_duration=0.005)
    with o.tracer.start_as_current_span("request"):
        leaf()
        flowtrace.start_tracing()   # the processor's session gives way
        middle()
        trace = flowtrace.stop_tracing()
    assert [e.func_name for e in trace if e.kind == "call"] == ["middle", "leaf", "fast", "leaf"]
    assert o.names(o.root("request")) == []
    assert _core.is_active() is False
    o.exporter.clear()
    handler(o.tracer)
    assert "middle" in o.names(o.root("request"))


def test_bad_options_are_one_clear_error():
    with pytest.raises(ValueError, match="min_duration"):
        FlowTraceSpanProcessor(min_duration=-1)
    with pytest.raises(ValueError, match="max_events"):
        FlowTraceSpanProcessor(max_events=0)


def test_flight_recorder_keeps_the_latest_calls(otel, tmp_path):
    o = otel(min_duration=0.005, max_events=1000, directory=tmp_path)
    with o.tracer.start_as_current_span("request"):
        for _ in range(5000):
            fast()
        leaf()
    root = o.root("request")
    assert o.names(root) == ["leaf"]
    trace = flowtrace.load(root.attributes[FILE_ATTRIBUTE])
    assert trace.dropped > 0
    assert len(trace) < 5000


def test_a_snapshot_leaves_the_session_whole():
    flowtrace.start_tracing(timing=True)
    try:
        fast()
        mark = _core._mark()
        middle()
        snap = flowtrace.Trace(_core._snapshot(mark))
        catches()
    finally:
        whole = flowtrace.stop_tracing()
    assert [e.func_name for e in snap] == ["middle", "leaf", "fast", "leaf"]
    assert [e.func_name for e in whole if e.kind == "call"] == [
        "fast", "middle", "leaf", "fast", "leaf", "catches", "fails"]
    assert _core._snapshot(mark) is None  # its session is over


def test_keep_running_keeps_the_session_between_spans(otel):
    o = otel(min_duration=0.005, keep_running=True)
    assert _core.is_active() is False
    handler(o.tracer)
    assert _core.is_active() == "session"
    o.exporter.clear()
    handler(o.tracer)
    assert o.subtree(o.root("request"))[0] == ("middle", [("leaf", []), ("leaf", [])])
    o.processor.shutdown()
    assert _core.is_active() is False


def test_an_async_requests_file_holds_its_own_task_only(otel, tmp_path):
    o = otel(min_duration=0.005, directory=tmp_path)

    async def main():
        await asyncio.gather(request_1(o.tracer), request_2(o.tracer), request_3(o.tracer))

    asyncio.run(main())
    for name, calls in (("r1", ["fetch", "block", "fetch"]), ("r2", ["block", "fetch"]),
                        ("r3", ["fetch", "block"])):
        trace = flowtrace.load(o.root(name).attributes[FILE_ATTRIBUTE])
        lanes = [e for e in trace if e.kind == "task"]
        assert len(lanes) == 1, name
        assert [e.func_name for e in trace if e.kind == "call"] == calls
