"""@contextmanager generators: normal exit, an exception thrown into the
generator and handled there, one re-raised, nested with ExitStack, and
contextlib.suppress around a user call."""
import contextlib


@contextlib.contextmanager
def tag(name, log):
    log.append(opened(name))
    try:
        yield name
    except KeyError:
        log.append("handled in " + name)
    finally:
        log.append(closed(name))


@contextlib.contextmanager
def strict(log):
    yield log
    log.append(closed("strict"))


def opened(name):
    return "open " + name


def closed(name):
    return "close " + name


def fail():
    raise KeyError("k")


def main():
    log = []
    with tag("a", log):
        log.append("body a")
    with tag("b", log):
        fail()
    try:
        with strict(log):
            fail()
    except KeyError:
        log.append("strict propagated")
    with contextlib.ExitStack() as stack:
        for n in ("x", "y"):
            stack.enter_context(tag(n, log))
    with contextlib.suppress(KeyError):
        fail()
    return log
