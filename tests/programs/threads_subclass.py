"""A threading.Thread subclass with run() overridden, a thread that raises
(and catches) an exception, a thread started from a thread."""
import threading


class Worker(threading.Thread):
    def __init__(self, name, n):
        super().__init__(name=name)
        self.n = n
        self.result = None

    def run(self):
        self.result = self.compute()

    def compute(self):
        try:
            return check(self.n)
        except ValueError:
            return -1


def check(n):
    if n < 0:
        raise ValueError(n)
    return n * 10


def launcher(out):
    w = Worker("nested-worker", 2)
    w.start()
    w.join()
    out.append(w.result)


def main():
    a = Worker("worker-a", 1)
    b = Worker("worker-b", -1)
    out = []
    c = threading.Thread(target=launcher, args=(out,), name="launcher")
    for t in (a, b, c):
        t.start()
    for t in (a, b, c):
        t.join()
    return a.result, b.result, out
