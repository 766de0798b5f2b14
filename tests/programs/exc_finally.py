"""finally blocks: calls in finally on return, on exception, return in finally,
finally inside a loop with break/continue."""


def release(tag, log):
    log.append(tag)


def work(x, log):
    try:
        if x < 0:
            raise ValueError(x)
        return x * 2
    finally:
        release(f"work{x}", log)


def swallow(log):
    try:
        work(-1, log)
    finally:
        return release("swallow", log) or "swallowed"


def loop(log):
    for i in range(4):
        try:
            if i == 1:
                continue
            if i == 3:
                break
            work(i, log)
        finally:
            release(f"loop{i}", log)
    return len(log)


def main():
    log = []
    r = [work(2, log), swallow(log), loop(log)]
    try:
        work(-5, log)
    except ValueError:
        pass
    return r, log
