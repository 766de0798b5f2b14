"""wait_for: one coroutine finishes in time, one times out (cancelled inside,
its cleanup recorded), asyncio.timeout() as a context manager."""
import asyncio


async def quick():
    await asyncio.sleep(0)
    return "quick"


async def sleeper(log):
    try:
        await asyncio.sleep(10)
    finally:
        log.append(cleanup("sleeper"))


def cleanup(s):
    return s


async def amain():
    log = []
    r = [await asyncio.wait_for(quick(), timeout=5)]
    try:
        await asyncio.wait_for(sleeper(log), timeout=0.01)
    except TimeoutError:
        r.append("timeout")
    try:
        async with asyncio.timeout(0.01):
            await sleeper(log)
    except TimeoutError:
        r.append("timeout2")
    return r, log


def main():
    return asyncio.run(amain())
