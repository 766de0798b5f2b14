"""FlowTraceSpanProcessor: where a request's time went, as OpenTelemetry spans.

    pip install 'flowtrace[otel]'     # the OpenTelemetry SDK
    python examples/otel_example.py

A small "service" handles three requests: one on the main thread, two as
concurrent asyncio tasks. Each request is a root span; FlowTrace adds a
child span for every call that took at least 5 ms, and writes each
request's whole recording to a .ftrace file named on the span. The
exported spans are printed as an indented tree (an in-memory exporter
stands for the backend).
"""
from __future__ import annotations

import asyncio
import tempfile
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowtrace.otel import FlowTraceSpanProcessor

exporter = InMemorySpanExporter()
provider = TracerProvider()
traces_dir = tempfile.mkdtemp(prefix="flowtrace-otel-")
provider.add_span_processor(
    FlowTraceSpanProcessor(provider, min_duration=0.005, directory=traces_dir))
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("example")


# --- the service --------------------------------------------------------

class Database:
    def query(self, sql: str) -> list[int]:
        time.sleep(0.02)  # the slow part of the request
        return [1, 2, 3]


def check_stock(items: list[int]) -> bool:
    return all(i > 0 for i in items)


def charge(amount: int) -> None:
    time.sleep(0.01)
    if amount > 100:
        raise ValueError(f"card declined for {amount}")


def checkout(db: Database, amount: int) -> str:
    items = db.query("SELECT id FROM cart")
    check_stock(items)
    try:
        charge(amount)
    except ValueError:
        return "declined"
    return "paid"


def handle_checkout(amount: int) -> str:
    with tracer.start_as_current_span("POST /checkout"):
        return checkout(Database(), amount)


async def fetch_profile(user: int) -> dict[str, int]:
    await asyncio.sleep(0.01 * user)  # another service, awaited
    return {"user": user}


def render(profile: dict[str, int]) -> str:
    time.sleep(0.006)
    return f"<h1>{profile['user']}</h1>"


async def handle_profile(user: int) -> str:
    with tracer.start_as_current_span(f"GET /profile/{user}"):
        profile = await fetch_profile(user)
        return render(profile)


async def serve() -> None:
    await asyncio.gather(handle_profile(2), handle_profile(3))


# --- run it and show what the backend would get -------------------------

def show(spans) -> None:  # type: ignore[no-untyped-def]
    children: dict[int | None, list] = {}
    for s in spans:
        children.setdefault(s.parent.span_id if s.parent else None, []).append(s)

    def walk(parent: int | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s.start_time):
            ms = (s.end_time - s.start_time) / 1e6
            a = s.attributes
            where = (f"  {a['code.namespace']}:{a['code.lineno']}"
                     if "code.lineno" in a else "")
            error = f"  !! {s.events[0].attributes['exception.message']}" if s.events else ""
            print(f"{'  ' * depth}{s.name}  {ms:.1f} ms{where}{error}")
            if "flowtrace.file" in a:
                print(f"{'  ' * depth}  (whole story: flowtrace show {a['flowtrace.file']})")
            walk(s.context.span_id, depth + 1)

    walk(None, 0)


if __name__ == "__main__":
    handle_checkout(250)
    asyncio.run(serve())
    provider.shutdown()
    show(exporter.get_finished_spans())
