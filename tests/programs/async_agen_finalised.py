"""Async generators the event loop finalises: one abandoned by a break (the
loop's asyncgen finalizer hook schedules its aclose() in a new task), one
still referenced when amain() returns (asyncio.run's shutdown_asyncgens
closes it). Their finally blocks run in tasks whose coroutine is asyncio's,
not this file's."""
import asyncio

KEPT = []


def cleanup(name):
    return name + " closed"


async def ticker(name, log):
    try:
        for i in range(10):
            yield i
            await asyncio.sleep(0)
    finally:
        log.append(cleanup(name))


async def amain(log):
    async for v in ticker("broken", log):
        if v == 1:
            break
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    kept = ticker("kept", log)
    KEPT.append(kept)
    await kept.__anext__()
    return "amain done"


def main():
    log = []
    r = asyncio.run(amain(log))
    KEPT.clear()
    return r, log
