"""Instructions per event of the callback paths, counted by callgrind (no timing noise).

    python bench/callgrind.py [--modes M,...] [--json FILE]

Runs a fixed small program under `valgrind --tool=callgrind` once per mode
(untraced, floor, and the FlowTrace modes of flowtrace_modes.py) and counts the
instructions (Ir) executed in two regions:

    fib         workloads.fib(18): 8,361 calls, PY_START + PY_RETURN
    generators  workloads.run_generators(2000): generator pipeline, PY_START /
                PY_YIELD / PY_RESUME / PY_RETURN

Each region runs once under the tracer first (code objects classified, stdlib
locations DISABLEd, buffers allocated), then once, with the garbage collector
disabled (as in run.py's timed runs), between two markers:
os.getppid() zeroes callgrind's counters (--zero-before=os_getppid) and
os.getpgrp() dumps them (--dump-before=os_getpgrp), so interpreter start-up,
imports and tracer start/stop are not counted. Start-up and imports also run
uninstrumented (--instr-atstart=no; cgmark/cgmark.c, loaded with ctypes, turns
the instrumentation on), which makes a run ~4x faster; without valgrind's
headers the helper is not built and everything is instrumented (slower, same
counts).

    Ir/event = (Ir of the region under the mode - Ir of the region untraced) / events

where events = the PY_START, PY_RESUME, PY_RETURN, PY_YIELD, PY_UNWIND and
PY_THROW events of the region's user code, counted by a sys.monitoring tool in
this process. The counts are deterministic (PYTHONHASHSEED=0) to within a few
instructions per event, so a change of the hot path shows up even on a noisy
machine. Takes ~30 s per Python.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_floor  # noqa: E402
import flowtrace_modes  # noqa: E402
import workloads  # noqa: E402

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
REGIONS = {
    "fib": lambda: workloads.fib(18),
    "generators": lambda: workloads.run_generators(2000),
}
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


def child(mode: str) -> int:
    stop = lambda: None  # noqa: E731
    if os.environ.get("CGMARK"):
        import ctypes

        ctypes.CDLL(os.environ["CGMARK"]).cgmark_start()
    for region in REGIONS.values():  # warm the interpreter untraced
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
        for region in REGIONS.values():
            region()  # warm under the tracer
            gc.collect()  # no collection inside the region (as in run.py's timed runs)
            gc.disable()
            os.getppid()  # callgrind: zero the counters
            region()
            os.getpgrp()  # callgrind: dump the counters
            gc.enable()
    finally:
        stop()
    print(json.dumps({"ok": True}))
    return 0


# ---------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------


def count_events() -> dict[str, int]:
    """The six call events of user code (workloads.py) in each region."""
    mon = sys.monitoring
    E = mon.events
    names = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")
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
        for n in names:
            mon.register_callback(tool, getattr(E, n), make(n))
        out = {}
        for name, region in REGIONS.items():
            region()
            mon.set_events(tool, 0)
            mon.restart_events()
            count[0] = 0
            mon.set_events(tool, sum(getattr(E, n) for n in names))
            region()
            mon.set_events(tool, 0)
            out[name] = count[0]
    finally:
        mon.set_events(tool, 0)
        for n in names:
            mon.register_callback(tool, getattr(E, n), None)
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


def run_mode(mode: str, tmp: str, cgmark: Path | None) -> dict:
    out = os.path.join(tmp, f"cg.{mode}")
    cmd = [
        VALGRIND, "--tool=callgrind", f"--callgrind-out-file={out}",
        "--zero-before=os_getppid", "--dump-before=os_getpgrp",
        *(["--instr-atstart=no"] if cgmark else []),
        sys.executable, str(Path(__file__).resolve()), "--child", mode,
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("CGMARK", None)
    if cgmark:
        env["CGMARK"] = str(cgmark)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
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
    if len(dumps) != len(REGIONS):
        return {"skipped": f"expected {len(REGIONS)} callgrind dumps, found {len(dumps)}"}
    result = {name: read_summary(p) for name, p in zip(REGIONS, dumps)}
    result["seconds"] = elapsed
    return result


def main() -> int:
    p = argparse.ArgumentParser(description="Instructions per event under callgrind.")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--modes", default=",".join(MODES), help=f"subset of {','.join(MODES)}")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = p.parse_args()
    if args.child:
        return child(args.child)

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
    events = count_events()
    print("events per region: " + ", ".join(f"{n} {e:,}" for n, e in events.items()))

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            results[mode] = {"skipped": skipped[mode]} if mode in skipped else run_mode(mode, tmp, cgmark)
            r = results[mode]
            status = "skipped: " + r["skipped"] if "skipped" in r else f"{r['seconds']:.1f} s"
            print(f"  {mode}: {status}", flush=True)

    base = results["untraced"]
    if "skipped" in base:
        print(f"untraced run failed: {base['skipped']}")
        return 1
    header = ["mode"] + [f"{n} Ir/event" for n in REGIONS] + [f"{n} vs floor" for n in REGIONS]
    rows = []
    table: dict[str, dict] = {}
    for mode in modes:
        r = results[mode]
        if mode == "untraced":
            rows.append([mode] + [f"({base[n] / events[n]:.0f} untraced)" for n in REGIONS] + ["", ""])
            continue
        if "skipped" in r:
            rows.append([mode, "skipped", "", "", ""])
            continue
        per = {n: (r[n] - base[n]) / events[n] for n in REGIONS}
        table[mode] = {"ir_per_event": per, "ir": {n: r[n] for n in REGIONS}}
        floor = table.get("floor", {}).get("ir_per_event")
        rows.append(
            [mode]
            + [f"{per[n]:.1f}" for n in REGIONS]
            + [f"{per[n] - floor[n]:+.1f}" if floor and mode not in ("floor", "flowtrace-excluded") else ""
               for n in REGIONS]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("Instructions per event above untraced (callgrind Ir; 'untraced' row: Ir per event of the bare workload)")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    for mode in modes:
        if "skipped" in results[mode]:
            print(f"  {mode}: skipped: {results[mode]['skipped']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": sys.version.split()[0], "events": events, "raw": results,
                       "modes": table}, f, indent=1)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
