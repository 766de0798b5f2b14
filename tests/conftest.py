"""Shared helpers for the FlowTrace test suite.

- ``run_py(code, *args)``: run a small program in a fresh interpreter
  (``sys.executable``), return the CompletedProcess (text, UTF-8).
- ``run_flowtrace(script_code, *args)``: the same program under
  ``python -m flowtrace run``.
- ``session(fn, *args, **options)``: run ``fn`` in a start_tracing session,
  return ``(text_tree, trace)``.
- ``tree_text(trace)``: the tree of a trace, as print_tree writes it.
- ``assert_golden(name, text)``: compare with tests/golden/<name>.txt
  (``FLOWTRACE_UPDATE_GOLDEN=1`` rewrites the file instead).

Every test ends with no session running (autouse fixture).
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

# Started in the background by a shell (`make test &`, a CI step), this
# process inherits SIGINT ignored, and so would every program the tests
# start: Ctrl-C tests would see a program that ignores it. The programs
# under test get the default, as from a terminal (an ignored signal stays
# ignored across exec, a handled one does not).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import flowtrace
from flowtrace import _core, print_tree, start_tracing, stop_tracing

TESTS_DIR = Path(__file__).resolve().parent
GOLDEN_DIR = TESTS_DIR / "golden"
FLOWTRACE_DIR = Path(flowtrace.__file__).resolve().parent

SUBPROCESS_TIMEOUT = 120


# Colour follows NO_COLOR / FORCE_COLOR: tests decide them explicitly.
for _var in ("NO_COLOR", "FORCE_COLOR", "PYTHON_COLORS"):
    os.environ.pop(_var, None)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    if extra:
        env.update(extra)
    return env


def write_program(directory: Path, code: str, name: str = "prog.py") -> Path:
    path = Path(directory) / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def run_py(code: str, *args: str, env: dict[str, str] | None = None,
           name: str = "prog.py") -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) as a script file in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as d:
        path = write_program(Path(d), code, name)
        return subprocess.run(
            [sys.executable, str(path), *args],
            cwd=d, capture_output=True, text=True, encoding="utf-8",
            env=_env(env), timeout=SUBPROCESS_TIMEOUT,
        )


def run_cmd(argv: list[str], cwd: str | Path,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=str(cwd), capture_output=True, text=True, encoding="utf-8",
        env=_env(env), timeout=SUBPROCESS_TIMEOUT,
    )


def tree_text(trace: Any, **kw: Any) -> str:
    buf = io.StringIO()
    print_tree(trace, file=buf, **kw)
    return buf.getvalue()


def session(fn: Callable[..., Any], *args: Any, **options: Any) -> tuple[str, Any]:
    """Run fn(*args) in a session; return (tree text, trace).

    Exceptions of fn propagate (the session is stopped first)."""
    start_tracing(**options)
    try:
        fn(*args)
    finally:
        trace = stop_tracing()
    return tree_text(trace), trace


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.txt"


def read_golden(name: str) -> str:
    return golden_path(name).read_text(encoding="utf-8")


def assert_golden(name: str, text: str) -> None:
    path = golden_path(name)
    if os.environ.get("FLOWTRACE_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"output differs from {path.name}:\n--- expected\n{expected}--- got\n{text}"
    )


def children(trace: Any, parent_id: int | None) -> list[Any]:
    return [e for e in trace if e.parent_id == parent_id]


@pytest.fixture(autouse=True)
def _no_session_left():
    """Each test starts and ends with no tracing session running."""
    if _core.is_active():
        _core.stop()
    yield
    if _core.is_active():
        _core.stop()
