"""Reading a big FlowTrace JSON trace back: speed and peak memory of load().

    python bench/json_load.py [--calls 3000000] [--old-src /work/main/src]

Makes (once, kept in bench/.build/json_load/) a trace of N calls recorded
with timing and arguments (leaf/mid calls with int arguments and results,
about 100 bytes of JSON per call), saved as JSON and as .ftrace. Then, each
in a fresh process, it loads:

    json     the streaming C reader (this tree's flowtrace)
    old      the previous path (json.loads + load_json.c checking the dicts):
             the flowtrace found at --old-src (a checkout with its engine
             built in place), skipped when not given
    ftrace   the .ftrace recording of the same run

and reports the time of load() (wall and CPU: the machine may be shared;
calls per second are per CPU second), the growth of the peak
RSS over the process's RSS before loading (VmHWM - VmRSS from
/proc/self/status: tracemalloc does not see C malloc), the RSS the loaded
trace keeps (after malloc_trim), and the trace's own count of its bytes
(Trace.nbytes: nodes and value stores, not the str objects).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / ".build" / "json_load"


def status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def leaf(i):
    return i * 2


def mid(i):
    return leaf(i) + leaf(i + 1)


def work(calls: int) -> None:
    for i in range(calls // 3):
        mid(i)


def make(calls: int) -> None:
    import flowtrace

    OUT.mkdir(parents=True, exist_ok=True)
    with flowtrace.tracing(timing=True, args=True) as t:
        work(calls)
    t.save(OUT / "trace.json")
    t.save(OUT / "trace.ftrace", format="ftrace")
    (OUT / "calls").write_text(str(len(t)))


def measure(case: str, path: str) -> None:
    """In a fresh process: one load, printed as a JSON line."""
    import gc

    import flowtrace

    libc = ctypes.CDLL("libc.so.6")
    gc.collect()
    libc.malloc_trim(0)
    before = status_kb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    t = flowtrace.load(path)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = status_kb("VmHWM")
    gc.collect()
    libc.malloc_trim(0)
    kept = status_kb("VmRSS") - before
    print(json.dumps({"case": case, "calls": len(t), "seconds": dt, "cpu": cpu,
                      "peak_mb": (peak - before) / 1024, "kept_mb": kept / 1024,
                      "nbytes_mb": t.nbytes / 2**20,
                      "file_mb": os.path.getsize(path) / 2**20}))


def run(case: str, path: Path, src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    r = subprocess.run([sys.executable, __file__, "--measure", case, str(path)], env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=3_000_000)
    ap.add_argument("--old-src", type=Path, default=None,
                    help="src/ of a FlowTrace checkout with the json-module loader, built in place")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        measure(*a.measure)
        return
    here_src = HERE.parent / "src"
    calls_file = OUT / "calls"
    if not calls_file.exists() or abs(int(calls_file.read_text()) - a.calls) > 3:
        print(f"recording {a.calls} calls ...", flush=True)
        make(a.calls)
    cases = [("json", OUT / "trace.json", here_src), ("ftrace", OUT / "trace.ftrace", here_src)]
    if a.old_src:
        cases.insert(1, ("old", OUT / "trace.json", a.old_src))
    print(f"{'case':8} {'calls':>9} {'file MB':>8} {'load s':>7} {'cpu s':>6} {'Mcalls/s':>9} "
          f"{'peak MB':>8} {'kept MB':>8} {'nbytes MB':>9} {'peak/kept':>9}")
    for case, path, src in cases:
        for _ in range(a.repeat):
            m = run(case, path, src)
            print(f"{case:8} {m['calls']:9d} {m['file_mb']:8.0f} {m['seconds']:7.2f} "
                  f"{m['cpu']:6.2f} {m['calls'] / m['cpu'] / 1e6:9.2f} {m['peak_mb']:8.0f} "
                  f"{m['kept_mb']:8.0f} {m['nbytes_mb']:9.0f} "
                  f"{m['peak_mb'] / max(m['kept_mb'], 1):9.2f}", flush=True)


if __name__ == "__main__":
    main()
