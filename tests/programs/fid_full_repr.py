"""User objects whose repr changes over time (the trace must show the repr
at each event), reprs that fail, are long or span lines, and exceptions
whose __str__ depends on state. Without full reprs these show as class
names; with them, as their repr at the moment of the event."""


class Account:
    def __init__(self, name):
        self.name = name
        self.balance = 0

    def __repr__(self):
        return f"Account({self.name!r}, balance={self.balance})"

    def deposit(self, amount):
        self.balance += amount
        return self


class Broken:
    def __repr__(self):
        raise RuntimeError("no repr")


class Chatty:
    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return "Chatty(\n" + "-" * self.n + ")"


class Failure(Exception):
    def __init__(self, account):
        super().__init__(account.name)
        self.account = account

    def __str__(self):
        return f"failed at {self.account.balance}"


def deposit_all(account, amounts):
    for a in amounts:
        account.deposit(a)
    return account


def overdraw(account, amount):
    if amount > account.balance:
        raise Failure(account)
    account.balance -= amount
    return account


def broken(b):
    return b


def chatty(n):
    return Chatty(n)


def holder(objs):
    return objs


def main():
    acct = Account("a")
    out = []
    for i in range(4):
        deposit_all(acct, [i, i + 1])
        out.append(acct.balance)
        try:
            overdraw(acct, 10)
        except Failure as e:
            out.append(str(e))
    out.append(type(broken(Broken())).__name__)
    out.append([len(repr(chatty(n))) for n in (3, 200)])
    out.append(len(holder([acct, Account("b"), {"k": acct}])))
    return out
