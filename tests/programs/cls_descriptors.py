"""A user descriptor (__get__ / __set__) used as a validated field, and
__set_name__ (runs at class creation, before recording)."""


class Positive:
    def __set_name__(self, owner, name):
        self.attr = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(obj, self.attr)

    def __set__(self, obj, value):
        if not check(value):
            raise ValueError(value)
        setattr(obj, self.attr, value)


def check(value):
    return value > 0


class Order:
    qty = Positive()
    price = Positive()

    def __init__(self, qty, price):
        self.qty = qty
        self.price = price

    def total(self):
        return self.qty * self.price


def main():
    o = Order(3, 5)
    try:
        Order(0, 1)
    except ValueError:
        pass
    return o.total(), isinstance(Order.qty, Positive)
