"""Saved traces: ``save(trace, file, format)`` and ``load(path)``.

The writers are C (streaming, see docs/json-format.md for the schema). The
loader parses with the standard library's json module, checks the header
here and every other field in C (load_json.c) before anything is built from
it: a truncated or hand-edited file gives a TraceFileError naming the
problem in one line.
"""
from __future__ import annotations

import io
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import _core
from .model import CallEvent, Trace

__all__ = ["save", "load", "TraceFileError", "FORMAT", "VERSION"]

FORMAT = "flowtrace"
VERSION = 1

class TraceFileError(ValueError):
    """A saved trace that cannot be read: the message says why, in a line."""


def _meta(extra: dict[str, Any] | None) -> str:
    from . import __version__

    meta: dict[str, Any] = {
        "flowtrace": __version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if extra:
        meta.update(extra)
    return json.dumps(meta, ensure_ascii=False, default=str)


def save(trace: Sequence[CallEvent], file: Any, format: str = "json", *,
         meta: dict[str, Any] | None = None) -> None:
    """Write ``trace`` to ``file`` (a path, or a file open for writing,
    text or binary).

    - ``format="json"``: FlowTrace's own schema (docs/json-format.md); loads
      back with :func:`load` (``flowtrace show``, ``flowtrace stats``).
    - ``format="chrome"``: Chrome Trace Event JSON, for Perfetto UI,
      chrome://tracing and speedscope.
    - ``meta``: extra facts stored in the file (JSON-serialisable dict).

    A path is written through a temporary file renamed at the end, so an
    interrupted save never leaves half a trace under the final name.
    """
    if format not in ("json", "chrome"):
        raise ValueError(f"format must be 'json' or 'chrome', not {format!r}")
    if isinstance(trace, Trace):
        core = trace._c()
    else:
        core = _core.Trace.from_events(list(trace))
    meta_text = _meta(meta)

    def write(f: Any, binary: bool) -> None:
        if format == "json":
            core.write_json(f, binary=binary, meta=meta_text)
        else:
            name = (meta or {}).get("command") or " ".join(sys.argv) or "python"
            core.write_chrome(f, binary=binary, pid=os.getpid(),
                              process_name=f"flowtrace: {name}", meta=meta_text)

    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                write(f, True)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    write(file, not isinstance(file, io.TextIOBase))


# --------------------------------------------------------------------------
# loading

class _Bad(Exception):
    """A field is wrong: where (a JSON path) and what."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


def _type_name(v: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _build(doc: Any) -> Trace:
    """Check the header here, everything else in C (load_json.c)."""
    if not isinstance(doc, dict):
        raise _Bad("file", f"expected a JSON object, got {_type_name(doc)}")
    if "traceEvents" in doc and "format" not in doc:
        raise _Bad("file", "this is a Chrome trace (--format chrome), not a FlowTrace JSON "
                   "trace (--format json)")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise _Bad("format", f'expected "{FORMAT}", got {json.dumps(fmt)[:40]}'
                   " (not a FlowTrace trace)")
    version = doc.get("version")
    if type(version) is not int:
        raise _Bad("version", f"expected a number, got {_type_name(version)}")
    if version != VERSION:
        newer = " (written by a newer FlowTrace)" if version > VERSION else ""
        raise _Bad("version", f"this FlowTrace reads version {VERSION}, "
                   f"the file is version {version}{newer}")
    parts = []
    for key in ("functions", "threads", "calls"):
        if key not in doc:
            raise _Bad("file", f'missing "{key}"')
        if not isinstance(doc[key], list):
            raise _Bad(key, f"expected an array, got {_type_name(doc[key])}")
        parts.append(doc[key])
    ncalls = doc.get("ncalls")
    if ncalls is not None and ncalls != len(doc["calls"]):
        raise _Bad("calls", f"{len(doc['calls'])} calls where the header announces {ncalls}")
    results = doc.get("results", True) is not False
    try:
        return Trace(_core.Trace._from_saved(*parts, results))
    except ValueError as e:
        raise _Bad(str(e).split(":", 1)[0], str(e).split(":", 1)[-1].strip()) from None


def load(path: str | os.PathLike[str]) -> Trace:
    """Read a trace saved as FlowTrace JSON (``save(..., format="json")``,
    ``flowtrace run --format json``) into a Trace: ``print_tree``,
    ``Trace.stats()`` and iteration work on it as on a recorded one.

    Raises TraceFileError (a ValueError) with a one-line reason when the
    file cannot be read, is not JSON, is truncated, or does not follow the
    schema.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TraceFileError(f"{name}: cannot read: {e.strerror or e}") from None
    if not data.strip():
        raise TraceFileError(f"{name}: empty file")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise TraceFileError(f"{name}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        truncated = e.pos >= len(e.doc.rstrip())
        why = "the file ends too early (truncated)" if truncated else e.msg
        raise TraceFileError(f"{name}: not valid JSON: {why} at line {e.lineno} "
                             f"column {e.colno}") from None
    except RecursionError:
        raise TraceFileError(f"{name}: not a FlowTrace trace (JSON nested too deeply)") from None
    del data
    try:
        return _build(doc)
    except _Bad as e:
        raise TraceFileError(f"{name}: {e}") from None
