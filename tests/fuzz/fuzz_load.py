"""Fuzz harness for flowtrace.load (issue 9).

``check(data)`` is the property, shared by the fuzzer and the replay test
(tests/test_fuzz_corpus.py): whatever the bytes of a saved trace are,
``load`` either gives a Trace or raises ``TraceFileError`` with a one-line
message, and ``flowtrace show``'s reading (a JSON file read as the walk
goes) agrees; any other exception (or a crash of the process) is a finding. A
trace that loads must be usable: its tree prints (plain, ASCII, depth-limited),
its stats and events are computed, it saves as JSON and as Chrome JSON, and
the JSON it saves loads again into the same tree and saves to the same
document (save is a fixed point after one load); a loaded .ftrace recording
also saves to .ftrace and loads again into the same tree.

Run under atheris (coverage-guided; see tools/run_fuzz.sh):

    python tests/fuzz/fuzz_load.py [libFuzzer options] CORPUS_DIR...

Without atheris installed, ``python tests/fuzz/fuzz_load.py FILE...`` replays
files through ``check``.
"""
from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import sys
import tempfile


class Finding(AssertionError):
    """load() broke its contract on this input."""


_tmpdir: str | None = None


def _path(name: str) -> str:
    """A path in a private directory (made once per process: the fuzzer
    calls check() hundreds of thousands of times)."""
    global _tmpdir
    if _tmpdir is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _tmpdir = tempfile.mkdtemp(prefix="flowtrace-fuzz-", dir=base)
        atexit.register(shutil.rmtree, _tmpdir, True)
    return os.path.join(_tmpdir, name)


def _write(name: str, data: bytes) -> str:
    path = _path(name)
    try:
        f = open(path, "wb")
    except FileNotFoundError:  # the directory was cleaned away under a long run
        os.makedirs(os.path.dirname(path), exist_ok=True)
        f = open(path, "wb")
    with f:
        f.write(data)
    return path


def _tree(trace) -> str:
    import flowtrace

    out = io.StringIO()
    flowtrace.print_tree(trace, file=out, color=False)
    return out.getvalue()


def _without_meta(doc_bytes: bytes) -> dict:
    doc = json.loads(doc_bytes)
    doc.pop("meta", None)
    return doc


def _exercise(trace, first_tree: str) -> None:
    """A loaded trace must be usable, and survive a save/load round trip."""
    import flowtrace

    for kwargs in ({"ascii": True}, {"max_depth": 1}, {"max_depth": 3, "color": "always"}):
        flowtrace.print_tree(trace, file=io.StringIO(), **{"color": False, **kwargs})
    trace.stats()
    trace.threads()
    _ = trace.timing, trace.dropped, repr(trace)
    events = list(trace)
    if len(events) != len(trace):
        raise Finding(f"iteration gave {len(events)} events for len {len(trace)}")
    if events:
        trace[-1]
        trace[0:2]

    chrome = io.BytesIO()
    flowtrace.save(trace, chrome, format="chrome")
    json.loads(chrome.getvalue())  # must be valid JSON

    saved = io.BytesIO()
    flowtrace.save(trace, saved, format="json")
    first = saved.getvalue()
    try:
        again = flowtrace.load(_write("again.json", first))
    except flowtrace.TraceFileError as e:
        raise Finding(f"a loaded trace saves to JSON that does not load: {e}") from None
    tree = _tree(again)
    if tree != first_tree:
        raise Finding("the tree changed after save and load:\n--- loaded\n"
                      f"{first_tree}\n--- after save+load\n{tree}")
    saved = io.BytesIO()
    flowtrace.save(again, saved, format="json")
    if _without_meta(saved.getvalue()) != _without_meta(first):
        raise Finding("saving the reloaded trace gave another document")

    binary = io.BytesIO()
    try:
        flowtrace.save(trace, binary, format="ftrace")
    except ValueError as e:  # rebuilt from JSON: no records to keep
        if "keeps a recording" not in str(e):
            raise
        return
    try:
        back = flowtrace.load(_write("again.ftrace", binary.getvalue()))
    except flowtrace.TraceFileError as e:
        raise Finding(f"a loaded recording saves to .ftrace that does not load: {e}") from None
    if _tree(back) != first_tree:
        raise Finding("the tree changed after a .ftrace save and load")


