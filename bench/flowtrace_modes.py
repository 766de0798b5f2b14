"""How the benchmark drives FlowTrace: the one place to edit when its API changes.

run.py, memory.py and callgrind.py start every FlowTrace session through
`start()` below, with the options of `SESSION_OPTIONS[mode]`, and look for the
JSON / Chrome writers with `find_writer()`. An option that the installed
flowtrace does not accept (TypeError from start_tracing) makes that mode be
skipped with a message, never fail the run.

The options below match the API of flowtrace as of commit 7fec622
(start_tracing(args=..., exclude=..., max_events=...), flowtrace.save()); if
it changes, change the one line concerned.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

# mode -> keyword arguments of flowtrace.start_tracing()
SESSION_OPTIONS: dict[str, dict[str, Any]] = {
    "flowtrace": {},  # structure + results (the default session)
    "flowtrace+timing": {"timing": True},
    "flowtrace+args": {"args": True},  # the arguments of every call
    "flowtrace-excluded": {"exclude": ["*"]},  # a name glob matching everything: nothing recorded
}

# keyword of start_tracing() that bounds the trace to the last N events (ring buffer)
FLIGHT_RECORDER_OPTION = "max_events"


def start(flowtrace: ModuleType, mode: str, **extra: Any) -> None:
    """Start a session for `mode` (TypeError if the option is not supported)."""
    flowtrace.start_tracing(**SESSION_OPTIONS[mode], **extra)


def core_of(trace: Any) -> Any:
    """The C trace object behind a flowtrace.Trace (for nrecords)."""
    c = getattr(trace, "_c", None)
    return c() if callable(c) else trace


# ---------------------------------------------------------------------------
# Writers. Each candidate is tried in order; the first that exists is used.
#   text:   flowtrace.print_tree(trace, file=f)                  (exists)
#   json:   flowtrace.save(trace, path, format="json")           (exists)
#           or trace.write_json(file)
#   chrome: flowtrace.save(trace, path, format="chrome")         (exists)
#           or trace.write_chrome(file)
# ---------------------------------------------------------------------------

Writer = Callable[[Any, str], None]  # (trace, path) -> None


def find_writer(flowtrace: ModuleType, fmt: str) -> tuple[Writer | None, str]:
    """(writer, description) or (None, why not)."""
    if fmt == "text":

        def write_text(trace: Any, path: str) -> None:
            with open(path, "w", encoding="utf-8") as f:
                flowtrace.print_tree(trace, file=f)

        return write_text, "flowtrace.print_tree(trace, file=f)"

    save = getattr(flowtrace, "save", None)
    if callable(save):

        def write_save(trace: Any, path: str) -> None:
            save(trace, path, format=fmt)

        return write_save, f'flowtrace.save(trace, path, format="{fmt}")'

    method = f"write_{fmt}"
    trace_type = getattr(flowtrace, "Trace", None)
    if trace_type is not None and hasattr(trace_type, method):

        def write_method(trace: Any, path: str) -> None:
            with open(path, "w", encoding="utf-8") as f:
                getattr(trace, method)(f)

        return write_method, f"trace.{method}(file)"

    return None, f"no flowtrace.save() nor Trace.{method}() in this flowtrace"

