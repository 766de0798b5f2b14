"""Differential test: FlowTrace's call trees against a sys.setprofile reference.

Every program in ``tests/programs/*.py`` (each defines ``main()``) is run in
two fresh interpreters (``sys.executable``; this file run as a script, so the
test process's own tracing state is untouched):

- ``reference``: a recorder built on ``sys.setprofile`` and
  ``threading.setprofile`` (kept here, :func:`_run_reference`) notes every
  ``'call'`` event of a Python frame whose ``co_filename`` is the program
  file. ``setprofile`` reports a generator's or coroutine's first start *and
  each resumption* (``next()``, ``send()``, ``throw()``, ``close()``, the
  event loop's steps) as a ``'call'``.
- ``flowtrace``: the same program under ``flowtrace.start_tracing()`` /
  ``stop_tracing()`` (:func:`_run_flowtrace`).

Both sides import the program *before* recording starts (its module body and
class bodies are not recorded by either), disable the cyclic GC while
``main()`` runs (so that a generator's finalisation never depends on when a
collection happens to run) and stop right after ``main()`` returns.

Normalisation, the same for both sides (:func:`normalise_reference`,
:func:`normalise_flowtrace`):

- Only frames of the program file are kept. A kept entry's *depth* is the
  number of kept frames above it:

  - reference: the program frames on its ``f_back`` chain when the ``'call'``
    event fires (for a resumed generator that chain goes through whoever
    resumed it — the same "who was running" that FlowTrace's ``parent_id``
    means), counting only frames that setprofile reported running (a
    ``'call'`` and no ``'return'`` yet). A frame can be on the chain
    without any event: ``throw()`` / ``close()`` / a task's cancellation
    reaching a generator or coroutine suspended in ``yield from`` / ``await``
    makes the delegating frame current and throws straight into the
    sub-generator (CPython's ``_gen_throw``), with no 'call' (nor
    PY_RESUME / PY_THROW) for the delegator; no recorder built on events can
    see it, so it is not counted (see :func:`_run_reference`);
  - FlowTrace: the kept events on its ``parent_id`` chain. Events of other
    files (the runner, ``<string>`` code such as a dataclass's ``__init__``)
    are dropped and their children re-attached to the nearest kept ancestor,
    which is what ``f_back`` counting does on the reference side.

- Each entry becomes ``(depth, co_qualname, entry)``, ``entry`` being
  ``"call"`` for a frame's first start and ``"resume"`` for a later entry
  into a suspended frame. FlowTrace: ``kind == "call"`` -> ``"call"``;
  ``"resume"`` and ``"throw"`` -> ``"resume"`` (setprofile reports both as a
  ``'call'``; ``throw()``'s event is not told apart reliably: on 3.12 the
  profile function gets the exception, on 3.13 ``None``). Reference: an
  entry is a first start when the frame's current instruction is ``RESUME``
  with "start" as its location (oparg & 3 == 0), else a resumption.
- FlowTrace's marker events (``raise`` / ``reraise`` / ``handled``) are
  removed: they are not calls and setprofile has no such events.
- FlowTrace's ``task`` lane nodes are removed; their children (the task's
  steps) are re-attached to the lane's parent (the frame that runs the event
  loop, e.g. ``main`` calling ``asyncio.run``; none when the loop runs in a
  thread whose target is ``asyncio.run`` itself). Removed nodes are not
  counted in depths, so a step sits at the same depth as in setprofile's
  view, where the loop's frames are not the program's.

Ordering. Threads are matched by name. Within a thread, FlowTrace's events
are in pre-order with each node's children in time order, and a task's
steps are grouped under its lane, whereas setprofile sees the steps of all
tasks interleaved in time. The interleaving of different tasks' steps is the
event loop's business; what matters is each task's own sequence. So the
normalised form of a thread is a dict *group* -> list of entries in order,
where an entry's group is the asyncio task it runs in:

- FlowTrace: the name (``args_repr``) of the nearest task lane above it;
- reference: ``asyncio.current_task().get_name()`` when the entry fires
  (asyncio sets it for the whole of a task's step, so every call made during
  the step, at any depth, gets it);
- ``None`` for everything else (no loop; or a loop callback such as
  ``call_soon``'s or a future's done-callback, which runs between steps, in
  no task).

Within one group both sides list entries in time order: FlowTrace's
pre-order restricted to the group is the time order because every parent's
children are in time order and a lane holds only its task's steps. Depths
are kept, so a step still has to be under the right frame.

What is *not* compared: arguments, results, exceptions, the ``end`` of a
segment (setprofile's ``'return'`` does not tell a yield from an unwind
reliably), durations. The program's return value and its stdout are
compared between the two runs (behaviour unchanged by tracing).
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
from pathlib import Path
from typing import Any

from reference_names import display_name  # run as a script too: tests/ is on sys.path

HERE = Path(__file__).resolve().parent
PROGRAMS_DIR = HERE / "programs"
TIMEOUT = 120

_RESUME = dis.opmap["RESUME"]


# ---------------------------------------------------------------------------
# the two runners (executed in a subprocess: ``python test_differential.py``)

def _load_program(path: str) -> Any:
    name = "ftdiff_" + Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look the module up by name
    spec.loader.exec_module(mod)
    return mod


def _is_first_start(frame: Any) -> bool:
    """At a 'call' event: is the frame starting (RESUME at its "start"
    location) rather than resumed after a yield / await / by throw()?"""
    i = frame.f_lasti
    code = frame.f_code.co_code
    return 0 <= i < len(code) - 1 and code[i] == _RESUME and (code[i + 1] & 3) == 0


def _run_reference(path: str) -> dict[str, Any]:
    mod = _load_program(path)
    prog = mod.__file__
    events: list[tuple[str, int, str, str, str | None]] = []
    active = True
    # Program frames that setprofile reported running: a 'call' seen, its
    # 'return' not yet (ids of frame objects, which stay the same while a
    # frame lives; a frame runs on one thread at a time).
    running: set[int] = set()
    last_entry: dict[int, int] = {}  # frame id -> index of its last entry

    def profile(frame: Any, event: str, arg: Any) -> None:
        if not active or (event != "call" and event != "return"):
            return
        code = frame.f_code
        if code.co_filename != prog:
            return
        if event == "return":
            running.discard(id(frame))
            return
        # Depth: the program frames on the f_back chain that are running by
        # setprofile's own events. Not all of the chain: when throw() /
        # close() (or a task's cancellation) reaches a generator or coroutine
        # suspended in ``yield from`` / ``await``, CPython (_gen_throw) makes
        # the delegating frame current and throws straight into the
        # sub-generator: the delegator is on f_back but no event says it
        # runs (setprofile gets no 'call' for it, sys.monitoring no
        # PY_RESUME / PY_THROW), so no event-based recorder, FlowTrace
        # included, can place the sub-generator under it.
        depth = 0
        f = frame.f_back
        while f is not None:
            if f.f_code.co_filename == prog and id(f) in running:
                depth += 1
            f = f.f_back
        running.add(id(frame))
        group = None  # the asyncio task running now on this thread, if any
        if "asyncio" in sys.modules:
            try:
                task = sys.modules["asyncio"].current_task()
            except RuntimeError:  # no running loop on this thread
                task = None
            if task is not None:
                group = task.get_name()
        entry = "call" if _is_first_start(frame) else "resume"
        events.append((threading.current_thread().name, depth, display_name(code, frame), entry,
                       group))
        last_entry[id(frame)] = len(events) - 1

    gc.disable()
    silent = _watch_silent_closes(prog, events, last_entry)
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        result = mod.main()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        active = False
        silent()
        gc.enable()
    return {"prog": prog, "result": repr(result), "events": events}


def _watch_silent_closes(prog: str, events: list[Any], last_entry: dict[int, int]) -> Any:
    """3.12 only: a close() of a generator suspended at a yield in no try
    block runs none of its code; 3.13 reports no event for it at all, and
    FlowTrace records none on either (compat.h), while 3.12's setprofile
    sees a 'call' and a 'return'. Such a close is found here (a PY_THROW
    of GeneratorExit at a YIELD_VALUE whose exception depth is 1, seen by a
    sys.monitoring tool right after setprofile's 'call') and that entry
    taken back. Returns the undo."""
    if sys.version_info >= (3, 13):
        return lambda: None
    import dis
    mon = sys.monitoring
    tool = next(i for i in (3, 4, 5, 0, 2) if mon.get_tool(i) is None)
    yield_value = dis.opmap["YIELD_VALUE"]

    def on_throw(code: Any, offset: int, exc: BaseException) -> None:
        if code.co_filename != prog or not isinstance(exc, GeneratorExit):
            return
        raw = code.co_code
        if offset + 1 < len(raw) and raw[offset] == yield_value and raw[offset + 1] == 1:
            if last_entry.get(id(sys._getframe(1))) == len(events) - 1:
                events.pop()

    mon.use_tool_id(tool, "reference")
    mon.register_callback(tool, mon.events.PY_THROW, on_throw)
    mon.set_events(tool, mon.events.PY_THROW)

    def undo() -> None:
        mon.set_events(tool, 0)
        mon.free_tool_id(tool)
    return undo


def _run_flowtrace(path: str) -> dict[str, Any]:
    import flowtrace

    mod = _load_program(path)
    gc.disable()
    flowtrace.start_tracing()
    try:
        result = mod.main()
    finally:
        trace = flowtrace.stop_tracing()
        gc.enable()
    events = [
        {"id": e.id, "kind": e.kind, "func_name": e.func_name, "parent_id": e.parent_id,
         "args_repr": e.args_repr, "thread": e.thread, "filename": e.filename}
        for e in trace
    ]
    return {"prog": mod.__file__, "result": repr(result), "events": events}


def _script_main(argv: list[str]) -> int:
    mode, program, out = argv
    runner = {"reference": _run_reference, "flowtrace": _run_flowtrace}[mode]
    data = runner(program)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return 0


if __name__ == "__main__":
    sys.exit(_script_main(sys.argv[1:]))


# ---------------------------------------------------------------------------
# normalisation: thread name -> group -> [(depth, qualname, entry), ...]

Entry = tuple[int, str, str]
Normalised = dict[str, dict[Any, list[Entry]]]


def normalise_reference(data: dict[str, Any]) -> Normalised:
    out: Normalised = {}
    for thread, depth, qualname, entry, group in data["events"]:
        out.setdefault(thread, {}).setdefault(group, []).append((depth, qualname, entry))
    return out


MARKERS = {"raise", "reraise", "handled"}


def normalise_flowtrace(data: dict[str, Any]) -> Normalised:
    prog = data["prog"]
    events = data["events"]
    by_id = {e["id"]: e for e in events}
    out: Normalised = {}
    for e in events:  # id order: pre-order, thread by thread
        if e["kind"] in MARKERS or e["kind"] == "task" or e["filename"] != prog:
            continue
        depth = 0
        group = None  # the nearest task lane above this entry, if any
        p = e["parent_id"]
        while p is not None:
            pe = by_id[p]
            assert pe["id"] < e["id"], f"parent after child: {e} -> {pe}"
            assert pe["thread"] == e["thread"], f"parent on another thread: {e} -> {pe}"
            assert pe["kind"] not in MARKERS, f"a marker has children: {pe}"
            if pe["kind"] == "task":
                if group is None:
                    group = pe["args_repr"]
            elif pe["filename"] == prog:
                depth += 1
            p = pe["parent_id"]
        entry = "call" if e["kind"] == "call" else "resume"
        out.setdefault(e["thread"], {}).setdefault(group, []).append(
            (depth, e["func_name"], entry))
    return out


# ---------------------------------------------------------------------------
# comparison

def render(norm: Normalised) -> list[str]:
    """One line per entry, indented by depth; ``▶`` marks a resumption."""
    lines = []
    for thread in sorted(norm):
        groups = norm[thread]
        for group in sorted(groups, key=lambda g: (g is not None, str(g))):
            lines.append(f"== thread {thread} / " + ("no task" if group is None else f"task {group}"))
            for depth, name, entry in groups[group]:
                lines.append("  " * depth + ("▶ " if entry == "resume" else "→ ") + name)
    return lines


def differences(reference: Normalised, flowtrace: Normalised) -> str:
    """'' when equal, else a unified diff (reference -> flowtrace)."""
    if reference == flowtrace:
        return ""
    import difflib

    diff = difflib.unified_diff(render(reference), render(flowtrace),
                                "setprofile reference", "flowtrace", lineterm="", n=4)
    return "\n".join(diff) or "(same rendering, different structure)"


# ---------------------------------------------------------------------------
# running the programs

PROGRAMS = sorted(p for p in PROGRAMS_DIR.glob("*.py") if not p.name.startswith("_"))
_cache: dict[str, tuple[dict[str, Any], dict[str, Any], str, str]] = {}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def run_both(program: Path, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Run ``program`` under both recorders (two interpreters at once);
    return (reference data, flowtrace data, reference stdout, flowtrace stdout)."""
    key = str(program)
    if key in _cache:
        return _cache[key]
    procs = {}
    for mode in ("reference", "flowtrace"):
        out = tmp_path / f"{program.stem}.{mode}.json"
        procs[mode] = (out, subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), mode, str(program.resolve()), str(out)],
            cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", env=_env()))
    results = {}
    for mode, (out, proc) in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            raise AssertionError(f"{program.name} under {mode}: timed out\n{stderr}")
        assert proc.returncode == 0, f"{program.name} under {mode}: exit {proc.returncode}\n{stderr}"
        results[mode] = (json.loads(out.read_text(encoding="utf-8")), stdout)
    value = (results["reference"][0], results["flowtrace"][0],
             results["reference"][1], results["flowtrace"][1])
    _cache[key] = value
    return value


