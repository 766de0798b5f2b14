"""throw(): caught inside the generator (it yields again), not caught (it
propagates), thrown into a not-yet-started generator, into a delegating one."""


def resilient():
    while True:
        try:
            yield note("waiting")
        except ValueError as e:
            yield note(f"recovered {e}")


def fragile():
    yield 1
    yield 2


def note(s):
    return s


def delegator():
    r = yield from resilient()
    return r


def main():
    out = []
    g = resilient()
    out.append(next(g))
    out.append(g.throw(ValueError("x")))
    out.append(next(g))
    f = fragile()
    next(f)
    try:
        f.throw(KeyError("k"))
    except KeyError:
        out.append("propagated")
    fresh = fragile()
    try:
        fresh.throw(TypeError("t"))
    except TypeError:
        out.append("unstarted")
    d = delegator()
    next(d)
    out.append(d.throw(ValueError("y")))
    d.close()
    return out
