"""TaskGroup: tasks started in a group, one failing (the others cancelled,
an ExceptionGroup raised), handled with except*."""
import asyncio


async def ok(n):
    await asyncio.sleep(0)
    return n


async def bad():
    await asyncio.sleep(0)
    raise ValueError("bad")


async def slow():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        note("slow cancelled")
        raise


def note(s):
    return s


async def amain():
    async with asyncio.TaskGroup() as tg:
        a = tg.create_task(ok(1), name="ok1")
        b = tg.create_task(ok(2), name="ok2")
    res = [a.result(), b.result()]
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(slow(), name="slow")
            tg.create_task(bad(), name="bad")
    except* ValueError as eg:
        res.append(note(len(eg.exceptions)))
    return res


def main():
    return asyncio.run(amain())
