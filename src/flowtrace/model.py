"""The trace model seen from Python: CallEvent and Trace.

A Trace wraps the C recording. CallEvent objects are views made when an
event is asked for: a million-call trace is not a million Python objects
until someone iterates over all of it. The engine gives each event as a
``flowtrace._core.Event`` (a struct sequence) whose fields have
CallEvent's names: a CallEvent is made from it by name (``_event``).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, overload

__all__ = ["CallEvent", "Trace", "FunctionStats"]


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One call in the tree (or one resumption of a generator/coroutine).

    The first seven fields are the seed's model; the others say more.

    - ``id``: index of the event in its trace (0-based, pre-order per thread).
    - ``kind``: ``"call"`` (a function call: the frame started),
      ``"resume"`` (a suspended generator/coroutine resumed by ``next()`` /
      ``send()`` / an await), ``"throw"`` (resumed by ``throw()`` /
      ``close()``); or an exception marker inside its parent's frame:
      ``"raise"`` (raised there), ``"reraise"`` (re-raised there),
      ``"handled"`` (caught there), with ``exception`` set; or ``"task"``:
      the lane of an asyncio task, whose children are the task's steps
      (``func_name``: the coroutine it runs, ``args_repr``: the task's name,
      ``result_repr``: the name of the task that created it, if known).
    - ``func_name``: the function's qualified name (``Point.move``).
    - ``parent_id``: ``id`` of the event that was running when this one
      started, on the same thread; ``None`` for a root.
    - ``args_repr``: the arguments as written (``"6, 7"``, ``"4, b=5"``),
      without parentheses; ``None`` when they were not captured (undecorated
      functions in a session).
    - ``result_repr``: the returned value (or the yielded value when
      ``end == "yield"``); ``None`` when the call raised, is unfinished, or
      results were not captured.
    - ``duration``: seconds from start to end, when timing was on; else None.
    - ``exception``: ``"Type: message"`` when the call ended by an exception.
    - ``end``: ``"return"``, ``"raise"``, ``"yield"`` (suspended),
      ``"closed"`` (a generator closed by ``close()``/GeneratorExit) or
      ``"unfinished"`` (still running when tracing stopped).
    - ``thread``, ``thread_id``: the thread's name and ident.
    - ``filename``, ``lineno``: where the function is defined.
    - ``module``: the module the function ran in (its globals'
      ``__name__``: ``"__main__"`` for a script), None when unknown.
    - ``origin_id``: for a resumption, the ``id`` of the generator's or
      coroutine's first call (``None`` if it began before tracing); for
      other events their own ``id``.
    - ``left_suspended``: this is the generator's last segment and it ended
      suspended: it was never resumed again while tracing.
    - ``began_before``: the frame was already running when tracing started
      (only its end was seen: no arguments, no duration); it adopts what
      was recorded on its thread before it ended.
    """

    id: int
    kind: str
    func_name: str
    parent_id: int | None
    args_repr: str | None
    result_repr: str | None
    duration: float | None
    exception: str | None = None
    end: str = "return"
    thread: str = "MainThread"
    thread_id: int = 0
    filename: str = ""
    lineno: int = 0
    module: str | None = None
    origin_id: int | None = None
    left_suspended: bool = False
    began_before: bool = False


# CallEvent's fields, read by name from an engine Event (in C: one call).
_event_fields = attrgetter(*(f.name for f in fields(CallEvent)))


def _event(ev: Any) -> CallEvent:
    """The CallEvent of one ``flowtrace._core.Event``: each field by its name."""
    return CallEvent(*_event_fields(ev))


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """One function's line of ``Trace.stats()`` / ``flowtrace stats``.

    ``total`` counts each outermost activation once (time of recursive calls
    is already in their caller's, as cProfile's cumulative time); ``self`` is
    ``total`` minus the time spent in the calls it made. Both are seconds, or
    None when the trace was recorded without timing.
    """

    name: str
    module: str | None
    filename: str | None
    lineno: int
    calls: int
    resumes: int
    raised: int
    total: float | None
    self: float | None


class Trace(Sequence[CallEvent]):
    """A recorded trace: a read-only sequence of CallEvent, made on demand.

    ``len(trace)`` is the number of calls. ``print_tree(trace)`` writes it
    with the C writer without creating any CallEvent.
    """

    __slots__ = ("_core",)

    def __init__(self, core: Any = None) -> None:
        self._core = core

    def _c(self) -> Any:
        if self._core is None:
            raise RuntimeError("flowtrace: this trace is still being recorded")
        return self._core

    def __len__(self) -> int:
        return len(self._c())

    @overload
    def __getitem__(self, i: int) -> CallEvent: ...
    @overload
    def __getitem__(self, i: slice) -> list[CallEvent]: ...
    def __getitem__(self, i: int | slice) -> CallEvent | list[CallEvent]:
        core = self._c()
        if isinstance(i, slice):
            return [_event(core[j]) for j in range(*i.indices(len(core)))]
        n = len(core)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("trace index out of range")
        return _event(core[i])

    def __iter__(self) -> Iterator[CallEvent]:
        core = self._c()
        for j in range(len(core)):
            yield _event(core[j])

    @property
    def timing(self) -> bool:
        """True when every call was timed."""
        return bool(self._c().timing)

    @property
    def dropped(self) -> int:
        """Events not kept: the oldest, in flight-recorder mode (max_events)."""
        return int(getattr(self._c(), "dropped", 0))

    @property
    def nbytes(self) -> int:
        """Bytes of memory the engine holds for this trace (event records,
        value stores, per-thread buffers, the call tree once built; not the
        Python objects they refer to). Freed with the trace."""
        return int(self._c().nbytes)

    def threads(self) -> list[tuple[int, str]]:
        """(ident, name) of each thread that produced events."""
        return self._c().threads()

    def save(self, file: Any, format: str | None = None) -> None:
        """Write the trace to ``file`` (a path or an open file):
        ``format="json"`` (FlowTrace's schema, loads back with
        :func:`flowtrace.load`), ``"ftrace"`` (the recording itself, binary:
        smallest, fastest to write and to load back), ``"chrome"`` (Chrome
        Trace Event JSON for Perfetto UI, chrome://tracing, speedscope),
        ``"perfetto"`` or ``"html"`` (the viewer's page). Without
        ``format``, a path's suffix says which (``t.ftrace``, ``t.pftrace``,
        ``t.html``; anything else is JSON). Streams: memory does not grow
        with the trace."""
        from .saved import save

        save(self, file, format=format)

    def stats(self) -> list[FunctionStats]:
        """Per-function summary (calls, resumes, raised, total and self time
        when timing was recorded), in order of first appearance."""
        return [FunctionStats(*row) for row in self._c().stats()]

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's display of a trace: a line saying what it is, then its
        tree, bounded (6 levels, 200 lines; ``flowtrace.print_tree(t)``
        prints all of it). Coloured when IPython's colours are on."""
        if self._core is None or cycle:
            p.text(repr(self))
            return
        from ._display import TreeView, ipython_color

        TreeView(self, header=repr(self), color=ipython_color(),
                 whole="flowtrace.print_tree(...)")._repr_pretty_(p, cycle)

    def _repr_html_(self) -> str | None:
        """Jupyter's display of a trace: the viewer's page in a frame (up to
        100,000 nodes; a bigger trace shows its text tree)."""
        from ._display import page_frame

        return page_frame(self)

    def __repr__(self) -> str:
        if self._core is None:
            return "<flowtrace.Trace (recording)>"
        return f"<flowtrace.Trace {len(self._core)} calls, {len(self.threads())} thread(s)>"
