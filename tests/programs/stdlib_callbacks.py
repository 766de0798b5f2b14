"""User functions called back by the standard library and builtins:
sorted(key=), functools.reduce, re.sub with a function, json's default
hook, heapq through __lt__, map over methods."""
import functools
import heapq
import json
import re


class Job:
    def __init__(self, prio, name):
        self.prio = prio
        self.name = name

    def __lt__(self, other):
        return self.prio < other.prio


def key(s):
    return len(s)


def plus(a, b):
    return a + b


def repl(m):
    return m.group(0).upper()


def encode(obj):
    return {"job": obj.name}


def main():
    a = sorted(["ccc", "a", "bb"], key=key)
    b = functools.reduce(plus, [1, 2, 3, 4])
    c = re.sub(r"[aeiou]", repl, "banana")
    d = json.dumps([Job(1, "x")], default=encode)
    h = []
    for j in (Job(3, "c"), Job(1, "a"), Job(2, "b")):
        heapq.heappush(h, j)
    e = [heapq.heappop(h).name for _ in range(3)]
    return a, b, c, d, e
