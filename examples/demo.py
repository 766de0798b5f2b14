"""A small program to show what FlowTrace records: recursion, a method
chain, an exception caught one level up, a generator consumed lazily, a
worker thread, and asyncio tasks. Run it with `make demo` (or
`flowtrace run examples/demo.py`).
"""
import asyncio
import threading


class Account:
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        self.balance += amount
        return self.balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError(f"insufficient funds: {self.balance} < {amount}")
        self.balance -= amount
        return self.balance


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def try_withdraw(account, amount):
    try:
        return account.withdraw(amount)
    except ValueError:
        return None


def squares(n):
    for i in range(n):
        yield i * i


def total(values):
    return sum(values)


def worker(account):
    account.deposit(5)


async def fetch(name, delay):
    await asyncio.sleep(delay)
    return f"{name}: ok"


async def gather_all():
    return await asyncio.gather(fetch("a", 0), fetch("b", 0.001))


def main():
    acct = Account("ada", 10)
    acct.deposit(5)
    try_withdraw(acct, 100)
    print("fib(4) =", fib(4))
    print("sum of squares:", total(squares(3)))
    t = threading.Thread(target=worker, args=(acct,), name="worker")
    t.start()
    t.join()
    print("balance:", acct.balance)
    print(asyncio.run(gather_all()))


if __name__ == "__main__":
    main()
