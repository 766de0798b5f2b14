"""The iterator protocol in a class: __iter__ / __next__, used by for, list(),
zip(), and a class whose __iter__ is a generator."""


class Countdown:
    def __init__(self, start):
        self.current = start

    def __iter__(self):
        return self

    def __next__(self):
        if self.current <= 0:
            raise StopIteration
        self.current -= 1
        return self.current + 1


class Range2:
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield self.item(i)

    def item(self, i):
        return i * 2


def main():
    a = [x for x in Countdown(3)]
    b = list(zip(Countdown(2), Range2(5)))
    c = sum(Range2(3))
    return a, b, c
