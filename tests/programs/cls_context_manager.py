"""Class-based context managers: __enter__ / __exit__, an __exit__ that
suppresses the exception, nested with statements."""


class Managed:
    def __init__(self, name, log, suppress=False):
        self.name = name
        self.log = log
        self.suppress = suppress

    def __enter__(self):
        self.log.append(f"enter {self.name}")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.log.append(f"exit {self.name} {exc_type.__name__ if exc_type else None}")
        return self.suppress


def body(log, fail):
    log.append("body")
    if fail:
        raise RuntimeError("boom")


def main():
    log = []
    with Managed("a", log):
        body(log, False)
    with Managed("outer", log, suppress=True):
        with Managed("inner", log):
            body(log, True)
    try:
        with Managed("b", log):
            body(log, True)
    except RuntimeError:
        log.append("caught")
    return log
