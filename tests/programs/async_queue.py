"""asyncio synchronisation between tasks: a Queue with a producer and two
consumers, an Event, a Lock, and as_completed (all with sleep(0) only, so
the order is the loop's FIFO order, the same on every run)."""
import asyncio


def process(item):
    return item * 2


async def producer(q, n):
    for i in range(n):
        await q.put(i)
    for _ in range(2):
        await q.put(None)


async def consumer(q, out):
    while True:
        item = await q.get()
        if item is None:
            return len(out)
        out.append(process(item))


async def waiter(ev, log):
    await ev.wait()
    log.append("woken")


async def locked(lock, log, name):
    async with lock:
        log.append(name)
        await asyncio.sleep(0)


async def quick(x):
    await asyncio.sleep(0)
    return x


async def amain():
    q = asyncio.Queue(maxsize=1)
    out = []
    await asyncio.gather(producer(q, 4), consumer(q, out), consumer(q, out))
    ev = asyncio.Event()
    log = []
    w = asyncio.create_task(waiter(ev, log), name="waiter")
    await asyncio.sleep(0)
    ev.set()
    await w
    lock = asyncio.Lock()
    await asyncio.gather(locked(lock, log, "a"), locked(lock, log, "b"))
    done = sorted([await f for f in asyncio.as_completed([quick(1), quick(2)])])
    return sorted(out), log, done


def main():
    return asyncio.run(amain())
