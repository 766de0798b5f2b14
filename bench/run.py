"""FlowTrace benchmark: tracing overhead against untraced code, the floor and the peers.

Overhead modes (all in one process, interleaved):
    untraced            the workload alone
    floor               bench/floor/floormod.c: no-op C sys.monitoring callbacks for the
                        same events, with per-code stdlib filtering -- the least any
                        C tracer of these events can cost
    floor+clock         the floor reading the clock once per event of user code
                        (floormod.start(prefixes, clock=True); the TSC on x86-64) and
                        storing it in a small ring: the least a tracer that timestamps
                        every event can cost, the reference for flowtrace+timing
    flowtrace           flowtrace.start_tracing(); w(); flowtrace.stop_tracing()
    flowtrace+timing    the same with timing=True
    flowtrace+args      the same with the arguments of every call
    flowtrace-excluded  a session whose filters exclude everything
    cprofile            cProfile.Profile().enable() / disable()
    viztracer           VizTracer() (default options: C calls, stdlib, everything)
    viztracer-noc       VizTracer(ignore_c_function=True)
    viztracer-args      VizTracer(log_func_args=True, log_func_retval=True)
Saved modes, timed from start to the file written (a trace kept, not just recorded):
    flowtrace+ftrace    start_tracing(timing=True); w(); stop_tracing(); save(.ftrace)
    flowtrace+perfetto  the same, saved as Perfetto protobuf (.pftrace)
    trace0              trace0.Tracer(path, format="protobuf") around w() (Rust,
                        CPython 3.13+; it writes Perfetto protobuf when it stops)
    trace0-json         trace0.Tracer(path, format="json")
The options each flowtrace mode passes to start_tracing() are in
flowtrace_modes.py; a mode whose option the installed flowtrace does not accept,
or a peer that is not importable, is skipped with a message.

Only the workload call is timed: starting and stopping the tracer, freeing or
clearing the trace, are outside the timed region. Each run's time is divided by
a speed probe timed just before and after it (this VM's speed changes by 2-3x
from second to second; --no-normalize for raw times), and runs during which
other processes were busy or the speed moved are set aside (see Background). Before each timed run
gc.collect() is called, and the garbage collector is disabled during every timed
run, in every mode. Each round runs every mode on every workload once, the order
of the modes rotated from round to round and from workload to workload; a cell is
the median (default; min with --no-normalize) of the normalized times over the
rounds divided by the untraced one. viztracer-args is 10-100x slower than the rest and runs in the
first round only.

After the overhead tables (unless --parts says otherwise):
    memory      bytes per event while recording (memory.py, one fresh process per
                case), and the flight-recorder case (bounded trace, flat RSS)
    writers     text / JSON / Chrome writer throughput on a ~1M-call trace
    decorator   @trace on recursive fib(20), tree written to a file, vs untraced
    callgrind   instructions per event of the callback paths (callgrind.py; not
                part of --quick unless asked for with --parts)
    goals       the goals of issue #5 against the figures above

Usage:
    python bench/run.py [--rounds N] [--quick] [--only NAME ...] [--modes M,...]
                        [--parts P,...] [--stat min|median] [--json FILE] [-v]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_floor  # noqa: E402
import flowtrace_modes  # noqa: E402
import workloads  # noqa: E402

FLOWTRACE_MODES = tuple(flowtrace_modes.SESSION_OPTIONS)
SAVED_MODES = ("flowtrace+ftrace", "flowtrace+perfetto", "trace0", "trace0-json")
PEER_MODES = ("cprofile", "viztracer", "viztracer-noc", "viztracer-args", *SAVED_MODES)
FLOOR_MODES = ("floor", "floor+clock")
ALL_MODES = ("untraced", *FLOOR_MODES, *FLOWTRACE_MODES, *PEER_MODES)
ALL_PARTS = ("overhead", "memory", "writers", "decorator", "callgrind")
QUICK_PARTS = ("overhead", "memory", "writers", "decorator")  # callgrind takes ~70 s

# Modes that run in the first N rounds only (far slower than the rest; noise is
# irrelevant at their ratios, and running them every round would take minutes).
MODE_MAX_ROUNDS = {"viztracer-args": 1}

# VizTracer keeps its events in a ring buffer of `tracer_entries` entries (one per
# call, ~80 bytes each, calloc()ed lazily): when a run records more, the oldest are
# overwritten. Measured entries per run (full sizes, 3.12): threads4 1.78M,
# objects 1.47M, generators 1.16M, fib 1.03M, parser 0.73M, asyncio 0.41M,
# stdlib_mix 0.40M. 4M leaves room, so every event of every run is kept.
VIZTRACER_ENTRIES = 4_000_000

# A timed run is disturbed when the speed probe before and after it differ by more.
SPEED_DRIFT_MAX = 0.10

Workload = Callable[[], object]
Runner = Callable[[Workload], tuple[int, object]]

# ---------------------------------------------------------------------------
# Timed runs. Each returns (elapsed ns of the workload call alone, its result).
# ---------------------------------------------------------------------------


def run_untraced(w: Workload) -> tuple[int, object]:
    t0 = time.perf_counter_ns()
    result = w()
    t1 = time.perf_counter_ns()
    return t1 - t0, result


def make_run_floor(floormod: ModuleType, prefixes: tuple[str, ...], clock: bool = False) -> Runner:
    """The floor; clock=True: plus one clock read per event of user code."""

    def run_floor(w: Workload) -> tuple[int, object]:
        floormod.start(prefixes, clock=clock)
        try:
            t0 = time.perf_counter_ns()
            result = w()
            t1 = time.perf_counter_ns()
        finally:
            floormod.stop()
        return t1 - t0, result

    return run_floor


class TraceSink:
    """Size of the last flowtrace trace (read after the timed region)."""

    last_calls: int | None = None


def make_run_flowtrace(flowtrace: ModuleType, mode: str) -> Runner:
    def run_flowtrace(w: Workload) -> tuple[int, object]:
        flowtrace_modes.start(flowtrace, mode)
        try:
            t0 = time.perf_counter_ns()
            result = w()
            t1 = time.perf_counter_ns()
        finally:
            trace = flowtrace.stop_tracing()
        try:
            TraceSink.last_calls = len(trace)
        except TypeError:
            TraceSink.last_calls = None
        del trace  # freed here, after the timed region
        return t1 - t0, result

    return run_flowtrace


def make_run_cprofile(cProfile: ModuleType) -> Runner:
    def run_cprofile(w: Workload) -> tuple[int, object]:
        prof = cProfile.Profile()
        prof.enable()
        try:
            t0 = time.perf_counter_ns()
            result = w()
            t1 = time.perf_counter_ns()
        finally:
            prof.disable()
        del prof
        return t1 - t0, result

    return run_cprofile


def make_run_viztracer(tracer: Any) -> Runner:
    """One VizTracer per mode, reused: start / workload / stop, then clear() its
    buffer (untimed). Nothing is parsed or saved."""

    def run_viztracer(w: Workload) -> tuple[int, object]:
        tracer.start()
        try:
            t0 = time.perf_counter_ns()
            result = w()
            t1 = time.perf_counter_ns()
        finally:
            tracer.stop()
        tracer.clear()
        return t1 - t0, result

    return run_viztracer


def make_run_saved(start: Callable[[str], Any], path: str) -> Runner:
    """A mode that keeps its trace in a file: timed from the tracer's start
    to the file written (`start(path)` gives a context manager that starts
    recording on entry and writes `path` on exit). The file is removed
    after the timed region."""

    def run_saved(w: Workload) -> tuple[int, object]:
        t0 = time.perf_counter_ns()
        with start(path):
            result = w()
        t1 = time.perf_counter_ns()
        try:
            SavedSizes.last[path] = os.path.getsize(path)
            os.unlink(path)
        except OSError:
            pass
        return t1 - t0, result

    return run_saved


class SavedSizes:
    """Size of the last file each saved mode wrote (read after the timed region)."""

    last: dict[str, int] = {}


def flowtrace_saver(flowtrace: ModuleType, fmt: str) -> Callable[[str], Any]:
    import contextlib

    @contextlib.contextmanager
    def saving(path: str) -> Any:
        flowtrace.start_tracing(timing=True)
        try:
            yield
        finally:
            trace = flowtrace.stop_tracing()
        flowtrace.save(trace, path, format=fmt)
        del trace

    return saving


def timed(run: Runner, w: Workload) -> tuple[int, object]:
    """One timed run with a fresh, disabled garbage collector (same for every mode).

    sys.monitoring.restart_events() first: code locations that a tracer DISABLEd
    stay disabled for the next user of the same tool id (the floor, cProfile,
    VizTracer and FlowTrace all take id 2), which would give every mode the
    leftovers of the one before it (VizTracer then sees returns without starts
    and stops tracing). Every run starts from a clean slate instead, as a
    program's first session does."""
    sys.monitoring.restart_events()
    gc.collect()
    gc.disable()
    try:
        return run(w)
    finally:
        gc.enable()


