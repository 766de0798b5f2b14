"""Re-raise: bare raise, raise e, re-raise after cleanup calls."""


def fail(n):
    raise KeyError(n)


def cleanup(tag):
    return tag


def bare(n):
    try:
        fail(n)
    except KeyError:
        cleanup("bare")
        raise


def named(n):
    try:
        fail(n)
    except KeyError as e:
        cleanup("named")
        raise e


def nested(n):
    try:
        bare(n)
    except KeyError:
        try:
            named(n + 1)
        except KeyError:
            cleanup("inner")
            raise


def main():
    caught = []
    for f in (bare, named, nested):
        try:
            f(1)
        except KeyError as e:
            caught.append((f.__name__, e.args))
    return caught
