"""concurrent.futures.ThreadPoolExecutor with one worker (so the thread name
and the order of its calls are deterministic): map and submit."""
from concurrent.futures import ThreadPoolExecutor


def square(x):
    return helper(x) ** 2


def helper(x):
    return x


def main():
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool") as ex:
        a = list(ex.map(square, range(4)))
        b = ex.submit(square, 10).result()
    return a, b
