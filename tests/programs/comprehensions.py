"""Comprehensions: list/set/dict comprehensions are inlined in 3.12+ (no
frame of their own), so the calls inside them are children of the
enclosing function; nested comprehensions; a lambda defined inside one; a
generator expression inside one (which does have a frame)."""


def f(x):
    return x + 1


def pred(x):
    return x % 2 == 0


def main():
    a = [f(x) for x in range(4) if pred(x)]
    b = {f(x) for x in range(3)}
    c = {x: f(x) for x in range(2)}
    d = [[f(x * y) for y in range(2)] for x in range(2)]
    e = [(lambda y: f(y))(x) for x in range(2)]
    g = [sum(f(y) for y in range(x)) for x in range(3)]
    return a, sorted(b), c, d, e, g
