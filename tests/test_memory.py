"""Memory: what a session costs is in proportion to the events recorded,
not to the threads that ran, and a dropped trace gives it back.

A thread pool or a thread-per-request server runs many short threads: each
one that runs traced code gets a buffer. The soak test runs 5,000 short
threads (50 at a time), each making two traced calls, in a fresh
interpreter, and measures:

- RSS (``/proc/self/statm``, after ``gc.collect()`` and glibc's
  ``malloc_trim``) while recording: well under 100 MB for all of them
  (about 8 KiB a thread while the session runs; a fixed 2 MiB first chunk
  per thread, huge-page backed, made it 10 GB). The loop stops as soon as the
  bound is passed, so a regression fails fast instead of exhausting memory;
- the engine's own count of what a stopped trace holds (``Trace.nbytes``):
  8 bytes a record plus a few hundred bytes a thread;
- RSS once the session stopped (under 10 MB: the records, the value texts
  and a few hundred bytes a thread; what only recording needed is freed, and
  what stays is copied out of the recording threads' malloc arenas so that
  their pages go back), and once the trace is dropped (under 8 MB);
- that the module keeps nothing once the session stops (``_core._memory()``:
  no session buffer, no spare big chunk), and that the trace is freed when
  its last reference goes (the module's last trace moves on to the next
  session's).

Under AddressSanitizer (``make asan``) RSS says nothing about FlowTrace (the
sanitizer's shadow memory and quarantine): only the engine's counts are
checked there.
"""
from __future__ import annotations

import json

from conftest import run_py

SOAK = r"""
import ctypes, gc, json, os, sys, threading, weakref
import flowtrace
from flowtrace import _core

PAGE = os.sysconf("SC_PAGE_SIZE")
ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
LIMIT = float("inf") if ASAN else 100 << 20  # ASan's own memory: no bound
N, BATCH = 5000, 50

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE

try:
    _trim = ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):
    _trim = None

def settle():
    gc.collect()
    if _trim is not None:
        _trim(0)

def leaf(x):
    return [x]  # mutable: its text goes to the thread's value store

def work(x):
    return len(leaf(x)) + 1

def batch(lo, hi):
    ts = [threading.Thread(target=work, args=(i,)) for i in range(lo, hi)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()

def soak():
    # returns (threads run, peak RSS growth while recording)
    ran = peak = 0
    for lo in range(0, N, BATCH):
        batch(lo, lo + BATCH)
        ran = lo + BATCH
        peak = max(peak, rss() - base)
        if peak > LIMIT:
            break  # fail fast: do not exhaust the machine
    return ran, peak

memory = getattr(_core, "_memory", lambda: None)
batch(0, 200)  # thread machinery warmed up untraced
out = {}
settle()
base = rss()
flowtrace.start_tracing()
out["ran"], out["peak"] = soak()
out["during"] = memory()
t = flowtrace.stop_tracing()
out["after_stop"] = memory()
settle()
out["rss_after_stop"] = rss() - base
out["calls"] = sum(1 for e in t if e.func_name in ("work", "leaf"))
out["threads"] = len(t.threads())
out["nrecords"] = t._c().nrecords
out["nbytes"] = getattr(t._c(), "nbytes", None)
ref = weakref.ref(t._c())
del t
flowtrace.start_tracing()  # the module's last trace moves on to an empty one
flowtrace.stop_tracing()
settle()
out["freed"] = ref() is None
out["after_drop"] = memory()
out["rss_after_drop"] = rss() - base
out["asan"] = ASAN
print(json.dumps(out))
"""


