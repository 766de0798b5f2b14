"""Generators whose last reference goes away inside another function: the
close() that refcounting triggers runs the generator's finally under the
function that dropped it (its frame is the one running)."""


def resource(log):
    try:
        yield 1
        yield 2
    finally:
        log.append(cleanup())


def cleanup():
    return "cleaned"


def drop(holder):
    holder.pop()
    return "dropped"


def replace(holder, log):
    holder[0] = resource(log)  # the old one is dropped here
    next(holder[0])


def main():
    log = []
    holder = [resource(log)]
    next(holder[0])
    drop(holder)
    holder.append(resource(log))
    next(holder[0])
    replace(holder, log)
    holder.clear()
    return log
