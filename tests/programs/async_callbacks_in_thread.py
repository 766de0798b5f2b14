"""A loop run in a worker thread (target=asyncio.run): besides the tasks'
steps, the loop calls plain callbacks of this file (call_soon, a future's
done callback). Those run in no task: they are not steps of any task."""
import asyncio
import threading


def on_soon(log):
    log.append(helper("soon"))


def on_done(fut):
    helper("done")


def helper(s):
    return s


async def amain():
    log = []
    loop = asyncio.get_running_loop()
    loop.call_soon(on_soon, log)
    await asyncio.sleep(0)
    fut = loop.create_future()
    fut.add_done_callback(on_done)
    fut.set_result(1)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return log


def main():
    th = threading.Thread(target=asyncio.run, args=(amain(),), name="loop-thread")
    th.start()
    th.join()
    return "joined"
