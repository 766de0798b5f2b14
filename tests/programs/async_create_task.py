"""create_task: named tasks started, interleaved with the creator, awaited
in another order than created; a task that creates a task."""
import asyncio


async def worker(n, log):
    for i in range(n):
        log.append(record(n, i))
        await asyncio.sleep(0)
    return n


def record(n, i):
    return (n, i)


async def spawner(log):
    inner = asyncio.create_task(worker(1, log), name="inner")
    return await inner + 100


async def amain():
    log = []
    t1 = asyncio.create_task(worker(2, log), name="w2")
    t2 = asyncio.create_task(worker(3, log), name="w3")
    t3 = asyncio.create_task(spawner(log), name="spawner")
    await asyncio.sleep(0)
    r = [await t2, await t1, await t3]
    return r, log


def main():
    return asyncio.run(amain())
