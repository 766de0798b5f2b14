"""Plain recursion: factorial, fibonacci, a recursive sum over a list."""


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def rsum(xs):
    if not xs:
        return 0
    return xs[0] + rsum(xs[1:])


def main():
    return fact(6), fib(6), rsum([1, 2, 3, 4])
