"""Value-fidelity differential test: every value FlowTrace shows is the value
a reference recorder saw at the same moment (issue 9, item 1).

test_differential.py checks the *shape* of the trees; this file checks the
*texts*: every argument list, result (returned or yielded value), exception
that ended a call, and exception marker (raise / re-raise / caught) that
FlowTrace shows, on every program of ``tests/programs/*.py``, under default
sessions and under ``full_repr=True`` sessions (both with ``args=True``).

The reference, in the same run
------------------------------
Each program runs in a fresh interpreter (this file run as a script) under
FlowTrace *and* a reference recorder built on ``sys.settrace`` /
``threading.settrace`` at the same time (:class:`Reference`). Same run, so
the two see the same objects at the same addresses: a bug that shows the
text of a freed object whose address was reused is caught whatever the
allocator does. sys.settrace is implemented on sys.monitoring (tool 7); its
events for an instruction come after FlowTrace's (tool 3 or 4) with nothing
in between, and each recorder's callbacks are invisible to the other
(CPython sets ``tstate->tracing`` while either runs), so a ``__repr__`` one
of them calls is never recorded by the other. The reference keeps no
reference to the program's values or exceptions: it formats them at the
event and keeps only the text (a kept object would change lifetimes and
address reuse).

What the reference formats, and when:

- arguments: at ``'call'`` of a frame's first start, from ``frame.f_locals``
  (parameters in ``co_varnames`` order: positional, ``*args`` items,
  keyword-only as ``name=value``, ``**kwargs`` as ``k=v``);
- results: at ``'return'``, the value it carries (returned or yielded);
- exceptions: at each ``'exception'`` event (the exception is raised in, or
  propagates into, that frame), and at each ``'line'`` event of a frame
  that handles one (``sys.exception()``: a handler may have edited its args,
  and settrace has no event for a bare re-raise).

The display rule is FlowTrace's documented one (README "What is recorded",
``_core/values.h``), mirrored here in Python (:func:`shown`,
:func:`exc_text`, :func:`args_text`): builtin scalars and containers of them
as their repr, bounded the same way (8 items, then ``… (N items)``; depth
3; 120 characters for a value, 200 for an exception, cut with ``…``; one
line), user objects as ``<Qualname object>``, exceptions as ``Type:
message`` (message from the args unless the class's ``__str__`` is
builtin). With ``full_repr`` every non-scalar value is its ``repr()`` at the
event, and every exception its ``str()``. The comparison is exact. The
mirror follows FlowTrace where its text is not a prefix of ``repr()``: a str
(bytes) longer than 240 is cut before its repr, so the opening quote is
chosen by the kept part (``'aaa…`` for ``"aaa…'"``); at most 16 parameters
and 16 ``*args`` items are shown, then ``… +N more`` ends the arguments.

How a ``'return'`` ends a segment. settrace gives ``'return'`` with the
value for a return and a yield, and with ``None`` for an exception
unwinding the frame. The reference tells them apart by the instruction the
frame is at: ``RETURN_VALUE`` / ``RETURN_CONST`` is a return; ``YIELD_VALUE``
(3.12) or the ``RESUME`` after it (3.13) is a yield, unless the frame's last
event was an ``'exception'`` at that very instruction (``throw()`` /
``close()`` raising at the yield, not caught); anything else is an unwind.
The text of an unwinding exception is the one of the ``'exception'`` event
that comes next on the thread in the caller (the propagation: nothing runs
in between, so it is the exception as it was when the frame unwound, after
any ``finally`` / ``__exit__`` that edited it); when there is none (a C
caller that swallowed it, or the thread's end) it is the last exception
seen in the frame.

Alignment. As in test_differential: only frames of the program file (and of
code the program compiles under a ``<fidelity…>`` name) are kept; entries
are grouped by thread name and asyncio task (``current_task()`` at the
entry; FlowTrace: the nearest task lane); within a group both sides list
entries in time order, so the i-th FlowTrace entry is the i-th reference
segment (a ``'call'`` starts one: a first start or a resumption) and must
have the same qualified name. For each pair:

- ``args_repr`` (first starts) equals the reference's argument text;
- ``end`` agrees (``return``/``yield``/``raise``/``closed``/unfinished) and
  ``result_repr`` equals the text of the value carried by ``'return'``
  (skipped only for an async generator's yield: settrace gets the value
  wrapped in an object Python cannot open), ``exception`` equals the text
  of the unwinding exception;
- exception markers: the segment's timeline (its kept child entries of the
  same group, in order, and its markers / observations) is cut at the child
  entries; within each gap, the markers' texts must be matched, in order, by
  the reference's observations of that gap: a ``raise`` marker by an
  ``'exception'`` event, ``handled`` / ``reraise`` by any observation; two
  markers of the same kind never by the same observation. A stale text (an
  earlier exception's) cannot be matched: the earlier exception was seen in
  an earlier gap or earlier in the gap. Limit: settrace has no event at a
  re-raise, so a re-raise is only checked to show a text its exception had
  in that gap; one that showed the text from before its handler edited it
  is caught by the exact checks of the exception leaving the frame (its
  "↯" text) and of the handler that catches it further up.

The two runs of each program (default and full reprs) also check that
tracing did not change the program's result.
"""
from __future__ import annotations

