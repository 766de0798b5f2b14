"""send(): a running-average coroutine-style generator and an echo."""


def averager():
    total = 0.0
    count = 0
    avg = None
    while True:
        value = yield avg
        total += scale(value)
        count += 1
        avg = total / count


def scale(v):
    return v * 1.0


def echo():
    received = yield "ready"
    while received is not None:
        received = yield transform(received)
    return "done"


def transform(x):
    return x.upper()


def drive():
    avg = averager()
    next(avg)
    out = [avg.send(v) for v in (10, 20, 60)]
    e = echo()
    out.append(next(e))
    out.append(e.send("a"))
    out.append(e.send("b"))
    try:
        e.send(None)
    except StopIteration as stop:
        out.append(stop.value)
    return out


def main():
    return drive()
