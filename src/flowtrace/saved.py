"""Saved traces: ``save(trace, file, format)`` and ``load(path)``.

The writers are C (streaming, see docs/json-format.md for the schema). The
JSON loader is C too and streams (tree/json_reader.c, tree/load_json.c): the
file is read in 1 MiB pieces, never whole, and every field is checked as it
comes, before anything is built from it: a truncated or hand-edited file
gives a TraceFileError naming the problem in one line.
"""
from __future__ import annotations

import errno
import io
import json
import os
import platform
import re
import stat
import sys
import time
import weakref
from collections.abc import Sequence
from typing import Any

from . import _core
from .model import CallEvent, Trace

__all__ = ["save", "load", "TraceFileError", "FORMAT", "VERSION"]

FORMAT = "flowtrace"
VERSION = 1
FORMATS = ("ftrace", "json", "chrome", "perfetto", "html")
FTRACE_MAGIC = b"\x89FTR\r\n\x1a\n"  # docs/ftrace-format.md

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


# the format a path's suffix says, when save() is not told one
SUFFIX_FORMATS = {".ftrace": "ftrace", ".pftrace": "perfetto", ".perfetto-trace": "perfetto",
                  ".html": "html", ".htm": "html", ".json": "json"}


def format_of_path(path: str, default: str = "json") -> str:
    """The format a file name's suffix says (``SUFFIX_FORMATS``), else
    ``default``."""
    name = path.lower()
    for suffix, fmt in SUFFIX_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return default


def save(trace: Sequence[CallEvent], file: Any, format: str | None = None, *,
         meta: dict[str, Any] | None = None) -> None:
    """Write ``trace`` to ``file`` (a path, or a file open for writing,
    text or binary). Without ``format``, a path's suffix says which
    (``.ftrace``, ``.pftrace``, ``.html``; anything else is JSON), and an
    open file gets JSON.

    - ``format="ftrace"``: the recording itself, binary (docs/ftrace-format.md):
      compact, written and read back fastest; needs a trace that was
      recorded (not one rebuilt from events or loaded from JSON).
    - ``format="json"``: FlowTrace's own schema (docs/json-format.md); loads
      back with :func:`load` (``flowtrace show``, ``flowtrace stats``).
    - ``format="chrome"``: Chrome Trace Event JSON, for Perfetto UI,
      chrome://tracing and speedscope.
    - ``format="perfetto"``: Perfetto's own protobuf trace: a track per
      thread and per asyncio task, every string interned; what Perfetto UI
      and trace_processor open fastest, and at sizes JSON cannot reach.
    - ``format="html"``: the viewer's page (docs/viewer.md): one file that
      opens in a browser with no network, the call tree, a timeline, the
      functions table and the traced files' source.
    - ``meta``: extra facts stored in the file (JSON-serialisable dict).

    A path that is (or will be) a regular file is written through a
    temporary file renamed at the end, so an interrupted save never leaves
    half a trace under the final name; a symbolic link is followed; a
    device or FIFO is written in place.
    """
    if format is None:
        format = (format_of_path(os.fspath(file)) if isinstance(file, (str, os.PathLike))
                  else "json")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, "
                         f"not {format!r}")
    if isinstance(trace, Trace):
        core = trace._c()
    else:
        core = _core.Trace.from_events(list(trace))
    meta_text = _meta(meta)

    def write(f: Any, binary: bool) -> None:
        if format == "ftrace":
            if not binary:
                raise ValueError("format 'ftrace' is binary: give a path or a file "
                                 "opened in binary mode")
            core.write_ftrace(f)
        elif format == "json":
            core.write_json(f, binary=binary, meta=meta_text)
        elif format == "html":
            from .viewer import write_page
            write_page(core, f, binary=binary,
                       title=(meta or {}).get("command") or " ".join(sys.argv) or "trace")
        elif format == "perfetto":
            if not binary:
                raise ValueError("format 'perfetto' is binary: give a path or a file "
                                 "opened in binary mode")
            name = (meta or {}).get("command") or " ".join(sys.argv) or "python"
            core.write_perfetto(f, pid=os.getpid(), process_name=f"flowtrace: {name}")
        else:
            name = (meta or {}).get("command") or " ".join(sys.argv) or "python"
            core.write_chrome(f, binary=binary, pid=os.getpid(),
                              process_name=f"flowtrace: {name}", meta=meta_text)

    if isinstance(file, (str, os.PathLike)):
        write_path(os.fspath(file), lambda f: write(f, True))
        return
    write(file, not isinstance(file, io.TextIOBase))


def write_path(path: str, write: Any, text: bool = False) -> None:
    """Write through ``path`` as a careful Unix tool does.

    A regular file (or a name not yet taken) is written to a temporary file
    beside it, then renamed over it: an interrupted save never leaves half a
    trace under the final name, and the file keeps its permission bits. A
    symbolic link is followed (the file it points to is replaced, the link
    stays). Anything else (a device such as /dev/stdout or /dev/full, a FIFO,
    a socket) is opened and written in place, never replaced by a file.
    ``write`` is given the open file: binary, or UTF-8 text if ``text``.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    mode, encoding = ("w", "utf-8") if text else ("wb", None)
    if st is not None and (not stat.S_ISREG(st.st_mode)
                           or os.path.abspath(path).startswith(("/dev/", "/proc/"))):
        # by its own name: /dev/stdout on a pipe resolves to no path at all,
        # and on a file (`>> log`) it is the shell's open file, to write into,
        # and without truncating it: appended, as a shell's `>>` would
        with open(path, mode.replace("w", "a"), encoding=encoding) as f:
            write(f)
        return
    target = os.path.realpath(path)
    tmp = os.path.join(os.path.dirname(target),
                       f".{os.path.basename(target)}.tmp{os.getpid()}")
    try:
        with open(tmp, mode, encoding=encoding) as f:
            write(f)
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


# --------------------------------------------------------------------------
# loading

class _Bad(Exception):
    """A field is wrong: where (a JSON path) and what."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


