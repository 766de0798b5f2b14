"""Producer / consumer threads through a queue.Queue, with a sentinel; each
thread's own sequence of calls is deterministic whatever the interleaving."""
import queue
import threading


def produce(q, n):
    for i in range(n):
        q.put(make(i))
    q.put(None)


def make(i):
    return i * i


def consume(q, out):
    while True:
        item = q.get()
        if item is None:
            break
        out.append(handle(item))


def handle(item):
    return item + 1


def main():
    q = queue.Queue(maxsize=2)
    out = []
    p = threading.Thread(target=produce, args=(q, 5), name="producer")
    c = threading.Thread(target=consume, args=(q, out), name="consumer")
    c.start()
    p.start()
    p.join()
    c.join()
    return out
