"""OpenTelemetry: where a request's time went inside the service.

``FlowTraceSpanProcessor`` is a span processor for the OpenTelemetry SDK
(``pip install 'flowtrace[otel]'``). While a sampled local-root span runs
(a request, a job: a span with no parent in this process), FlowTrace
records the calls of the span's thread, or of its asyncio task when it
runs in one. When the span ends, the processor

- adds a child span for each call that lasted at least ``min_duration``,
  nested as the calls were (a call's span is the child of the nearest
  enclosing call that has one, else of the root span), named by the
  function's qualified name, with the ``code.*`` attributes (function,
  module, file, line) and, for a call that raised, an ``exception`` event
  and an error status;
- with ``directory``, writes the span's whole recording to
  ``DIR/<trace_id>-<span_id>.ftrace`` (``flowtrace show`` opens it) and
  puts that path on the span as ``flowtrace.file``.

How it records: one FlowTrace session with timing, in flight-recorder mode
(``max_events`` per thread: memory stays flat however long a request
runs), runs while at least one root span is open (or, ``keep_running``,
from the first root span on). A root span marks its
thread's place in it when it starts; when it ends, what that thread
recorded since is copied out (the session goes on for the other spans)
and the span's calls are picked from the copy: on a thread, everything;
in an asyncio task, the steps of that task only (tasks are told apart by
name). A generator's or coroutine's time runs from its call to its last
return, its suspensions included.

It never harms the program: no method raises (a failure of its own is one
logged warning, and that span gets no children), results are the
program's. FlowTrace runs one session at a time: while the program (or
the pytest plugin) has a session of its own, root spans get no children
(one warning); a program that starts its own session while the processor
records takes over at once, as it would with FlowTrace absent.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, NamedTuple

try:
    from opentelemetry import trace as trace_api
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
    from opentelemetry.trace import Status, StatusCode
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("flowtrace.otel needs the OpenTelemetry SDK: "
                      "pip install 'flowtrace[otel]'") from e

from . import _core
from .api import GuestSession, normalize_patterns
from .model import Trace

__all__ = ["FlowTraceSpanProcessor"]

log = logging.getLogger("flowtrace.otel")

FILE_ATTRIBUTE = "flowtrace.file"


class _Root(NamedTuple):
    """A root span being recorded."""

    mark: Any              # its thread's place in the session (_core._mark)
    task: str | None       # the asyncio task it runs in, by name
    file: str | None       # where its recording goes


def _current_task() -> tuple[Any, Any]:
    """(the running asyncio task, the code of its coroutine), or Nones.
    Only asks asyncio when the program imported it."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or asyncio.events._get_running_loop() is None:
        return None, None
    task = asyncio.current_task()
    if task is None:
        return None, None
    return task, getattr(task.get_coro(), "cr_code", None)


