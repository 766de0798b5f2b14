"""Call-heavy workloads for the FlowTrace benchmark.

Each workload is a plain function of one size parameter; `make_workloads()` binds
the sizes and returns zero-argument callables. Every workload is deterministic
(no clocks, no hashing of str/object addresses, fixed-seed inputs built outside the
timed call) and returns a value that run.py compares across modes.

Sizes are chosen so that each runs for roughly 0.05-0.3 s untraced on a small
2-core VM with CPython 3.12/3.13 (`--quick` sizes are about 3-4x smaller).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import partial

# ---------------------------------------------------------------------------
# 1. Recursive fib: the purest call/return stress (one tiny frame per call).
# ---------------------------------------------------------------------------


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def run_fib(n: int) -> int:
    return fib(n)


# ---------------------------------------------------------------------------
# 2. Method-heavy object code: small classes, properties, dunder methods.
#    Integer arithmetic only, so results are exact.
# ---------------------------------------------------------------------------


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y

    def __add__(self, other: Vec) -> Vec:
        return Vec(self.x + other.x, self.y + other.y)

    def scaled(self, k: int) -> Vec:
        return Vec(self.x * k, self.y * k)

    def outside_x(self, bound: int) -> bool:
        return abs(self.x) > bound

    def outside_y(self, bound: int) -> bool:
        return abs(self.y) > bound

    def flip_x(self) -> Vec:
        return Vec(-self.x, self.y)

    def flip_y(self) -> Vec:
        return Vec(self.x, -self.y)

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


class Particle:
    def __init__(self, pos: Vec, vel: Vec) -> None:
        self._pos = pos
        self._vel = vel

    @property
    def pos(self) -> Vec:
        return self._pos

    @pos.setter
    def pos(self, value: Vec) -> None:
        self._pos = value

    @property
    def vel(self) -> Vec:
        return self._vel

    @vel.setter
    def vel(self, value: Vec) -> None:
        self._vel = value

    def step(self, bound: int) -> None:
        # Deliberately call-dense: every access goes through a property or method.
        self.pos = self.pos + self.vel
        if self.pos.outside_x(bound):
            self.vel = self.vel.flip_x()
        if self.pos.outside_y(bound):
            self.vel = self.vel.flip_y()


class Account:
    def __init__(self, owner: int) -> None:
        self.owner = owner
        self._balance = 0
        self.transactions = 0

    @property
    def balance(self) -> int:
        return self._balance

    def deposit(self, amount: int) -> None:
        self._balance += amount
        self.transactions += 1

    def withdraw(self, amount: int) -> bool:
        if amount > self._balance:
            return False
        self._balance -= amount
        self.transactions += 1
        return True


class Bank:
    def __init__(self, n_accounts: int) -> None:
        self.accounts = [Account(i) for i in range(n_accounts)]

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        if self.accounts[src].withdraw(amount):
            self.accounts[dst].deposit(amount)
            return True
        return False

    def total(self) -> int:
        return sum(a.balance for a in self.accounts)


def run_objects(steps: int) -> tuple[int, int, int]:
    particles = [Particle(Vec(i, -i), Vec(1 + i % 3, 2 - i % 5)) for i in range(20)]
    bank = Bank(16)
    for a in bank.accounts:
        a.deposit(1000)
    ok = 0
    for t in range(steps):
        for p in particles:
            p.step(50)
        if bank.transfer(t % 16, (t * 7 + 3) % 16, (t * 37) % 1500):
            ok += 1
    spread = sum(p.pos.norm1 + p.vel.scaled(2).norm1 for p in particles)
    return spread, bank.total(), ok


# ---------------------------------------------------------------------------
# 3. Generator pipeline: nested generators and `yield from` delegation.
# ---------------------------------------------------------------------------


def numbers(n: int) -> Iterator[int]:
    yield from range(n)


def squares(xs: Iterable[int]) -> Iterator[int]:
    for x in xs:
        yield x * x % 1009


def evens(xs: Iterable[int]) -> Iterator[int]:
    for x in xs:
        if x % 2 == 0:
            yield x


def pairs(xs: Iterable[int]) -> Iterator[tuple[int, int]]:
    it = iter(xs)
    for a in it:
        b = next(it, 0)
        yield a, b


def flatten(ps: Iterable[tuple[int, int]]) -> Iterator[int]:
    for p in ps:
        yield from p  # tuple iterator: delegation to a C iterator


def chunked(xs: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for x in xs:
        chunk.append(x)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def sub_total(chunk: list[int]) -> Iterator[int]:
    for x in chunk:
        yield x + 1
    return len(chunk)


def totals(chunks: Iterable[list[int]]) -> Iterator[int]:
    for chunk in chunks:
        count = yield from sub_total(chunk)  # delegation to a Python generator
        yield -count


def run_generators(n: int) -> int:
    pipeline = totals(chunked(flatten(pairs(evens(squares(numbers(n))))), 7))
    return sum(pipeline)


# ---------------------------------------------------------------------------
# 4. asyncio: many tasks awaiting small coroutines and asyncio.sleep(0).
#    The event loop itself is standard-library code (disabled by the filters).
# ---------------------------------------------------------------------------


async def leaf(i: int) -> int:
    return i * 3 % 11


async def middle(i: int) -> int:
    a = await leaf(i)  # completes without suspending
    await asyncio.sleep(0)  # suspends: yield/resume through the chain
    b = await leaf(i + 1)
    return a + b


async def worker(wid: int, rounds: int) -> int:
    total = 0
    for r in range(rounds):
        total += await middle(wid + r)
    return total


async def async_main(n_tasks: int, rounds: int) -> int:
    tasks = [asyncio.create_task(worker(w, rounds)) for w in range(n_tasks)]
    results = await asyncio.gather(*tasks)
    return sum(results)


def run_asyncio(n_tasks: int, rounds: int = 20) -> int:
    return asyncio.run(async_main(n_tasks, rounds))


# ---------------------------------------------------------------------------
# 5. Parser: a tiny tokenizer and recursive-descent parser/evaluator for
#    integer expressions (+ - * / % unary minus, parentheses).
# ---------------------------------------------------------------------------


class Token:
    __slots__ = ("kind", "text")

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text


class Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0

    def peek_char(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def skip_spaces(self) -> None:
        while self.peek_char() == " ":
            self.pos += 1

    def number(self) -> Token:
        start = self.pos
        while self.peek_char().isdigit():
            self.pos += 1
        return Token("num", self.src[start : self.pos])

    def tokens(self) -> Iterator[Token]:
        while True:
            self.skip_spaces()
            c = self.peek_char()
            if not c:
                yield Token("end", "")
                return
            if c.isdigit():
                yield self.number()
            else:
                self.pos += 1
                yield Token("op", c)


class Parser:
    def __init__(self, src: str) -> None:
        self.tokens = Lexer(src).tokens()
        self.tok = next(self.tokens)

    def advance(self) -> Token:
        tok = self.tok
        self.tok = next(self.tokens)
        return tok

    def accept(self, text: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == text:
            self.advance()
            return True
        return False

    def expr(self) -> int:
        value = self.term()
        while True:
            if self.accept("+"):
                value += self.term()
            elif self.accept("-"):
                value -= self.term()
            else:
                return value

    def term(self) -> int:
        value = self.factor()
        while True:
            if self.accept("*"):
                value = value * self.factor() % 1_000_003
            elif self.accept("/"):
                value = value // (self.factor() or 1)
            elif self.accept("%"):
                value = value % (self.factor() or 1)
            else:
                return value

    def factor(self) -> int:
        if self.accept("-"):
            return -self.factor()
        if self.accept("("):
            value = self.expr()
            if not self.accept(")"):
                raise SyntaxError("expected )")
            return value
        tok = self.advance()
        if tok.kind != "num":
            raise SyntaxError(f"unexpected {tok.text!r}")
        return int(tok.text)


def make_expressions(count: int, seed: int = 12345) -> list[str]:
    """Fixed pseudo-random expressions (own LCG: no stdlib code, fully reproducible)."""
    state = seed

    def rand(k: int) -> int:
        nonlocal state
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        return state % k

    def gen(depth: int) -> str:
        r = rand(10)
        if depth > 4 or r < 3:
            return str(rand(1000))
        if r < 4:
            return "-" + gen(depth + 1)
        if r < 6:
            return "(" + gen(depth + 1) + ")"
        op = "+-*/%"[rand(5)]
        return gen(depth + 1) + " " + op + " " + gen(depth + 1)

    return [gen(0) for _ in range(count)]


def run_parser(expressions: list[str]) -> int:
    total = 0
    for src in expressions:
        total = (total * 31 + Parser(src).expr()) % 1_000_000_007
    return total


# ---------------------------------------------------------------------------
# 6. stdlib mix: user code that leans on json, re, collections and dataclasses.
#    Most of the Python frames that run are standard-library frames (json's
#    encoder/decoder wrappers, dataclasses.asdict/replace, re's cache lookups,
#    Counter.update...): what a tracer costs here depends on how cheaply it
#    ignores code it does not record. User callbacks are also called *from*
#    C and stdlib code (re.sub's replacement function, dataclass __post_init__).
# ---------------------------------------------------------------------------

_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
)


@dataclasses.dataclass
class Item:
    ident: int
    name: str
    tags: list[str]
    price: int

    def __post_init__(self) -> None:
        self.price = clamp(self.price, 0, 10_000)


@dataclasses.dataclass(frozen=True, order=True)
class GroupKey:
    tag: str
    bucket: int


def clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def item_name(i: int) -> str:
    n = len(_WORDS)
    return f"{_WORDS[i % n]} {i % 13} {_WORDS[(i * 7) % n]} {i % 101}"


def tags_for(i: int) -> list[str]:
    return [_WORDS[(i + k * 5) % len(_WORDS)] for k in range(i % 3 + 1)]


def make_item(i: int) -> Item:
    return Item(i, item_name(i), tags_for(i), (i * 7919) % 1000)


def encode(item: Item) -> str:
    return json.dumps(dataclasses.asdict(item), sort_keys=True)


def decode(text: str) -> Item:
    return Item(**json.loads(text))


def doubled(m: re.Match[str]) -> str:
    return str(int(m.group()) * 2)


def normalize(text: str) -> str:
    return re.sub(r"[0-9]+", doubled, text)  # module-level re: Python-level cache lookup


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text)


def group_key(item: Item) -> GroupKey:
    return GroupKey(item.tags[0], item.price // 100)


def run_stdlib_mix(n: int) -> tuple[object, ...]:
    items = [make_item(i) for i in range(n)]
    texts = [encode(it) for it in items]
    counts: collections.Counter[str] = collections.Counter()
    groups: collections.defaultdict[GroupKey, list[int]] = collections.defaultdict(list)
    recent: collections.deque[Item] = collections.deque(maxlen=16)
    for text in texts:
        item = decode(text)
        counts.update(words(normalize(item.name)))
        groups[group_key(item)].append(item.price)
        recent.append(dataclasses.replace(item, price=item.price + 1))
    summary = sorted((k.tag, k.bucket, sum(v), len(v)) for k, v in groups.items())
    return (
        tuple(counts.most_common(6)),
        tuple(summary[:4]),
        len(summary),
        sum(r.price for r in recent),
        sum(len(t) for t in texts),
    )


# ---------------------------------------------------------------------------
# 7. Four threads doing call-heavy user work (recursion, small objects,
#    generators), started and joined inside the workload. The GIL interleaves
#    them, so a tracer's per-thread state is exercised with real switches.
# ---------------------------------------------------------------------------


def thread_work(seed: int, n: int) -> int:
    total = 0
    v = Vec(seed, -seed)
    for i in range(n):
        total += fib(10 + (seed + i) % 4)
        v = v + Vec(i % 7, seed).scaled(1 + i % 2)
        if v.outside_x(1000):
            v = v.flip_x()
        total += sum(squares(numbers(4 + i % 5)))
    return total + v.norm1


def run_threads4(n: int) -> int:
    results = [0] * 4

    def target(k: int) -> None:
        results[k] = thread_work(k, n)

    threads = [threading.Thread(target=target, args=(k,), name=f"worker-{k}") for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

# name -> (full size, quick size)
SIZES: dict[str, tuple[int, int]] = {
    "fib": (28, 25),  # 1,028,457 / 242,785 calls
    "objects": (6000, 1500),
    "generators": (200_000, 50_000),
    "asyncio": (1000, 250),
    "parser": (4000, 1000),
    "stdlib_mix": (4000, 1000),
    "threads4": (1000, 250),  # per thread
}


def make_workloads(quick: bool = False) -> dict[str, Callable[[], object]]:
    """Zero-argument callables, in a fixed order. Inputs are built here, untimed."""
    size = {name: sizes[1] if quick else sizes[0] for name, sizes in SIZES.items()}
    return {
        "fib": partial(run_fib, size["fib"]),
        "objects": partial(run_objects, size["objects"]),
        "generators": partial(run_generators, size["generators"]),
        "asyncio": partial(run_asyncio, size["asyncio"]),
        "parser": partial(run_parser, make_expressions(size["parser"])),
        "stdlib_mix": partial(run_stdlib_mix, size["stdlib_mix"]),
        "threads4": partial(run_threads4, size["threads4"]),
    }
