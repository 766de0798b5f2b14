"""The pytest plugin's work: a FlowTrace session per test phase, the call
tree in a failing test's report, traces kept as files.

pytest loads the small ``_flowtrace_pytest`` module at start-up (entry
point ``pytest11``: options, marker, fixture, summary); it imports this
module, and so FlowTrace's engine, only when a test is to be traced. See
that module for what the plugin promises.

Only one FlowTrace session runs at a time in a process, so:

- a test defined in a module that uses FlowTrace itself (it, or one of
  the test's fixtures, is in a module that imported ``flowtrace`` or
  something from it) is not traced unless it asks (marker or fixture):
  it runs exactly as without the plugin;
- any other test's session is a :class:`flowtrace.api.GuestSession`: if
  the code under test calls ``start_tracing()``/``tracing()``, the test's
  session ends there (its trace so far is kept and says so) and the
  program's own session runs as it would untraced; ``stop_tracing()`` and
  ``get_trace_data()`` behave as if the plugin's session were not there;
- ``@trace`` functions called from a traced test record into the test's
  session instead of printing their own tree: noticed, and said.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import sys
import tempfile
import types
from typing import Any, Iterator

import pytest

from . import _display
from .api import GuestSession, _needs_ascii, decorated, normalize_patterns

__all__ = ["TestTrace", "Tracer", "safe_name"]

MARKER = "flowtrace"
FIXTURE = "flowtrace_trace"
PHASES = ("setup", "call", "teardown")
# the saved trace's format and file suffix: one place, so that a binary
# format can take over (".ftrace") without touching the rest
SAVE_FORMAT = "json"
SAVE_SUFFIX = ".json"


def _page_of(path: str) -> str:
    """The viewer's page beside a failed phase's trace file."""
    return path[: -len(SAVE_SUFFIX)] + ".html"


# what a marker may set: start_tracing()'s options
MARKER_OPTIONS = ("timing", "args", "include", "exclude", "results", "full_repr",
                  "include_stdlib", "max_events")


# --------------------------------------------------------------------------
# file names

_SAFE = re.compile(r"[^A-Za-z0-9._\-+=,@\[\]]")


def safe_name(nodeid: str, limit: int = 120) -> str:
    """A file name (without suffix) for a test id, on every file system:
    ``tests/test_x.py::TestA::test_b[1-2]`` is
    ``tests.test_x.py--TestA--test_b[1-2]``. Other characters become ``_``,
    and then, or when the name is cut at ``limit``, a short hash of the id
    keeps distinct ids distinct."""
    name = nodeid.replace("::", "--").replace("/", ".").replace("\\", ".")
    safe = _SAFE.sub("_", name)
    if safe.startswith("."):
        safe = "_" + safe[1:]
    if safe != name or len(safe) > limit:
        digest = hashlib.sha1(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        safe = f"{safe[:limit - 11]}-{digest}"
    return safe or "test"


# --------------------------------------------------------------------------
# does a test use FlowTrace itself?

_OWN = (__name__, "_flowtrace_pytest")


def _is_flowtrace(value: Any) -> bool:
    if isinstance(value, types.ModuleType):
        name = value.__name__
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        name = getattr(value, "__module__", None) or ""
    else:
        name = type(value).__module__ or ""  # a @trace function, a Trace
    return (name == "flowtrace" or name.startswith("flowtrace.")) and name not in _OWN


def _holds_flowtrace(module: Any, cache: dict[str, bool]) -> bool:
    """``module``'s globals hold FlowTrace (the package, a module, a
    function or class of it, a @trace function, a Trace)."""
    name = getattr(module, "__name__", None)
    if not isinstance(module, types.ModuleType) or not isinstance(name, str) or name in _OWN:
        return False
    if name == "flowtrace" or name.startswith("flowtrace."):
        return False  # FlowTrace's own modules
    hit = cache.get(name)
    if hit is None:
        try:
            hit = any(_is_flowtrace(v) for v in list(vars(module).values()))
        except Exception:
            hit = False
        cache[name] = hit
    return hit


def _home(value: Any) -> Any:
    """The module a global value comes from: itself for a module, the
    defining module of a function or class."""
    if isinstance(value, types.ModuleType):
        return value
    if isinstance(value, (types.FunctionType, type)):
        return sys.modules.get(getattr(value, "__module__", None) or "")
    return None


def _reaches_flowtrace(module: Any, cache: dict[str, bool],
                       reach: dict[str, str | None]) -> str | None:
    """The module that makes ``module`` one that uses FlowTrace: itself,
    or a module it imports from (one step: ``import lib`` or ``from lib
    import f`` where lib imports flowtrace). Once per module."""
    name = module.__name__
    if name in reach:
        return reach[name]
    found = name if _holds_flowtrace(module, cache) else None
    if found is None:
        try:
            values = list(vars(module).values())
        except Exception:
            values = []
        for v in values:
            home = _home(v)
            if home is not None and home is not module and _holds_flowtrace(home, cache):
                found = home.__name__
                break
    reach[name] = found
    return found


def _uses_flowtrace(item: pytest.Item, cache: dict[str, bool],
                    reach: dict[str, str | None]) -> str | None:
    """The module that makes the test one that uses FlowTrace itself, if
    any: the test's module or a fixture's, or a module they import from."""
    modules = [getattr(item, "module", None)]
    info = getattr(item, "_fixtureinfo", None)
    for defs in getattr(info, "name2fixturedefs", {}).values():
        for fd in defs:
            func = getattr(fd, "func", None)
            modules.append(sys.modules.get(getattr(func, "__module__", None) or ""))
    for m in modules:
        if isinstance(m, types.ModuleType) and isinstance(getattr(m, "__name__", None), str):
            found = _reaches_flowtrace(m, cache, reach)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------
# the fixture's trace

class TestTrace:
    """What the ``flowtrace_trace`` fixture gives: the trace of the test's
    call phase (a :class:`flowtrace.Trace`), for assertions.

    It fills in when the call phase ends. Read during the call (``len``,
    iteration, ``calls()``, ``print_tree``...), it ends the recording
    there: the trace is the call up to that point, the rest of the test
    runs untraced, and the report says so. Read before the call phase
    (from another fixture's set-up), or when the test could not be traced,
    it raises RuntimeError saying why.
    """

    __test__ = False  # not a test class, despite its name

    def __init__(self, state: "_TestState") -> None:
        self._state = state

    def _trace(self) -> Any:
        st = self._state
        t = st.traces.get("call")
        if t is not None:
            return t
        if st.phase == "call" and st.session is not None:
            st.stop_phase(stopped_by=f"where the test first read {FIXTURE}")
            t = st.traces.get("call")
            if t is not None:
                return t
        if st.phase == "setup" or (st.phase is None and not st.traces):
            raise RuntimeError(f"flowtrace: {FIXTURE} is the call phase's trace: "
                               "it is not recorded yet during set-up")
        raise RuntimeError("flowtrace: this test's call phase was not recorded"
                           + (f" ({st.untraced})" if st.untraced else ""))

    @property
    def trace(self) -> Any:
        """The call phase's :class:`flowtrace.Trace`."""
        return self._trace()

    def calls(self, pattern: str = "*") -> list[Any]:
        """The calls (``kind == "call"``) of functions whose qualified name
        (``Order.save``), name (``save``) or ``module.qualname`` matches the
        glob ``pattern``, in the order they started."""
        out = []
        for e in self._trace():
            if e.kind != "call":
                continue
            short = e.func_name.rsplit(".", 1)[-1]
            full = f"{e.module}.{e.func_name}" if e.module else e.func_name
            if (fnmatch.fnmatchcase(e.func_name, pattern) or fnmatch.fnmatchcase(short, pattern)
                    or fnmatch.fnmatchcase(full, pattern)):
                out.append(e)
        return out

    # the Sequence and Trace API, on the call phase's trace
    def __len__(self) -> int:
        return len(self._trace())

    def __getitem__(self, i: Any) -> Any:
        return self._trace()[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._trace())

    def __contains__(self, x: Any) -> bool:
        return x in self._trace()

    def __getattr__(self, name: str) -> Any:
        # stats(), save(), threads(), timing, nbytes... of the Trace
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._trace(), name)

    def _c(self) -> Any:  # print_tree(flowtrace_trace), save(flowtrace_trace, ...)
        return self._trace()._c()

    def __repr__(self) -> str:
        t = self._state.traces.get("call")
        if t is None:
            return f"<{FIXTURE}: the call phase, not recorded yet>"
        return f"<{FIXTURE}: {len(t)} calls>"


