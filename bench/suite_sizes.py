"""A real test suite recorded with the CLI: events, memory, file sizes, read-back (issue 11).

    python bench/suite_sizes.py [--suite jinja2|dateutil] [--tests tests/test_api.py ...]
                                [--options="--timing"] [--session-memory] [--json]

Prepares the suite as suite_memory.py does (its sdist from PyPI, a venv under
bench/.suites/), then, each in a fresh process measured with os.wait4 (wall
time, peak RSS):

1. the suite untraced, ``python -m pytest -q -p no:cacheprovider TESTS`` (after
   one warm-up run that writes the .pyc files);
2. the suite recorded as a user would, from its source tree:
   ``python -m flowtrace run -o OUT.ftrace -m pytest -q -p no:cacheprovider TESTS``
   with ``PYTHONPATH=src:<this checkout>/src``; the pass/fail counts must be
   those of the untraced run;
3. the .ftrace converted to the other formats, ``flowtrace.load(ftrace).save(
   out, format)`` for json, chrome and perfetto, and ``flowtrace show ftrace
   -o out.txt`` for the text tree (as ``show`` prints it: folded when the trace
   has more than 10,000 calls; also ``--no-fold``);
4. each file FlowTrace reads back (.ftrace, .json) read by ``flowtrace.load``
   (plus the call and event counts, no tree built), by ``flowtrace.load`` and
   ``len()`` (which builds the call tree, as every reader does), ``flowtrace
   show FILE > /dev/null`` and ``flowtrace stats FILE > /dev/null``.

Every file is deleted once measured: only the figures are kept. Recording
memory is the traced run's peak RSS over the untraced run's (the process as a
whole: interpreter, pytest, the suite, the recording, writing the .ftrace);
``--session-memory`` adds suite_memory.py's in-process figure (RSS growth after
gc over a plain run, two more runs of the suite).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite_memory  # noqa: E402
from suite_memory import ROOT, SUITES, WORK, prepare  # noqa: E402

PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
CONVERT = "import sys, flowtrace; flowtrace.load(sys.argv[1]).save(sys.argv[2], format=sys.argv[3])"
# flowtrace.load and the counts, read from the records: no tree built (a
# trace loaded from JSON is a tree already)
LOAD = ("import json, sys, flowtrace; t = flowtrace.load(sys.argv[1]); c = t._core; "
        "calls, events = c.counts(); "
        "print(json.dumps({'calls': calls, 'events': events, 'records': c.nrecords, "
        "'timing': t.timing}))")
# the same, then the call tree built (len(), threads() and every reader build it)
TREE = ("import sys, flowtrace; t = flowtrace.load(sys.argv[1]); "
        "print(len(t), len(t.threads()))")
OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)\b")


def measure(argv: list[str], *, cwd: Path | None = None, env: dict | None = None,
            stdout: int | None = None) -> dict:
    """Run argv in a fresh process: wall seconds, peak RSS (bytes, from the
    child's own rusage), exit status, its stdout and the tail of its stderr."""
    with tempfile.TemporaryFile("w+") as o, tempfile.TemporaryFile("w+") as e:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=o if stdout is None else stdout,
                                stderr=e, text=True)
        _, status, ru = os.wait4(proc.pid, 0)  # the child's own rusage (Popen.wait discards it)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        o.seek(0)
        e.seek(0)
        out, err = o.read(), e.read()
    return {"seconds": seconds, "peak_rss": ru.ru_maxrss * 1024, "exit": proc.returncode,
            "stdout": out or "", "stderr": (err or "")[-3000:]}


