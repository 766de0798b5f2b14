"""Public API: @trace, sessions, tracing(), print_tree().

Thin Python over the C engine (flowtrace._core): it configures, starts,
stops and hands traces to the C writers. Nothing here runs per event.
"""
from __future__ import annotations

import atexit
import codecs
import functools
import io
import inspect
import os
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    "want_color",
    "normalize_patterns",
]

F = TypeVar("F", bound=Callable[..., Any])

_core._configure(default_excludes=_paths.default_excludes(), own_dirs=_paths.own_dirs())


# --------------------------------------------------------------------------
# filters

def _is_path_pattern(p: str) -> bool:
    return "/" in p or os.sep in p or p.endswith(".py")


def normalize_patterns(patterns: str | Iterable[str] | None) -> tuple[str, ...]:
    """The include/exclude patterns as the C filter takes them.

    A pattern with a ``/`` (or ending in ``.py``) is a path glob over the
    file a function is defined in; a relative one is taken from the current
    directory (``src/**`` is ``$PWD/src/**``), except one that starts with
    ``*`` (``**/tests/**`` matches at any depth); a trailing ``/`` means
    everything below. Anything else is a name glob (module, package,
    function or qualified name, see the README).
    """
    if patterns is None:
        return ()
    if isinstance(patterns, str):
        patterns = [patterns]
    out = []
    for p in patterns:
        if not isinstance(p, str):
            raise TypeError(f"a pattern must be str, not {type(p).__name__}")
        if not p:
            raise ValueError("empty pattern")
        if _is_path_pattern(p):
            p = os.path.expanduser(p)
            if os.sep != "/":
                p = p.replace(os.sep, "/")
            if not (p.startswith("/") or p.startswith("*") or os.path.isabs(p)):
                p = os.path.join(os.getcwd(), p).replace(os.sep, "/")
            if p.endswith("/"):
                p += "**"
            if "/" not in p:  # "*.py": a file name at any depth
                p = "**/" + p
        out.append(p)
    return tuple(out)


# --------------------------------------------------------------------------
# sessions

