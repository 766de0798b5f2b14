"""asyncio.run + gather: coroutines awaiting coroutines, gathered in parallel
(each wrapped in its own task), a sync helper called from a coroutine."""
import asyncio


def fmt(x):
    return f"<{x}>"


async def leaf(x):
    await asyncio.sleep(0)
    return x * 2


async def middle(x):
    a = await leaf(x)
    await asyncio.sleep(0)
    return fmt(a + 1)


async def amain():
    first = await middle(0)
    rest = await asyncio.gather(middle(1), middle(2), leaf(3))
    return first, rest


def main():
    return asyncio.run(amain())
