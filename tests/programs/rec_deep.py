"""A deep recursion (300 levels) that unwinds by an exception at the bottom,
caught half-way up."""


class Bottom(Exception):
    pass


def down(n, catch_at):
    if n == 0:
        raise Bottom(n)
    if n == catch_at:
        try:
            return down(n - 1, catch_at)
        except Bottom:
            return -n
    return down(n - 1, catch_at)


def main():
    return down(300, 150), down(50, 0) if False else down(40, 39)
