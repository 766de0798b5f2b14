import pytest

from shop import Cart, Orders


@pytest.fixture
def cart():
    c = Cart()
    c.add("book", 12, qty=2)
    c.add("pen", 3)
    return c


@pytest.fixture
def orders():
    store = Orders()
    yield store
    store.saved.clear()