def _ref_fib(n: int) -> int:  # the speed probe's work; never traced
    return n if n < 2 else _ref_fib(n - 1) + _ref_fib(n - 2)


def speed_probe() -> int:
    """ns of the fastest of 5 untraced fib(15) (1,973 calls, ~0.1 ms): how fast the
    machine runs interpreter code right now."""
    best = 1 << 62
    for _ in range(5):
        t0 = time.perf_counter_ns()
        _ref_fib(15)
        best = min(best, time.perf_counter_ns() - t0)
    return best


class Background:
    """What other processes did while we were timing (Linux; inert elsewhere).

    Two indicators, read outside the timed region:
      others  CPU time used by everything but this process, in CPUs
              (/proc/stat busy jiffies minus our getrusage time; 10 ms grain)
      stall   fraction of the time some runnable task waited for a CPU
              (/proc/pressure/cpu "some" total, microseconds)
    A timed run is "disturbed" when others > OTHERS_MAX or stall > STALL_MAX.
    Cells use the undisturbed runs when there is at least one.
    """

    OTHERS_MAX = 0.35  # CPUs
    STALL_MAX = 0.05

    def __init__(self, quiet_wait: float) -> None:
        self.tck = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.enabled = os.path.exists("/proc/stat")
        self.psi = os.path.exists("/proc/pressure/cpu")
        self.quiet_wait = quiet_wait  # seconds a run may wait for a quiet machine
        self.wait_budget = 20 * quiet_wait  # in all, per part
        self.waited = 0.0
        self.runs = 0
        self.disturbed = 0

    def snapshot(self) -> tuple[float, float, float, float] | None:
        if not self.enabled:
            return None
        with open("/proc/stat", "rb") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / self.tck  # user nice system irq softirq steal
        ru = resource.getrusage(resource.RUSAGE_SELF)
        stall = 0.0
        if self.psi:
            with open("/proc/pressure/cpu", "rb") as f:
                stall = int(f.readline().rsplit(b"=", 1)[1]) / 1e6
        return time.perf_counter(), busy, ru.ru_utime + ru.ru_stime, stall

    @staticmethod
    def between(a: tuple | None, b: tuple | None) -> tuple[float, float]:
        """(others in CPUs, stall fraction) between two snapshots."""
        if a is None or b is None or b[0] <= a[0]:
            return 0.0, 0.0
        dt = b[0] - a[0]
        return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / dt, (b[3] - a[3]) / dt

    def noisy(self, others: float, stall: float) -> bool:
        return others > self.OTHERS_MAX or stall > self.STALL_MAX

    def wait_quiet(self) -> None:
        """Wait (a little) until the machine looks quiet: probes of 0.1 s."""
        if not self.enabled or self.quiet_wait <= 0:
            return
        deadline = time.perf_counter() + min(self.quiet_wait, self.wait_budget - self.waited)
        start = time.perf_counter()
        while time.perf_counter() < deadline:
            a = self.snapshot()
            time.sleep(0.1)
            if not self.noisy(*self.between(a, self.snapshot())):
                break
        self.waited += time.perf_counter() - start

    def count(self, disturbed: bool) -> None:
        self.runs += 1
        self.disturbed += disturbed


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
    version = getattr(flowtrace, "__version__", "?")
    message = f"flowtrace {version} from {os.path.dirname(flowtrace.__file__)}"
    source = Path(sys.prefix) / "flowtrace-source.txt"  # written by setup_venv.sh
    if source.exists():
        message += f"\n  built from {source.read_text().strip()}"
    return flowtrace, message


