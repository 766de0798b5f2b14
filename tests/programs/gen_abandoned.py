"""Generators abandoned half-way: dropped with a pending finally (closed by
refcounting at once), left in a variable until the function returns,
replaced in a loop, broken out of a for loop."""


def resource(name, log):
    try:
        for i in range(5):
            yield step(i)
    finally:
        log.append(release(name))


def plain(n):
    for i in range(n):
        yield step(i)


def step(i):
    return i


def release(name):
    return name


def hold(log):
    g = resource("held", log)
    next(g)
    next(g)
    return "returning"  # g dropped when this frame ends


def main():
    log = []
    g = resource("dropped", log)
    next(g)
    del g
    hold(log)
    for i in range(3):
        p = plain(10)
        next(p)
    del p
    for v in resource("broken", log):
        if v == 1:
            break
    for v in plain(10):
        if v == 2:
            break
    return log
