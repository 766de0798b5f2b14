"""Closures: counters with nonlocal, a closure factory, closures over loop
variables, a closure calling a closure."""


def make_counter():
    count = 0

    def inc(step=1):
        nonlocal count
        count += step
        return count

    return inc


def make_adders(n):
    adders = []
    for i in range(n):
        def add(x, i=i):
            return x + i
        adders.append(add)
    return adders


def compose(f, g):
    def h(x):
        return f(g(x))
    return h


def main():
    c = make_counter()
    c()
    c(5)
    adders = make_adders(3)
    composed = compose(adders[2], adders[1])
    return c(), [a(10) for a in adders], composed(0)