# --------------------------------------------------------------------------
# per test

class _TestState:
    """One test the plugin looks after: its options, its phases' traces,
    what to say about it."""

    def __init__(self, item: pytest.Item, options: dict[str, Any] | None) -> None:
        self.item = item
        self.options = options or {}
        self.traced = options is not None   # its phases are to be recorded
        self.phase: str | None = None       # the phase being recorded
        self.session: Any = None            # its GuestSession
        self.traces: dict[str, Any] = {}    # phase -> Trace
        self.notes: list[str] = []          # said under the tree
        self.untraced: str | None = None    # why (some of) it was not traced
        self.own = False                    # not traced: it uses FlowTrace itself
        self.error: str | None = None       # the plugin's own failure
        self.usage: str | None = None       # a marker the plugin cannot follow
        self.failed = False
        self.failed_phases: set[str] = set()  # their traces also get the viewer's page
        self.decorated = False              # @trace functions ran in its session
        self.keep_dir: str | None = None    # where its traces are written
        self.file_base: str | None = None   # their file name, less the suffix
        self.written: set[str] = set()      # phases written
        self.kept: list[str] = []           # files written

    def start_phase(self, phase: str) -> None:
        self.phase = phase
        try:
            self.session = GuestSession(**self.options)
        except RuntimeError as e:
            if "already running" not in str(e):
                raise
            self.untraced = "a FlowTrace session of the program's own was running"
            self.notes.append(f"{phase}: not traced: {self.untraced}")

    def stop_phase(self, stopped_by: str | None = None) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        trace = session.stop()
        if session.gave_way_at:
            self.notes.append(f"{self.phase}: recording ended at {session.gave_way_at}, "
                              "where the test started a FlowTrace session of its own")
        elif trace is None:
            self.notes.append(f"{self.phase}: the test stopped FlowTrace's session itself; "
                              "nothing of this phase was kept")
        elif stopped_by:
            self.notes.append(f"{self.phase}: recording ended {stopped_by}")
        if trace is not None:
            self.traces[self.phase] = trace
            self._check_decorated(trace)

    def _check_decorated(self, trace: Any) -> None:
        if not decorated or len(trace) == 0:
            return
        names = sorted({r.name for r in trace.stats()
                        if (r.filename, r.lineno, r.name) in decorated})
        if names:
            self.decorated = True
            self.notes.append(
                f"{self.phase}: @trace function(s) {', '.join(names)} ran inside this "
                "test's session: their calls are in this tree, and they printed no tree "
                "of their own")


