"""Objects freed and reallocated in loops: each event must show its own
value, never the value of an earlier object that lived at the same address
(exceptions, lists, dicts, tuples, instances of alternating classes)."""


class Red:
    pass


class Blue:
    pass


def raises(i):
    raise ValueError(f"bad {i}")


def raises_key(i):
    raise KeyError(i * 7)


def caught_from_callee(n):
    for i in range(n):
        try:
            raises(i)
        except ValueError:
            pass
    return n


def caught_inline(n):
    for i in range(n):
        try:
            raise KeyError(f"inline {i}")
        except KeyError:
            pass
    return n


def uncaught(i):
    # ends by the exception: its "↯" text is the one of this call
    return raises_key(i)


def made_list(i):
    return [i, i * 2, str(i)]


def made_dict(i):
    return {"i": i, "sq": i * i}


def made_tuple(i):
    return (i, [i])  # holds a list: formatted when captured


def made_obj(i):
    return Red() if i % 2 else Blue()


def consume(x):
    return len(str(type(x)))


class Lazy:
    @property
    def missing(self):
        raise AttributeError("from the property")


def probe_then_raise(i):
    hasattr(Lazy(), "missing")  # the AttributeError is swallowed in C
    raise AttributeError(f"mine {i}")


def main():
    out = [caught_from_callee(5), caught_inline(5)]
    for i in range(5):
        try:
            uncaught(i)
        except KeyError as e:
            out.append(e.args[0])
    for i in range(6):
        # each value is freed before the next is made
        out.append(consume(made_list(i)))
        out.append(consume(made_dict(i)))
        out.append(consume(made_tuple(i)))
        out.append(consume(made_obj(i)))
    for i in range(3):
        try:
            probe_then_raise(i)
        except AttributeError as e:
            out.append(str(e))
    return out
