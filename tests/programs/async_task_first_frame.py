"""Tasks whose first frame of this file is not a coroutine: a task made by
ensure_future() / gather() from an awaitable object whose __await__ is a
generator (asyncio wraps it in a coroutine of its own), next to a plain
coroutine task for comparison."""
import asyncio


class Ticket:
    def __init__(self, n):
        self.n = n

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return stamp(self.n)


def stamp(n):
    return n * 100


async def plain(n):
    await asyncio.sleep(0)
    return stamp(n)


async def amain():
    t = asyncio.ensure_future(Ticket(1))
    a = await t
    b = await asyncio.gather(Ticket(2), plain(3))
    return a, b


def main():
    return asyncio.run(amain())
