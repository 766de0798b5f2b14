"""Custom awaitables: a class whose __await__ is a generator (yield from a
future's __await__), an async generator driven by asend()/athrow(), and a
coroutine awaited through a plain function that returns it."""
import asyncio


class Delay:
    def __init__(self, value):
        self.value = value

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return finish(self.value)


def finish(v):
    return v * 10


async def accumulate():
    total = 0
    while True:
        try:
            got = yield total
        except ValueError:
            got = -100
        total += got


def make_coro(x):
    return compute(x)


async def compute(x):
    await asyncio.sleep(0)
    return x + 1


async def amain():
    a = await Delay(4)
    agen = accumulate()
    out = [await agen.asend(None), await agen.asend(5), await agen.athrow(ValueError)]
    await agen.aclose()
    b = await make_coro(1)
    return a, out, b


def main():
    return asyncio.run(amain())
