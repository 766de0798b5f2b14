"""Three named threads running user functions (nested calls, recursion),
started together and joined."""
import threading


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def task(name, n, results):
    results[name] = [fib(i) for i in range(n)]


def main():
    results = {}
    threads = [threading.Thread(target=task, args=(f"t{i}", i + 3, results), name=f"worker-{i}")
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results.items())