import dis
import gc
import importlib.util
import json
import os
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

from reference_names import display_name  # run as a script too: tests/ is on sys.path

HERE = Path(__file__).resolve().parent
PROGRAMS_DIR = HERE / "programs"
TIMEOUT = 180

# FlowTrace's display bounds (_core/values.h, _core/frame_args.h)
REPR_LIMIT = 120
EXC_LIMIT = 200
CONTAINER_ITEMS = 8
ARGV_MAX = 16
ELLIPSIS = "\u2026"

_HEAPTYPE = 1 << 9
_RETURN_OPS = {dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap}
_YIELD_VALUE = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap["RESUME"]
_ITERATION_SIGNALS = (StopIteration, StopAsyncIteration, GeneratorExit)
_YIELD_VALUE = dis.opmap["YIELD_VALUE"]


# ---------------------------------------------------------------------------
# the display rule, mirrored from _core/values.c

def _bound(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + ELLIPSIS


def _one_line(s: str) -> str:
    return s.replace("\n", "\\n")


def _failed(what: str, exc: BaseException) -> str:
    return f"<{what} failed: {type(exc).__name__}>"


def is_scalar(v: Any) -> bool:
    return v is None or type(v) in (bool, int, float, complex, str, bytes)


class _Buf:
    """FlowTrace's string buffer: its length is counted in UTF-8 bytes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.len = 0

    def put(self, s: str) -> None:
        self.parts.append(s)
        self.len += len(s.encode("utf-8", "surrogatepass"))

    def text(self) -> str:
        return "".join(self.parts)


def _scalar(v: Any, limit: int) -> str:
    if type(v) is str and len(v) > limit:
        v = v[:limit]
    elif type(v) is bytes and len(v) > limit:
        v = v[:limit]
    try:
        return repr(v)
    except Exception as e:  # an int too large for str()
        return _failed("repr", e)


def _put(b: _Buf, v: Any, limit: int, depth: int) -> None:
    if is_scalar(v):
        b.put(_scalar(v, limit))
        return
    if depth > 3:
        b.put(ELLIPSIS)
        return
    t = type(v)
    if t is list or t is tuple:
        n = len(v)
        b.put("[" if t is list else "(")
        shown = 0
        while shown < n and shown < CONTAINER_ITEMS and b.len < limit:
            if shown:
                b.put(", ")
            _put(b, v[shown], limit, depth + 1)
            shown += 1
        if n > shown:
            b.put(f", {ELLIPSIS} ({n} items)")
        elif n == 1 and t is tuple:
            b.put(",")
        b.put("]" if t is list else ")")
    elif t is dict:
        b.put("{")
        i = 0
        for k, x in v.items():
            if i >= CONTAINER_ITEMS or b.len >= limit:
                break
            if i:
                b.put(", ")
            _put(b, k, limit, depth + 1)
            b.put(": ")
            _put(b, x, limit, depth + 1)
            i += 1
        if len(v) > i:
            b.put(f"{', ' if i else ''}{ELLIPSIS} ({len(v)} items)")
        b.put("}")
    elif t is set or t is frozenset:
        if not v:
            b.put("frozenset()" if t is frozenset else "set()")
            return
        b.put("frozenset({" if t is frozenset else "{")
        i = 0
        it = iter(v)
        while i < CONTAINER_ITEMS and b.len < limit:
            try:
                k = next(it)
            except StopIteration:
                break
            if i:
                b.put(", ")
            _put(b, k, limit, depth + 1)
            i += 1
        if len(v) > i:
            b.put(f", {ELLIPSIS} ({len(v)} items)")
        b.put("})" if t is frozenset else "}")
    elif isinstance(v, type):
        b.put(f"<class '{v.__qualname__}'>")
    elif v is NotImplemented or v is Ellipsis:
        b.put("Ellipsis" if v is Ellipsis else "NotImplemented")
    elif t is types.FunctionType:
        b.put(f"<function {v.__qualname__}>")
    else:
        b.put(f"<{t.__qualname__} object>")


def builtin_repr(v: Any, limit: int = REPR_LIMIT) -> str:
    """ft_builtin_repr: no user code runs."""
    b = _Buf()
    _put(b, v, limit * 2, 0)
    return _one_line(_bound(b.text(), limit))


def full_text(v: Any) -> str:
    """ft_full_text: the value's own repr, safe and bounded."""
    try:
        r = repr(v)
    except Exception as e:
        r = _failed("repr", e)
    return _one_line(_bound(r, REPR_LIMIT))


def _is_c_task(v: Any) -> bool:
    t = type(v)
    return t.__module__ == "_asyncio" and t.__qualname__ == "Task"


def shown(v: Any, full: bool) -> str:
    """The text FlowTrace shows for a captured value (ft_capture, and the
    full repr of a non-scalar when full reprs are on)."""
    if full and not is_scalar(v):
        return full_text(v)
    t = type(v)
    if t is list:
        k = min(len(v), CONTAINER_ITEMS)
        if all(is_scalar(x) for x in v[:k]):  # snapshot: no byte budget
            b = _Buf()
            b.put("[")
            for i in range(k):
                if i:
                    b.put(", ")
                b.put(_scalar(v[i], REPR_LIMIT * 2))
            if len(v) > k:
                b.put(f"{', ' if k else ''}{ELLIPSIS} ({len(v)} items)")
            b.put("]")
            return _one_line(_bound(b.text(), REPR_LIMIT))
    if _is_c_task(v):
        return f"<Task {v.get_name()}>"
    if t.__flags__ & _HEAPTYPE and not is_scalar(v):
        return f"<{t.__qualname__} object>"
    return builtin_repr(v)


def _exc_str_is_safe(exc: BaseException) -> bool:
    t = type(exc)
    base = t
    while base is not None and base.__flags__ & _HEAPTYPE:
        base = base.__base__
    if base is None or t.__str__ is not base.__str__:
        return False
    return type(exc.args) is tuple and all(is_scalar(a) for a in exc.args)


def exc_text(exc: BaseException, full: bool) -> str:
    """ft_format_exception."""
    name = type(exc).__qualname__
    if full or _exc_str_is_safe(exc):
        try:
            msg = str(exc)
        except Exception as e:
            msg = _failed("str", e)
    else:
        args = exc.args
        if not args:
            msg = ""
        elif len(args) == 1 and type(args[0]) is str:
            msg = args[0]
        else:
            msg = builtin_repr(args[0] if len(args) == 1 else args, EXC_LIMIT)
    r = f"{name}: {msg}" if msg else name
    return _one_line(_bound(r, EXC_LIMIT))


_ABSENT = object()


def args_text(frame: Any, full: bool) -> str:
    """ft_record_frame_args + ft_argv_text: the arguments of a starting
    frame, read from its locals."""
    code = frame.f_code
    loc = frame.f_locals
    names = code.co_varnames
    npos = code.co_argcount
    after = code.co_argcount + code.co_kwonlyargcount
    named = [loc.get(names[i], _ABSENT) for i in range(min(after, len(names), ARGV_MAX))]
    dropped = max(0, min(after, len(names)) - ARGV_MAX)
    extra: list[Any] = []
    kwargs = None
    if code.co_flags & 0x04 and after < len(names):  # CO_VARARGS
        v = loc.get(names[after], _ABSENT)
        if type(v) is tuple:
            extra = list(v[:ARGV_MAX])
            dropped += max(0, len(v) - ARGV_MAX)
        after += 1
    if code.co_flags & 0x08 and after < len(names):  # CO_VARKEYWORDS
        v = loc.get(names[after], _ABSENT)
        if type(v) is dict and v:
            b = _Buf()
            for k, x in v.items():
                if b.len >= 2 * REPR_LIMIT:
                    break
                if b.len:
                    b.put(", ")
                b.put(k if isinstance(k, str) else "?")
                b.put("=")
                b.put(full_text(x) if full and not is_scalar(x) else builtin_repr(x))
            kwargs = b.text()

    def one(v: Any) -> str:
        return "?" if v is _ABSENT else shown(v, full)

    if len(named) == 1 and npos >= 1 and not extra and kwargs is None and named[0] is not _ABSENT:
        return one(named[0])
    if not named and len(extra) == 1 and kwargs is None:
        return one(extra[0])
    parts = [one(v) for v in named[:npos]]
    parts += [one(v) for v in extra]
    parts += [f"{names[i]}={one(named[i])}" for i in range(npos, len(named))]
    if kwargs:
        parts.append(kwargs)
    if dropped:
        parts.append(f"{ELLIPSIS} +{dropped} more")
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# the reference recorder

def _is_first_start(frame: Any) -> bool:
    i = frame.f_lasti
    code = frame.f_code.co_code
    return 0 <= i < len(code) - 1 and code[i] == _RESUME and (code[i + 1] & 3) == 0


def _op_at(frame: Any) -> int:
    i = frame.f_lasti
    code = frame.f_code.co_code
    return code[i] if 0 <= i < len(code) else -1


def _how_it_ends(frame: Any, arg: Any, exc_at: dict[int, int]) -> str:
    """At 'return': "return", "yield" or "raise" (an exception unwinds the
    frame), by the instruction the frame is at. A return is at
    RETURN_VALUE / RETURN_CONST; a yield at YIELD_VALUE (3.12) or at the
    RESUME after it (3.13); an unwind at the instruction that raised (a
    re-raise after a finally / __exit__ restores that one). throw() or
    close() raise at the yield: that yield position is an unwind when an
    exception was raised there in this segment and its line has not run
    again since (a caught exception, looping back to the same yield, runs
    the line again)."""
    i = frame.f_lasti
    code = frame.f_code.co_code
    op = code[i] if 0 <= i < len(code) else -1
    if op in _RETURN_OPS:
        return "return"
    at_yield = op == _YIELD_VALUE or (op == _RESUME and i + 1 < len(code) and code[i + 1] & 3)
    if at_yield and (arg is not None or i not in exc_at):
        return "yield"
    assert arg is None, (frame, arg)
    return "raise"


class Reference:
    """sys.settrace recorder: segments (a 'call' to its 'return') of kept
    frames, with the texts of their values at the moment of each event."""

    def __init__(self, kept: Any, full: bool) -> None:
        self.kept = kept
        self.full = full
        self.segments: list[dict[str, Any]] = []
        self.threads: dict[int, dict[str, Any]] = {}
        self.active = False

    def _thread(self) -> dict[str, Any]:
        ident = threading.get_ident()
        st = self.threads.get(ident)
        if st is None:
            # stack: open segments of kept frames, innermost last;
            # pending: an unwound segment waiting for its propagation event
            st = self.threads[ident] = {"stack": [], "pending": None}
        return st

    @staticmethod
    def _settle(st: dict[str, Any]) -> None:
        """The event after an unwind was not its propagation: keep the text
        last seen in the frame."""
        st["pending"] = None

    def _segment_of(self, st: dict[str, Any], frame: Any) -> dict[str, Any] | None:
        fid = id(frame)
        for seg in reversed(st["stack"]):
            if seg["frame"] == fid:
                return seg
        return None

    def _observe(self, seg: dict[str, Any]) -> None:
        """Note the exception being handled now, if any (a live one)."""
        exc = sys.exception()
        if exc is not None and not isinstance(exc, _ITERATION_SIGNALS):
            item = ["line", exc_text(exc, self.full)]
            tl = seg["timeline"]
            if not tl or tl[-1] != item:
                tl.append(item)

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        if not self.active:
            return None
        st = self._thread()
        code = frame.f_code
        kept = self.kept(code.co_filename)
        if event == "exception":
            exc = arg[1]
            text = exc_text(exc, self.full)
            pending = st["pending"]
            if pending is not None:
                seg, back = pending
                if id(frame) == back:
                    seg["exception"] = text
                    seg["exception_from"] = "propagation"
                    seg["timeline"][-1][1] = text  # its "unwind" observation
                self._settle(st)
            if kept:
                seg = self._segment_of(st, frame)
                if seg is not None:
                    seg["own_exc"] = (type(exc).__name__, text)
                    seg["exc_at"][frame.f_lasti] = frame.f_lineno
                    if not isinstance(exc, _ITERATION_SIGNALS):
                        seg["timeline"].append(["exc", text])
            return self.trace
        self._settle(st)
        if event == "call":
            if not kept:
                frame.f_trace_lines = False
                return self.trace
            first = _is_first_start(frame)
            raw = code.co_code
            i = frame.f_lasti
            # 3.12 resumed at a yield in no try block: if this is a close(),
            # it runs nothing, and 3.13 reports nothing (see data())
            at_plain_yield = (sys.version_info < (3, 13) and not first
                              and 0 <= i < len(raw) - 1 and raw[i] == _YIELD_VALUE
                              and raw[i + 1] == 1)
            group = None
            if "asyncio" in sys.modules:
                try:
                    task = sys.modules["asyncio"].current_task()
                except RuntimeError:
                    task = None
                if task is not None:
                    group = task.get_name()
            seg = {
                "thread": threading.current_thread().name, "group": group,
                "qualname": display_name(code, frame), "entry": "call" if first else "resume",
                "args": args_text(frame, self.full) if first else None,
                "end": "unfinished", "result": None, "exception": None,
                "exception_from": None, "timeline": [],
                # bookkeeping, dropped when saved
                "frame": id(frame), "exc_at": {}, "own_exc": None,
                "async_gen": bool(code.co_flags & 0x200),  # CO_ASYNC_GENERATOR
                "at_plain_yield": at_plain_yield,
            }
            stack = st["stack"]
            if stack and stack[-1]["group"] == group:
                self._observe(stack[-1])  # what the caller handles as it calls
                stack[-1]["timeline"].append(["call", len(self.segments)])
            seg["index"] = len(self.segments)
            self.segments.append(seg)
            stack.append(seg)
            return self.trace
        if not kept:
            return self.trace
        seg = self._segment_of(st, frame)
        if seg is None:
            return self.trace
        if event == "line":
            self._observe(seg)
            line = frame.f_lineno
            seg["exc_at"] = {k: n for k, n in seg["exc_at"].items() if n != line}
        elif event == "return":
            stack = st["stack"]
            assert stack and stack[-1] is seg, f"'return' of {seg['qualname']} not innermost"
            stack.pop()
            seg["end"] = _how_it_ends(frame, arg, seg["exc_at"])
            if seg["end"] == "raise":
                type_name, text = seg["own_exc"] or ("?", None)
                if type_name == "GeneratorExit":
                    seg["end"] = "closed"
                else:
                    seg["exception"] = text
                    seg["exception_from"] = "frame"
                    # the exception as it leaves the frame: what a re-raise
                    # right before the unwind (a with block's end) shows
                    seg["timeline"].append(["unwind", text])
                    back = frame.f_back
                    st["pending"] = (seg, id(back) if back is not None else None)
            elif seg["async_gen"] and seg["end"] == "yield":
                seg["unreadable"] = True  # wrapped: not readable from Python
            else:
                seg["result"] = shown(arg, self.full)
        return self.trace

    def data(self) -> list[dict[str, Any]]:
        # A close() of a generator suspended at a yield in no try block runs
        # none of its code: 3.12 reports it ('call' then 'return' by
        # GeneratorExit), 3.13 does not, and FlowTrace records it on neither
        # (compat.h). Such segments are taken out, with their places in the
        # callers' timelines.
        silent: set[int] = set()
        for s in reversed(self.segments):  # a nested close comes later
            if (s["at_plain_yield"] and s["end"] == "closed"
                    and all(t[0] == "call" and t[1] in silent for t in s["timeline"])):
                silent.add(s["index"])  # closing it closed another: both silent
        new_index: dict[int, int] = {}
        for s in self.segments:
            if s["index"] not in silent:
                new_index[s["index"]] = len(new_index)
        drop = {"frame", "exc_at", "own_exc", "async_gen", "at_plain_yield"}
        out = []
        for s in self.segments:
            if s["index"] in silent:
                continue
            d = {k: v for k, v in s.items() if k not in drop}
            d["index"] = new_index[s["index"]]
            d["timeline"] = [[t[0], new_index[t[1]]] if t[0] == "call" else t
                             for t in s["timeline"]
                             if not (t[0] == "call" and t[1] in silent)]
            out.append(d)
        return out


# ---------------------------------------------------------------------------
# the runner (executed in a subprocess: ``python test_fidelity.py``)

def _load_program(path: str) -> Any:
    name = "ftfid_" + Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _kept_filter(prog: str) -> Any:
    return lambda filename: filename == prog or filename.startswith("<fidelity")


def _run(path: str, full: bool, engine: str | None) -> dict[str, Any]:
    if engine:
        sys.path.insert(0, engine)
    import flowtrace

    mod = _load_program(path)
    prog = mod.__file__
    ref = Reference(_kept_filter(prog), full)
    gc.disable()
    flowtrace.start_tracing(args=True, full_repr=full)
    ref.active = True
    threading.settrace(ref.trace)
    sys.settrace(ref.trace)
    try:
        result = mod.main()
    finally:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        ref.active = False
        trace = flowtrace.stop_tracing()
        gc.enable()
    events = [
        {"id": e.id, "kind": e.kind, "func_name": e.func_name, "parent_id": e.parent_id,
         "args_repr": e.args_repr, "result_repr": e.result_repr, "exception": e.exception,
         "end": e.end,
         "thread": e.thread, "filename": e.filename}
        for e in trace
    ]
    return {"prog": prog, "result": repr(result), "events": events,
            "reference": ref.data(), "flowtrace_file": flowtrace.__file__}


def _script_main(argv: list[str]) -> int:
    mode, program, out = argv[:3]
    engine = argv[3] if len(argv) > 3 else None
    data = _run(program, mode == "full", engine)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return 0


if __name__ == "__main__":
    sys.exit(_script_main(sys.argv[1:]))


# ---------------------------------------------------------------------------
# comparison

MARKERS = {"raise", "reraise", "handled"}


def _flowtrace_entries(data: dict[str, Any]) -> tuple[dict[tuple[str, Any], list[dict[str, Any]]],
                                                        dict[int, list[list[Any]]]]:
    """FlowTrace's kept entries by (thread, group) in order, and the
    timeline of each: [["call", id]] for child entries of its group and
    [kind, text] for its markers, in time order."""
    kept = _kept_filter(data["prog"])
    events = data["events"]
    by_id = {e["id"]: e for e in events}

    def is_entry(e: dict[str, Any]) -> bool:
        return e["kind"] not in MARKERS and e["kind"] != "task" and kept(e["filename"])

    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    timelines: dict[int, list[list[Any]]] = {}
    info: dict[int, tuple[Any, int | None]] = {}  # id -> (group, kept parent)
    for e in events:  # id order: pre-order, children in time order
        if e["kind"] in MARKERS:
            p = by_id.get(e["parent_id"]) if e["parent_id"] is not None else None
            if p is not None and is_entry(p):
                timelines.setdefault(p["id"], []).append([e["kind"], e["exception"]])
            continue
        if not is_entry(e):
            continue
        group = None
        parent = None
        p = e["parent_id"]
        while p is not None:
            pe = by_id[p]
            if pe["kind"] == "task":
                if group is None:
                    group = pe["args_repr"]
            elif parent is None and is_entry(pe):
                parent = pe["id"]
            p = pe["parent_id"]
        info[e["id"]] = (group, parent)
        groups.setdefault((e["thread"], group), []).append(e)
        if parent is not None and info[parent][0] == group:
            timelines.setdefault(parent, []).append(["call", e["id"]])
    return groups, timelines


def _reference_entries(data: dict[str, Any]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for s in data["reference"]:
        groups.setdefault((s["thread"], s["group"]), []).append(s)
    return groups


def _gaps(timeline: list[list[Any]], call_key: Any) -> tuple[list[Any], list[list[list[Any]]]]:
    calls, gaps = [], [[]]
    for item in timeline:
        if item[0] == "call":
            calls.append(call_key(item[1]))
            gaps.append([])
        else:
            gaps[-1].append(item)
    return calls, gaps


def _match_markers(markers: list[list[Any]], observations: list[list[Any]]) -> str:
    """'' when each marker's text is seen, in order, by an observation of
    the gap: a raise by an 'exception' event; two markers of one kind by
    two different observations. Else the first marker not matched."""
    at = 0
    last_of_kind: dict[str, int] = {}
    for kind, text in markers:
        j = max(at, last_of_kind.get(kind, -1) + 1)
        while j < len(observations) and not (
                observations[j][1] == text and (kind != "raise" or observations[j][0] == "exc")):
            j += 1
        if j == len(observations):
            return f"{kind} {text!r} not seen (reference saw {[o[1] for o in observations]})"
        at = last_of_kind[kind] = j
    return ""


def discrepancies(data: dict[str, Any]) -> list[str]:
    """Every difference between what FlowTrace shows and what the
    reference saw, one line each."""
    out: list[str] = []
    ft_groups, ft_timelines = _flowtrace_entries(data)
    ref_groups = _reference_entries(data)
    if set(ft_groups) != set(ref_groups):
        return [f"groups differ: flowtrace {sorted(map(str, ft_groups))}, "
                f"reference {sorted(map(str, ref_groups))}"]
    ref_of: dict[int, dict[str, Any]] = {}  # FlowTrace id -> reference segment
    ft_index: dict[int, tuple[Any, int]] = {}  # FlowTrace id -> (group key, position)
    ref_index: dict[int, tuple[Any, int]] = {}  # reference index -> (group key, position)
    for key in ft_groups:
        fts, refs = ft_groups[key], ref_groups[key]
        for pos, (e, s) in enumerate(zip(fts, refs)):
            ref_of[e["id"]] = s
            ft_index[e["id"]] = (key, pos)
            ref_index[s["index"]] = (key, pos)
        if len(fts) != len(refs) or any(
                e["func_name"] != s["qualname"] for e, s in zip(fts, refs)):
            return [f"{key}: entries differ (structure; see test_differential): flowtrace "
                    f"{[e['func_name'] for e in fts]} reference {[s['qualname'] for s in refs]}"]
    for key, fts in ft_groups.items():
        for e in fts:
            s = ref_of[e["id"]]
            where = f"{key[0]}/{key[1] or '-'} #{e['id']} {e['func_name']}"
            entry = "call" if e["kind"] == "call" else "resume"
            if entry != s["entry"]:
                out.append(f"{where}: entry {entry}, reference {s['entry']}")
                continue
            if entry == "call" and e["args_repr"] != s["args"]:
                out.append(f"{where}: args {e['args_repr']!r}, reference saw {s['args']!r}")
            end = e["end"]
            if end != s["end"]:
                out.append(f"{where}: ended by {end} ({e['result_repr'] or e['exception']!r}), "
                           f"reference: {s['end']} ({s['result'] or s['exception']!r})")
                continue
            if end in ("return", "yield") and not s.get("unreadable") \
                    and e["result_repr"] != s["result"]:
                out.append(f"{where}: {end} {e['result_repr']!r}, reference saw {s['result']!r}")
            if end == "raise" and e["exception"] != s["exception"]:
                out.append(f"{where}: raised {e['exception']!r}, reference saw {s['exception']!r}"
                           f" (from {s['exception_from']})")
            # markers, gap by gap between the child entries
            ft_calls, ft_gaps = _gaps(ft_timelines.get(e["id"], []), lambda i: ft_index[i])
            ref_calls, ref_gaps = _gaps(s["timeline"], lambda i: ref_index.get(i))
            if ft_calls != ref_calls:
                out.append(f"{where}: child entries differ: {ft_calls} vs {ref_calls}")
                continue
            for k, (markers, observations) in enumerate(zip(ft_gaps, ref_gaps)):
                why = _match_markers(markers, observations)
                if why:
                    out.append(f"{where}: marker after child {k}: {why}")
    return out


# ---------------------------------------------------------------------------
# running the programs

PROGRAMS = sorted(p for p in PROGRAMS_DIR.glob("*.py") if not p.name.startswith("_"))
FIDELITY_PROGRAMS = [p for p in PROGRAMS if p.name.startswith("fid_")]
MODES = ("builtin", "full")
_cache: dict[tuple[str, str, str | None], dict[str, Any]] = {}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def run_program(program: Path, mode: str, tmp_path: Path, engine: str | None = None) -> dict[str, Any]:
    """Run ``program`` under FlowTrace and the reference in one interpreter
    (``engine``: a directory to import flowtrace from instead)."""
    key = (str(program), mode, engine)
    if key in _cache:
        return _cache[key]
    out = tmp_path / f"{program.stem}.{mode}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, str(program.resolve()), str(out)]
    if engine:
        cmd.append(engine)
    proc = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True,
                          encoding="utf-8", env=_env(), timeout=TIMEOUT)
    assert proc.returncode == 0, f"{program.name} ({mode}): exit {proc.returncode}\n{proc.stderr}"
    data = json.loads(out.read_text(encoding="utf-8"))
    data["stdout"] = proc.stdout
    _cache[key] = data
    return data


# ---------------------------------------------------------------------------
# the tests

import pytest  # noqa: E402  (not needed by the subprocess runner above)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_every_shown_value_is_what_the_reference_saw(program, mode, tmp_path):
    data = run_program(program, mode, tmp_path)
    assert data["reference"], f"{program.name}: the reference recorded nothing"
    problems = discrepancies(data)
    assert not problems, (f"{program.name} ({mode}): {len(problems)} value(s) differ\n"
                          + "\n".join(problems[:40]))


def test_tracing_does_not_change_results(tmp_path):
    for program in FIDELITY_PROGRAMS:
        a = run_program(program, "builtin", tmp_path)
        b = run_program(program, "full", tmp_path)
        assert a["result"] == b["result"], program.name
        assert a["stdout"] == b["stdout"], program.name


def _entries(data, name):
    return [s for s in data["reference"] if s["qualname"] == name]


def test_the_comparison_is_not_vacuous(tmp_path):
    """Values of every kind are compared, exceptions at the moment they
    propagate, on every thread of the threaded program."""
    data = run_program(PROGRAMS_DIR / "fid_address_reuse.py", "builtin", tmp_path)
    raises = _entries(data, "raises")
    assert [s["exception"] for s in raises] == [f"ValueError: bad {i}" for i in range(5)]
    assert {s["exception_from"] for s in raises} == {"propagation"}
    assert [s["args"] for s in _entries(data, "made_list")] == [str(i) for i in range(6)]
    assert [s["result"] for s in _entries(data, "made_obj")] == \
        ["<Blue object>", "<Red object>"] * 3
    observed = [o for s in _entries(data, "caught_inline") for o in s["timeline"]]
    assert ["exc", "KeyError: 'inline 4'"] in observed
    ft_groups, ft_timelines = _flowtrace_entries(data)
    markers = [m for tl in ft_timelines.values() for m in tl if m[0] != "call"]
    assert len(markers) >= 20, markers

    data = run_program(PROGRAMS_DIR / "fid_threads_exceptions.py", "builtin", tmp_path)
    threads = {s["thread"] for s in data["reference"]}
    assert threads == {"MainThread", "fid-0", "fid-1", "fid-2", "fid-producer", "fid-dies"}
    (dies,) = _entries(data, "dies")
    assert (dies["thread"], dies["exception"]) == ("fid-dies", "RuntimeError: thread dies 3")
    (reraise,) = _entries(data, "reraise")
    assert reraise["exception"] == "LookupError: edited on producer"

    data = run_program(PROGRAMS_DIR / "fid_values.py", "builtin", tmp_path)
    assert [s["args"] for s in _entries(data, "grow")] == \
        ["[], 0", "[0], 1", "[0, 1], 2", "[0, 1, 2], 3"]
    assert [s["result"] for s in _entries(data, "counter_gen")][:2] == ["[0, 0]", "[0, 0, 1]"]
    assert [s["exception"] for s in _entries(data, "edited_in_exit")] == \
        [f"KeyError: ('edited by __exit__', {i})" for i in range(3)]


def test_full_reprs_are_the_repr_at_each_event(tmp_path):
    full = run_program(PROGRAMS_DIR / "fid_full_repr.py", "full", tmp_path)
    results = [s["result"] for s in _entries(full, "deposit_all")]
    assert results == [f"Account('a', balance={b})" for b in (1, 4, 9, 16)]
    args = [s["args"] for s in _entries(full, "Account.deposit")]
    assert args[:3] == ["Account('a', balance=0), 0", "Account('a', balance=0), 1",
                        "Account('a', balance=1), 1"]
    assert [s["exception"] for s in _entries(full, "overdraw")][:3] == \
        [f"Failure: failed at {b}" for b in (1, 4, 9)]
    assert _entries(full, "broken")[0]["args"] == "<repr failed: RuntimeError>"
    plain = run_program(PROGRAMS_DIR / "fid_full_repr.py", "builtin", tmp_path)
    assert {s["result"] for s in _entries(plain, "deposit_all")} == {"<Account object>"}
    assert [s["exception"] for s in _entries(plain, "overdraw")][:3] == ["Failure: a"] * 3


# --- the comparison can fail ----------------------------------------------

def _copy(data):
    return json.loads(json.dumps(data))


def _ft(data, name, kind=None):
    return [e for e in data["events"] if e["func_name"] == name
            and (kind is None or e["kind"] == kind)]


def _markers(data, kind):
    return [e for e in data["events"] if e["kind"] == kind]


def test_self_check_stale_exception_text_is_detected(tmp_path):
    """The bug fixed in 1f32a6e: a later exception shown with the text of an
    earlier one (in the "↯" line, and in the markers)."""
    data = run_program(PROGRAMS_DIR / "fid_address_reuse.py", "builtin", tmp_path)
    assert not discrepancies(data)
    bad = _copy(data)
    first, *later = _ft(bad, "raises")
    later[-1]["exception"] = first["exception"]
    assert any("raised 'ValueError: bad 0'" in p for p in discrepancies(bad))
    # a marker showing an earlier exception of the same frame
    for kind in ("raise", "handled"):
        bad = _copy(data)
        caught_inline = _ft(bad, "caught_inline")[0]["id"]
        ms = [m for m in _markers(bad, kind) if m["parent_id"] == caught_inline]
        assert len(ms) == 5, ms
        ms[3]["exception"] = ms[2]["exception"]
        assert discrepancies(bad), kind
    bad = _copy(data)
    main = _ft(bad, "main")[0]["id"]
    handled = [m for m in _markers(bad, "handled") if m["parent_id"] == main]
    handled[1]["exception"] = handled[0]["exception"]
    assert discrepancies(bad)


def test_self_check_value_after_the_event_is_detected(tmp_path):
    """A mutable value shown as it was later (at the end, or at the next
    event) rather than at its event."""
    data = run_program(PROGRAMS_DIR / "fid_values.py", "builtin", tmp_path)
    assert not discrepancies(data)
    bad = _copy(data)
    grow = _ft(bad, "grow")
    grow[0]["args_repr"] = grow[1]["args_repr"]
    assert discrepancies(bad)
    bad = _copy(data)
    gen = _ft(bad, "counter_gen")
    gen[0]["result_repr"] = gen[1]["result_repr"]
    assert discrepancies(bad)
    bad = _copy(data)
    edited = _ft(bad, "edit_and_reraise")[0]
    edited["exception"] = edited["exception"].replace("edited", "first")
    assert discrepancies(bad)
    bad = _copy(data)  # the handler of main that caught it
    handled = [m for m in _markers(bad, "handled") if "edited 0" in m["exception"]]
    assert [bad["events"][m["parent_id"]]["func_name"] for m in handled] == ["main"]
    handled[0]["exception"] = handled[0]["exception"].replace("edited", "first")
    assert discrepancies(bad)


def test_self_check_class_text_and_end_are_detected(tmp_path):
    data = run_program(PROGRAMS_DIR / "fid_address_reuse.py", "builtin", tmp_path)
    bad = _copy(data)
    objs = _ft(bad, "made_obj")
    objs[1]["result_repr"] = objs[0]["result_repr"]  # an instance of the class freed before
    assert discrepancies(bad)
    bad = _copy(data)
    e = _ft(bad, "raises")[0]
    e["end"], e["result_repr"], e["exception"] = "return", "None", None
    assert discrepancies(bad)
    full = run_program(PROGRAMS_DIR / "fid_full_repr.py", "full", tmp_path)
    assert not discrepancies(full)
    bad = _copy(full)
    dep = _ft(bad, "deposit_all")
    dep[0]["result_repr"] = dep[-1]["result_repr"]  # the repr when the trace is read
    assert discrepancies(bad)


def test_display_rule_mirror():
    """The Python mirror of FlowTrace's display rule on the README's
    examples (the corpus checks it against the C formatter)."""
    assert shown(list(range(100)), False) == "[0, 1, 2, 3, 4, 5, 6, 7, \u2026 (100 items)]"
    assert shown({"k": [1, (2,)]}, False) == "{'k': [1, (2,)]}"
    assert shown([[[[[1]]]]], False) == "[[[[\u2026]]]]"
    assert shown("x" * 300, False) == "'" + "x" * 118 + "\u2026"
    assert exc_text(ValueError("a\nb"), False) == "ValueError: a\\nb"
    assert exc_text(KeyError("k"), False) == "KeyError: 'k'"
    assert exc_text(ValueError(), False) == "ValueError"

    assert exc_text(_Custom(1, 2), False) == "_Custom: (1, 2)"  # no user __str__
    assert exc_text(_Custom(1, 2), True) == "_Custom: custom"
    assert shown(_Custom(), False) == "<_Custom object>"
    assert shown(_Custom(), True) == "_Custom()"


class _Custom(Exception):
    def __str__(self):
        return "custom"


# --- known discrepancies (found by this comparison; fixes are in C) --------

def _many(*xs):
    return len(xs)


def _wide(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17):
    return a17


def _big():
    return 10 ** 1000


def test_arguments_beyond_sixteen_are_not_silently_dropped():
    import flowtrace

    flowtrace.start_tracing(args=True)
    try:
        _many(*range(20))
        _wide(*range(18))
    finally:
        trace = flowtrace.stop_tracing()
    shown_args = [e.args_repr for e in trace]
    sixteen = ", ".join(map(str, range(16)))
    assert shown_args == [sixteen + ", \u2026 +4 more", sixteen + ", \u2026 +2 more"]


def test_a_large_int_shows_as_it_could_be_shown_at_its_event():
    import flowtrace

    expected = builtin_repr(10 ** 1000)  # what the event could show
    old = sys.get_int_max_str_digits()
    flowtrace.start_tracing()
    try:
        _big()
        sys.set_int_max_str_digits(640)  # the program lowers the limit later
        trace = flowtrace.stop_tracing()
        text = trace[0].result_repr  # read while the program's limit holds
    finally:
        if flowtrace._core.is_active():
            flowtrace.stop_tracing()
        sys.set_int_max_str_digits(old)
    assert text == expected
