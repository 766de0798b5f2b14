"""A tiny shop: the code under test of the pytest example."""


class Cart:
    def __init__(self):
        self.lines = []

    def add(self, name, price, qty=1):
        self.lines.append((name, price, qty))

    def subtotal(self):
        return sum(line_total(price, qty) for _, price, qty in self.lines)

    def total(self, code=None):
        sub = self.subtotal()
        return sub - discount(sub, code)


def line_total(price, qty):
    return price * qty


def discount(amount, code):
    rates = {"TEN": 10, "HALF": 50}
    if code is None:
        return 0
    # the bug the failing test finds: a percentage used as an amount
    return rates[code]


class Orders:
    """An in-memory order store (a fixture gives one to each test)."""

    def __init__(self):
        self.saved = []

    def save(self, cart, code=None):
        self.saved.append(cart.total(code))
        return len(self.saved)


def checkout(cart, orders, code=None):
    if not cart.lines:
        raise ValueError("empty cart")
    return orders.save(cart, code)
