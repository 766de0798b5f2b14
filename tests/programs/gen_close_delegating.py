"""close() and throw() on a generator suspended in yield from: CPython throws
straight into the innermost generator (the delegating frames get no event
of their own), then unwinds the delegators."""


def inner(log):
    try:
        while True:
            yield note("inner")
    finally:
        log.append(note("inner closed"))


def middle(log):
    try:
        yield from inner(log)
    finally:
        log.append(note("middle closed"))


def outer(log):
    yield from middle(log)


def note(s):
    return s


def main():
    log = []
    g = outer(log)
    next(g)
    next(g)
    g.close()
    h = outer(log)
    next(h)
    try:
        h.throw(KeyError("k"))
    except KeyError:
        log.append("propagated")
    return log