# --------------------------------------------------------------------------
# the plugin

class Tracer:
    """The plugin's work, for the hooks of ``_flowtrace_pytest``. None of
    its methods raises: a failure of its own leaves the test untraced and
    is counted for the summary's warning line."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        opt = config.option
        self.all_tests = bool(opt.flowtrace)
        self.depth = opt.flowtrace_depth
        self.lines = opt.flowtrace_lines
        self.dir = opt.flowtrace_dir
        self.keep = opt.flowtrace_keep
        self.options: dict[str, Any] = {}
        if opt.flowtrace_args:
            self.options["args"] = True
        if opt.flowtrace_timing:
            self.options["timing"] = True
        # Paths are taken from where pytest was started, once: a test that
        # changes directory (monkeypatch.chdir) changes neither what is
        # recorded nor where traces are written.
        if opt.flowtrace_include:
            self.options["include"] = normalize_patterns(opt.flowtrace_include)
        if opt.flowtrace_exclude:
            self.options["exclude"] = normalize_patterns(opt.flowtrace_exclude)
        self.start_dir = os.getcwd()
        self.states: dict[str, _TestState] = {}
        self.module_cache: dict[str, bool] = {}
        self.reach_cache: dict[str, str | None] = {}
        self.names: dict[str, str] = {}  # file name -> nodeid written, this process
        self.tmpdir: str | None = None

    # -- which tests, with which options

    def _decide(self, item: pytest.Item) -> _TestState | None:
        """The state of a test the plugin looks after (traced, or worth a
        word), None for the others."""
        marker = item.get_closest_marker(MARKER)
        fixture = FIXTURE in getattr(item, "fixturenames", ())
        if marker is None and not fixture and not self.all_tests:
            return None
        options = dict(self.options)
        if marker is not None:
            kw = dict(marker.kwargs)
            problem = None
            if marker.args:
                problem = ("@pytest.mark.flowtrace takes keyword arguments only "
                           f"(got {marker.args!r})")
            elif not kw.pop("enabled", True):
                return None
            unknown = sorted(set(kw) - set(MARKER_OPTIONS))
            if problem is None and unknown:
                problem = (f"@pytest.mark.flowtrace: unknown option(s) {', '.join(unknown)} "
                           f"(it takes enabled, {', '.join(MARKER_OPTIONS)})")
            if problem is not None:
                st = _TestState(item, None)
                st.usage = st.untraced = problem
                st.notes.append(f"not traced: {problem}")
                return st
            for key in ("include", "exclude"):
                if kw.get(key) is not None:
                    kw[key] = normalize_patterns(kw[key])
            options.update(kw)
        elif not fixture:
            own = _uses_flowtrace(item, self.module_cache, self.reach_cache)
            if own is not None:
                st = _TestState(item, None)
                st.own = True
                st.untraced = (f"the test uses FlowTrace itself ({own} imports it); "
                               "@pytest.mark.flowtrace traces it anyway")
                st.notes.append(f"not traced: {st.untraced}")
                return st
        return _TestState(item, options)

    # -- the phases

    def fixture(self, item: pytest.Item) -> TestTrace:
        st = self.states.get(item.nodeid)
        if st is None:
            st = _TestState(item, None)
            st.untraced = "the flowtrace plugin did not see this test start"
        return TestTrace(st)

    def begin(self, item: pytest.Item, phase: str) -> None:
        try:
            if phase == "setup":
                st = self._decide(item)
                if st is None:
                    return
                self.states[item.nodeid] = st
            else:
                st = self.states.get(item.nodeid)
            if st is not None and st.traced:
                st.start_phase(phase)
        except Exception as e:
            self._failure(item, f"{type(e).__name__}: {e}")

    def end(self, item: pytest.Item, phase: str) -> None:
        st = self.states.get(item.nodeid)
        if st is None:
            return
        try:
            st.stop_phase()
        except Exception as e:
            st.session = None
            self._failure(item, f"{type(e).__name__}: {e}")
        st.phase = None

    def _failure(self, item: pytest.Item, message: str) -> None:
        """Something went wrong in the plugin: the test goes on untraced
        (no more phases recorded); one line at the end of the run says it."""
        st = self.states.get(item.nodeid)
        if st is None:
            st = self.states[item.nodeid] = _TestState(item, None)
        if st.session is not None:
            try:
                st.session.stop()
            except Exception:
                pass
            st.session = None
        st.traced = False
        st.untraced = st.error = message
        st.notes.append(f"not traced: {message}")

    # -- reports

    def report(self, item: pytest.Item, when: str, report: Any) -> None:
        """A phase's report is made: a failure gets its tree; the traces of
        a test that is kept are written as soon as that is known (so an
        interrupted run still has them); the teardown's report carries
        what the summary counts (``report.flowtrace``: a dict, which
        xdist's workers send along with the report)."""
        st = self.states.get(item.nodeid)
        if st is None:
            return
        try:
            if report.failed:
                st.failed = True
                st.failed_phases.add(when)
                section = self._section(st, when)
                if section is not None:
                    report.sections.append(section)
            if st.keep_dir is None and self.dir and (self.keep == "all" or st.failed):
                st.keep_dir = self.dir
            if st.keep_dir is not None:
                self._write(st)
            if when == "teardown":
                self.states.pop(item.nodeid, None)
                report.flowtrace = self._facts(st)
        except Exception as e:
            self.states.pop(item.nodeid, None)
            report.flowtrace = {"error": f"{type(e).__name__}: {e}"}

    def _section(self, st: _TestState, phase: str) -> tuple[str, str] | None:
        trace = st.traces.get(phase)
        notes = [n for n in st.notes if n.startswith((phase + ":", "not traced"))]
        if trace is None:
            if not notes:
                return None
            return f"flowtrace {phase}", "".join(n + "\n" for n in notes)
        color = self._color()
        ascii = _needs_ascii(sys.__stdout__) if sys.__stdout__ else False
        if len(trace) == 0:
            body = "(no calls of your code recorded)\n"
            tree = None
        else:
            tree = _display.render(trace, max_depth=self.depth, max_lines=self.lines,
                                   color=color, ascii=ascii)
            body = tree.text()
        if tree is not None and tree.omitted > 0 and st.keep_dir is None:
            st.keep_dir = self.dir or self._tmpdir()  # the whole tree is worth a file
        elif self.dir:
            st.keep_dir = self.dir  # a failed test's traces are kept
        where = self._path(st, phase) if st.keep_dir and tree is not None else None
        tail = []
        if where:
            tail.append(f"whole trace: {where} (flowtrace show {where})")
            tail.append(f"its page: {_page_of(where)} (open it in a browser)")
        tail.extend(notes)
        title = f"flowtrace {phase}: {len(trace)} calls"
        if tree is not None and self.depth:
            title += f", depth <= {self.depth}"
        return title, body + "".join(t + "\n" for t in tail)

    def _color(self) -> bool:
        try:
            return bool(self.config.get_terminal_writer().hasmarkup)
        except Exception:
            return False

    def _tmpdir(self) -> str:
        if self.tmpdir is None:
            factory = getattr(self.config, "_tmp_path_factory", None)
            try:
                base = str(factory.getbasetemp()) if factory is not None else None
            except Exception:
                base = None
            if base:
                self.tmpdir = os.path.join(base, "flowtrace")
                os.makedirs(self.tmpdir, exist_ok=True)
            else:
                self.tmpdir = tempfile.mkdtemp(prefix="flowtrace-pytest-")
        return self.tmpdir

    def _path(self, st: _TestState, phase: str) -> str:
        """The file of one phase's trace: ``<dir>/<test id made safe>.json``
        for the call, ``....setup.json`` and ``....teardown.json`` for the
        others (each phase is its own session, written as it is, by C)."""
        if st.file_base is None:
            name = safe_name(st.item.nodeid)
            other = self.names.get(name)
            if other is not None and other != st.item.nodeid:  # two ids, one name
                digest = hashlib.sha1(st.item.nodeid.encode("utf-8", "surrogatepass"))
                name = f"{name}-{digest.hexdigest()[:10]}"
            self.names[name] = st.item.nodeid
            st.file_base = name
        suffix = "" if phase == "call" else f".{phase}"
        # as given (DIR relative to where pytest started), for the report
        return os.path.join(st.keep_dir or ".", st.file_base + suffix + SAVE_SUFFIX)

    def _abs(self, path: str) -> str:
        return os.path.join(self.start_dir, path)

    def _write(self, st: _TestState) -> None:
        """Write the phases recorded so far and not written yet (those
        that recorded calls)."""
        for phase in PHASES:
            trace = st.traces.get(phase)
            if trace is None or phase in st.written or len(trace) == 0:
                continue
            st.written.add(phase)
            path = self._path(st, phase)
            try:
                self._save(st, phase, trace, self._abs(path))
                st.kept.append(path)
                if phase in st.failed_phases:
                    self._save(st, phase, trace, self._abs(_page_of(path)), "html")
                    st.kept.append(_page_of(path))
            except Exception as e:
                st.error = f"cannot write {path}: {getattr(e, 'strerror', None) or e}"

    def _facts(self, st: _TestState) -> dict[str, Any]:
        """What the summary counts of a test that is over."""
        facts: dict[str, Any] = {}
        for key in ("error", "usage", "own", "decorated", "kept"):
            value = getattr(st, key)
            if value:
                facts[key] = value
        if st.traces:
            facts["traced"] = True
        return facts

    def _save(self, st: _TestState, phase: str, trace: Any, path: str,
              format: str = SAVE_FORMAT) -> None:
        from .saved import save

        meta = {"pytest": {
            "nodeid": st.item.nodeid,
            "phase": phase,
            "outcome": "failed" if st.failed else "passed",
            "notes": [n for n in st.notes if n.startswith((phase + ":", "not traced"))],
        }, "command": f"pytest {st.item.nodeid} ({phase})"}
        save(trace, path, format=format, meta=meta)
