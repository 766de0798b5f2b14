"""User decorators: a wrapper with functools.wraps, stacked decorators, a
decorator with arguments, a class-based decorator, a memoising decorator
on a recursive function."""
import functools


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def repeat(times):
    def deco(fn):
        def wrapper(*args):
            return [fn(*args) for _ in range(times)]
        return wrapper
    return deco


class Counted:
    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def memo(fn):
    cache = {}

    def wrapper(n):
        if n not in cache:
            cache[n] = fn(n)
        return cache[n]
    return wrapper


@logged
@logged
def add(a, b):
    return a + b


@repeat(2)
def hello(name):
    return "hi " + name


@Counted
def square(x):
    return x * x


@memo
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main():
    return add(1, 2), hello("x"), square(3), square(4), square.calls, fib(8)