def first_lines(argv: list[str], env: dict, n: int = 10) -> dict:
    """`argv | head -n`: seconds until its first n lines arrived, and until
    it ended once the pipe was closed (as head closes it)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(n):
        proc.stdout.readline()
    first = time.perf_counter() - t0
    proc.stdout.close()
    proc.wait()
    return {"seconds": first, "ended": time.perf_counter() - t0, "exit": proc.returncode}


def outcomes(pytest_stdout: str) -> dict[str, int]:
    """pytest -q's summary line ("3 failed, 1200 passed, 4 skipped in 9.1s")
    as {"failed": 3, "passed": 1200, "skipped": 4}."""
    for line in reversed(pytest_stdout.splitlines()):
        if re.search(r"\bin [\d.]+s\b", line):
            found = {k if k != "error" else "errors": int(n) for n, k in OUTCOME.findall(line)}
            if found:
                return found
    return {}


def suite_env(tree: Path, src: str) -> dict[str, str]:
    return {"PYTHONPATH": f"{tree / src}:{ROOT / 'src'}", "PATH": "/usr/bin:/bin",
            "LC_ALL": "C.UTF-8"}


def read_back(py: Path, path: Path, env: dict) -> dict:
    """The readers on one saved file, each in a fresh process: load (no
    tree), load and build the tree, show, stats."""
    res = {}
    r = measure([str(py), "-c", LOAD, str(path)], env=env)
    if r["exit"] != 0:
        raise SystemExit(f"load {path} failed:\n{r['stderr']}")
    res["load"] = {"seconds": r["seconds"], "peak_rss": r["peak_rss"],
                   **json.loads(r["stdout"].splitlines()[-1])}
    r = measure([str(py), "-c", TREE, str(path)], env=env)
    if r["exit"] != 0:
        raise SystemExit(f"load {path} and build its tree failed:\n{r['stderr']}")
    res["load"]["threads"] = int(r["stdout"].split()[-1])
    res["tree"] = {"seconds": r["seconds"], "peak_rss": r["peak_rss"]}
    for cmd in ("show", "stats"):
        r = measure([str(py), "-m", "flowtrace", cmd, str(path)], env=env,
                    stdout=subprocess.DEVNULL)
        if r["exit"] != 0:
            raise SystemExit(f"flowtrace {cmd} {path} failed:\n{r['stderr']}")
        res[cmd] = {"seconds": r["seconds"], "peak_rss": r["peak_rss"]}
    res["head"] = first_lines([str(py), "-m", "flowtrace", "show", str(path)], env)
    return res


def run_suite(name: str, tests: list[str], options: list[str], out_dir: Path,
              warmup: bool = True, session_memory: bool = False,
              log=print) -> dict:
    py, tree = prepare(name)
    src = SUITES[name]["src"]
    env = suite_env(tree, src)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{name}"
    result: dict = {"suite": name, "tree": tree.name, "tests": tests,
                    "options": " ".join(options) or "default",
                    "python": ".".join(map(str, sys.version_info[:3]))}

    if warmup:
        log("warm-up run (writes .pyc files)")
        measure([str(py), *PYTEST, *tests], cwd=tree, env=env)
    log("untraced run")
    plain = measure([str(py), *PYTEST, *tests], cwd=tree, env=env)
    log("traced run (flowtrace run -o .ftrace)")
    ftrace = base.with_suffix(".ftrace")
    traced = measure([str(py), "-m", "flowtrace", "run", *options, "-o", str(ftrace),
                      *PYTEST, *tests], cwd=tree, env=env)
    if not ftrace.exists():
        raise SystemExit(f"no trace written:\n{traced['stdout'][-2000:]}\n{traced['stderr']}")
    result["plain"] = {"seconds": plain["seconds"], "peak_rss": plain["peak_rss"],
                       "exit": plain["exit"], "outcomes": outcomes(plain["stdout"])}
    result["traced"] = {"seconds": traced["seconds"], "peak_rss": traced["peak_rss"],
                        "exit": traced["exit"], "outcomes": outcomes(traced["stdout"]),
                        "notes": [ln for ln in traced["stderr"].splitlines()
                                  if ln.startswith("flowtrace:")]}
    result["same_outcome"] = (plain["exit"] == traced["exit"]
                              and result["plain"]["outcomes"] == result["traced"]["outcomes"])
    if session_memory:
        log("session memory (suite_memory.py: plain and traced in-process runs)")
        opts = {o.lstrip("-").replace("-", "_"): True for o in options}
        p = suite_memory.run(py, tree, src, "plain", opts, tests)
        t = suite_memory.run(py, tree, src, "traced", opts, tests)
        result["session"] = {"rss_over_plain": t["rss"] - p["rss"], "records": t["records"],
                             "engine_bytes": t["engine_bytes"],
                             "same_outcome": p["exit"] == t["exit"]}

    formats: dict[str, dict] = {}
    rd = read_back(py, ftrace, env)
    counts = rd["load"]
    result.update(calls=counts["calls"], events=counts["events"], records=counts["records"],
                  threads=counts["threads"])
    formats["ftrace"] = {"bytes": ftrace.stat().st_size, "read": rd}
    for fmt, suffix in (("json", ".json"), ("chrome", ".chrome.json"),
                        ("perfetto", ".pftrace"), ("text", ".txt"), ("text-nofold", ".nofold.txt")):
        out = base.with_suffix(suffix)
        log(f"convert to {fmt}")
        if fmt.startswith("text"):
            argv = [str(py), "-m", "flowtrace", "show", str(ftrace), "-o", str(out)]
            argv += ["--no-fold"] if fmt == "text-nofold" else []
        else:
            argv = [str(py), "-c", CONVERT, str(ftrace), str(out), fmt]
        w = measure(argv, env=env)
        if w["exit"] != 0 or not out.exists():
            formats[fmt] = {"error": w["stderr"][-1000:]}
            out.unlink(missing_ok=True)
            continue
        formats[fmt] = {"bytes": out.stat().st_size,
                        "write": {"seconds": w["seconds"], "peak_rss": w["peak_rss"]}}
        if fmt == "json":
            log("read back the json")
            formats[fmt]["read"] = read_back(py, out, env)
            got = formats[fmt]["read"]["load"]
            formats[fmt]["same_calls"] = got["calls"] == counts["calls"]
        out.unlink()
    ftrace.unlink()
    result["formats"] = formats
    result["recording_rss"] = traced["peak_rss"] - plain["peak_rss"]
    return result


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 1e10 else f"{n / 1e9:,.1f} GB"


def _cell(m: dict | None) -> str:
    return f"{m['seconds']:.2f} s / {m['peak_rss'] / 1e6:,.0f} MB" if m else ""


def _head_cell(m: dict | None) -> str:
    return f"{m['seconds']:.2f} s / {m['ended']:.2f} s" if m else ""


def table(r: dict) -> str:
    """The figures of run_suite as readable text."""
    ev = max(r["events"], 1)
    p, t = r["plain"], r["traced"]
    lines = [
        f"{r['suite']} ({r['tree']}, Python {r['python']}, options: {r['options']}, "
        f"tests: {' '.join(r['tests'])})",
        f"  outcomes: untraced {p['outcomes']} (exit {p['exit']}), traced {t['outcomes']} "
        f"(exit {t['exit']}): {'same' if r['same_outcome'] else 'DIFFERENT'}",
        f"  recorded: {r['events']:,} events, {r['calls']:,} calls, {r['records']:,} records, "
        f"{r['threads']} thread(s)",
        f"  time: untraced {p['seconds']:.1f} s, traced {t['seconds']:.1f} s "
        f"(x{t['seconds'] / max(p['seconds'], 1e-9):.1f}, including writing the .ftrace)",
        f"  peak RSS: untraced {_mb(p['peak_rss'])}, traced {_mb(t['peak_rss'])}: "
        f"recording {_mb(r['recording_rss'])} = {r['recording_rss'] / ev:.1f} B/event",
    ]
    if "session" in r:
        s = r["session"]
        lines.append(f"  in-process (suite_memory.py): RSS over plain {_mb(s['rss_over_plain'])} "
                     f"= {s['rss_over_plain'] / max(s['records'], 1):.1f} B/record, engine "
                     f"{s['engine_bytes'] / max(s['records'], 1):.1f} B/record "
                     f"({s['records']:,} records); same outcome: {s['same_outcome']}")
    for n in t.get("notes", []):
        lines.append(f"  {n}")
    head = ["format", "size", "B/event", "write (s / peak RSS)", "load", "load + tree",
            "show | head (10 lines / ended)", "show > /dev/null", "stats > /dev/null"]
    rows = []
    for fmt, f in r["formats"].items():
        if "error" in f:
            rows.append([fmt, "error: " + f["error"].strip().splitlines()[-1][:60], "", "", "",
                         "", "", "", ""])
            continue
        rd = f.get("read", {})
        rows.append([fmt, _mb(f["bytes"]), f"{f['bytes'] / ev:.1f}",
                     _cell(f.get("write")) or "(recorded)", _cell(rd.get("load")),
                     _cell(rd.get("tree")), _head_cell(rd.get("head")), _cell(rd.get("show")),
                     _cell(rd.get("stats"))])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt_row = lambda row: "  " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths))  # noqa: E731
    lines += ["", fmt_row(head), fmt_row(["-" * w for w in widths])]
    lines += [fmt_row(row) for row in rows]
    js = r["formats"].get("json", {})
    if "same_calls" in js:
        lines.append(f"  json read back: {js['read']['load']['calls']:,} calls "
                     f"({'same as' if js['same_calls'] else 'DIFFERENT from'} the .ftrace)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="jinja2", choices=sorted(SUITES))
    ap.add_argument("--tests", nargs="*", help="test paths (default: the whole suite)")
    ap.add_argument("--options", default="",
                    help='flowtrace run options, e.g. --options="--timing --args"')
    ap.add_argument("--session-memory", action="store_true",
                    help="also suite_memory.py's in-process RSS growth (two more runs)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false")
    ap.add_argument("--out-dir", type=Path, default=WORK / "sizes",
                    help="where the files are written (and deleted)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a = ap.parse_args()
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,  # noqa: E731
                            flush=True)
    r = run_suite(a.suite, a.tests or SUITES[a.suite]["tests"], a.options.split(), a.out_dir,
                  warmup=a.warmup, session_memory=a.session_memory, log=log)
    print(table(r))
    if a.json:
        print(json.dumps(r))
    if not r["same_outcome"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
