"""with-statements on unusual paths: __exit__ raising a new exception, a with
inside a generator that is closed (so __exit__ runs under close()), return
from inside with, nested with where the inner __exit__ suppresses."""


class CM:
    def __init__(self, name, log, replace=False, suppress=False):
        self.name, self.log, self.replace, self.suppress = name, log, replace, suppress

    def __enter__(self):
        self.log.append("enter " + self.name)
        return self

    def __exit__(self, et, ev, tb):
        self.log.append("exit " + self.name)
        if self.replace and et is not None:
            raise RuntimeError("replaced " + et.__name__)
        return self.suppress


def fail():
    raise KeyError("k")


def gen_with(log):
    with CM("in-gen", log):
        yield 1
        yield 2


def early_return(log):
    with CM("ret", log):
        return compute()


def compute():
    return 3


def main():
    log = []
    try:
        with CM("replacing", log, replace=True):
            fail()
    except RuntimeError as e:
        log.append(str(e))
    g = gen_with(log)
    next(g)
    g.close()
    log.append(early_return(log))
    with CM("outer", log):
        with CM("inner", log, suppress=True):
            fail()
    return log
