"""FlowTrace's pytest plugin: a call tree per test (``pytest --flowtrace``).

Installed with FlowTrace (entry point ``pytest11``, named ``flowtrace``:
``-p no:flowtrace`` turns it off) and inactive unless asked:
``--flowtrace`` traces every test, ``@pytest.mark.flowtrace(...)`` or the
``flowtrace_trace`` fixture one test. Each phase of a traced test (setup,
call, teardown) is its own FlowTrace session, so a suite's trace is cut per
test, fixtures' code included; a failing phase's report gets its call tree
as a section, bounded in depth and lines; ``--flowtrace-dir`` keeps the
traces as files.

This module is what pytest imports at start-up, in every run of every
project where FlowTrace is installed: it holds the options, the marker, the
fixture and the summary, and imports FlowTrace itself (its C engine, and
the plugin's work in ``flowtrace.pytest_plugin``) only when a test is to be
traced. So a pytest run that does not ask for FlowTrace never loads it,
and a FlowTrace that cannot load (a broken build) costs a run that asks
for it one warning line, never its tests.

Nothing the plugin does fails a test or changes its outcome: an error of
its own is caught, the test goes on untraced, and the run ends with one
warning line. (A test that asks for the ``flowtrace_trace`` fixture and
cannot have it errors in its set-up, saying why: it asked for a trace.)
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Iterator

import pytest

MARKER = "flowtrace"
FIXTURE = "flowtrace_trace"
PLUGIN_NAME = "flowtrace-tracer"


def _positive(text: str) -> int:
    # flowtrace.cli has the same check; importing it would load the engine
    # in every pytest run, which this module exists to avoid
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return n


def _lines(text: str) -> int:
    n = _positive(text)
    if n < 2:
        raise argparse.ArgumentTypeError("must be >= 2")
    return n


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("flowtrace", "FlowTrace: the call tree of each test")
    g.addoption("--flowtrace", action="store_true", default=False,
                help="trace each test (setup, call and teardown, fixtures included) as "
                "its own FlowTrace session; a failing test's report shows its call tree")
    g.addoption("--flowtrace-depth", type=_positive, default=6, metavar="N",
                help="depth of the tree in a failure report (default 6; a call at the "
                "limit says how many calls it hides)")
    g.addoption("--flowtrace-lines", type=_lines, default=200, metavar="N",
                help="lines of the tree in a failure report (default 200: its first "
                "two thirds and last third, saying how many were left out)")
    g.addoption("--flowtrace-dir", metavar="DIR", default=None,
                help="keep traces as DIR/<test id>.json (flowtrace show/stats read them)")
    g.addoption("--flowtrace-keep", choices=("failed", "all"), default="failed",
                help="with --flowtrace-dir: keep the traces of failed tests (default) "
                "or of every traced test")
    g.addoption("--flowtrace-args", action="store_true", default=False,
                help="record the arguments of every call")
    g.addoption("--flowtrace-timing", action="store_true", default=False,
                help="record each call's duration")
    g.addoption("--flowtrace-include", action="append", default=[], metavar="PATTERN",
                help="record only code matching PATTERN (repeatable; the patterns of "
                "flowtrace run --include)")
    g.addoption("--flowtrace-exclude", action="append", default=[], metavar="PATTERN",
                help="never record code matching PATTERN (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "flowtrace(timing=False, args=False, include=None, exclude=None, enabled=True): "
        "trace this test with FlowTrace (even without --flowtrace), with these "
        "start_tracing() options; enabled=False: never trace it")
    opt = config.option
    if opt.flowtrace_dir:
        try:
            os.makedirs(opt.flowtrace_dir, exist_ok=True)
        except OSError as e:
            raise pytest.UsageError(
                f"--flowtrace-dir {opt.flowtrace_dir}: {e.strerror or e}") from None
    hooks = _Hooks(config)
    if opt.flowtrace_include or opt.flowtrace_exclude:
        # a bad pattern is a usage error, said before any test runs
        try:
            from flowtrace import _core
            from flowtrace.api import normalize_patterns
        except Exception as e:
            hooks.note_error(f"FlowTrace cannot be loaded ({type(e).__name__}: {e})")
        else:
            try:
                _core.TracedFunction(len, False,
                                     include=normalize_patterns(opt.flowtrace_include),
                                     exclude=normalize_patterns(opt.flowtrace_exclude))
            except (ValueError, TypeError) as e:
                raise pytest.UsageError(
                    f"--flowtrace-include/--flowtrace-exclude: {e}") from None
    config.pluginmanager.register(hooks, PLUGIN_NAME)


class _Hooks:
    """The per-test hooks: cheap for a test the plugin does not trace."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.all_tests = bool(config.option.flowtrace)
        self.tracer: Any = None       # flowtrace.pytest_plugin.Tracer, once needed
        self.load_error: str | None = None
        # what the summary says, counted from the teardown reports (so on
        # xdist's controller too, from its workers' reports)
        self.traced = 0
        self.own = 0
        self.decorated = 0
        self.kept = 0
        self.kept_dirs: set[str] = set()
        self.error: str | None = None
        self.errors = 0
        self.notices: set[str] = set()

    def note_error(self, message: str, tests: int = 0) -> None:
        self.errors += tests
        if self.error is None:
            self.error = message

    def _load(self) -> Any:
        if self.tracer is None and self.load_error is None:
            try:
                from flowtrace.pytest_plugin import Tracer

                self.tracer = Tracer(self.config)
            except Exception as e:
                self.load_error = f"FlowTrace cannot be loaded ({type(e).__name__}: {e})"
        return self.tracer

    def _for(self, item: pytest.Item, phase: str) -> Any:
        """The tracer, if this test is one for it."""
        if phase != "setup":
            t = self.tracer
            return t if t is not None and item.nodeid in t.states else None
        if (self.all_tests or item.get_closest_marker(MARKER) is not None
                or FIXTURE in getattr(item, "fixturenames", ())):
            return self._load()
        return None

    def _phase(self, item: pytest.Item, phase: str) -> Iterator[None]:
        t = self._for(item, phase)
        if t is not None:
            t.begin(item, phase)
        yield
        if t is not None:
            t.end(item, phase)

    # innermost of the wrappers: as little of pytest's own work recorded as
    # can be, all of the test's (fixtures are set up inside)
    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        yield from self._phase(item, "setup")

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        yield from self._phase(item, "call")

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        yield from self._phase(item, "teardown")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Iterator[None]:
        outcome = yield
        t = self.tracer
        if t is None or item.nodeid not in t.states:
            if call.when == "teardown" and self.load_error and self._wanted(item):
                try:
                    outcome.get_result().flowtrace = {"error": self.load_error}
                except Exception:
                    pass
            return
        try:
            t.report(item, call.when, outcome.get_result())
        except Exception:
            pass  # the report is the test's: left as it is

    def _wanted(self, item: pytest.Item) -> bool:
        return (self.all_tests or item.get_closest_marker(MARKER) is not None
                or FIXTURE in getattr(item, "fixturenames", ()))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        facts = getattr(report, "flowtrace", None)
        if not isinstance(facts, dict):
            return
        if facts.get("traced"):
            self.traced += 1
        if facts.get("own"):
            self.own += 1
        if facts.get("decorated"):
            self.decorated += 1
        kept = facts.get("kept")
        if isinstance(kept, list) and kept:
            self.kept += 1
            self.kept_dirs.update(os.path.dirname(str(k)) for k in kept)
        if facts.get("error"):
            self.note_error(str(facts["error"]), tests=1)
        if facts.get("usage"):
            self.notices.add(str(facts["usage"]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.traced or self.own or self.error or self.notices):
            return
        if self.traced or self.own:
            line = f"flowtrace: {self.traced} test(s) traced"
            if self.own:
                line += f", {self.own} not traced (they use FlowTrace themselves)"
            if self.kept:
                line += (f"; the traces of {self.kept} test(s) kept in "
                         f"{', '.join(sorted(self.kept_dirs))}")
            terminalreporter.write_line(line)
        if self.decorated:
            terminalreporter.write_line(
                f"flowtrace: {self.decorated} test(s) called @trace functions inside their "
                "traced session (they printed no tree): @pytest.mark.flowtrace(enabled=False) "
                "leaves a test untraced", yellow=True)
        for n in sorted(self.notices):
            terminalreporter.write_line(f"flowtrace: {n}", yellow=True)
        if self.error:
            n = f"; {self.errors} test(s) not (or not wholly) traced" if self.errors else ""
            terminalreporter.write_line(f"flowtrace: warning: {self.error}{n}", yellow=True)


@pytest.fixture
def flowtrace_trace(request: pytest.FixtureRequest) -> Any:
    """The trace of this test's call phase (a flowtrace.Trace, with
    ``calls(pattern)``), for assertions, e.g. ``assert
    len(flowtrace_trace.calls("Order.save")) == 1``. Asking for it traces
    the test. It fills in when the call phase ends; read during the test,
    it is the calls made up to the first read (the recording ends there)."""
    hooks = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    tracer = hooks._load() if hooks is not None else None
    if tracer is None:
        reason = hooks.load_error if hooks is not None else "the plugin is not registered"
        raise RuntimeError(f"flowtrace: {FIXTURE} is not available: {reason}")
    return tracer.fixture(request.node)
