"""Plain generators: for loops, list(), next() by hand, calls between next()s."""


def count_up(n):
    i = 0
    while i < n:
        yield square(i)
        i += 1


def square(x):
    return x * x


def use(v):
    return v + 1


def main():
    total = [use(v) for v in count_up(4)]
    g = count_up(3)
    a = next(g)
    use(a)
    b = next(g)
    rest = list(g)
    return total, a, b, rest