class FlowTraceSpanProcessor(SpanProcessor):
    """Child spans for the slow calls of each sampled local-root span.

    ``provider.add_span_processor(FlowTraceSpanProcessor(provider))``.

    - ``tracer_provider``: the SDK TracerProvider the child spans are made
      with (default: the global one, when the first span ends).
    - ``min_duration``: seconds a call must last to get a span (1 ms).
    - ``max_spans``: at most this many child spans per root span: the
      longest calls (each then nests under its nearest kept caller).
    - ``directory``: also write each root span's recording there, as
      ``<trace_id>-<span_id>.ftrace``, its path on the span
      (``flowtrace.file``, set when the span starts).
    - ``max_events``: events kept per thread (the flight recorder): a
      span that makes more keeps its most recent ones.
    - ``include``, ``exclude``: what is recorded, as ``start_tracing()``'s
      filters (default: your code, not the standard library or
      site-packages).
    - ``keep_running``: once started, the session runs until the processor
      shuts down, instead of stopping whenever no root span is open.
      Starting and stopping a session turns sys.monitoring's events on and
      off (about 0.1-0.2 ms, and the next call of every function then
      re-instruments it): a service whose requests come one after the
      other saves that on each; your code that runs outside any request is
      then recorded too (into the flight recorder, kept flat).
    """

    def __init__(self, tracer_provider: Any = None, *, min_duration: float = 0.001,
                 max_spans: int = 100, directory: str | os.PathLike[str] | None = None,
                 max_events: int = 100_000, include: Any = None, exclude: Any = None,
                 keep_running: bool = False) -> None:
        if min_duration < 0:
            raise ValueError("min_duration must be >= 0 (seconds)")
        if max_spans < 0:
            raise ValueError("max_spans must be >= 0")
        if max_events <= 0:
            raise ValueError("max_events must be a positive number of events")
        self._provider = tracer_provider
        self._tracer: Any = None
        self._min_ns = int(min_duration * 1e9)
        self._max_spans = max_spans
        self._dir = os.path.abspath(os.fspath(directory)) if directory is not None else None
        self._options = {"timing": True, "max_events": max_events,
                         "include": normalize_patterns(include),
                         "exclude": normalize_patterns(exclude)}
        self._keep = keep_running
        self._lock = threading.Lock()
        self._open: dict[int, _Root] = {}    # span id -> root being recorded
        self._session: GuestSession | None = None
        self._shut = False
        self._warned: set[str] = set()

    # -- the session: running while a root span is open

    def _recording(self) -> bool:
        """Our session runs (started now if need be). Under the lock."""
        s = self._session
        if s is not None and s._running():
            return True
        if s is not None:
            # stopped by the program (it started a session of its own):
            # the marks of the spans still open point into it
            self._session = None
            self._open.clear()
        try:
            self._session = GuestSession(**self._options)
        except RuntimeError as e:
            self._warn("busy", f"root spans get no child spans while another FlowTrace "
                       f"session runs ({e})")
            return False
        return True

    def _idle(self) -> None:
        """No root span is open any more: the session stops (unless asked
        to keep running). Under the lock."""
        if self._session is not None and not self._open and not (self._keep and not self._shut):
            session, self._session = self._session, None
            session.stop()

    # -- SpanProcessor

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        try:
            parent = span.parent
            ctx = span.get_span_context()
            if (self._shut or (parent is not None and not parent.is_remote)
                    or not ctx.trace_flags.sampled):
                return
            task, code = _current_task()
            path = (os.path.join(self._dir, f"{ctx.trace_id:032x}-{ctx.span_id:016x}.ftrace")
                    if self._dir is not None else None)
            with self._lock:
                if not self._recording():
                    return
                mark = _core._mark(task, code)
                if mark is None:
                    return
                self._open[ctx.span_id] = _Root(mark, mark[5], path)
            if path is not None:
                span.set_attribute(FILE_ATTRIBUTE, path)
        except Exception as e:
            self._warn("error", f"on_start: {type(e).__name__}: {e}")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            ctx = span.get_span_context()
            with self._lock:
                root = self._open.pop(ctx.span_id, None)
                if root is None:
                    return
                running = self._session is not None and self._session._running()
                # no call inside a span is longer than the span
                slow = (span.end_time or 0) - (span.start_time or 0) >= self._min_ns
                wanted = running and (slow or root.file is not None)
                snap = (_core._snapshot(root.mark, task_only=root.task is not None)
                        if wanted else None)
                self._idle()
            if snap is None:
                return
            if slow:
                self._children(span, root, snap)
            if root.file is not None:
                self._write(root.file, snap)
        except Exception as e:
            self._warn("error", f"on_end: {type(e).__name__}: {e}")

    def shutdown(self) -> None:
        try:
            with self._lock:
                self._shut = True
                self._open.clear()
                self._idle()
        except Exception as e:
            self._warn("error", f"shutdown: {type(e).__name__}: {e}")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- the child spans

    def _children(self, span: ReadableSpan, root: _Root, snap: Any) -> None:
        acts = snap._activations(self._min_ns)
        if not acts:
            return
        if root.task is not None:
            # in an asyncio task: that task's steps only
            names: dict[int, str | None] = {}
            for lane in {a[3] for a in acts if a[3] >= 0}:
                names[lane] = snap[lane].args_repr
            acts = [a for a in acts if a[3] >= 0 and names[a[3]] == root.task]
        if len(acts) > self._max_spans:
            acts = self._longest(acts)
        clock, wall = snap._anchor
        lo, hi = span.start_time or 0, span.end_time or wall

        def at(t: int) -> int:
            return min(max(wall - (clock - t), lo), hi)

        tracer = self._get_tracer()
        root_ctx = trace_api.set_span_in_context(
            trace_api.NonRecordingSpan(span.get_span_context()))
        contexts: dict[int, Any] = {}
        for call, last, parent, _lane, t0, t1 in acts:
            ev = snap[call]
            attrs = {"code.function": ev.func_name, "code.filepath": ev.filename,
                     "code.lineno": ev.lineno, "thread.id": ev.thread_id,
                     "thread.name": ev.thread}
            if ev.module:
                attrs["code.namespace"] = ev.module
            child = tracer.start_span(ev.func_name, context=contexts.get(parent, root_ctx),
                                      start_time=at(t0), attributes=attrs)
            end = at(t1)
            ended = snap[last] if last != call else ev
            if ended.end == "raise" and ended.exception:
                exc = ended.exception
                kind, _, message = exc.partition(": ")
                child.add_event("exception", {"exception.type": kind,
                                              "exception.message": message,
                                              "exception.escaped": True}, timestamp=end)
                child.set_status(Status(StatusCode.ERROR, exc))
            child.end(end_time=end)
            contexts[call] = trace_api.set_span_in_context(child)

    def _longest(self, acts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The max_spans longest calls, in their order, each under its
        nearest kept caller."""
        keep = {a[0] for a in sorted(acts, key=lambda a: a[5] - a[4], reverse=True)
                [:self._max_spans]}
        parent_of = {a[0]: a[2] for a in acts}
        out = []
        for a in acts:
            if a[0] not in keep:
                continue
            p = a[2]
            while p >= 0 and p not in keep:
                p = parent_of.get(p, -1)
            out.append((a[0], a[1], p) + tuple(a[3:]))
        return out

    def _get_tracer(self) -> Any:
        if self._tracer is None:
            from . import __version__

            provider = self._provider or trace_api.get_tracer_provider()
            self._tracer = provider.get_tracer("flowtrace", __version__)
        return self._tracer

    # -- files and warnings

    def _write(self, path: str, snap: Any) -> None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Trace(snap).save(path, format="ftrace")
        except OSError as e:
            self._warn("write", f"cannot write {path}: {e.strerror or e}")

    def _warn(self, key: str, message: str) -> None:
        """One warning per kind of trouble, logged (never raised)."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning("flowtrace: warning: %s", message)
