"""Dunder methods: __init__, __repr__ called explicitly (repr(), f-string !r),
__eq__, __hash__, __lt__ via sorted(), __add__, __len__, __contains__,
__bool__, __call__."""


class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __repr__(self):
        return f"Vec({self.x}, {self.y})"

    def __eq__(self, other):
        return isinstance(other, Vec) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __lt__(self, other):
        return self.norm2() < other.norm2()

    def norm2(self):
        return self.x * self.x + self.y * self.y

    def __add__(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def __bool__(self):
        return bool(self.x or self.y)


class Bag:
    def __init__(self, *items):
        self.items = list(items)

    def __len__(self):
        return len(self.items)

    def __contains__(self, item):
        return item in self.items

    def __call__(self, item):
        self.items.append(item)
        return self


def main():
    a, b = Vec(1, 2), Vec(3, 0)
    r = repr(a)
    s = f"{b!r}"
    eq = a == Vec(1, 2)
    ordered = sorted([b, a, Vec(0, 1)])
    c = a + b
    seen = {a, Vec(1, 2)}
    bag = Bag(1, 2)
    bag(3)
    return r, s, eq, ordered, repr(c), len(seen), len(bag), 2 in bag, bool(Vec(0, 0))
