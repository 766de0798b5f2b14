"""asyncio.to_thread: sync user functions run in the default executor's
thread (its own tree), awaited one after the other."""
import asyncio


def blocking(n):
    return helper(n) * 2


def helper(n):
    return n + 1


async def amain():
    a = await asyncio.to_thread(blocking, 1)
    b = await asyncio.to_thread(blocking, 2)
    return a, b


def main():
    return asyncio.run(amain())