def test_many_short_threads_cost_memory_in_proportion_to_their_events():
    r = run_py(SOAK)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    n = 5000
    if not out["asan"]:
        assert out["ran"] == n and out["peak"] < 100 << 20, (
            f"RSS grew by {out['peak'] / 2**20:.0f} MiB after {out['ran']} threads "
            f"({out['peak'] / out['ran'] / 1024:.0f} KiB a thread)")
        # once stopped, what stays is the events (about 1.4 MB here, with
        # the value texts); once dropped, nothing
        assert out["rss_after_stop"] < 10 << 20, out["rss_after_stop"] / 2**20
        assert out["rss_after_drop"] < 8 << 20, out["rss_after_drop"] / 2**20
    assert out["ran"] == n
    assert out["calls"] == 2 * n  # every thread recorded
    assert out["threads"] == n + 1  # and the main thread (soak, batch)
    # while recording: a few KiB a thread (a verdict cache and a first chunk)
    assert out["during"]["session_threads"] == n + 1  # the workers and the main thread
    assert out["during"]["session"] < 16 * 1024 * (n + 1)
    # once stopped: 8 bytes a record and a few hundred bytes a thread
    assert out["nbytes"] <= 8 * out["nrecords"] + 512 * (n + 1), out
    # the module keeps nothing of the session, and the trace frees its part
    assert out["after_stop"] == {"session": 0, "session_threads": 0, "spare": 0}
    assert out["freed"]
    assert out["after_drop"] == {"session": 0, "session_threads": 0, "spare": 0}


LONG = r"""
import json, threading
import flowtrace
from flowtrace import _core

def f(i):
    return i

def loop(n):
    for i in range(n):
        f(i)

def run(**options):
    flowtrace.start_tracing(**options)
    th = threading.Thread(target=loop, args=(400_000,))
    th.start()
    th.join()
    loop(3)
    t = flowtrace.stop_tracing()
    return t._c().nrecords, t.nbytes, t.dropped

out = {"grow": run(), "ring": run(max_events=100_000)}
out["spare"] = _core._memory()["spare"]
print(json.dumps(out))
"""


def test_long_threads_hold_their_records_and_little_more():
    # 800k records (6.4 MB) on one thread, a dozen on another: big chunks are
    # reached by doubling; the short thread costs almost nothing; in ring mode
    # what is kept stays near max_events
    r = run_py(LONG)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    nrec, nbytes, dropped = out["grow"]
    assert nrec >= 800_000 and dropped == 0
    # at most one big chunk (2 MiB) partly empty, plus small change
    assert 8 * nrec <= nbytes <= 8 * nrec + (2 << 20) + (64 << 10), out
    nrec, nbytes, dropped = out["ring"]
    assert dropped > 0 and 100_000 <= nrec <= 200_000
    assert nbytes <= 8 * 200_000 + (2 << 20), out
    # the freed big chunks wait for the next session, a bounded number of them
    assert out["spare"] <= 8 * (2 << 20)


SHARED_TEXTS = r"""
import gc, json, tracemalloc
import flowtrace

def day():
    return {"day": 1, "month": "Jan"}  # mutable: its text is made at the event

N = 20000
gc.collect()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
flowtrace.start_tracing()
for _ in range(N):
    day()
t = flowtrace.stop_tracing()
gc.collect()
same = tracemalloc.get_traced_memory()[0] - before
texts = {e.result_repr for e in t}
print(json.dumps({"same": same, "texts": sorted(texts), "n": len(t)}))
"""


def test_equal_value_texts_are_kept_once():
    """20,000 results with the same text (a dict, formatted at each event)
    keep one str, not 20,000 (80 bytes each, which tracemalloc sees; the
    records and value-store entries come from malloc and it does not)."""
    proc = run_py(SHARED_TEXTS)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["n"] == 20000
    assert r["texts"] == ["{'day': 1, 'month': 'Jan'}"]
    assert r["same"] < 20000 * 8, r["same"]


TRACEMALLOC = r"""
import gc, json, tracemalloc
import flowtrace

def leaf(i):
    return i & 7  # a small int: no object kept

N = 100000
flowtrace.start_tracing()
gc.collect()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
for i in range(N):
    leaf(i)
grown = tracemalloc.get_traced_memory()[0] - before
tracemalloc.stop()
t = flowtrace.stop_tracing()
print(json.dumps({"grown": grown, "records": t._core.nrecords}))
"""


def test_tracemalloc_does_not_count_flowtrace_s_records():
    """A program that measures its own memory with tracemalloc (a test of
    bounded memory, run under `pytest --flowtrace`) must not see the
    records FlowTrace keeps: they are not the program's. 200,000 records
    (1.6 MB) were counted before buffers came from malloc."""
    proc = run_py(TRACEMALLOC)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["records"] >= 200000
    assert r["grown"] < 64 * 1024, r
