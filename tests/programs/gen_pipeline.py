"""A pipeline of generators: source -> filter -> map -> batch, consumed lazily."""


def source(n):
    for i in range(n):
        yield i


def only_odd(it):
    for x in it:
        if keep(x):
            yield x


def keep(x):
    return x % 2 == 1


def times_ten(it):
    for x in it:
        yield x * 10


def batches(it, size):
    batch = []
    for x in it:
        batch.append(x)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main():
    return list(batches(times_ten(only_odd(source(9))), 2))