def probe(run: Runner) -> str | None:
    """Try a mode on a trivial workload; return an error message or None."""
    try:
        _, result = run(lambda: workloads.fib(5))
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    if result != 5:
        return f"wrong result {result!r}"
    return None


def probe_flowtrace(flowtrace: ModuleType, mode: str) -> tuple[Runner | None, str | None]:
    """(runner, None), (runner, warning) or (None, reason to skip)."""
    options = flowtrace_modes.SESSION_OPTIONS[mode]
    call = f"start_tracing({', '.join(f'{k}={v!r}' for k, v in options.items())})"
    try:
        flowtrace_modes.start(flowtrace, mode)
    except TypeError as e:
        return None, f"{call} not supported by this flowtrace ({e})"
    except Exception as e:
        if flowtrace_api_active(flowtrace):
            flowtrace.stop_tracing()
        return None, f"{call} failed: {type(e).__name__}: {e}"
    try:
        result = workloads.fib(5)
    finally:
        trace = flowtrace.stop_tracing()
    if result != 5:
        return None, f"{call}: wrong result {result!r}"
    run = make_run_flowtrace(flowtrace, mode)
    warning = None
    if mode == "flowtrace-excluded" and len(trace) != 0:
        warning = f"{call} accepted but {len(trace)} calls were recorded (expected none)"
    if mode == "flowtrace+args":
        fibs = [e for e in trace if e.func_name == "fib"]
        if not fibs or fibs[0].args_repr in (None, ""):
            warning = f"{call} accepted but no arguments were recorded"
    return run, warning


def flowtrace_api_active(flowtrace: ModuleType) -> bool:
    """True if a session is running (after a failed start)."""
    try:
        return bool(sys.modules["flowtrace._core"].is_active())
    except Exception:
        return False


def setup_peers(wanted: list[str]) -> tuple[dict[str, Runner], dict[str, str], dict[str, str]]:
    """Runners for the peer modes; (runners, skipped reasons, versions)."""
    runners: dict[str, Runner] = {}
    skipped: dict[str, str] = {}
    versions: dict[str, str] = {}
    if "cprofile" in wanted:
        try:
            import cProfile

            runners["cprofile"] = make_run_cprofile(cProfile)
        except ImportError as e:
            skipped["cprofile"] = f"cProfile not importable ({e})"
    viz = [m for m in wanted if m.startswith("viztracer")]
    if viz:
        try:
            import viztracer
            from viztracer import VizTracer
        except ImportError as e:
            for m in viz:
                skipped[m] = f"viztracer not importable ({e}); bench/setup_venv.sh installs it"
        else:
            versions["viztracer"] = viztracer.__version__
            options = {
                "viztracer": {},
                "viztracer-noc": {"ignore_c_function": True},
                "viztracer-args": {"log_func_args": True, "log_func_retval": True},
            }
            for m in viz:
                tracer = VizTracer(
                    tracer_entries=VIZTRACER_ENTRIES, verbose=0, register_global=False, **options[m]
                )
                runners[m] = make_run_viztracer(tracer)
    saved = {m for m in wanted if m in SAVED_MODES}
    if saved:
        tmp = tempfile.mkdtemp(prefix="flowtrace-bench-")
        for m in sorted(saved & {"flowtrace+ftrace", "flowtrace+perfetto"}):
            try:
                import flowtrace
            except ImportError as e:
                skipped[m] = f"flowtrace not importable ({e})"
                continue
            fmt = m.split("+")[1]
            runners[m] = make_run_saved(flowtrace_saver(flowtrace, fmt),
                                        os.path.join(tmp, f"bench.{fmt}"))
        for m in sorted(saved & {"trace0", "trace0-json"}):
            try:
                import trace0
                from importlib.metadata import version
            except ImportError as e:
                skipped[m] = f"trace0 not importable ({e}; CPython 3.13+, pip install trace0)"
                continue
            versions["trace0"] = version("trace0")
            fmt = "json" if m == "trace0-json" else "protobuf"
            runners[m] = make_run_saved(lambda path, fmt=fmt: trace0.Tracer(path, format=fmt),
                                        os.path.join(tmp, f"trace0.{fmt}"))
    for m, run in list(runners.items()):
        error = probe(run)
        if error is not None:
            del runners[m]
            skipped[m] = error
    return runners, skipped, versions


def used_tool_ids() -> dict[int, str]:
    mon = sys.monitoring
    return {i: mon.get_tool(i) for i in range(6) if mon.get_tool(i) is not None}


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "commit": commit,
    }


# ---------------------------------------------------------------------------
# Report helpers
# ---------------------------------------------------------------------------