_HEAD_BYTES = 4096
_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"format"\s*:\s*"flowtrace"')


def _check_head(head: bytes, complete: bool) -> None:
    """Recognise a FlowTrace JSON trace by its first bytes (the writer puts
    "format" first, docs/json-format.md) before reading the rest, so that a
    device such as /dev/zero, a binary or a large file of something else is
    refused at once instead of being read whole. A file shorter than the
    head (`complete`) is parsed as it is, for the parser's precise message."""
    if complete:
        return
    if _HEAD.match(head):
        return
    if head.lstrip()[:1] == b"{" and b'"traceEvents"' in head:
        raise _Bad("file", "this is a Chrome trace (--format chrome), not a FlowTrace "
                   "JSON trace (--format json)")
    if head[:1] == b"\n" and any(b < 9 for b in head[1:64]):
        # binary after a newline: a protobuf Trace, whose first packet is
        # field 1, length-delimited
        raise _Bad("file", "this looks like a Perfetto trace (--format perfetto): open it "
                   "in ui.perfetto.dev; FlowTrace reads back .ftrace and JSON traces")
    raise _Bad("file", 'not a FlowTrace JSON trace (it does not begin with '
               '{"format": "flowtrace")')


def _load_ftrace(name: str, f: Any, head: bytes) -> Trace:
    """A .ftrace file: mapped (a regular file) or read, checked and copied
    into the engine by C (load_ftrace.c)."""
    import mmap

    try:
        if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return Trace(_core.Trace._from_ftrace(mm, True))
        return Trace(_core.Trace._from_ftrace(head + f.read()))
    except ValueError as e:
        raise TraceFileError(f"{name}: {e}") from None
    except MemoryError:
        raise TraceFileError(f"{name}: not enough memory to load it") from None


def load(path: str | os.PathLike[str]) -> Trace:
    """Read a saved trace into a Trace: the binary recording
    (``save(..., format="ftrace")``, ``flowtrace run -o trace.ftrace``) or
    FlowTrace JSON (``format="json"``). ``print_tree``, ``Trace.stats()``
    and iteration work on it as on a recorded one.

    Raises TraceFileError (a ValueError) with a one-line reason when the
    file cannot be read, is not JSON, is truncated, or does not follow the
    schema.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            head = f.read(_HEAD_BYTES)
            if head.startswith(FTRACE_MAGIC):
                return _load_ftrace(name, f, head)
            _check_head(head, len(head) < _HEAD_BYTES)
            return _load_json(name, f, head)
    except OSError as e:
        raise TraceFileError(f"{name}: cannot read: {e.strerror or e}") from None
    except _Bad as e:
        raise TraceFileError(f"{name}: {e}") from None


_CHUNK = 1 << 20  # bytes of one read of a JSON trace


def load_for_walk(path: str | os.PathLike[str]) -> tuple[Trace, bool]:
    """`load(path)` for a reader that walks the tree once and needs nothing
    else (`flowtrace show`, `flowtrace stats`): the records of a .ftrace
    and the walked nodes are given back as it goes. A FlowTrace JSON file
    that is a regular file is read only as far as the walk has come, so
    its first lines come before the rest is read; its errors then come
    when they are read, as ValueError (the second item is True: say them
    as the file's). Raises TraceFileError as load() does for what the
    start of the file shows."""
    name = os.fspath(path)
    try:
        f = open(name, "rb")
    except OSError as e:
        raise TraceFileError(f"{name}: cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(f.fileno())
        # a pipe or a device is read once, by load() (nothing read here)
        head = f.read(_HEAD_BYTES) if stat.S_ISREG(st.st_mode) else b""
        if head.startswith(FTRACE_MAGIC) or not stat.S_ISREG(st.st_mode):
            f.close()
            f = None
            trace = load(name)
            trace._c()._release_records()
            return trace, False
        _check_head(head, len(head) < _HEAD_BYTES)
        f.seek(0)
        try:
            core = _core.Trace._from_json_lazily(f, _CHUNK, st.st_size, True)
        except ValueError as e:
            raise TraceFileError(f"{name}: {e}") from None
        except MemoryError:
            raise TraceFileError(f"{name}: not enough memory to load it") from None
        if core is None:  # cannot be read lazily: read whole
            f.seek(0)
            return _load_json(name, f, head), False
        weakref.finalize(core, f.close)  # the engine reads it as the walk goes
        f = None
        return Trace(core), True
    except OSError as e:
        raise TraceFileError(f"{name}: cannot read: {e.strerror or e}") from None
    except _Bad as e:
        raise TraceFileError(f"{name}: {e}") from None
    finally:
        if f is not None:
            f.close()


def _load_json(name: str, f: Any, head: bytes, chunk: int = _CHUNK) -> Trace:
    """A FlowTrace JSON file, parsed and checked by C as it is read
    (load_json.c): `chunk` bytes at a time, never the whole text. A file
    that can seek is read from its start again; another (a pipe) goes on
    after the `head` already read from it."""
    prefix, size = None, 0
    try:
        f.seek(0)
    except (OSError, ValueError):
        prefix = head
    else:
        try:
            st = os.fstat(f.fileno())
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        except (OSError, ValueError):
            pass
    try:
        return Trace(_core.Trace._from_json(f, prefix, chunk, size))
    except ValueError as e:
        if isinstance(e, OSError):  # io.UnsupportedOperation and the like
            raise
        raise TraceFileError(f"{name}: {e}") from None
    except MemoryError:
        raise TraceFileError(f"{name}: not enough memory to load it") from None
