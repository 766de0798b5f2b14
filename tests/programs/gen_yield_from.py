"""yield from: nested delegation with return values and send() passed through."""


def leaf(n):
    total = 0
    for i in range(n):
        got = yield i
        total += got or 0
    return total


def middle():
    a = yield from leaf(2)
    b = yield from leaf(1)
    return combine(a, b)


def combine(a, b):
    return a + b


def outer():
    r = yield from middle()
    yield r


def main():
    g = outer()
    out = [next(g)]
    out.append(g.send(5))
    out.append(g.send(7))
    out.append(g.send(9))
    out.extend(g)
    return out