def check(data: bytes) -> None:
    """The property: raises Finding (or whatever load let escape) when
    load(file with these bytes) breaks its contract; returns otherwise."""
    import flowtrace

    path = _write("input.json", data)
    try:
        trace = flowtrace.load(path)
    except flowtrace.TraceFileError as e:
        msg = str(e)
        if "\n" in msg or "\r" in msg or not msg.startswith(path + ": "):
            raise Finding(f"TraceFileError is not one line naming the file: {msg!r}") from None
        _same_in_pieces(path, data, msg)
        _walked_agrees(path, None)
        return
    if not isinstance(trace, flowtrace.Trace):
        raise Finding(f"load returned {type(trace).__name__}, not a Trace")
    tree = _tree(trace)
    _same_in_pieces(path, data, tree)
    _walked_agrees(path, tree)
    _exercise(trace, tree)


def _walked_agrees(path: str, tree: str | None) -> None:
    """`flowtrace show` reads a file as its walk goes (load_for_walk: a
    JSON file only as far as the walk has come, its errors found when they
    are read): it must print the tree load() gives, or fail as load() did,
    in one line (TraceFileError at the start, ValueError on the way)."""
    import flowtrace
    from flowtrace.saved import load_for_walk

    try:
        walked, streamed = load_for_walk(path)
        got = _tree(walked)
    except flowtrace.TraceFileError as e:
        got, failed = None, str(e)
    except ValueError as e:
        if not streamed:
            raise
        got, failed = None, str(e)
    if got is not None and tree is None:
        raise Finding("load() refuses the file, its walk shows it")
    if got is None and tree is not None:
        raise Finding(f"load() takes the file, its walk refuses it: {failed!r}")
    if got is not None and got != tree:
        raise Finding(f"its walk shows another tree:\n{got[:300]}\n--- load():\n{tree[:300]}")
    if got is None and ("\n" in failed or "\r" in failed):
        raise Finding(f"the walk's error is not one line: {failed!r}")


def _same_in_pieces(path: str, data: bytes, outcome: str) -> None:
    """The JSON reader reads a file in pieces: read in pieces of 1 to 7
    bytes (every token cut somewhere), a file gives the same tree or the
    same error as in one piece."""
    import flowtrace
    from flowtrace.saved import FTRACE_MAGIC, _load_json

    if data.startswith(FTRACE_MAGIC) or len(data) >= 4096:
        return  # .ftrace, or refused by its head: the reader never sees it
    chunk = 1 + (data[-1] if data else 0) % 7
    with open(path, "rb") as f:
        try:
            got = _tree(_load_json(path, f, f.read(4096), chunk))
        except flowtrace.TraceFileError as e:
            got = str(e)
    if got != outcome:
        raise Finding(f"read in pieces of {chunk} bytes: {got[:300]!r}, in one: {outcome[:300]!r}")


def _fuzz() -> None:
    import atheris

    with atheris.instrument_imports(include=["flowtrace", "json"]):
        import flowtrace  # noqa: F401

    def one_input(data: bytes) -> None:
        check(data)

    # libFuzzer runs argv[0] again for -minimize_crash and -merge: a script
    # is not a program, so tools/run_fuzz.sh names a wrapper
    argv = [os.environ.get("FLOWTRACE_FUZZ_ARGV0") or sys.argv[0], *sys.argv[1:]]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def _replay(paths: list[str]) -> int:
    bad = 0
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        try:
            check(data)
        except Exception as e:  # a finding: report it and go on
            bad += 1
            print(f"{p}: FINDING {type(e).__name__}: {e}", file=sys.stderr)
    print(f"{len(paths)} inputs, {bad} findings")
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        import atheris  # noqa: F401
    except ImportError:
        sys.exit(_replay(sys.argv[1:]))
    _fuzz()
