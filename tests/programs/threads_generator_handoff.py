"""A generator started on the main thread and resumed on a worker thread:
each resumption is recorded on the thread that resumed it."""
import threading


def numbers():
    for i in range(4):
        yield value(i)


def value(i):
    return i


def finish(g, out):
    out.extend(g)


def main():
    g = numbers()
    out = [next(g), next(g)]
    t = threading.Thread(target=finish, args=(g, out), name="finisher")
    t.start()
    t.join()
    return out
