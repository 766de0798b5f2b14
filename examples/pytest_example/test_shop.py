"""The pytest example: run it with FlowTrace's plugin (installed with FlowTrace)

    cd examples/pytest_example
    pytest --flowtrace                       # a failing test's report shows its call tree
    pytest --flowtrace --flowtrace-dir out   # and keeps its trace: flowtrace show out/...

test_discount_code fails on purpose (a bug in shop.discount): read its
report. test_checkout_saves_once asserts on the trace itself, with the
flowtrace_trace fixture, and runs traced even without --flowtrace.
"""
import pytest

from shop import checkout


def test_subtotal(cart):
    assert cart.subtotal() == 27


def test_checkout(cart, orders):
    assert checkout(cart, orders) == 1
    assert orders.saved == [27]


def test_discount_code(cart, orders):
    # fails: HALF should halve 27, the code takes 50 off
    checkout(cart, orders, code="HALF")
    assert orders.saved == [13.5]


def test_checkout_saves_once(cart, orders, flowtrace_trace):
    checkout(cart, orders, code="TEN")
    # what ran, not only what came out: one save, two line totals
    assert len(flowtrace_trace.calls("Orders.save")) == 1
    assert len(flowtrace_trace.calls("line_total")) == 2


@pytest.mark.flowtrace(args=True)
def test_empty_cart_is_refused(orders):
    from shop import Cart

    with pytest.raises(ValueError, match="empty cart"):
        checkout(Cart(), orders)
