"""Memory per recorded event, in a fresh process (run.py starts one per case).

    python bench/memory.py --case CASE [--events N] [--json]

Cases:
    flowtrace          a session (structure + results) recording repeated fib(25)
    flowtrace+timing   the same with timing=True
    flowtrace+args     the same with the arguments of every call (if supported)
    viztracer          VizTracer (default options) on the same work, for comparison
    flight             a session with a bounded trace (max_events): records far more
                       events than the bound and samples RSS as it goes; flat RSS
                       means the ring buffer works (skipped if not supported)

Method: RSS is read from /proc/self/statm (resident pages) before the session
starts and at the end of the recorded work, still inside the session; the
difference divided by the events recorded is bytes per event ("while
recording"). RSS after stop_tracing() (trace alive) and the growth of the peak
RSS (getrusage ru_maxrss) are reported too. Events = entries + exits = 2 x calls
(fib has no generators, so every call is one PY_START and one PY_RETURN).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import flowtrace_modes  # noqa: E402
import workloads  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
UNIT_N = 25
UNIT_CALLS = 242_785  # calls of fib(25)
UNIT_EVENTS = 2 * UNIT_CALLS


def rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def record(units: int) -> int:
    """The recorded work; returns RSS at its end (measured inside the session)."""
    for _ in range(units):
        workloads.fib(UNIT_N)
    return rss()


def measure_flowtrace(mode: str, events: int) -> dict:
    import flowtrace

    units = max(1, math.ceil(events / UNIT_EVENTS))
    workloads.fib(UNIT_N)  # warm the interpreter's specialisation
    gc.collect()
    gc.disable()
    rss0, max0 = rss(), max_rss()
    try:
        flowtrace_modes.start(flowtrace, mode)
    except TypeError as e:
        return {"case": mode, "skipped": f"start_tracing{flowtrace_modes.SESSION_OPTIONS[mode]}: {e}"}
    t0 = time.perf_counter()
    try:
        rss_in = record(units)
    finally:
        trace = flowtrace.stop_tracing()
    elapsed = time.perf_counter() - t0
    rss_after = rss()
    calls = len(trace)  # may build the call tree (index) lazily
    rss_indexed = rss()
    try:
        words = int(flowtrace_modes.core_of(trace).nrecords)
    except Exception:
        words = None
    ev = 2 * calls
    return {
        "case": mode,
        "calls": calls,
        "events": ev,
        "record_words": words,
        "rss_before": rss0,
        "rss_growth_recording": rss_in - rss0,
        "rss_growth_after_stop": rss_after - rss0,
        "rss_growth_after_len": rss_indexed - rss0,
        "maxrss_growth": max_rss() - max0,
        "bytes_per_event": (rss_in - rss0) / ev,
        "bytes_per_event_after_stop": (rss_after - rss0) / ev,
        "bytes_per_call_after_len": (rss_indexed - rss0) / calls,
        "bytes_per_event_recorded": None if words is None else 8 * words / ev,
        "seconds": elapsed,
    }


def measure_viztracer(events: int) -> dict:
    try:
        from viztracer import VizTracer
    except ImportError as e:
        return {"case": "viztracer", "skipped": f"viztracer not importable ({e})"}
    units = max(1, math.ceil(events / UNIT_EVENTS))
    calls = units * UNIT_CALLS + 16
    workloads.fib(UNIT_N)
    # The ring buffer is calloc()ed at construction: its pages are touched (and
    # counted in RSS) only as entries are written, so the growth below is the
    # recording's.
    tracer = VizTracer(tracer_entries=calls, verbose=0, register_global=False)
    gc.collect()
    gc.disable()
    rss0, max0 = rss(), max_rss()
    tracer.start()
    t0 = time.perf_counter()
    try:
        rss_in = record(units)
    finally:
        tracer.stop()
    elapsed = time.perf_counter() - t0
    ev = 2 * units * UNIT_CALLS
    return {
        "case": "viztracer",
        "calls": units * UNIT_CALLS,
        "events": ev,
        "rss_before": rss0,
        "rss_growth_recording": rss_in - rss0,
        "maxrss_growth": max_rss() - max0,
        "bytes_per_event": (rss_in - rss0) / ev,
        "seconds": elapsed,
    }


def measure_flight(events: int, bound: int) -> dict:
    import flowtrace

    option = flowtrace_modes.FLIGHT_RECORDER_OPTION
    units = max(2, math.ceil(events / UNIT_EVENTS))
    workloads.fib(UNIT_N)
    gc.collect()
    gc.disable()
    rss0 = rss()
    try:
        flowtrace_modes.start(flowtrace, "flowtrace", **{option: bound})
    except TypeError as e:
        return {"case": "flight", "skipped": f"start_tracing({option}=...): {e}"}
    samples: list[tuple[int, int]] = []  # (events so far, RSS growth)
    t0 = time.perf_counter()
    try:
        for i in range(units):
            workloads.fib(UNIT_N)
            samples.append(((i + 1) * UNIT_EVENTS, rss() - rss0))
    finally:
        trace = flowtrace.stop_tracing()
    elapsed = time.perf_counter() - t0
    # "Full" once twice the bound has been recorded; growth after that must be ~0.
    full = next((k for k, (e, _) in enumerate(samples) if e >= 2 * bound), len(samples) - 1)
    growth_after_full = samples[-1][1] - samples[full][1]
    return {
        "case": "flight",
        "option": f"{option}={bound}",
        "events": units * UNIT_EVENTS,
        "calls_kept": len(trace),
        "seconds": elapsed,
        "rss_growth_when_full": samples[full][1],
        "rss_growth_at_end": samples[-1][1],
        "growth_after_full": growth_after_full,
        "events_after_full": samples[-1][0] - samples[full][0],
        "samples": samples,
    }


def main() -> int:
    p = argparse.ArgumentParser(description="FlowTrace memory per event (one case per process).")
    p.add_argument("--case", required=True,
                   choices=["flowtrace", "flowtrace+timing", "flowtrace+args", "viztracer", "flight"])
    p.add_argument("--events", type=int, default=10_000_000, help="events to record (about)")
    p.add_argument("--bound", type=int, default=1_000_000, help="flight: max_events")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    args = p.parse_args()
    if args.case == "viztracer":
        result = measure_viztracer(args.events)
    elif args.case == "flight":
        result = measure_flight(args.events, args.bound)
    else:
        result = measure_flowtrace(args.case, args.events)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            if k != "samples":
                print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