def start_tracing(
    *,
    timing: bool = False,
    results: bool = True,
    full_repr: bool = False,
    include_stdlib: bool = False,
    args: bool = False,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
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
    - ``args``: also show the arguments of undecorated functions, read from
      the frame when the call starts and formatted like results (no
      ``__repr__`` of yours runs unless ``full_repr``). Costs a little per
      call; off by default.
    - ``include`` / ``exclude``: glob patterns (a str or a list) choosing
      what is recorded: module globs (``"myapp.*"``, ``"myapp"`` with its
      submodules), path globs (``"src/**"``), function names
      (``"*.save"``, ``"parse"``). Precedence: FlowTrace's own code never;
      ``@trace`` functions always; then an ``exclude`` match is never
      recorded; then, when ``include`` is given, only what it matches is
      recorded (the standard library too, if it matches); otherwise your
      code, not the standard library. Decided once per code object, in C:
      excluded code costs (almost) nothing.
    - ``max_events``: flight-recorder mode: keep only (at least) the most
      recent ``max_events`` events of each thread, in a ring of 2 MiB
      chunks, so memory stays flat however long the program runs; the tree
      of what was kept marks frames that began before it.

    Raises RuntimeError if a session is already running or if no
    sys.monitoring tool id is free (the message names who holds them).
    """
    if max_events is not None and max_events <= 0:
        raise ValueError("max_events must be a positive number of events")
    if _guest is not None:
        _guest._give_way()
    _core.start(timing=timing, results=results, full_repr=full_repr,
                include_stdlib=include_stdlib, args=args,
                include=normalize_patterns(include), exclude=normalize_patterns(exclude),
                max_events=max_events or 0)


def stop_tracing() -> Trace:
    """Stop recording and return the trace (a sequence of CallEvent).

    Everything registered with sys.monitoring is released, so another tool
    can take the tool id.
    """
    if _guest is not None and _guest._running():
        # the program has no session of its own: as without the guest
        raise RuntimeError("flowtrace: no tracing session is running")
    return Trace(_core.stop())


def get_trace_data() -> Trace:
    """The last recorded trace (empty if nothing was recorded yet)."""
    core = _core.last_trace()
    if core is not None and core is _hidden[0]:
        core = _hidden[1]  # a guest's trace: the program's last one is older
    return Trace(core if core is not None else _core.Trace.from_events([]))


# --------------------------------------------------------------------------
# guest sessions: tracing a program that may use FlowTrace itself

class GuestSession:
    """A session that gives way to the program's own use of FlowTrace.

    The pytest plugin traces each test with one: a test of code that calls
    ``start_tracing()`` or ``tracing()`` must behave as it does untraced.
    While a guest session runs, the program's ``start_tracing()`` stops it
    first (its trace so far is kept here, and ``gave_way_at`` says where
    the program took over), ``stop_tracing()`` raises as when no session
    runs, and ``get_trace_data()`` gives the program's last trace, not a
    guest's. What it cannot hide: an outermost ``@trace`` call made while
    it runs is recorded in it instead of printing its own tree (the C
    wrapper sees a session running), and the engine's private ``_core``
    functions see it as any session.
    """

    __slots__ = ("trace", "gave_way_at", "_before", "_prev_last")

    def __init__(self, **options: Any) -> None:
        global _guest
        self.trace: Trace | None = None
        self.gave_way_at: str | None = None
        self._before = _visible_last()
        if _guest is not None:
            raise RuntimeError("flowtrace: a tracing session is already running")
        start_tracing(**options)
        # a stop by anyone sets the engine's last trace: how a stop that
        # bypassed this API (_core.stop()) is noticed
        self._prev_last = _core.last_trace()
        _guest = self

    def _running(self) -> bool:
        return (_guest is self and _core.is_active() == "session"
                and _core.last_trace() is self._prev_last)

    def _give_way(self) -> None:
        global _guest
        running = self._running()
        _guest = None
        if running:
            self._stopped(_core.stop())
            self.gave_way_at = _program_site()

    def _stopped(self, core: Any) -> None:
        global _hidden
        self.trace = Trace(core)
        _hidden = (core, self._before)

    def stop(self) -> Trace | None:
        """Stop it, if it still runs, and return its trace: None when the
        session was stopped by other means than this API."""
        global _guest
        if _guest is self:
            running = self._running()
            _guest = None
            if running:
                self._stopped(_core.stop())
        return self.trace


_guest: GuestSession | None = None
# (a guest's stopped trace, the program's last trace before it): what
# get_trace_data() shows instead while the engine's last trace is the guest's
_hidden: tuple[Any, Any] = (None, None)


def _visible_last() -> Any:
    core = _core.last_trace()
    return _hidden[1] if core is not None and core is _hidden[0] else core


def _program_site() -> str | None:
    """file:line of the program's frame that called into FlowTrace."""
    here = os.path.dirname(os.path.abspath(__file__))
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if not os.path.abspath(name).startswith(here + os.sep) and "contextlib" not in name:
            return f"{name}:{f.f_lineno}"
        f = f.f_back
    return None


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


def _utf8_buffer(file: Any) -> Any:
    """``file.buffer`` when the tree's UTF-8 bytes can go there unchanged,
    else None: ``file`` is an ``io.TextIOWrapper`` (the exact class, so no
    overridden ``write``) encoding UTF-8, write-only, on a platform whose
    line end is ``\n``. The text layer would only decode our bytes and
    encode them again (half of the writing time for a tree of arrows).
    Not detectable, hence not honoured: a file opened with an explicit
    ``newline="\r\n"`` gets ``\n`` line ends."""
    if type(file) is not io.TextIOWrapper or os.linesep != "\n":
        return None
    try:
        if file.readable() or codecs.lookup(file.encoding).name != "utf-8":
            return None
        return file.buffer
    except Exception:
        return None


def want_color(file: Any, color: bool | str | None = None) -> bool:
    """Whether to colour output to ``file``.

    ``color``: True/"always", False/"never", or None/"auto": then, as
    CPython 3.13 decides for its tracebacks: ``NO_COLOR`` set (not empty)
    means no colour; else ``FORCE_COLOR`` set (not empty) means colour; else
    ``TERM=dumb`` means none; else colour only if ``file`` is a terminal.
    """
    if color is True or color == "always":
        return True
    if color is False or color == "never":
        return False
    if color not in (None, "auto"):
        raise ValueError(f"color must be 'auto', 'always' or 'never', not {color!r}")
    # the same decision, in the order that reads least for a file or a pipe
    force = os.environ.get("FORCE_COLOR")
    if not force and not _file_facts(file)[0]:
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if force:
        return True
    return os.environ.get("TERM") != "dumb"  # a terminal


def _isatty(file: Any) -> bool:
    isatty = getattr(file, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (OSError, ValueError):
        return False


# What print_tree needs to know of a file costs a system call (isatty) and
# codec lookups: an @trace function called in a loop prints on every call.
# Kept per file object while it lives, and while its encoding is the same
# (reconfigure() may change it).
_facts: weakref.WeakKeyDictionary[Any, tuple[Any, tuple[bool, bool, Any]]] = (
    weakref.WeakKeyDictionary())


def _file_facts(file: Any) -> tuple[bool, bool, Any]:
    """(is a terminal, needs the ASCII arrows, UTF-8 binary buffer or None)."""
    enc = getattr(file, "encoding", None)
    try:
        hit = _facts.get(file)
    except TypeError:  # not weakly referenceable, or unhashable
        hit = None
    if hit is not None and hit[0] == enc:
        return hit[1]
    facts = (_isatty(file), _needs_ascii(file), _utf8_buffer(file))
    try:
        _facts[file] = (enc, facts)
    except TypeError:
        pass
    return facts


def _core_of(events: Sequence[CallEvent]) -> Any:
    if isinstance(events, Trace):
        return events._c()
    # any sequence of CallEvent (a filtered list...): rebuilt in C
    return _core.Trace.from_events(list(events))


def print_tree(
    events: Sequence[CallEvent] | None = None,
    file: IO[str] | None = None,
    *,
    ascii: bool | None = None,
    color: bool | str | None = None,
    max_depth: int | None = None,
    focus: str | None = None,
    fold: bool | None = None,
) -> None:
    """Print the call tree of ``events`` (default: the last trace) to
    ``file`` (default: ``sys.stdout``), streaming.

    - ``ascii``: use ``->``, ``<-``, ``!!`` instead of arrows; by default
      only when the file's encoding cannot show the arrows.
    - ``color``: ``"auto"`` (default: a terminal, following ``NO_COLOR`` and
      ``FORCE_COLOR``), ``"always"``/True or ``"never"``/False. Colour only
      adds ANSI codes: the text is the same.
    - ``max_depth``: show calls down to this depth (1: only the outermost);
      a call at the limit shows how many calls below it are hidden,
      ``(+12 calls)``.
    - ``focus``: a glob on function names (``"parse*"``, ``"Parser.*"``):
      only the subtrees of matching calls (the outermost ones), each after
      a line with the path of calls it is in; ``max_depth`` then counts
      from them.
    - ``fold``: fold runs of repeated calls (a function called many times
      in a row by one caller): the first 3 calls are shown, and every call
      that ended in a way none of those did (the first that raised...);
      the others are one line per stretch, ``⋯ ×996 more price(): all
      returned``. None (default): only for a trace of more than 10,000
      calls; True, False: always, never.
    """
    if events is None:
        events = get_trace_data()
    if file is None:
        file = sys.stdout
    _, needs_ascii, raw = _file_facts(file)
    if ascii is None:
        ascii = needs_ascii
    if max_depth is not None and (not isinstance(max_depth, int) or max_depth < 1):
        raise ValueError("max_depth must be an int >= 1 (None: no limit)")
    if focus is not None and not isinstance(focus, str):
        raise TypeError("focus must be a str (a glob on function names) or None")
    if fold is not None and not isinstance(fold, bool):
        raise TypeError("fold must be True, False or None (by the trace's size)")
    use_color = want_color(file, color)
    core = _core_of(events)
    core.write_text(file, ascii=ascii, color=use_color, max_depth=max_depth or 0,
                    raw=raw, focus=focus, fold=-1 if fold is None else int(fold))


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

# (file, first line, qualified name) of every function decorated with
# @trace in this process: tools that trace a program with a session (the
# pytest plugin) tell from a trace's stats whether one ran in their session.
decorated: set[tuple[str, int, str]] = set()


@overload
def trace(func: F) -> F: ...
@overload
def trace(*, measure_time: bool = False, include: str | Iterable[str] | None = None,
          exclude: str | Iterable[str] | None = None) -> Callable[[F], F]: ...
def trace(func: Any = None, *, measure_time: bool = False,
          include: str | Iterable[str] | None = None,
          exclude: str | Iterable[str] | None = None) -> Any:
    """Decorate a function so its calls are traced.

    Outside a session, the outermost decorated call records everything
    user code does during it and prints the tree to ``sys.stdout`` when it
    ends (for a generator or coroutine: when it finishes). Inside a session,
    a decorated call adds its arguments (as written, with full reprs) and
    its result's full repr to that session. ``measure_time=True`` records
    the duration of this function's calls.

    Works on functions, methods, static and class methods, generator and
    ``async def`` functions; keeps name, docstring and signature.

    ``include`` / ``exclude``: the patterns of :func:`start_tracing`, for the
    session an outermost call of this function starts (the decorated
    function itself is always recorded).
    """
    inc, exc = normalize_patterns(include), normalize_patterns(exclude)
    code = getattr(func, "__code__", None)
    if code is not None:
        decorated.add((code.co_filename, code.co_firstlineno, code.co_qualname))
    if func is None:
        return lambda f: trace(f, measure_time=measure_time, include=inc, exclude=exc)
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(trace(func.__func__, measure_time=measure_time,
                                include=inc, exclude=exc))
    wrapper = _core.TracedFunction(func, measure_time, include=inc, exclude=exc)
    functools.update_wrapper(wrapper, func)
    if inspect.iscoroutinefunction(func):
        inspect.markcoroutinefunction(wrapper)
    return wrapper
