"""Self-test of the floor module (bench/floor/floormod.c).

    python bench/floor/selftest.py

Checks: start/stop bookkeeping, tool-id fallback, that callbacks are really
unregistered, user vs stdlib verdicts, reference counts of code objects, and that
traced programs behave the same (generators, exceptions, throw(), asyncio); then
the clock option (start(prefixes, clock=True)): one clock read per event of user
code, none for skipped code, none without the option, timestamps really stored
in the ring (clock_reads(), clock_last()).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import build_floor  # noqa: E402

M = sys.monitoring
EVENTS = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        try:
            yield i
        except KeyError:
            yield -1


def boom(depth: int) -> None:
    if depth == 0:
        raise KeyError(depth)
    boom(depth - 1)


def program() -> list:
    out = [fib(15)]
    g = gen(5)
    out.append(next(g))
    out.append(g.throw(KeyError("x")))
    out.extend(g)
    try:
        boom(5)
    except KeyError as e:
        out.append(repr(e))
    out.append(json.dumps({"a": [1, 2, 3]}))  # stdlib code: disabled

    async def leaf(i):
        await asyncio.sleep(0)
        return i

    async def main():
        return sum(await asyncio.gather(*(leaf(i) for i in range(20))))

    out.append(asyncio.run(main()))
    return out


def used_tools() -> dict:
    return {i: M.get_tool(i) for i in range(6) if M.get_tool(i) is not None}


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok   {what}")


def check_clock(floormod, prefixes: tuple[str, ...], expected: list, before: dict) -> None:
    """start(prefixes, clock=True): one clock read per event of user code.

    Each run starts with sys.monitoring.restart_events(): locations DISABLEd by a
    previous run (the prefix "/" one above disables fib) would fire no event."""
    print(f"clock source: {floormod.CLOCK_SOURCE}")
    check(floormod.CLOCK_SOURCE in ("rdtsc", "clock_gettime(CLOCK_MONOTONIC)"), "CLOCK_SOURCE is known")

    # Without the option: the program runs, no clock is read, the ring stays empty.
    M.restart_events()
    floormod.start(prefixes)
    got = program()
    stats = floormod.stop()
    check(got == expected and floormod.clock_reads() == 0 and floormod.clock_last() == 0
          and stats["clock"] is False and stats["clock_reads"] == 0, "clock=False reads no clock")
    M.restart_events()
    floormod.start(prefixes, clock=False)
    fib(10)
    floormod.stop()
    check(floormod.clock_reads() == 0, "clock=False given explicitly: no read either")

    # Exactly one read per event: fib(15) is 1,973 calls = 3,946 PY_START + PY_RETURN
    # (main() itself fires no event while it runs; start() and stop() are C).
    M.restart_events()
    floormod.start(prefixes, clock=True)
    fib(15)
    stats = floormod.stop()
    first = floormod.clock_last()
    check(floormod.clock_reads() == 3946 and stats["clock_reads"] == 3946 and stats["clock"] is True,
          f"clock=True: one read per event of fib(15) ({floormod.clock_reads()} for 3,946 events)")
    check(first > 0, f"the ring holds the timestamps (last {first})")
    check(not floormod.active() and floormod.clock_reads() == 3946, "clock_reads() readable after stop()")

    # More reads than the ring has slots (fib(17): 5,167 calls, 10,334 events): wraps,
    # keeps counting; the last timestamp is later than the previous run's.
    M.restart_events()
    floormod.start(prefixes, clock=True)
    fib(17)
    floormod.stop()
    check(floormod.clock_reads() == 10334, f"ring wraps, every read counted ({floormod.clock_reads()})")
    check(floormod.clock_last() > first, "timestamps move forward from run to run")

    # Skipped code reads no clock; the full program behaves the same with the clock on.
    M.restart_events()
    floormod.start(("/",), clock=True)
    fib(12)
    floormod.stop()
    check(floormod.clock_reads() == 0 and floormod.clock_last() == 0, "skipped code reads no clock")
    M.restart_events()
    floormod.start(prefixes, clock=True)
    got = program()
    floormod.stop()
    check(got == expected and floormod.clock_reads() > 3946,
          f"clock=True: same results ({floormod.clock_reads()} reads)")

    # start() resets the count; the clock is a keyword-only option.
    M.restart_events()
    floormod.start(prefixes)
    floormod.stop()
    check(floormod.clock_reads() == 0 and floormod.clock_last() == 0, "start() resets clock_reads()")
    try:
        floormod.start(prefixes, True)
    except TypeError:
        check(not floormod.active() and used_tools() == before, "start(prefixes, True) raises TypeError")
    else:
        floormod.stop()
        check(False, "start(prefixes, True) raises TypeError")


def main() -> None:
    floormod = build_floor.load(verbose=True)
    prefixes = build_floor.stdlib_prefixes()
    expected = program()
    before = used_tools()

    # Basic start/stop; the program behaves the same.
    code = fib.__code__
    rc0 = sys.getrefcount(code)
    tool = floormod.start(prefixes)
    check(tool == 2 and floormod.active(), "start() claims tool 2")
    check(M.get_tool(2) == "flowtrace-bench-floor", "tool 2 is named")
    for ev in EVENTS:
        cb = M.register_callback(tool, getattr(M.events, ev), None)
        M.register_callback(tool, getattr(M.events, ev), cb)  # put it back
        check(type(cb).__name__ == "FloorCallback", f"callback registered for {ev}")
    got = program()
    check(sys.getrefcount(code) == rc0 + 1, "the map holds one reference per code object")
    stats = floormod.stop()
    check(got == expected, "traced program gives the same results")
    check(stats["codes"] > stats["skipped"] > 0, f"user and stdlib code seen: {stats}")
    check(sys.getrefcount(code) == rc0, "stop() releases the code objects")
    check(not floormod.active() and used_tools() == before, "stop() frees the tool id")
    for ev in EVENTS:
        check(M.register_callback(2, getattr(M.events, ev), None) is None,
              f"no callback left for {ev}")

    # Fallback when tool 2 is taken; never steals it.
    M.use_tool_id(2, "someone-else")
    try:
        tool = floormod.start(prefixes)
        check(tool == 0, "falls back to tool 0 when 2 is taken")
        check(M.get_tool(2) == "someone-else", "tool 2 not stolen")
        check(program() == expected, "results with fallback tool id")
        floormod.stop()
    finally:
        M.free_tool_id(2)
    check(used_tools() == before, "all tool ids free again")

    # Errors.
    try:
        floormod.stop()
    except RuntimeError:
        check(True, "stop() when stopped raises RuntimeError")
    for bad in (["/x"], ("/x", 3)):
        try:
            floormod.start(bad)
        except TypeError:
            check(used_tools() == before and not floormod.active(),
                  f"start({bad!r}) raises TypeError and leaves nothing behind")
    floormod.start(prefixes)
    try:
        floormod.start(prefixes)
    except RuntimeError:
        check(True, "double start() raises RuntimeError")
    floormod.stop()

    # Repeated cycles do not leak tool ids or callbacks.
    for _ in range(50):
        floormod.start(prefixes)
        fib(10)
        floormod.stop()
    check(used_tools() == before, "50 start/stop cycles leave no tool behind")

    # Everything skipped: every code object is disabled (prefix "/" matches all).
    floormod.start(("/",))
    fib(12)
    stats = floormod.stop()
    check(stats["codes"] == stats["skipped"] > 0, f"prefix '/' skips everything: {stats}")

    check_clock(floormod, prefixes, expected, before)
    print("all floor self-tests passed on", sys.version.split()[0])


if __name__ == "__main__":
    main()