# ---------------------------------------------------------------------------
# the tests

import pytest  # noqa: E402  (not needed by the subprocess runners above)


def test_corpus_size():
    assert len(PROGRAMS) >= 40, [p.name for p in PROGRAMS]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_flowtrace_matches_setprofile(program, tmp_path):
    ref, ft, ref_out, ft_out = run_both(program, tmp_path)
    # behaviour unchanged by tracing
    assert ft["result"] == ref["result"]
    assert ft_out == ref_out
    ref_norm = normalise_reference(ref)
    ft_norm = normalise_flowtrace(ft)
    assert ref_norm, f"{program.name}: the reference recorded nothing"
    assert sum(len(v) for g in ref_norm.values() for v in g.values()) >= 3
    diff = differences(ref_norm, ft_norm)
    assert not diff, f"{program.name}: FlowTrace's tree differs from setprofile's\n{diff}"


def test_reference_sees_tasks_and_threads(tmp_path):
    """The per-task and per-thread parts of the comparison are not vacuous."""
    ref, ft, _, _ = run_both(PROGRAMS_DIR / "async_gather.py", tmp_path)
    groups = normalise_reference(ref)["MainThread"]
    assert {"Task-1", "Task-2", "Task-3", "Task-4"} <= set(groups), sorted(map(str, groups))
    assert set(normalise_flowtrace(ft)["MainThread"]) == set(groups)
    ref, _, _, _ = run_both(PROGRAMS_DIR / "threads_basic.py", tmp_path)
    assert set(normalise_reference(ref)) == {"MainThread", "worker-0", "worker-1", "worker-2"}


