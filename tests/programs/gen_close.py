"""close(): with a finally (the frame runs to clean up), with except
GeneratorExit, without try (on some versions no frame runs), on a finished
and on an unstarted generator."""


def with_finally(log):
    try:
        yield 1
        yield 2
    finally:
        log.append(cleanup("finally"))


def catches_exit(log):
    try:
        yield 1
    except GeneratorExit:
        log.append(cleanup("exit"))
        raise


def no_try():
    yield 1
    yield 2


def cleanup(tag):
    return tag


def main():
    log = []
    g = with_finally(log)
    next(g)
    g.close()
    h = catches_exit(log)
    next(h)
    h.close()
    n = no_try()
    next(n)
    n.close()
    done = with_finally(log)
    list(done)
    done.close()
    unstarted = with_finally(log)
    unstarted.close()
    return log
