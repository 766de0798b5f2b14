"""Properties: getter, setter with validation, deleter, a computed property
that calls other methods, a cached one."""


class Temperature:
    def __init__(self, celsius):
        self.celsius = celsius  # goes through the setter

    @property
    def celsius(self):
        return self._c

    @celsius.setter
    def celsius(self, value):
        self._c = self._validate(value)

    @celsius.deleter
    def celsius(self):
        self._c = None

    def _validate(self, value):
        if value < -273.15:
            raise ValueError(value)
        return value

    @property
    def fahrenheit(self):
        return self.celsius * 9 / 5 + 32


class Lazy:
    def __init__(self):
        self._cache = None

    @property
    def value(self):
        if self._cache is None:
            self._cache = self._compute()
        return self._cache

    def _compute(self):
        return 42


def main():
    t = Temperature(20)
    f = t.fahrenheit
    t.celsius = 30
    try:
        t.celsius = -300
    except ValueError:
        pass
    del t.celsius
    lz = Lazy()
    return f, lz.value, lz.value, t._c
