"""FlowTrace benchmark: tracing overhead relative to untraced code and to the floor.

Modes (all in one process, interleaved):
    untraced           the workload alone
    floor              bench/floor/floormod.c: no-op C sys.monitoring callbacks for the
                       same events, with per-code stdlib filtering -- the least any
                       C tracer of these events can cost
    flowtrace          flowtrace.start_tracing(); w(); flowtrace.stop_tracing()
    flowtrace+timing   the same with start_tracing(timing=True)

Only the workload call is timed: starting and stopping the tracer, and freeing the
trace, are outside the timed region. Before each timed run gc.collect() is called,
and the garbage collector is disabled during every timed run, in every mode.

Each round runs every mode on every workload once; the order of the modes is
rotated from round to round and from workload to workload. The table reports, per
workload, the best (--stat min, default) or median time of each mode divided by
the untraced time, "flowtrace / floor" (how far above the floor the recorder is),
and geometric means over the workloads.

Usage:
    python bench/run.py [--rounds N] [--quick] [--only NAME ...] [--modes M,...]
                        [--stat min|median] [--verbose]

The flowtrace modes need an importable flowtrace (installed, or
PYTHONPATH=src with the extension built in place); otherwise they are skipped.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_floor  # noqa: E402
import workloads  # noqa: E402

ALL_MODES = ("untraced", "floor", "flowtrace", "flowtrace+timing")
Workload = Callable[[], object]

# ---------------------------------------------------------------------------
# Timed runs. Each returns (elapsed ns of the workload call alone, its result).
# ---------------------------------------------------------------------------


def run_untraced(w: Workload) -> tuple[int, object]:
    t0 = time.perf_counter_ns()
    result = w()
    t1 = time.perf_counter_ns()
    return t1 - t0, result


def make_run_floor(floormod: ModuleType, prefixes: tuple[str, ...]):
    def run_floor(w: Workload) -> tuple[int, object]:
        floormod.start(prefixes)
        try:
            t0 = time.perf_counter_ns()
            result = w()
            t1 = time.perf_counter_ns()
        finally:
            floormod.stop()
        return t1 - t0, result

    return run_floor


class TraceSink:
    """Keeps the last trace alive until after the timed region, and its size."""

    last_events: int | None = None


def make_run_flowtrace(flowtrace: ModuleType, **options):
    def run_flowtrace(w: Workload) -> tuple[int, object]:
        flowtrace.start_tracing(**options)
        try:
            t0 = time.perf_counter_ns()
            result = w()
            t1 = time.perf_counter_ns()
        finally:
            trace = flowtrace.stop_tracing()
        try:
            TraceSink.last_events = len(trace)
        except TypeError:
            TraceSink.last_events = None
        del trace  # freed here, after the timed region
        return t1 - t0, result

    return run_flowtrace


def timed(run: Callable[[Workload], tuple[int, object]], w: Workload) -> tuple[int, object]:
    """One timed run with a fresh, disabled garbage collector (same for every mode)."""
    gc.collect()
    gc.disable()
    try:
        return run(w)
    finally:
        gc.enable()


# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------


def import_flowtrace() -> tuple[ModuleType | None, str]:
    """Import flowtrace as the interpreter finds it (installed, or on PYTHONPATH).
    Returns (module or None, message)."""
    try:
        import flowtrace
    except Exception as e:  # ImportError, or a half-built package failing at import
        return None, f"flowtrace not importable ({type(e).__name__}: {e})"
    missing = [n for n in ("start_tracing", "stop_tracing") if not hasattr(flowtrace, n)]
    if missing:
        return None, f"flowtrace at {flowtrace.__file__} lacks {', '.join(missing)}"
    return flowtrace, f"flowtrace from {os.path.dirname(flowtrace.__file__)}"


def probe(run: Callable[[Workload], tuple[int, object]]) -> str | None:
    """Try a mode on a trivial workload; return an error message or None."""
    try:
        _, result = run(lambda: workloads.fib(5))
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    if result != 5:
        return f"wrong result {result!r}"
    return None


def used_tool_ids() -> dict[int, str]:
    mon = sys.monitoring
    return {i: mon.get_tool(i) for i in range(6) if mon.get_tool(i) is not None}


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def print_table(
    names: list[str], modes: list[str], times: dict[tuple[str, str], list[int]], stat: str
) -> None:
    pick = min if stat == "min" else statistics.median
    best = {key: pick(ts) for key, ts in times.items() if ts}
    traced = [m for m in modes if m != "untraced"]
    vs_floor = [m for m in traced if m.startswith("flowtrace") and "floor" in modes]

    headers = ["workload", "untraced ms"] + traced + [f"{m} / floor" for m in vs_floor]
    rows: list[list[str]] = []
    columns: dict[str, list[float]] = {h: [] for h in headers[2:]}
    for name in names:
        base = best[(name, "untraced")]
        row = [name, f"{base / 1e6:.1f}"]
        ratio = {m: best[(name, m)] / base for m in traced}
        for m in traced:
            row.append(f"{ratio[m]:.2f}x")
            columns[m].append(ratio[m])
        for m in vs_floor:
            r = ratio[m] / ratio["floor"]
            row.append(f"{r:.2f}x")
            columns[f"{m} / floor"].append(r)
        rows.append(row)
    rows.append(["geomean", ""] + [f"{geomean(columns[h]):.2f}x" for h in headers[2:]])

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows[:-1]:
        print(line(row))
    print("  ".join("-" * w for w in widths))
    print(line(rows[-1]))
    print(f"(time of each mode / untraced time; {stat} of the rounds)")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="FlowTrace overhead benchmark.")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 7, quick 3)")
    p.add_argument("--quick", action="store_true", help="fewer rounds, smaller sizes")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this workload (repeatable or comma-separated; {', '.join(workloads.SIZES)})",
    )
    p.add_argument(
        "--modes",
        default=",".join(ALL_MODES),
        help=f"comma-separated subset of {','.join(ALL_MODES)} (untraced is always run)",
    )
    p.add_argument("--stat", choices=("min", "median"), default="min", help="per-cell statistic")
    p.add_argument("--verbose", "-v", action="store_true", help="print every timed run")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 7
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    args.only = [n for item in args.only or [] for n in item.split(",") if n]
    unknown = [n for n in args.only if n not in workloads.SIZES]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(workloads.SIZES)}")
    args.modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in args.modes if m not in ALL_MODES]
    if bad:
        p.error(f"unknown mode(s) {', '.join(bad)}; known: {', '.join(ALL_MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"Python {sys.version.split()[0]} ({sys.implementation.name}) at {sys.executable}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    if sys.version_info < (3, 12):
        print("error: sys.monitoring needs Python 3.12 or later", file=sys.stderr)
        return 2

    # Modes: name -> runner. "untraced" is the reference and always runs.
    runners: dict[str, Callable[[Workload], tuple[int, object]]] = {"untraced": run_untraced}
    wanted = ["untraced"] + [m for m in args.modes if m != "untraced"]
    tools_before = used_tool_ids()

    if "floor" in wanted:
        floormod = build_floor.load()
        runners["floor"] = make_run_floor(floormod, build_floor.stdlib_prefixes())
        print(f"floor: {build_floor.output_path().relative_to(HERE.parent)}")

    if any(m.startswith("flowtrace") for m in wanted):
        flowtrace, message = import_flowtrace()
        print(message)
        if flowtrace is not None:
            candidates = {
                "flowtrace": make_run_flowtrace(flowtrace),
                "flowtrace+timing": make_run_flowtrace(flowtrace, timing=True),
            }
            for mode, run in candidates.items():
                if mode not in wanted:
                    continue
                error = probe(run)
                if error is None:
                    runners[mode] = run
                else:
                    print(f"skipping mode {mode}: {error}")
        else:
            print("skipping modes flowtrace, flowtrace+timing")

    modes = [m for m in wanted if m in runners]
    all_workloads = workloads.make_workloads(quick=args.quick)
    names = [n for n in all_workloads if not args.only or n in args.only]
    print(
        f"workloads: {', '.join(names)}; modes: {', '.join(modes)}; "
        f"rounds: {args.rounds}{' (quick sizes)' if args.quick else ''}; gc off while timed"
    )

    # Reference results (and a warm-up of the interpreter's specialisation).
    expected = {name: all_workloads[name]() for name in names}

    times: dict[tuple[str, str], list[int]] = {(n, m): [] for n in names for m in modes}
    events: dict[str, int] = {}
    mismatches: list[str] = []
    start = time.perf_counter()
    for r in range(args.rounds):
        for wi, name in enumerate(names):
            k = (r + wi) % len(modes)
            for mode in modes[k:] + modes[:k]:
                ns, result = timed(runners[mode], all_workloads[name])
                times[(name, mode)].append(ns)
                if mode.startswith("flowtrace") and TraceSink.last_events is not None:
                    events[name] = TraceSink.last_events
                if result != expected[name]:
                    mismatches.append(f"round {r} {name} [{mode}]: {result!r} != {expected[name]!r}")
                if args.verbose:
                    print(f"  round {r} {name:<11} {mode:<17} {ns / 1e6:9.2f} ms")
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    elapsed = time.perf_counter() - start

    print()
    print_table(names, modes, times, args.stat)
    if events:
        print("trace sizes (len of stop_tracing()): "
              + ", ".join(f"{n} {e:,}" for n, e in events.items()))
    print(f"total {elapsed:.1f} s")

    status = 0
    if mismatches:
        status = 1
        print("\nRESULT MISMATCHES (tracing changed program behaviour):")
        for m in mismatches:
            print("  " + m)
    leaked = {i: t for i, t in used_tool_ids().items() if tools_before.get(i) != t}
    if leaked:
        status = 1
        print(f"\nsys.monitoring tool ids still in use after the run: {leaked}")
    return status


if __name__ == "__main__":
    sys.exit(main())