# --- the comparison can fail ----------------------------------------------

def _self_check_data(tmp_path):
    ref, ft, _, _ = run_both(PROGRAMS_DIR / "gen_send.py", tmp_path)
    assert not differences(normalise_reference(ref), normalise_flowtrace(ft))
    return ref, ft


def _copy(data):
    return json.loads(json.dumps(data))


def _kept(ft):
    return [e for e in ft["events"]
            if e["filename"] == ft["prog"] and e["kind"] not in MARKERS | {"task"}]


def test_self_check_reparented_event_is_detected(tmp_path):
    ref, ft = _self_check_data(tmp_path)
    bad = _copy(ft)
    # a call at depth >= 2 hung one level higher (its grandparent)
    deep = [e for e in _kept(bad) if e["parent_id"] is not None
            and bad["events"][e["parent_id"]]["parent_id"] is not None
            and bad["events"][e["parent_id"]]["filename"] == bad["prog"]]
    assert deep
    e = deep[0]
    e["parent_id"] = bad["events"][e["parent_id"]]["parent_id"]
    assert differences(normalise_reference(ref), normalise_flowtrace(bad))


def test_self_check_resume_shown_as_call_is_detected(tmp_path):
    ref, ft = _self_check_data(tmp_path)
    bad = _copy(ft)
    resumed = [e for e in _kept(bad) if e["kind"] in ("resume", "throw")]
    assert resumed
    resumed[0]["kind"] = "call"
    assert differences(normalise_reference(ref), normalise_flowtrace(bad))


