"""What FlowTraceSpanProcessor costs a request-like workload.

Batches of N requests, each a root span around a handler that makes a few
hundred Python calls (parse a query, validate it, build a few objects,
price an order, render a reply: about 0.1-0.3 ms untraced), exported
through a SimpleSpanProcessor to an exporter that drops them. Modes,
measured side by side (one batch of each mode per round; the fastest
batch of many rounds: short batches dodge the load of a shared machine):

- ``bare``: the handler alone, no span;
- ``otel``: a root span per request (the reference: what the service pays
  for OpenTelemetry already);
- ``otel+ft``: and FlowTraceSpanProcessor (min_duration 1 ms: the handler's
  calls are shorter, so it records, copies each span's calls and makes no
  child span); the session starts and stops with each request, as no other
  root span is open;
- ``otel+ft busy``: the same while another thread holds a root span open
  (a busy service: the session runs all along, each request only marks
  and copies);
- ``otel+ft keep``: ``keep_running=True``: the session runs from the
  first request on, never stopped between requests;
- ``otel+ft children``: min_duration 0 with max_spans 20: 20 child spans
  per request (what making the spans costs);
- ``otel+ft file``: with ``directory``: each request's recording written to
  a file (.ftrace);
- ``async otel`` / ``async otel+ft``: the requests as asyncio tasks, 20 at
  a time, each awaiting between its steps (the processor keeps each
  task's steps).

Usage: python bench/otel_overhead.py [--requests N] [--rounds R] (a batch
of N requests, R rounds)
(run it with the venv that has opentelemetry-sdk and flowtrace built).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import flowtrace
from flowtrace.otel import FlowTraceSpanProcessor

# --------------------------------------------------------------------------
# the request


class Item:
    def __init__(self, sku: str, qty: int, price: int) -> None:
        self.sku = sku
        self.qty = qty
        self.price = price

    def total(self) -> int:
        return self.qty * self.price


def parse_pair(pair: str) -> tuple[str, str]:
    k, _, v = pair.partition("=")
    return k, v


def parse_query(q: str) -> dict[str, str]:
    out = {}
    for pair in q.split("&"):
        k, v = parse_pair(pair)
        out[k] = v
    return out


def check_field(params: dict[str, str], name: str) -> str:
    if name not in params:
        raise KeyError(name)
    return params[name]


def validate(params: dict[str, str]) -> int:
    n = 0
    for name in params:
        check_field(params, name)
        n += 1
    return n


def price_of(sku: str) -> int:
    return 100 + sum(ord(c) for c in sku) % 50


def make_item(sku: str, qty: str) -> Item:
    return Item(sku, int(qty), price_of(sku))


def discount(total: int) -> int:
    return total // 10 if total > 1000 else 0


def price_order(items: list[Item]) -> int:
    total = 0
    for it in items:
        total += it.total()
    return total - discount(total)


def render_line(it: Item) -> str:
    return f"{it.sku}:{it.qty}x{it.price}"


def render(items: list[Item], total: int) -> str:
    return ";".join(render_line(it) for it in items) + f"|{total}"


def handle(i: int) -> str:
    q = "&".join(f"sku{k}={(i + k) % 7 + 1}" for k in range(40))
    params = parse_query(q)
    validate(params)
    items = [make_item(k, v) for k, v in params.items()]
    return render(items, price_order(items))


async def handle_async(i: int) -> str:
    params = parse_query("&".join(f"sku{k}={(i + k) % 7 + 1}" for k in range(40)))
    await asyncio.sleep(0)
    validate(params)
    items = [make_item(k, v) for k, v in params.items()]
    await asyncio.sleep(0)
    return render(items, price_order(items))


# --------------------------------------------------------------------------
# modes


class Drop(SpanExporter):
    def export(self, spans):  # type: ignore[no-untyped-def]
        return SpanExportResult.SUCCESS


def provider(**ft: object) -> tuple[TracerProvider, object]:
    p = TracerProvider()
    if ft:
        p.add_span_processor(FlowTraceSpanProcessor(p, **ft))
    p.add_span_processor(SimpleSpanProcessor(Drop()))
    return p, p.get_tracer("bench")


def run_bare(n: int, _tracer: object) -> None:
    for i in range(n):
        handle(i)


def run_spans(n: int, tracer) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with tracer.start_as_current_span("request"):
            handle(i)


def run_async(n: int, tracer) -> None:  # type: ignore[no-untyped-def]
    async def one(i: int) -> None:
        with tracer.start_as_current_span("request"):
            await handle_async(i)

    async def main() -> None:
        for base in range(0, n, 20):
            await asyncio.gather(*(one(i) for i in range(base, min(n, base + 20))))

    asyncio.run(main())


class Busy:
    """Another thread holding a root span open (the session runs all along)."""

    def __init__(self, tracer) -> None:  # type: ignore[no-untyped-def]
        self.tracer = tracer
        self.opened = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.hold, daemon=True)

    def hold(self) -> None:
        with self.tracer.start_as_current_span("long-job"):
            self.opened.set()
            self.done.wait()

    def __enter__(self) -> "Busy":
        self.thread.start()
        self.opened.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=200,
                    help="requests per batch (default 200)")
    ap.add_argument("--rounds", type=int, default=25,
                    help="batches of each mode, interleaved (default 25)")
    args = ap.parse_args()
    n = args.requests
    tmp = tempfile.mkdtemp(prefix="flowtrace-otel-bench-")
    try:
        # each mode gets a new provider every round (a keep_running one
        # holds the session until it shuts down)
        modes = {
            "bare": (run_bare, {}),
            "otel": (run_spans, None),
            "otel+ft": (run_spans, {"min_duration": 0.001}),
            "otel+ft busy": (run_spans, {"min_duration": 0.001}),
            "otel+ft keep": (run_spans, {"min_duration": 0.001, "keep_running": True}),
            "otel+ft children": (run_spans, {"min_duration": 0, "max_spans": 20}),
            "otel+ft file": (run_spans, {"min_duration": 0.001, "directory": tmp}),
            "async otel": (run_async, None),
            "async otel+ft": (run_async, {"min_duration": 0.001}),
        }
        with flowtrace.tracing() as t:
            handle(0)
        calls = len(t)
        best = {m: float("inf") for m in modes}
        for _ in range(args.rounds):
            for name, (fn, ft) in modes.items():
                if name.endswith("file"):
                    shutil.rmtree(tmp, ignore_errors=True)
                    os.makedirs(tmp)
                p, tracer = provider(**(ft or {}))
                busy = Busy(tracer) if name.endswith("busy") else None
                if busy is not None:
                    busy.__enter__()
                t0 = time.perf_counter()
                fn(n, tracer)
                dt = time.perf_counter() - t0
                if busy is not None:
                    busy.__exit__()
                p.shutdown()
                best[name] = min(best[name], dt)
        files = len(os.listdir(tmp))
        size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"FlowTraceSpanProcessor overhead: requests of {calls} calls each, "
          f"fastest batch of {n} of {args.rounds} rounds (modes interleaved), "
          f"CPython {platform.python_version()}")
    print(f"{'mode':<18} {'per request':>12} {'vs otel':>8} {'vs bare':>8}")
    for name, dt in best.items():
        ref = best["async otel"] if name.startswith("async") else best["otel"]
        vs_bare = "" if name.startswith("async") else f"{dt / best['bare']:.2f}x"
        print(f"{name:<18} {dt / n * 1e6:>9.1f} us {dt / ref:>7.2f}x {vs_bare:>8}")
    print(f"(otel+ft file: {files} files, {size / max(files, 1) / 1024:.1f} KiB each; "
          f"otel+ft - otel = {(best['otel+ft'] - best['otel']) / n * 1e6:.1f} us a request, "
          f"{(best['otel+ft'] - best['otel']) / n / calls * 1e9:.0f} ns a call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
