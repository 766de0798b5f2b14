"""Mutual recursion: is_even / is_odd, and a three-way cycle."""


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def ping(n):
    return 0 if n == 0 else 1 + pong(n - 1)


def pong(n):
    return 0 if n == 0 else 1 + pang(n - 1)


def pang(n):
    return 0 if n == 0 else 1 + ping(n - 1)


def main():
    return is_even(7), is_odd(4), ping(8)
