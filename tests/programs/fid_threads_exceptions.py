"""Exceptions raised in loops on several threads at once, an exception made
on one thread and raised on another (after its handler edited its args),
and a thread whose target ends by an exception."""
import queue
import threading


def check(name, i):
    if i % 2:
        raise ValueError(f"{name}: odd {i}")
    return f"{name}: even {i}"


def worker(name, n, results):
    seen = []
    for i in range(n):
        try:
            seen.append(check(name, i))
        except ValueError as e:
            seen.append(str(e))
    results[name] = seen


def producer(q):
    try:
        raise LookupError("made on producer")
    except LookupError as e:
        e.args = ("edited on producer",)
        q.put(e)


def reraise(exc):
    raise exc


def dies(n):
    raise RuntimeError(f"thread dies {n}")


def quiet_hook(args):
    return args.exc_type.__name__


def main():
    results = {}
    threads = [threading.Thread(target=worker, args=(f"w{k}", 6, results), name=f"fid-{k}")
               for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = queue.Queue()
    p = threading.Thread(target=producer, args=(q,), name="fid-producer")
    p.start()
    p.join()
    exc = q.get()
    try:
        reraise(exc)
    except LookupError as e:
        results["main"] = str(e)
    del exc
    old_hook = threading.excepthook
    threading.excepthook = quiet_hook
    try:
        d = threading.Thread(target=dies, args=(3,), name="fid-dies")
        d.start()
        d.join()
    finally:
        threading.excepthook = old_hook
    return sorted(results.items())
