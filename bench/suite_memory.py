"""Recording memory on a real test suite (issue 11, goal 1).

    python bench/suite_memory.py [--suite dateutil] [--tests tests/test_rrule.py ...]
                                 [--options "--timing --args"]

Downloads the suite's source distribution from PyPI (its tests ship in it),
makes a venv for it under bench/.suites/ with its test dependencies, and runs
the suite in-process twice in fresh interpreters: plain, and inside a FlowTrace
session (FlowTrace from this checkout, by PYTHONPATH). It reports, for the
traced run, the records and calls recorded and RSS growth (/proc/self/status,
after gc) over the plain run's, per recorded event (one sys.monitoring event
is one record; timestamps and arguments add records) and per call. The tree is
not built: this is what keeping the recording costs.

The library's code is the user's code here (it runs from its source tree), as
in docs of real-world runs; test outcomes must be the same in both runs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".suites"

SUITES = {
    "dateutil": {
        "sdist": "python-dateutil",
        "deps": ["pytest", "pytest-cov", "hypothesis", "freezegun", "attrs", "tzdata", "six"],
        "src": "src",
        "tests": ["tests"],
    },
    "jinja2": {
        "sdist": "jinja2",
        "deps": ["pytest", "markupsafe", "trio"],
        "src": "src",
        "tests": ["tests"],
    },
}

RUNNER = r"""
import gc, json, sys, time
import pytest
plain = sys.argv[1] == "plain"
opts = json.loads(sys.argv[2])
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
import flowtrace
gc.collect()
r0 = rss()
t0 = time.perf_counter()
if not plain:
    flowtrace.start_tracing(**opts)
code = pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[3:]])
t = None if plain else flowtrace.stop_tracing()
elapsed = time.perf_counter() - t0
gc.collect()
out = {"rss": rss() - r0, "seconds": elapsed, "exit": int(code)}
if t is not None:
    out["records"] = t._core.nrecords
    out["engine_bytes"] = t._core.nbytes
print("SUITE-RESULT " + json.dumps(out))
"""


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kw)


def prepare(name: str) -> tuple[Path, Path]:
    spec = SUITES[name]
    WORK.mkdir(exist_ok=True)
    env = WORK / f"venv-{name}-{sys.version_info[0]}.{sys.version_info[1]}"
    py = env / "bin" / "python"
    if not py.exists():
        venv.create(env, with_pip=True)
        sh([str(py), "-m", "pip", "install", "-q", *spec["deps"]])
    dl = WORK / "sdist"
    found = sorted(dl.glob(f"{spec['sdist'].replace('-', '_')}-*.tar.gz")) + \
        sorted(dl.glob(f"{spec['sdist']}-*.tar.gz"))
    if not found:
        sh([str(py), "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
            "-d", str(dl), spec["sdist"]])
        found = sorted(dl.glob("*.tar.gz"))
        found = [p for p in found if p.name.lower().replace("_", "-").startswith(spec["sdist"])]
    archive = found[-1]
    tree = WORK / archive.name[: -len(".tar.gz")]
    if not tree.exists():
        with tarfile.open(archive) as tf:
            tf.extractall(WORK, filter="data")
    return py, tree


def run(py: Path, tree: Path, src: str, mode: str, opts: dict, tests: list[str]) -> dict:
    env = {"PYTHONPATH": f"{tree / src}:{ROOT / 'src'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([str(py), "-c", RUNNER, mode, json.dumps(opts), *tests],
                          cwd=tree, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("SUITE-RESULT "):
            return json.loads(line.split(" ", 1)[1])
    raise SystemExit(f"suite run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="dateutil", choices=sorted(SUITES))
    ap.add_argument("--tests", nargs="*", help="test paths (default: the whole suite)")
    ap.add_argument("--options", default="", help='session options, e.g. "--timing --args"')
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    opts = {o.lstrip("-"): True for o in a.options.split()}
    py, tree = prepare(a.suite)
    tests = a.tests or SUITES[a.suite]["tests"]
    run(py, tree, SUITES[a.suite]["src"], "plain", opts, tests)  # warm-up: writes .pyc files
    plain = run(py, tree, SUITES[a.suite]["src"], "plain", opts, tests)
    traced = run(py, tree, SUITES[a.suite]["src"], "traced", opts, tests)
    grown = traced["rss"] - plain["rss"]
    rec = traced["records"]
    result = {"suite": a.suite, "options": a.options or "default", "records": rec,
              "rss_over_plain": grown, "bytes_per_record": grown / max(rec, 1),
              "engine_bytes_per_record": traced["engine_bytes"] / max(rec, 1),
              "plain_s": plain["seconds"], "traced_s": traced["seconds"],
              "same_outcome": plain["exit"] == traced["exit"]}
    if a.json:
        print(json.dumps(result))
        return
    print(f"{a.suite} ({result['options']}): {rec:,} records; RSS over plain "
          f"{grown / 1e6:,.0f} MB = {result['bytes_per_record']:.1f} B/record "
          f"(engine's own {result['engine_bytes_per_record']:.1f}); "
          f"{plain['seconds']:.1f} s plain, {traced['seconds']:.1f} s traced; "
          f"same outcome: {result['same_outcome']} (RSS growth: plain "
          f"{plain['rss'] / 1e6:.0f} MB, traced {traced['rss'] / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
