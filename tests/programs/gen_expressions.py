"""Generator expressions (their own frames), nested ones, early stop by any()
and next(), and the inlined list/set/dict comprehensions around them."""


def is_big(x):
    return x > 3


def double(x):
    return 2 * x


def main():
    s = sum(double(x) for x in range(5))
    found = any(is_big(x) for x in range(10))
    first = next(x for x in range(10) if is_big(x))
    nested = list(sum(double(y) for y in range(x)) for x in range(3))
    lst = [double(x) for x in range(3)]
    st = {double(x) for x in (1, 1, 2)}
    dct = {x: double(x) for x in range(2)}
    inner = [list(double(y) for y in range(x)) for x in range(3)]
    return s, found, first, nested, lst, sorted(st), dct, inner
