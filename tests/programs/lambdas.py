"""Lambdas: sort keys, map/filter, immediately called, returned from a
function, a lambda calling a named function."""


def weight(x):
    return -x


def make_scaler(k):
    return lambda x: x * k


def main():
    data = [3, 1, 2]
    by_key = sorted(data, key=lambda x: weight(x))
    mapped = list(map(lambda x: x + 1, data))
    kept = list(filter(lambda x: x % 2, data))
    now = (lambda a, b: a * b)(6, 7)
    triple = make_scaler(3)
    return by_key, mapped, kept, now, triple(5)