def test_self_check_missing_or_renamed_event_is_detected(tmp_path):
    ref, ft = _self_check_data(tmp_path)
    bad = _copy(ft)
    _kept(bad)[-1]["func_name"] += "_x"
    assert differences(normalise_reference(ref), normalise_flowtrace(bad))
    short = _copy(ref)
    del short["events"][len(short["events"]) // 2]
    assert differences(normalise_reference(short), normalise_flowtrace(ft))


def test_self_check_order_and_thread_and_lane_are_detected(tmp_path):
    ref, ft = _self_check_data(tmp_path)
    norm = normalise_flowtrace(ft)
    ((thread, groups),) = norm.items()
    seq = groups[None]
    # two different entries swapped
    i = next(k for k in range(len(seq) - 1) if seq[k] != seq[k + 1])
    swapped = seq[:i] + [seq[i + 1], seq[i]] + seq[i + 2:]
    assert differences(normalise_reference(ref), {thread: {None: swapped}})
    # the same entries on another thread, or in a task lane
    assert differences(normalise_reference(ref), {thread + "-x": {None: seq}})
    assert differences(normalise_reference(ref), {thread: {"Task-1": seq}})


def test_self_check_malformed_parent_is_refused(tmp_path):
    _, ft = _self_check_data(tmp_path)
    bad = _copy(ft)
    first = _kept(bad)[0]
    first["parent_id"] = _kept(bad)[-1]["id"]  # a parent recorded after its child
    with pytest.raises(AssertionError):
        normalise_flowtrace(bad)
