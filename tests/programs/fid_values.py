"""Values as they were at each event: mutable values mutated after being
returned, yielded, or passed; large ints; long, multi-line and non-ASCII
strings; nested and long containers; recursion; arguments of every kind;
exceptions with edited args, odd args and long messages."""


def grow(acc, i):
    acc.append(i)  # the caller's list changes after this call starts
    return acc


def snapshot(d, k):
    d[k] = k * k
    return d


def counter_gen(n):
    state = [0]
    for i in range(n):
        state.append(i)  # the same list, changed between yields
        yield state
    return state


def dict_gen(n):
    d = {}
    for i in range(n):
        d[i] = str(i) * i
        yield d


def big_numbers(i):
    return 7 ** (60 + i)


def too_big():
    return 10 ** 5000  # its repr fails (int max str digits)


def long_text(i):
    return ("x" * 150 + "\n" + "é" * 100 + str(i)) * (i + 1)


def long_bytes(i):
    return bytes(range(256)) * (i + 1)


def nested(depth):
    return [depth] if depth == 0 else [depth, nested(depth - 1), {"d": depth}]


def long_list(n):
    return list(range(n))


def sets(n):
    return {i * 3 for i in range(n)}, frozenset(range(n))


def wide_strings(n):
    # byte length and character length differ
    return ["\U0001F600" * 30 for _ in range(n)]


def fact(n, acc):
    acc = acc + [n]
    if n <= 1:
        return acc
    return fact(n - 1, acc)


def kinds(a, b=2, *rest, key, other=None, **extra):
    return [a, b, len(rest), key, other, sorted(extra)]


def edit_and_reraise(i):
    try:
        raise ValueError(f"first {i}")
    except ValueError as e:
        e.args = (f"edited {i}",)
        raise


class Editing:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            exc.args = ("edited by __exit__",) + exc.args
        return False


def edited_in_exit(i):
    with Editing():
        raise KeyError(i)


class Odd(Exception):
    def __str__(self):
        return "Odd.__str__ ran"


def odd_args(i):
    if i == 0:
        raise ValueError()
    if i == 1:
        raise ValueError(1, [2, 3], {"k": (4,)})
    if i == 2:
        raise ValueError("long message " + "m" * 300)
    if i == 3:
        raise ValueError("two\nlines")
    if i == 4:
        raise Odd("args", i)
    raise KeyError("quoted")


def main():
    out = []
    acc = []
    for i in range(4):
        out.append(len(grow(acc, i)))
    d = {}
    for k in range(10):
        out.append(len(snapshot(d, k)))
    out.append(sum(len(s) for s in counter_gen(5)))
    out.append(sum(len(s) for s in dict_gen(4)))
    out.append([big_numbers(i) % 1000 for i in range(3)])
    out.append(too_big() % 7)
    out.append([len(long_text(i)) for i in range(3)])
    out.append([len(long_bytes(i)) for i in range(2)])
    out.append(len(str(nested(6))))
    out.append([len(long_list(n)) for n in (0, 1, 8, 9, 50)])
    out.append([len(s) for s in sets(12)])
    out.append(len(wide_strings(3)))
    out.append(fact(6, []))
    out.append(kinds(1, key="k"))
    out.append(kinds([1], (2,), 3, 4, key={"k": 1}, other=acc, x=1, y=[2]))
    for i in range(3):
        try:
            edit_and_reraise(i)
        except ValueError as e:
            out.append(str(e))
        try:
            edited_in_exit(i)
        except KeyError as e:
            out.append(e.args)
    for i in range(6):
        try:
            odd_args(i)
        except Exception as e:
            out.append(type(e).__name__)
    return out