def geomean(values: list[float]) -> float:
    values = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def render_table(
    headers: list[str], rows: list[list[str]], footer: list[str] | None = None, left: int = 1
) -> str:
    """Plain-text table; the first `left` columns are left-aligned, the others right."""
    all_rows = rows + ([footer] if footer else [])
    widths = [max(len(h), *(len(r[i]) for r in all_rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    sep = "  ".join("-" * w for w in widths)
    out = [line(headers), sep, *(line(r) for r in rows)]
    if footer:
        out += [sep, line(footer)]
    return "\n".join(out)


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None or math.isnan(r) else f"{r:.2f}x"


def fmt_rate(per_s: float) -> str:
    return f"{per_s / 1e6:.2f}M/s"


def fmt_bytes(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


# ---------------------------------------------------------------------------
# Part 1: overhead
# ---------------------------------------------------------------------------


def overhead(args: argparse.Namespace, info: dict[str, Any]) -> tuple[dict[str, Any], int]:
    runners: dict[str, Runner] = {"untraced": run_untraced}
    wanted = ["untraced"] + [m for m in args.modes if m != "untraced"]
    skipped: dict[str, str] = {}
    tools_before = used_tool_ids()

    clock_source = None  # what floor+clock reads
    if any(m in FLOOR_MODES for m in wanted):
        floormod = build_floor.load()
        if "floor+clock" in wanted:
            clock_source = floormod.CLOCK_SOURCE
        for mode in (m for m in wanted if m in FLOOR_MODES):
            runners[mode] = make_run_floor(floormod, build_floor.stdlib_prefixes(), clock=mode == "floor+clock")
        print(f"floor: {build_floor.output_path().relative_to(HERE.parent)}"
              + (f" (floor+clock reads {clock_source})" if clock_source else ""))

    flowtrace = args.flowtrace
    for mode in (m for m in wanted if m in FLOWTRACE_MODES):
        if flowtrace is None:
            skipped[mode] = args.flowtrace_message
            continue
        run, message = probe_flowtrace(flowtrace, mode)
        if run is None:
            skipped[mode] = message or "?"
        else:
            runners[mode] = run
            if message:
                print(f"warning: mode {mode}: {message}")

    peer_runners, peer_skipped, versions = setup_peers(wanted)
    runners.update(peer_runners)
    skipped.update(peer_skipped)
    info.update(versions)
    if "viztracer" in versions:
        print(f"viztracer {versions['viztracer']} (tracer_entries={VIZTRACER_ENTRIES:,})")
    for mode, why in skipped.items():
        print(f"skipping mode {mode}: {why}")

    modes = [m for m in wanted if m in runners]
    all_workloads = workloads.make_workloads(quick=args.quick)
    names = [n for n in all_workloads if not args.only or n in args.only]
    limited = [f"{m} in {n} round(s)" for m, n in MODE_MAX_ROUNDS.items() if m in modes]
    print(
        f"workloads: {', '.join(names)}\nmodes: {', '.join(modes)}\n"
        f"rounds: {args.rounds}{' (quick sizes)' if args.quick else ''}; "
        + "".join(f"{x}; " for x in limited)
        + f"gc off while timed; statistic: {args.stat}",
        flush=True,
    )

    # Reference results (and a warm-up of the interpreter's specialisation).
    expected = {name: all_workloads[name]() for name in names}

    raw: dict[tuple[str, str], list[int]] = {(n, m): [] for n in names for m in modes}
    times: dict[tuple[str, str], list[float]] = {(n, m): [] for n in names for m in modes}
    clean: dict[tuple[str, str], list[float]] = {(n, m): [] for n in names for m in modes}
    refs: list[float] = []
    calls: dict[str, int] = {}
    mismatches: list[str] = []
    bg = Background(args.quiet_wait)
    start = time.perf_counter()
    for r in range(args.rounds):
        round_modes = [m for m in modes if r < MODE_MAX_ROUNDS.get(m, args.rounds)]
        for wi, name in enumerate(names):
            k = (r + wi) % len(round_modes)
            for mode in round_modes[k:] + round_modes[:k]:
                bg.wait_quiet()
                ref0 = speed_probe()
                before = bg.snapshot()
                ns, result = timed(runners[mode], all_workloads[name])
                others, stall = bg.between(before, bg.snapshot())
                ref1 = speed_probe()
                # the machine changed speed during the run: its time says little
                drift = abs(ref1 - ref0) / min(ref0, ref1)
                disturbed = bg.noisy(others, stall) or (args.normalize and drift > SPEED_DRIFT_MAX)
                bg.count(disturbed)
                raw[(name, mode)].append(ns)
                refs.append((ref0 + ref1) / 2)
                if args.normalize:
                    # in units of the probe: the run's time at the machine's current speed
                    ns = ns / ((ref0 + ref1) / 2)
                times[(name, mode)].append(ns)
                if not disturbed:
                    clean[(name, mode)].append(ns)
                if mode == "flowtrace" and TraceSink.last_calls is not None:
                    calls[name] = TraceSink.last_calls
                if result != expected[name]:
                    mismatches.append(f"round {r} {name} [{mode}]: {result!r} != {expected[name]!r}")
                if args.verbose:
                    print(f"  round {r} {name:<11} {mode:<18} {raw[(name, mode)][-1] / 1e6:9.2f} ms"
                          f"  probe {ref0 / 1e3:5.0f}/{ref1 / 1e3:5.0f} us"
                          f"  others {others:4.2f} CPU, stall {stall:4.0%}{'  DISTURBED' if disturbed else ''}")
        print(f"round {r + 1}/{args.rounds} done ({time.perf_counter() - start:.0f} s; "
              f"{bg.disturbed}/{bg.runs} runs disturbed so far)", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start

    pick = min if args.stat == "min" else statistics.median
    # per cell: the undisturbed runs if there is one, else all (cell marked)
    best = {key: pick(clean[key] or ts) for key, ts in times.items() if ts}
    unclean = {key for key, ts in times.items() if ts and not clean[key]}
    ref_median = statistics.median(refs) if refs else 1.0
    if args.normalize:  # back to ns at the median speed of the run (for the ms column)
        best = {key: v * ref_median for key, v in best.items()}
    raw_best = {key: min(ts) for key, ts in raw.items() if ts}
    raw_ratios = {n: {m: raw_best[(n, m)] / raw_best[(n, "untraced")] for m in modes} for n in names}
    ratios = {n: {m: best[(n, m)] / best[(n, "untraced")] for m in modes} for n in names}
    vs_floor_modes = [m for m in modes if m in FLOWTRACE_MODES and m != "flowtrace-excluded"]
    vs_floor = (
        {n: {m: ratios[n][m] / ratios[n]["floor"] for m in vs_floor_modes} for n in names}
        if "floor" in modes
        else {}
    )
    # timing=True against the floor that reads the clock once per event, as it does
    vs_floor_clock_modes = [m for m in modes if m == "flowtrace+timing"] if "floor+clock" in modes else []
    vs_floor_clock = {n: {m: ratios[n][m] / ratios[n]["floor+clock"] for m in vs_floor_clock_modes}
                      for n in names}

    result: dict[str, Any] = {
        "stat": args.stat,
        "normalized": args.normalize,
        "probe_us": {"median": ref_median / 1e3, "min": min(refs) / 1e3, "max": max(refs) / 1e3}
        if refs else None,
        "rounds": args.rounds,
        "quick": args.quick,
        "modes": modes,
        "skipped": skipped,
        "clock_source": clock_source,
        "seconds": elapsed,
        "background": {"runs": bg.runs, "disturbed": bg.disturbed, "waited_s": bg.waited,
                       "cells_without_clean_run": sorted(f"{n}/{m}" for n, m in unclean)},
        "workloads": {
            n: {
                "untraced_ms": best[(n, "untraced")] / 1e6,
                "calls": calls.get(n),
                "ratios": ratios[n],
                "vs_floor": vs_floor.get(n, {}),
                "vs_floor_clock": vs_floor_clock[n],
                "raw_ratios_min": raw_ratios[n],
                "raw_times_ms": {m: [t / 1e6 for t in raw[(n, m)]] for m in modes},
                "times": {m: times[(n, m)] for m in modes},
                "clean_times": {m: clean[(n, m)] for m in modes},
            }
            for n in names
        },
        "geomean": {m: geomean([ratios[n][m] for n in names]) for m in modes},
        "geomean_vs_floor": {m: geomean([vs_floor[n][m] for n in names]) for m in vs_floor_modes}
        if vs_floor
        else {},
        "geomean_vs_floor_clock": {m: geomean([vs_floor_clock[n][m] for n in names])
                                   for m in vs_floor_clock_modes},
    }

    # Table 1: FlowTrace against the floor. Ratio columns: (mode, reference) pairs,
    # ft+timing/floor+clock right after ft+timing/floor.
    ft_modes = [m for m in modes if m in (*FLOOR_MODES, *FLOWTRACE_MODES)]
    vs_cols = [(m, "floor") for m in vs_floor_modes] if vs_floor else []
    for m in vs_floor_clock_modes:
        at = next((i + 1 for i, (x, _) in enumerate(vs_cols) if x == m), len(vs_cols))
        vs_cols.insert(at, (m, "floor+clock"))
    vs_table = {"floor": vs_floor, "floor+clock": vs_floor_clock}
    vs_geomean = {"floor": result["geomean_vs_floor"], "floor+clock": result["geomean_vs_floor_clock"]}
    headers = ["workload", "untraced", *ft_modes, *(f"{m.replace('flowtrace', 'ft')}/{ref}" for m, ref in vs_cols)]

    def mark(n: str, *ms: str) -> str:
        return "*" if any((n, m) in unclean for m in ("untraced", *ms)) else ""

    rows = []
    for n in names:
        rows.append(
            [n, f"{best[(n, 'untraced')] / 1e6:.1f} ms{mark(n)}"]
            + [fmt_ratio(ratios[n][m]) + mark(n, m) for m in ft_modes]
            + [fmt_ratio(vs_table[ref][n][m]) + mark(n, m, ref) for m, ref in vs_cols]
        )
    footer = (["geomean", ""] + [fmt_ratio(result["geomean"][m]) for m in ft_modes]
              + [fmt_ratio(vs_geomean[ref].get(m)) for m, ref in vs_cols])
    print()
    print("FlowTrace against the floor (time / untraced time; ft/floor = flowtrace ratio / floor ratio"
          + ("; ft+timing/floor+clock = flowtrace+timing ratio / floor+clock ratio" if vs_floor_clock_modes else "")
          + ")")
    print(render_table(headers, rows, footer))

    # Table 2: the peers.
    peer_cols = [m for m in modes if m in ("floor", "flowtrace", *PEER_MODES)]
    if any(m in PEER_MODES for m in modes):
        headers = ["workload", *peer_cols]
        rows = [[n, *(fmt_ratio(ratios[n][m]) + mark(n, m) for m in peer_cols)] for n in names]
        footer = ["geomean", *(fmt_ratio(result["geomean"][m]) for m in peer_cols)]
        print()
        print("Peers (time / untraced time)")
        print(render_table(headers, rows, footer))
    notes = [f"{args.stat} of {args.rounds} round(s)"]
    notes += [f"{m}: {n} round" for m, n in MODE_MAX_ROUNDS.items() if m in modes]
    print(f"({'; '.join(notes)}; overhead part took {elapsed:.0f} s)")
    if args.normalize and refs:
        print(f"times normalized by the machine's speed around each run (speed probe: fib(15) took"
              f" {min(refs) / 1e3:.0f}-{max(refs) / 1e3:.0f} us, median {ref_median / 1e3:.0f} us);"
              f" --no-normalize for raw times")
    if bg.enabled:
        print(f"background load: {bg.disturbed} of {bg.runs} timed runs disturbed (other processes used"
              f" > {bg.OTHERS_MAX} CPU, tasks waited for a CPU > {bg.STALL_MAX:.0%} of the time"
              + (f", or the speed probe moved > {SPEED_DRIFT_MAX:.0%}" if args.normalize else "")
              + f"); cells use undisturbed runs; * = no undisturbed run, figure unreliable;"
              f" waited {bg.waited:.0f} s for quiet")
    if calls:
        print("calls recorded by flowtrace: " + ", ".join(f"{n} {c:,}" for n, c in calls.items()))

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
    result["mismatches"] = mismatches
    return result, status


# ---------------------------------------------------------------------------
# Part 2: memory per event (fresh process per case)
# ---------------------------------------------------------------------------


def memory(args: argparse.Namespace) -> dict[str, Any]:
    events = 2_000_000 if args.quick else 10_000_000
    flight_events = 10_000_000 if args.quick else 50_000_000
    cases = ["flowtrace", "flowtrace+timing", "flowtrace+args", "viztracer", "flight"]
    out: dict[str, Any] = {}
    print()
    print(f"Memory while recording (repeated fib(25), ~{events / 1e6:.0f}M events, one fresh process per case;"
          " RSS growth from /proc/self/statm)")
    rows = []
    for case in cases:
        cmd = [sys.executable, str(HERE / "memory.py"), "--case", case, "--json",
               "--events", str(flight_events if case == "flight" else events)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
        except Exception as e:  # a crash, a timeout, garbage on stdout
            stderr = proc.stderr.strip().splitlines()[-1:] if "proc" in locals() else []
            res = {"case": case, "skipped": f"memory.py failed: {type(e).__name__} {e} {stderr}"}
        out[case] = res
        if case == "flight":
            continue
        if "skipped" in res:
            rows.append([case, "skipped", "", "", "", ""])
            continue
        rows.append([
            case,
            f"{res['events'] / 1e6:.1f}M",
            fmt_bytes(res["rss_growth_recording"]),
            f"{res['bytes_per_event']:.1f}",
            "-" if res.get("bytes_per_event_recorded") is None else f"{res['bytes_per_event_recorded']:.1f}",
            "-" if res.get("bytes_per_call_after_len") is None else f"{res['bytes_per_call_after_len']:.0f}",
        ])
    print(render_table(
        ["case", "events", "RSS growth", "B/event (RSS)", "B/event (records)", "B/call with tree"], rows))
    for case in cases:
        if "skipped" in out[case]:
            print(f"  {case}: skipped: {out[case]['skipped']}")
    print("  (B/event (records) = 8 x trace.nrecords / events; B/call with tree = RSS growth after"
          " len(trace), which builds the call tree, / calls)")
    fl = out["flight"]
    if "skipped" not in fl:
        print(
            f"flight recorder ({fl['option']}): {fl['events'] / 1e6:.0f}M events in {fl['seconds']:.1f} s, "
            f"{fl['calls_kept']:,} calls kept; RSS growth when full {fmt_bytes(fl['rss_growth_when_full'])}, "
            f"at the end {fmt_bytes(fl['rss_growth_at_end'])} "
            f"({(fl['growth_after_full']) / 2**10:+.0f} KiB over the last {fl['events_after_full'] / 1e6:.0f}M events)"
        )
    return out


# ---------------------------------------------------------------------------
# Part 3: writers
# ---------------------------------------------------------------------------


class LineCounter(io.TextIOBase):
    """A text file that only counts lines (to know how many print_tree writes)."""

    def __init__(self) -> None:
        self.lines = 0
        self.chars = 0

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.lines += s.count("\n")
        self.chars += len(s)
        return len(s)


def writers(args: argparse.Namespace) -> dict[str, Any]:
    flowtrace = args.flowtrace
    n = 25 if args.quick else 28
    reps = 3 if args.quick else 5
    print()
    if flowtrace is None:
        print(f"Writers: skipped ({args.flowtrace_message})")
        return {"skipped": args.flowtrace_message}
    flowtrace.start_tracing()
    try:
        workloads.fib(n)
    finally:
        trace = flowtrace.stop_tracing()
    ncalls = len(trace)
    counter = LineCounter()
    flowtrace.print_tree(trace, file=counter)
    out: dict[str, Any] = {"calls": ncalls, "lines": counter.lines, "bytes_text": counter.chars}
    print(f"Writers (session trace of fib({n}): {ncalls:,} calls, {counter.lines:,} lines of text;"
          f" best of {reps}, written to {os.devnull})")
    rows = []
    for fmt in ("text", "json", "chrome"):
        writer, how = flowtrace_modes.find_writer(flowtrace, fmt)
        if writer is None:
            out[fmt] = {"skipped": how}
            rows.append([fmt, how, "skipped", "", ""])
            continue
        best = math.inf
        try:
            for _ in range(reps):
                gc.collect()
                t0 = time.perf_counter()
                writer(trace, os.devnull)
                best = min(best, time.perf_counter() - t0)
        except Exception as e:
            out[fmt] = {"skipped": f"{how}: {type(e).__name__}: {e}"}
            rows.append([fmt, f"{how}: {type(e).__name__}: {e}", "failed", "", ""])
            continue
        out[fmt] = {"seconds": best, "calls_per_s": ncalls / best, "how": how}
        if fmt == "text":
            out[fmt]["lines_per_s"] = counter.lines / best
        rows.append([
            fmt,
            how,
            f"{best * 1e3:.0f} ms",
            fmt_rate(counter.lines / best) if fmt == "text" else "-",
            fmt_rate(ncalls / best),
        ])
    print(render_table(["writer", "call", "time", "lines/s", "calls/s"], rows, left=2))
    del trace
    return out


# ---------------------------------------------------------------------------
# Part 4: @trace on recursive fib(20), tree written to a file
# ---------------------------------------------------------------------------


def tfib(n: int) -> int:  # replaced by its @trace-decorated self in decorator()
    return n if n < 2 else tfib(n - 1) + tfib(n - 2)  # same body as workloads.fib


def decorator(args: argparse.Namespace) -> dict[str, Any]:
    global tfib
    flowtrace = args.flowtrace
    print()
    if flowtrace is None:
        print(f"@trace fib(20): skipped ({args.flowtrace_message})")
        return {"skipped": args.flowtrace_message}
    plain = tfib
    tfib = flowtrace.trace(plain)
    reps = 5 if args.quick else 10
    untraced: list[int] = []
    traced: list[int] = []
    writing: list[int] = []
    size = lines = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tree.txt")
            path2 = os.path.join(tmp, "tree2.txt")
            for _ in range(reps):  # interleaved, so that noise hits all three alike
                for _ in range(5):
                    ns, r = timed(run_untraced, lambda: workloads.fib(20))
                    assert r == 6765
                    untraced.append(ns)
                with open(path, "w", encoding="utf-8") as f:
                    saved = sys.stdout
                    sys.stdout = f
                    try:
                        ns, r = timed(run_untraced, lambda: tfib(20))
                    finally:
                        sys.stdout = saved
                assert r == 6765
                traced.append(ns)
                # the writer's share: the same tree written again by print_tree
                last = flowtrace.get_trace_data()
                with open(path2, "w", encoding="utf-8") as f:
                    ns, _ = timed(run_untraced, lambda: flowtrace.print_tree(last, file=f))
                writing.append(ns)
                del last
            size = os.path.getsize(path)
            with open(path, encoding="utf-8") as f:
                lines = sum(1 for _ in f)
    finally:
        tfib = plain
    u, t, w = min(untraced), min(traced), min(writing)
    ratio = t / u
    print(f"@trace fib(20), tree to a file: {t / 1e6:.1f} ms vs {u / 1e6:.2f} ms untraced = {ratio:.1f}x"
          f" (best of {reps}; {lines:,} lines, {size / 1e6:.1f} MB written)")
    print(f"  of which writing the tree: ~{w / 1e6:.1f} ms = {w / u:.1f}x untraced"
          f" (print_tree of the same trace to a file; {lines / (w / 1e9) / 1e6:.2f}M lines/s)")
    return {"traced_ms": t / 1e6, "untraced_ms": u / 1e6, "ratio": ratio, "lines": lines, "bytes": size,
            "write_ms": w / 1e6}


# ---------------------------------------------------------------------------
# Part 5: instructions per event under callgrind (callgrind.py, a subprocess)
# ---------------------------------------------------------------------------


def callgrind(args: argparse.Namespace) -> dict[str, Any]:
    print()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.json")
        modes = ",".join(m for m in args.modes if m in ("untraced", "floor", *FLOWTRACE_MODES))
        cmd = [sys.executable, str(HERE / "callgrind.py"), "--json", out, "--modes", modes]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        # its table, without the per-mode progress lines
        print("\n".join(line for line in proc.stdout.splitlines()
                        if not line.startswith("  ") and not line.startswith("results written")))
        if proc.returncode != 0 or not os.path.exists(out):
            why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"callgrind.py failed: {why}")
            return {"skipped": why}
        with open(out, encoding="utf-8") as f:
            return json.load(f)


# ---------------------------------------------------------------------------
# Goals (issue #5)
# ---------------------------------------------------------------------------


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(goal: str, measured: str, ok: bool | None) -> None:
        rows.append({"goal": goal, "measured": measured,
                     "verdict": "n/a" if ok is None else ("ok" if ok else "MISSED")})

    ov = results.get("overhead")
    if ov:
        wl = ov["workloads"]

        def worst(mode: str, key: str = "vs_floor") -> tuple[str, float] | None:
            vals = [(n, w[key][mode]) for n, w in wl.items() if mode in w.get(key, {})]
            return max(vals, key=lambda x: x[1]) if vals else None

        unclean = set(ov.get("background", {}).get("cells_without_clean_run", []))

        def star(mode: str, ref: str = "floor") -> str:
            hit = any(c.split("/", 1)[1] in (mode, ref, "untraced") for c in unclean)
            return " (* background load)" if hit else ""

        for mode, limit in (("flowtrace", 1.15), ("flowtrace+timing", 1.30)):
            w = worst(mode)
            label = f"{mode} <= {limit:.2f} x floor (every workload)"
            if w is None:
                add(label, ov["skipped"].get(mode, "not run"), None)
            else:
                add(label, f"worst {w[1]:.2f}x ({w[0]}), geomean {ov['geomean_vs_floor'][mode]:.2f}x"
                    + star(mode), w[1] <= limit)
        # The 1.30 goal above is below what one clock read per event costs on some
        # machines (~1.5x the floor on fib on the VM this was written on): the clock's
        # own cost, then timing=True against the floor that reads the same clock.
        both = {n: w["ratios"]["floor+clock"] / w["ratios"]["floor"] for n, w in wl.items()
                if "floor" in w["ratios"] and "floor+clock" in w["ratios"]}
        if both:
            on = f"{both['fib']:.2f}x on fib, " if "fib" in both else ""
            add(f"floor+clock vs floor: one clock read per event ({ov.get('clock_source', '?')})",
                f"{on}geomean {geomean(list(both.values())):.2f}x" + star("floor+clock"), None)
        label = "flowtrace+timing <= 1.10 x floor+clock (every workload)"
        w = worst("flowtrace+timing", "vs_floor_clock")
        if w is None:
            add(label, ov["skipped"].get("flowtrace+timing", ov["skipped"].get("floor+clock", "not run")), None)
        else:
            add(label, f"worst {w[1]:.2f}x ({w[0]}), geomean "
                f"{ov['geomean_vs_floor_clock']['flowtrace+timing']:.2f}x"
                + star("flowtrace+timing", "floor+clock"), w[1] <= 1.10)
        fib = wl.get("fib", {})
        if "flowtrace+args" in fib.get("vs_floor", {}):
            r = fib["vs_floor"]["flowtrace+args"]
            add("flowtrace+args <= 2.5 x floor on fib", f"{r:.2f}x" + star("flowtrace+args"), r <= 2.5)
            if "viztracer-args" in ov["geomean"]:
                g = geomean([w["ratios"]["flowtrace+args"] / w["ratios"]["viztracer-args"] for w in wl.values()])
                add("flowtrace+args far below viztracer-args", f"{g:.2f} of viztracer-args' time (geomean)", None)
        else:
            add("flowtrace+args <= 2.5 x floor on fib", ov["skipped"].get("flowtrace+args", "not run"), None)
        w = worst("flowtrace-excluded", "ratios")
        if w is None:
            add("flowtrace-excluded <= 1.05 x untraced", ov["skipped"].get("flowtrace-excluded", "not run"), None)
        else:
            add("flowtrace-excluded <= 1.05 x untraced", f"worst {w[1]:.2f}x ({w[0]})" + star("flowtrace-excluded"),
                w[1] <= 1.05)
    dec = results.get("decorator")
    if dec and "ratio" in dec:
        add("@trace fib(20) to a file < 10 x untraced", f"{dec['ratio']:.1f}x", dec["ratio"] < 10)
    mem = results.get("memory")
    if mem:
        m = mem.get("flowtrace", {})
        if "bytes_per_event" in m:
            add("structure mode <= 16 B/event (RSS)", f"{m['bytes_per_event']:.1f} B/event at "
                f"{m['events'] / 1e6:.1f}M events", m["bytes_per_event"] <= 16)
        fl = mem.get("flight", {})
        if "skipped" in fl:
            add("max_events: flat RSS", fl["skipped"], None)
        elif fl:
            add("max_events: flat RSS", f"{fl['growth_after_full'] / 2**10:+.0f} KiB over the last "
                f"{fl['events_after_full'] / 1e6:.0f}M events", fl["growth_after_full"] <= 4 * 2**20)
    wr = results.get("writers")
    if wr and "skipped" not in wr:
        t = wr.get("text", {})
        if "lines_per_s" in t:
            add("text writer >= 2M lines/s", fmt_rate(t["lines_per_s"]), t["lines_per_s"] >= 2e6)
        for fmt in ("json", "chrome"):
            x = wr.get(fmt, {})
            if "calls_per_s" in x:
                add(f"{fmt} writer >= 2M calls/s", fmt_rate(x["calls_per_s"]), x["calls_per_s"] >= 2e6)
            else:
                add(f"{fmt} writer >= 2M calls/s", x.get("skipped", "not run"), None)
    return rows


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def split_list(values: list[str] | None) -> list[str]:
    return [n for item in values or [] for n in item.split(",") if n]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="FlowTrace overhead benchmark.")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 5, quick 3)")
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
    p.add_argument(
        "--parts",
        default=None,
        help=f"comma-separated subset of {','.join(ALL_PARTS)} (default: all; "
        f"--quick: all but callgrind)",
    )
    p.add_argument("--stat", choices=("min", "median"), default=None,
                   help="per-cell statistic (default: median of the normalized times, whose errors go "
                   "both ways; min with --no-normalize, whose errors are slowdowns)")
    p.add_argument("--no-normalize", dest="normalize", action="store_false",
                   help="use raw times (default: divide each run's time by a speed probe run "
                   "just before and after it)")
    p.add_argument("--quiet-wait", type=float, default=None, metavar="S",
                   help="before each timed run, wait up to S seconds for other processes to calm down "
                   "(default 3, quick 1; 20*S in all; 0: never wait)")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    p.add_argument("--verbose", "-v", action="store_true", help="print every timed run")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    if args.stat is None:
        args.stat = "median" if args.normalize else "min"
    if args.quiet_wait is None:
        args.quiet_wait = 1.0 if args.quick else 3.0
    args.only = split_list(args.only)
    unknown = [n for n in args.only if n not in workloads.SIZES]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(workloads.SIZES)}")
    args.modes = split_list([args.modes])
    bad = [m for m in args.modes if m not in ALL_MODES]
    if bad:
        p.error(f"unknown mode(s) {', '.join(bad)}; known: {', '.join(ALL_MODES)}")
    if args.parts is None:
        args.parts = ",".join(QUICK_PARTS if args.quick else ALL_PARTS)
    args.parts = split_list([args.parts])
    bad = [x for x in args.parts if x not in ALL_PARTS]
    if bad:
        p.error(f"unknown part(s) {', '.join(bad)}; known: {', '.join(ALL_PARTS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if sys.version_info < (3, 12):
        print("error: sys.monitoring needs Python 3.12 or later", file=sys.stderr)
        return 2
    info = machine_info()
    print(f"Python {info['python']} ({info['implementation']}) at {info['executable']}")
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, {info['platform']}; checkout {info['commit']}")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in info["loadavg"])
          + " (other processes on the machine make the time ratios noisy)")
    args.flowtrace, args.flowtrace_message = import_flowtrace()
    print(args.flowtrace_message)
    if args.flowtrace is not None:
        info["flowtrace"] = getattr(args.flowtrace, "__version__", "?")
        info["flowtrace_path"] = os.path.dirname(args.flowtrace.__file__)
        source = Path(sys.prefix) / "flowtrace-source.txt"
        if source.exists():
            info["flowtrace_source"] = source.read_text().strip()

    results: dict[str, Any] = {"info": info}
    status = 0
    start = time.perf_counter()
    if "overhead" in args.parts:
        results["overhead"], status = overhead(args, info)
    if "memory" in args.parts:
        results["memory"] = memory(args)
    if "writers" in args.parts:
        results["writers"] = writers(args)
    if "decorator" in args.parts:
        results["decorator"] = decorator(args)
    if "callgrind" in args.parts:
        results["callgrind"] = callgrind(args)

    results["goals"] = goals(results)
    if results["goals"]:
        print()
        print("Goals (issue #5)")
        print(render_table(["goal", "measured", "verdict"],
                           [[g["goal"], g["measured"], g["verdict"]] for g in results["goals"]], left=3))
    total = time.perf_counter() - start
    results["seconds"] = total
    results["loadavg_end"] = os.getloadavg()
    print(f"\ntotal {total:.0f} s; load average at the end: "
          + " ".join(f"{x:.2f}" for x in results["loadavg_end"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"results written to {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
