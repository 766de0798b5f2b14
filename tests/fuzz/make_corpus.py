"""Write the fuzz seed corpus (tests/fuzz/corpus/): small valid traces
recorded from small programs, and hand-made invalid ones. Re-run after a
format change: python tests/fuzz/make_corpus.py

Each valid file is a real ``flowtrace.save`` output (the writer's key order
and line layout, so the fuzzer starts from what real files look like) with
this file's directory stripped from the paths; each stays under 4 KB.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from pathlib import Path

import flowtrace
from flowtrace import start_tracing, stop_tracing

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
LIMIT = 4096


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def numbers():
    yield 1
    yield 2
    yield 3


def generators():
    g = numbers()
    next(g)
    g.close()
    kept = numbers()
    next(kept)
    next(kept)
    return sum(numbers())


def parse(text):
    try:
        return int(text)
    except ValueError:
        return 0


def fails(x):
    raise KeyError(x)


def passes_on(x):
    try:
        fails(x)
    except KeyError:
        raise


def exceptions():
    parse("x")
    try:
        passes_on("k")
    except KeyError:
        pass
    g = numbers()
    next(g)
    try:
        g.throw(ValueError("in"))
    except ValueError:
        pass


def threads():
    ts = [threading.Thread(target=fib, args=(2,), name=f"worker-{i}") for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


async def fetch(text):
    await asyncio.sleep(0)
    return parse(text)


async def amain():
    task = asyncio.create_task(fetch("x"), name="fetcher")
    both = await asyncio.gather(fetch("1"), fetch("2"))
    return await task, both


def run_async():
    return asyncio.run(amain())


def unfinished():
    start_tracing(timing=True)
    fib(1)
    return stop_inside()


def stop_inside():
    fib(2)
    return stop_tracing()


def record(fn, **options):
    start_tracing(**options)
    try:
        fn()
    finally:
        trace = stop_tracing()
    return trace


def write(name: str, trace) -> None:
    path = CORPUS / name
    flowtrace.save(trace, path, meta={"command": "corpus"})
    data = path.read_bytes().replace(str(HERE).encode() + b"/", b"")
    data = data.replace(json.dumps(str(HERE))[1:-1].encode() + b"/", b"")
    if len(data) > LIMIT:
        raise SystemExit(f"{name}: {len(data)} bytes, more than {LIMIT}")
    path.write_bytes(data)


def write_ftrace(name: str, trace) -> None:
    """A binary recording (docs/ftrace-format.md): paths are inside
    length-prefixed, checksummed texts, so they stay as recorded."""
    path = CORPUS / name
    flowtrace.save(trace, path, format="ftrace")
    if path.stat().st_size > LIMIT:
        raise SystemExit(f"{name}: {path.stat().st_size} bytes, more than {LIMIT}")


INVALID = {
    # not JSON, or not a trace
    "bad_empty.json": b"",
    "bad_truncated.json": b'{"format":"flowtrace","version":1,"functions":[{"id":0,"name":"f"',
    "bad_not_utf8.json": b'{"format":"flowtrace","version":1,"meta":{"x":"\xff\xfe"}}',
    "bad_bom.json": b'\xef\xbb\xbf{"format":"flowtrace","version":1,"functions":[],"threads":[],"calls":[]}',
    "bad_array.json": b"[1, 2, 3]",
    "bad_chrome.json": b'{"traceEvents":[{"ph":"X","name":"f","ts":0,"dur":1}]}',
    "bad_version.json": b'{"format":"flowtrace","version":2,"functions":[],"threads":[],"calls":[]}',
    "bad_version_float.json": b'{"format":"flowtrace","version":1.0,"functions":[],"threads":[],"calls":[]}',
    "bad_nan.json": b'{"format":"flowtrace","version":1,"ncalls":NaN,"functions":[],"threads":[],"calls":[]}',
    "bad_bigint.json": b'{"format":"flowtrace","version":1,"ncalls":' + b"9" * 5000 + b',"functions":[],"threads":[],"calls":[]}',
    "bad_deep.json": b'{"format":"flowtrace","version":1,"meta":' + b"[" * 3000 + b"]" * 3000 + b"}",
    "bad_ncalls.json": b'{"format":"flowtrace","version":1,"ncalls":[[[1]]],"functions":[],"threads":[],"calls":[]}',
    # the body, checked in C
    "bad_functions_type.json": b'{"format":"flowtrace","version":1,"functions":{},"threads":[],"calls":[]}',
    "bad_function_line.json": b'{"format":"flowtrace","version":1,"functions":[{"id":0,"name":"f","line":-1}],"threads":[],"calls":[]}',
    "bad_thread_ident.json": b'{"format":"flowtrace","version":1,"functions":[],"threads":[{"id":0,"name":"t","ident":true}],"calls":[]}',
    "bad_thread_dropped.json": b'{"format":"flowtrace","version":1,"functions":[],"threads":[{"id":0,"name":"t","ident":1,"dropped":-5}],"calls":[]}',
}

# a valid two-thread skeleton whose calls are then broken one way each
_HEAD = ('{"format":"flowtrace","version":1,"timing":true,"results":true,\n'
         '"functions":[\n{"id":0,"name":"<module>","module":"__main__","file":"m.py","line":1},\n'
         '{"id":1,"name":"g","module":"__main__","file":"m.py","line":3}],\n'
         '"threads":[\n{"id":0,"ident":1,"name":"MainThread"},\n{"id":1,"ident":2,"name":"T"}],\n'
         '"calls":[\n')
_CALLS = {
    "bad_parent_marker.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return"}',
        '{"id":1,"parent":0,"thread":0,"function":0,"kind":"raise","end":"return","exception":"E: x"}',
        '{"id":2,"parent":1,"thread":0,"function":1,"kind":"call","end":"return"}'],
    "bad_parent_other_thread.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return"}',
        '{"id":1,"parent":0,"thread":1,"function":1,"kind":"call","end":"return"}'],
    "bad_parent_closed.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return"}',
        '{"id":1,"parent":0,"thread":0,"function":1,"kind":"call","end":"return"}',
        '{"id":2,"parent":null,"thread":0,"function":1,"kind":"call","end":"return"}',
        '{"id":3,"parent":1,"thread":0,"function":1,"kind":"call","end":"return"}'],
    "bad_threads_order.json": [
        '{"id":0,"parent":null,"thread":1,"function":0,"kind":"call","end":"return"}',
        '{"id":1,"parent":null,"thread":0,"function":1,"kind":"call","end":"return"}'],
    "bad_origin_marker.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return"}',
        '{"id":1,"parent":0,"thread":0,"function":1,"kind":"handled","end":"return","exception":"E"}',
        '{"id":2,"parent":0,"thread":0,"function":1,"kind":"resume","end":"return","origin":1}'],
    "bad_origin_self.json": [
        '{"id":0,"parent":null,"thread":0,"function":1,"kind":"resume","end":"yield","origin":0}'],
    "bad_origin_on_call.json": [
        '{"id":0,"parent":null,"thread":0,"function":1,"kind":"call","end":"yield"}',
        '{"id":1,"parent":null,"thread":0,"function":1,"kind":"call","end":"yield","origin":0}'],
    "bad_times.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return","t0":10,"t1":5}'],
    "bad_words.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"jump","end":"return"}'],
    "bad_marker_end.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return"}',
        '{"id":1,"parent":0,"thread":0,"function":0,"kind":"reraise","end":"yield","exception":"E"}'],
    "bad_flags.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return","cut":true}'],
    "bad_left_suspended.json": [
        '{"id":0,"parent":null,"thread":0,"function":1,"kind":"call","end":"return","left_suspended":true}'],
    "bad_id.json": [
        '{"id":1,"parent":null,"thread":0,"function":0,"kind":"call","end":"return"}'],
    "bad_function_index.json": [
        '{"id":0,"parent":null,"thread":0,"function":2,"kind":"call","end":"return"}'],
    "bad_text_type.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return","result":5}'],
    # valid, hand-made: what recordings rarely give in a few calls
    "valid_flight_cut.json": [
        '{"id":0,"parent":null,"thread":0,"function":0,"kind":"call","end":"return","began_before":true,"cut":true}',
        '{"id":1,"parent":0,"thread":0,"function":1,"kind":"resume","end":"yield","origin":null,"result":"2","left_suspended":true,"t0":5,"t1":9}',
        '{"id":2,"parent":0,"thread":0,"function":1,"kind":"task","end":"return","args":"Task-2","result":"Task-1"}',
        '{"id":3,"parent":2,"thread":0,"function":1,"kind":"call","end":"unfinished","args":"","t0":11}',
        '{"id":4,"parent":null,"thread":1,"function":1,"kind":"resume","end":"raise","origin":3,"exception":"E: e","t0":1,"t1":2}',
        '{"id":5,"parent":4,"thread":1,"function":1,"kind":"raise","end":"return","exception":"E: e","t0":2}'],
}


def invalid() -> None:
    for name, data in INVALID.items():
        (CORPUS / name).write_bytes(data)
    for name, calls in _CALLS.items():
        text = _HEAD + ",\n".join(calls) + "]}\n"
        if name.startswith("valid_"):
            text = text.replace('"name":"MainThread"}', '"name":"MainThread","dropped":12}')
        (CORPUS / name).write_bytes(text.encode())


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    write("valid_fib_timing_args.json", record(lambda: fib(3), timing=True, args=True))
    write("valid_fib_noresults.json", record(lambda: fib(3), results=False))
    write("valid_generators.json", record(generators, args=True))
    write("valid_exceptions.json", record(exceptions, timing=True))
    write("valid_threads.json", record(threads))
    write("valid_asyncio.json", record(run_async, args=True))
    write("valid_asyncio_timing.json", record(run_async, timing=True))
    write("valid_unfinished.json", unfinished())
    write_ftrace("valid_fib_timing_args.ftrace", record(lambda: fib(3), timing=True, args=True))
    write_ftrace("valid_generators.ftrace", record(generators, args=True))
    write_ftrace("valid_exceptions.ftrace", record(exceptions, timing=True))
    write_ftrace("valid_threads.ftrace", record(threads))
    write_ftrace("valid_asyncio.ftrace", record(run_async, args=True))
    write_ftrace("valid_flight.ftrace", record(lambda: [fib(4) for _ in range(20)], max_events=40))
    write("valid_empty.json", record(lambda: None))
    invalid()
    total = sum(p.stat().st_size for p in CORPUS.iterdir())
    print(f"{len(list(CORPUS.iterdir()))} files, {total} bytes in {CORPUS}")


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    main()
