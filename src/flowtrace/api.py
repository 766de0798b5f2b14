"""Public API: @trace, sessions, tracing(), print_tree().

Thin Python over the C engine (flowtrace._core): it configures, starts,
stops and hands traces to the C writers. Nothing here runs per event.
"""
from __future__ import annotations

import atexit
import functools
import inspect
import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, TypeVar, overload

from . import _core, _paths
from .model import CallEvent, Trace

__all__ = [
    "trace",
    "start_tracing",
    "stop_tracing",
    "get_trace_data",
    "print_tree",
    "tracing",
]

F = TypeVar("F", bound=Callable[..., Any])

_core._configure(default_excludes=_paths.default_excludes(), own_dirs=_paths.own_dirs())


# --------------------------------------------------------------------------
# sessions

def start_tracing(
    *,
    timing: bool = False,
    results: bool = True,
    full_repr: bool = False,
    include_stdlib: bool = False,
    max_events: int | None = None,
) -> None:
    """Start recording every call of user code, on every thread.

    - ``timing``: record each call's duration (off by default: structure only).
    - ``results``: record returned and yielded values (on by default). Values
      of builtin types are formatted by C, bounded; objects of your own
      classes are shown as ``<Name object>`` so that no ``__repr__`` of
      yours runs while recording.
    - ``full_repr``: show every value with its own ``repr()`` (runs your
      ``__repr__`` methods; a failing one shows ``<repr failed: Error>``).
    - ``include_stdlib``: also record the standard library and site-packages.
    - ``max_events``: flight-recorder mode: keep only (at least) the most
      recent ``max_events`` events of each thread, in a ring of 2 MiB
      chunks, so memory stays flat however long the program runs; the tree
      of what was kept marks frames that began before it.

    Raises RuntimeError if a session is already running or if no
    sys.monitoring tool id is free (the message names who holds them).
    """
    if max_events is not None and max_events <= 0:
        raise ValueError("max_events must be a positive number of events")
    _core.start(timing=timing, results=results, full_repr=full_repr,
                include_stdlib=include_stdlib, max_events=max_events or 0)


def stop_tracing() -> Trace:
    """Stop recording and return the trace (a sequence of CallEvent).

    Everything registered with sys.monitoring is released, so another tool
    can take the tool id.
    """
    return Trace(_core.stop())


def get_trace_data() -> Trace:
    """The last recorded trace (empty if nothing was recorded yet)."""
    core = _core.last_trace()
    return Trace(core if core is not None else _core.Trace.from_events([]))


@contextmanager
def tracing(**options: Any) -> Iterator[Trace]:
    """``with tracing() as t: ...`` records the block; after it, ``t`` is
    the trace. Takes the options of :func:`start_tracing`."""
    result = Trace()
    start_tracing(**options)
    try:
        yield result
    finally:
        result._core = _core.stop()


@atexit.register
def _stop_at_exit() -> None:
    # Events keep firing during interpreter shutdown: stop before that.
    if _core.is_active():
        try:
            _core.stop()
        except RuntimeError:
            pass


# --------------------------------------------------------------------------
# printing

_ARROWS = "→←↯⏸▶─"


def _needs_ascii(file: Any) -> bool:
    enc = getattr(file, "encoding", None)
    if not enc:
        return False
    try:
        _ARROWS.encode(enc)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def print_tree(
    events: Sequence[CallEvent] | None = None,
    file: IO[str] | None = None,
    *,
    ascii: bool | None = None,
) -> None:
    """Print the call tree of ``events`` (default: the last trace) to
    ``file`` (default: ``sys.stdout``), streaming.

    ``ascii``: use ``->``, ``<-``, ``!!`` instead of arrows; by default only
    when the file's encoding cannot show the arrows.
    """
    if events is None:
        events = get_trace_data()
    if file is None:
        file = sys.stdout
    if ascii is None:
        ascii = _needs_ascii(file)
    if isinstance(events, Trace):
        if len(events) == 0:
            return
        core = events._c()
    else:
        # any sequence of CallEvent (a filtered list...): rebuilt in C
        core = _core.Trace.from_events(list(events))
    core.write_text(file, ascii=ascii)


# --------------------------------------------------------------------------
# @trace

def _finish_hook(core: Any) -> None:
    """An outermost @trace call ended: print its tree."""
    print_tree(Trace(core))


class _Finisher:
    """Ends the session of an outermost @trace generator/coroutine, once."""

    __slots__ = ("done", "__weakref__")

    def __init__(self) -> None:
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            _core._finish_implicit()


def _drive_generator(gen: Any, finish: _Finisher) -> Any:
    try:
        return (yield from gen)
    finally:
        finish()


async def _drive_coroutine(coro: Any, finish: _Finisher) -> Any:
    try:
        return await coro
    finally:
        finish()


async def _drive_async_generator(agen: Any, finish: _Finisher) -> Any:
    try:
        step = agen.asend(None)
        while True:
            try:
                item = await step
            except StopAsyncIteration:
                return
            try:
                sent = yield item
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as exc:  # forwarded like athrow()
                step = agen.athrow(exc)
            else:
                step = agen.asend(sent)
    finally:
        finish()


_DRIVERS = {1: _drive_generator, 2: _drive_coroutine, 3: _drive_async_generator}


def _drive_hook(obj: Any, kind: int) -> Any:
    """The outermost @trace call returned a generator or coroutine: the
    session ends when it finishes (or is dropped unfinished)."""
    finish = _Finisher()
    driver = _DRIVERS[kind](obj, finish)
    weakref.finalize(driver, finish)
    return driver


_core._set_hooks(finish=_finish_hook, drive=_drive_hook)


@overload
def trace(func: F) -> F: ...
@overload
def trace(*, measure_time: bool = False) -> Callable[[F], F]: ...
def trace(func: Any = None, *, measure_time: bool = False) -> Any:
    """Decorate a function so its calls are traced.

    Outside a session, the outermost decorated call records everything
    user code does during it and prints the tree to ``sys.stdout`` when it
    ends (for a generator or coroutine: when it finishes). Inside a session,
    a decorated call adds its arguments (as written, with full reprs) and
    its result's full repr to that session. ``measure_time=True`` records
    the duration of this function's calls.

    Works on functions, methods, static and class methods, generator and
    ``async def`` functions; keeps name, docstring and signature.
    """
    if func is None:
        return lambda f: trace(f, measure_time=measure_time)
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(trace(func.__func__, measure_time=measure_time))
    wrapper = _core.TracedFunction(func, measure_time)
    functools.update_wrapper(wrapper, func)
    if inspect.iscoroutinefunction(func):
        inspect.markcoroutinefunction(wrapper)
    return wrapper
