"""Instructions per event of the callback paths, counted by callgrind (no timing noise).

    python bench/callgrind.py [--modes M,...] [--regions R,...] [--env-pad BYTES] [--json FILE]

Runs a fixed small program under `valgrind --tool=callgrind` once per mode
(untraced, floor, and the FlowTrace modes of flowtrace_modes.py; not floor+clock:
a clock read is one rdtsc instruction here, its cost is time, not instructions)
and counts the instructions (Ir) executed in one region per workload of
workloads.py, at small sizes (events: 3.12; 3.13 differs only for parser):

    fib         fib(18): 8,361 calls, PY_START + PY_RETURN          16,722 events
    objects     run_objects(40): properties, dunder methods          16,980 events
    generators  run_generators(2000): generator pipeline, PY_YIELD /
                PY_RESUME, `yield from` Python and C iterators       17,896 events
    asyncio     run_asyncio(40 tasks, 20 rounds): user coroutines
                driven by the (DISABLEd, stdlib) event loop           8,086 events
    parser      run_parser(80 expressions): tokenizer generator +
                recursive descent                                    16,432 events
    stdlib_mix  run_stdlib_mix(300): json, re, dataclasses,
                collections; most frames are stdlib (DISABLEd)       10,560 events
    threads4    run_threads4(5): 4 threads started and joined        17,654 events

Each region runs once under the tracer first (code objects classified, stdlib
locations DISABLEd, buffers allocated), then once, with the garbage collector
disabled (as in run.py's timed runs), between markers: os.getpgrp() dumps
callgrind's counters (--dump-before=os_getpgrp; this dump is discarded),
os.getppid() zeroes them (--zero-before=os_getppid), the region runs, and
os.getpgrp() dumps them again. Interpreter start-up, imports and tracer
start/stop are not counted. The discarded dump is there for threads4: callgrind
(3.19) does not zero what threads that have exited since the last dump executed,
so without it the next region counted the whole of the previous threads4 run
(+5M Ir). Start-up and imports also run uninstrumented (--instr-atstart=no;
cgmark/cgmark.c, loaded with ctypes, turns the instrumentation on), which makes a
run ~4x faster; without valgrind's headers the helper is not built and
everything is instrumented (slower, same counts).

    Ir/event = (Ir of the region under the mode - Ir of the region untraced) / events

where events = the PY_START, PY_RESUME, PY_RETURN, PY_YIELD, PY_UNWIND and
PY_THROW events of the region's user code, counted by a sys.monitoring tool in
this process.

Determinism. The child runs with PYTHONHASHSEED=0, a fixed environment (only
PYTHON*, VALGRIND* and LD_LIBRARY_PATH are taken from the caller) and the bench
directory as its working directory, so the same checkout and Python give the
same counts whoever starts it (shell, run.py, another directory). Checked: two
runs each on 3.12.1 and 3.13.0, every mode: every region's count identical,
except threads4's (within 0.5 Ir/event). threads4's threads run one at a
time under valgrind, but when the GIL changes hands depends on wall time (the
switch interval); it runs last and is not in the initial untraced warm-up
(THREADED), so that the memory its threads leave behind cannot reach the other
regions. Counts do depend on the memory layout (hash-table probes and allocator
paths follow addresses): --env-pad 64/512/3000 moved fib by 0, generators,
asyncio and threads4 by <= 1 Ir/event, parser by <= 8, stdlib_mix by <= 11,
objects by <= 14 (flowtrace+args), and before the environment was fixed, a
different working directory moved asyncio under flowtrace by 40. Anything that
changes what the child allocates before the regions (flowtrace's own code
included) can do the same, and a region's count also depends on the regions run
before it (--regions). So a change of a few Ir/event is real on fib, generators
and threads4; on the other regions, look at several --env-pad values before
believing one of less than ~15 Ir/event. Takes ~65-75 s per Python for the six
modes (~10-15 s each).
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_floor  # noqa: E402
import flowtrace_modes  # noqa: E402
import workloads  # noqa: E402

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
# name -> the region's work (inputs built here, outside the region). Sizes: 8-18k
# events each, so that a mode's run takes ~10-13 s under callgrind.
REGIONS: dict[str, Callable[[], object]] = {
    "fib": partial(workloads.fib, 18),
    "objects": partial(workloads.run_objects, 40),
    "generators": partial(workloads.run_generators, 2000),
    "asyncio": partial(workloads.run_asyncio, 40, 20),
    "parser": partial(workloads.run_parser, workloads.make_expressions(80)),
    "stdlib_mix": partial(workloads.run_stdlib_mix, 300),
    "threads4": partial(workloads.run_threads4, 5),
}
# Regions whose runs depend on thread timing (the GIL's switch interval is wall
# time): left out of the initial warm-up and measured last (they are last in
# REGIONS), so that where their threads left objects in memory cannot change the
# counts of the other regions from run to run.
THREADED = ("threads4",)
MODES = ("untraced", "floor", *flowtrace_modes.SESSION_OPTIONS)

# ---------------------------------------------------------------------------
# Child: runs under valgrind
# ---------------------------------------------------------------------------


def cgmark_path() -> Path:
    return HERE / ".build" / "cgmark.so"


def build_cgmark() -> Path | None:
    """Compile cgmark/cgmark.c (if stale); None if that is not possible."""
    src, out = HERE / "cgmark" / "cgmark.c", cgmark_path()
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".so.tmp")
    cc = os.environ.get("CC", "cc").split()
    proc = subprocess.run([*cc, "-O2", "-shared", "-fPIC", str(src), "-o", str(tmp)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"cgmark not built (all of start-up will be instrumented): {proc.stderr.strip()[:200]}")
        return None
    os.replace(tmp, out)
    return out


def child(mode: str, names: list[str]) -> int:
    regions = [REGIONS[n] for n in names]
    stop = lambda: None  # noqa: E731
    if os.environ.get("CGMARK"):
        import ctypes

        ctypes.CDLL(os.environ["CGMARK"]).cgmark_start()
    for name, region in zip(names, regions):  # warm the interpreter untraced
        if name not in THREADED:
            region()
            region()
    if mode == "floor":
        floormod = build_floor.load()
        floormod.start(build_floor.stdlib_prefixes())
        stop = floormod.stop
    elif mode != "untraced":
        import flowtrace

        try:
            flowtrace_modes.start(flowtrace, mode)
        except TypeError as e:
            print(json.dumps({"skipped": str(e)}))
            return 3
        stop = flowtrace.stop_tracing
    try:
        for region in regions:
            region()  # warm under the tracer
            gc.collect()  # no collection inside the region (as in run.py's timed runs)
            gc.disable()
            os.getpgrp()  # callgrind: dump (discarded), which also resets exited threads' costs
            os.getppid()  # callgrind: zero the counters
            region()
            os.getpgrp()  # callgrind: dump the counters (kept)
            gc.enable()
    finally:
        stop()
    print(json.dumps({"ok": True}))
    return 0


# ---------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------


def count_events(names: list[str]) -> dict[str, int]:
    """The six call events of user code (workloads.py) in each region."""
    mon = sys.monitoring
    E = mon.events
    kinds = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")
    disable_ok = {"PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD"}
    target = workloads.__file__
    count = [0]

    def make(name: str):
        def cb(code, *rest):
            if code.co_filename != target:
                return mon.DISABLE if name in disable_ok else None
            count[0] += 1
            return None

        return cb

    tool = next(i for i in (3, 4, 0, 1, 2, 5) if mon.get_tool(i) is None)
    mon.use_tool_id(tool, "flowtrace-bench-count")
    try:
        for k in kinds:
            mon.register_callback(tool, getattr(E, k), make(k))
        out = {}
        for name in names:
            region = REGIONS[name]
            region()
            mon.set_events(tool, 0)
            mon.restart_events()
            count[0] = 0
            mon.set_events(tool, sum(getattr(E, k) for k in kinds))
            region()
            mon.set_events(tool, 0)
            out[name] = count[0]
    finally:
        mon.set_events(tool, 0)
        for k in kinds:
            mon.register_callback(tool, getattr(E, k), None)
        mon.free_tool_id(tool)
        mon.restart_events()
    return out


def probe_modes(modes: list[str]) -> dict[str, str]:
    """FlowTrace modes whose options this flowtrace does not accept (mode -> why)."""
    out: dict[str, str] = {}
    wanted = [m for m in modes if m in flowtrace_modes.SESSION_OPTIONS]
    if not wanted:
        return out
    try:
        import flowtrace
    except Exception as e:
        return {m: f"flowtrace not importable ({e})" for m in wanted}
    for mode in wanted:
        try:
            flowtrace_modes.start(flowtrace, mode)
        except TypeError as e:
            out[mode] = f"start_tracing{flowtrace_modes.SESSION_OPTIONS[mode]}: {e}"
            continue
        flowtrace.stop_tracing()
    return out


def read_summary(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise ValueError(f"no summary line in {path}")


# Variables passed on to the child from the caller's environment: the ones that
# decide which Python / flowtrace runs and where valgrind's parts are.
ENV_KEPT_PREFIXES = ("PYTHON", "VALGRIND", "LD_LIBRARY_PATH")


def child_env(cgmark: Path | None, pad: int = 0) -> dict[str, str]:
    """The child's environment: fixed, not the caller's (its directory is fixed too).

    Some counts follow the addresses at which the child's objects land (hash-table
    probes, allocator paths), and those move with anything that changes the
    child's memory before the regions run: with the caller's environment, one
    more variable of 37 bytes changed asyncio's and stdlib_mix's counts by up to
    23 Ir/event; starting from /tmp rather than the checkout, by up to 40.
    Only PYTHON*, VALGRIND* and LD_LIBRARY_PATH are passed on. `pad` > 0 adds a
    variable of that many bytes (--env-pad: to see how much a region's counts
    depend on the layout)."""
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_KEPT_PREFIXES)}
    env.update(PYTHONHASHSEED="0", PATH="/usr/local/bin:/usr/bin:/bin", LC_ALL="C.UTF-8")
    if pad > 0:
        env["CALLGRIND_LAYOUT_PAD"] = "x" * pad
    if cgmark:
        env["CGMARK"] = str(cgmark)
    return env


def run_mode(mode: str, names: list[str], tmp: str, cgmark: Path | None, pad: int = 0) -> dict:
    out = os.path.join(tmp, f"cg.{mode}")
    cmd = [
        VALGRIND, "--tool=callgrind", f"--callgrind-out-file={out}",
        "--zero-before=os_getppid", "--dump-before=os_getpgrp",
        *(["--instr-atstart=no"] if cgmark else []),
        sys.executable, str(Path(__file__).resolve()), "--child", mode, "--regions", ",".join(names),
    ]
    env = child_env(cgmark, pad)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE, timeout=600)
    elapsed = time.perf_counter() - t0
    last = (proc.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        info = json.loads(last)
    except json.JSONDecodeError:
        info = {}
    if "skipped" in info:
        return {"skipped": info["skipped"]}
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        return {"skipped": f"child failed (exit {proc.returncode}): {tail}"}
    dumps = sorted(glob.glob(out + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    if len(dumps) != 2 * len(names):
        return {"skipped": f"expected {2 * len(names)} callgrind dumps, found {len(dumps)}"}
    # per region: a dump before it (discarded, see the module docstring), one after it
    result = {name: read_summary(p) for name, p in zip(names, dumps[1::2])}
    result["seconds"] = elapsed
    return result


def render(header: list[str], rows: list[list[str]]) -> str:
    """Plain-text table, first column left-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def main() -> int:
    p = argparse.ArgumentParser(description="Instructions per event under callgrind.")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--modes", default=",".join(MODES), help=f"subset of {','.join(MODES)}")
    p.add_argument("--regions", default=",".join(REGIONS), help=f"subset of {','.join(REGIONS)}")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    p.add_argument("--env-pad", type=int, default=0, metavar="BYTES",
                   help="add a variable of BYTES bytes to the child's environment (moves its memory"
                   " layout; to see how much the counts depend on it)")
    args = p.parse_args()
    names = [n for n in REGIONS if n in args.regions.split(",")]  # in REGIONS' order: THREADED last
    bad = [n for n in args.regions.split(",") if n and n not in REGIONS]
    if bad or not names:
        p.error(f"unknown or no region(s) {', '.join(bad)}; known: {', '.join(REGIONS)}")
    if args.child:
        return child(args.child, names)

    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad:
        p.error(f"unknown mode(s) {', '.join(bad)}")
    for needed in ("untraced",):
        if needed not in modes:
            modes.insert(0, needed)
    if not os.path.exists(VALGRIND):
        print("valgrind not found: skipped")
        return 0
    print(f"Python {sys.version.split()[0]} at {sys.executable}; "
          f"{subprocess.run([VALGRIND, '--version'], capture_output=True, text=True).stdout.strip()}")
    build_floor.build()
    cgmark = build_cgmark()
    skipped = probe_modes(modes)
    events = count_events(names)
    print("events per region: " + ", ".join(f"{n} {e:,}" for n, e in events.items()))

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            if mode in skipped:
                results[mode] = {"skipped": skipped[mode]}
            else:
                results[mode] = run_mode(mode, names, tmp, cgmark, args.env_pad)
            r = results[mode]
            status = "skipped: " + r["skipped"] if "skipped" in r else f"{r['seconds']:.1f} s"
            print(f"  {mode}: {status}", flush=True)

    base = results["untraced"]
    if "skipped" in base:
        print(f"untraced run failed: {base['skipped']}")
        return 1
    # Table 1: Ir/event above untraced, one column per region; table 2: above the floor.
    rows = [["untraced"] + [f"({base[n] / events[n]:.0f})" for n in names]]
    floor_rows = []
    table: dict[str, dict] = {}
    for mode in modes[1:] if modes[0] == "untraced" else modes:
        r = results[mode]
        if "skipped" in r:
            rows.append([mode, "skipped"] + [""] * (len(names) - 1))
            continue
        per = {n: (r[n] - base[n]) / events[n] for n in names}
        table[mode] = {"ir_per_event": per, "ir": {n: r[n] for n in names}}
        rows.append([mode] + [f"{per[n]:.1f}" for n in names])
    floor = table.get("floor", {}).get("ir_per_event")
    if floor:
        for mode, t in table.items():
            if mode in ("floor", "flowtrace-excluded"):
                continue
            t["vs_floor"] = {n: t["ir_per_event"][n] - floor[n] for n in names}
            floor_rows.append([mode] + [f"{t['vs_floor'][n]:+.1f}" for n in names])
    print()
    print("Instructions per event above untraced (callgrind Ir; 'untraced' row, in parentheses:"
          " Ir per event of the bare workload)")
    print(render(["mode", *names], rows))
    if floor_rows:
        print()
        print("Instructions per event above the floor (mode's Ir/event - floor's Ir/event)")
        print(render(["mode", *names], floor_rows))
    for mode in modes:
        if "skipped" in results[mode]:
            print(f"  {mode}: skipped: {results[mode]['skipped']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": sys.version.split()[0], "regions": names, "events": events, "raw": results,
                       "modes": table}, f, indent=1)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
