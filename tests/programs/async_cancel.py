"""Cancellation: a task cancelled while suspended (CancelledError thrown in,
caught and re-raised; caught and swallowed), a task cancelled before it
started, shield()."""
import asyncio


async def stubborn(log):
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append(on_cancel("stubborn"))
        return "swallowed"


async def polite(log):
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append(on_cancel("polite"))
        raise


async def never(log):
    log.append("never ran")


def on_cancel(name):
    return name + " cancelled"


async def inner():
    await asyncio.sleep(0)
    return "inner"


async def amain():
    log = []
    t1 = asyncio.create_task(stubborn(log), name="stubborn")
    t2 = asyncio.create_task(polite(log), name="polite")
    t3 = asyncio.create_task(never(log), name="never")
    await asyncio.sleep(0)
    t1.cancel()
    t2.cancel()
    t3.cancel()
    out = [await t1]
    for t in (t2, t3):
        try:
            await t
        except asyncio.CancelledError:
            out.append(t.get_name() + " cancelled")
    out.append(await asyncio.shield(inner()))
    return out, log


def main():
    return asyncio.run(amain())
