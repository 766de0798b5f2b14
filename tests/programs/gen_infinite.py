"""Infinite generators consumed with itertools.islice, takewhile and zip."""
import itertools


def naturals():
    n = 0
    while True:
        yield n
        n += 1


def squares():
    for n in naturals():
        yield sq(n)


def sq(n):
    return n * n


def small(x):
    return x < 20


def main():
    a = list(itertools.islice(naturals(), 5))
    b = list(itertools.islice(squares(), 2, 6))
    c = list(itertools.takewhile(small, squares()))
    d = list(zip("abc", naturals()))
    return a, b, c, d
