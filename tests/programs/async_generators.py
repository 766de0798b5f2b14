"""Async generators: async for, an async comprehension, aclose() of a
half-consumed one, an async context manager class."""
import asyncio


async def ticker(n):
    try:
        for i in range(n):
            await asyncio.sleep(0)
            yield tick(i)
    finally:
        tick(-1)


def tick(i):
    return i


class Session:
    async def __aenter__(self):
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc):
        await asyncio.sleep(0)
        return False


async def amain():
    out = []
    async for v in ticker(2):
        out.append(v)
    out.append([v async for v in ticker(3)])
    agen = ticker(5)
    out.append(await agen.__anext__())
    await agen.aclose()
    async with Session():
        out.append("in session")
    return out


def main():
    return asyncio.run(amain())
