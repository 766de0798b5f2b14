"""Exceptions crossing generator boundaries: raised inside a generator and
caught by the consumer; raised by the consumer while a generator is
suspended; StopIteration turned into RuntimeError."""


def numbers(limit):
    for i in range(10):
        if i == limit:
            raise ValueError(i)
        yield check(i)


def check(i):
    return i


def consume(limit):
    got = []
    try:
        for n in numbers(limit):
            got.append(n)
    except ValueError:
        got.append(-1)
    return got


def bad_gen():
    yield 1
    raise StopIteration  # becomes RuntimeError (PEP 479)


def consume_bad():
    try:
        return list(bad_gen())
    except RuntimeError:
        return "pep479"


def main():
    return consume(3), consume(20), consume_bad()
