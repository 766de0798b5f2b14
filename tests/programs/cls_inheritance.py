"""Inheritance: super() chains through three classes, classmethod,
staticmethod, an abstract-ish template method, __init_subclass__ at import
time only."""


class Base:
    def __init__(self, name):
        self.name = name

    def describe(self):
        return f"{self.kind()}:{self.name}"

    def kind(self):
        return "base"

    @classmethod
    def create(cls, name):
        return cls(cls.normalise(name))

    @staticmethod
    def normalise(name):
        return name.lower()


class Middle(Base):
    def __init__(self, name):
        super().__init__(name + "!")

    def kind(self):
        return "middle/" + super().kind()


class Leaf(Middle):
    def kind(self):
        return "leaf/" + super().kind()

    def describe(self):
        return "<" + super().describe() + ">"


def main():
    return [c.create("X").describe() for c in (Base, Middle, Leaf)]
