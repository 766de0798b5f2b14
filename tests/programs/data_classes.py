"""dataclasses and namedtuples: generated __init__/__eq__/__repr__ (compiled
from strings, not from this file: only their calls into this file count),
__post_init__, default_factory, order=True, namedtuple methods and
_replace, a NamedTuple subclass with a method."""
import dataclasses
from collections import namedtuple
from typing import NamedTuple


def default_tags():
    return ["new"]


@dataclasses.dataclass(order=True)
class Item:
    price: float
    name: str = dataclasses.field(compare=False)
    tags: list = dataclasses.field(default_factory=default_tags, compare=False)

    def __post_init__(self):
        self.name = clean(self.name)

    def discounted(self, pct):
        return dataclasses.replace(self, price=self.price * (100 - pct) / 100)


def clean(s):
    return s.strip().title()


Point = namedtuple("Point", "x y")


class Pair(NamedTuple):
    left: int
    right: int

    def total(self):
        return self.left + self.right


def main():
    a = Item(3.0, " apple ")
    b = a.discounted(50)
    items = sorted([a, b, Item(2.0, "pear")])
    p = Point(1, 2)._replace(y=5)
    pair = Pair(3, 4)
    return ([i.name for i in items], a == Item(3.0, "x"), repr(b), p, pair.total(),
            dataclasses.asdict(b))
