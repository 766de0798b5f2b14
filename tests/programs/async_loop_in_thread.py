"""An event loop run by asyncio.run in a worker thread whose target is
asyncio.run itself: no frame of this file is below the tasks' steps on that
thread, so FlowTrace shows them in task lanes. Two tasks interleave; the
comparison is per task."""
import asyncio
import threading


def fmt(x):
    return x


async def part(name, n):
    for i in range(n):
        fmt((name, i))
        await asyncio.sleep(0)
    return name


async def amain():
    return await asyncio.gather(part("a", 3), part("b", 2))


def main():
    th = threading.Thread(target=asyncio.run, args=(amain(),), name="loop-thread")
    th.start()
    th.join()
    return "joined"
