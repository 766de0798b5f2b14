"""The viewer and folding on a small program: an order book that parses
orders, prices them (one price is missing) and settles them on a thread.

    python examples/viewer_example.py [PAGE]

writes the viewer's page (default: viewer_example.html in the current
directory) and prints the text tree, folded: the 200 calls of `price()` in a
row show as their first three, the one that raised, and one line for the
rest. Open the page in a browser: the tree folds and searches, the timeline
shows the thread, and selecting a call shows its source.
"""
import sys
import threading

import flowtrace

PRICES = {f"item{i}": 1 + i % 7 for i in range(200) if i != 150}


def parse(line):
    item, _, qty = line.partition("x")
    return item.strip(), int(qty)


def price(item):
    return PRICES[item]  # item150 has no price: KeyError


def total(orders):
    t = 0
    for item, qty in orders:
        try:
            t += price(item) * qty
        except KeyError:
            t += 0  # unpriced items are free today
    return t


def settle(amount, ledger):
    ledger.append(amount)


def main():
    orders = [parse(f"item{i} x {1 + i % 3}") for i in range(200)]
    ledger = []
    amount = total(orders)
    t = threading.Thread(target=settle, args=(amount, ledger), name="settler")
    t.start()
    t.join()
    return ledger


if __name__ == "__main__":
    page = sys.argv[1] if len(sys.argv) > 1 else "viewer_example.html"
    with flowtrace.tracing(timing=True, args=True) as trace:
        main()
    trace.save(page, format="html")
    flowtrace.print_tree(trace, fold=True, max_depth=3)
    print(f"\nthe viewer's page: {page} ({len(trace)} calls); open it in a browser")
