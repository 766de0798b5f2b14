"""An exception raised at depth 3, caught at depth 2, 1 and 0 in turn."""


def leaf(kind):
    if kind:
        raise ValueError(kind)
    return "ok"


def mid(kind, catch_here):
    if catch_here:
        try:
            return leaf(kind)
        except ValueError:
            return "mid caught"
    return leaf(kind)


def top(kind, where):
    if where == "top":
        try:
            return mid(kind, False)
        except ValueError:
            return "top caught"
    return mid(kind, where == "mid")


def log(x):
    return x


def main():
    out = [top("", "none"), top("a", "mid"), top("b", "top")]
    try:
        top("c", "none")
    except ValueError as e:
        out.append(log(str(e)))
    return out
