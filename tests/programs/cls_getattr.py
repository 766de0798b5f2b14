"""__getattr__ (only for missing attributes), __setattr__, a proxy that
forwards to a wrapped object, and __getattribute__ on one class."""


class Proxy:
    def __init__(self, target):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_log", [])

    def __getattr__(self, name):
        self._log.append(name)
        return getattr(self._target, name)

    def __setattr__(self, name, value):
        self._log.append("set " + name)
        setattr(self._target, name, value)


class Target:
    def __init__(self):
        self.value = 1

    def method(self, x):
        return self.value + x


class Audited:
    def __init__(self):
        self.hits = 0

    def __getattribute__(self, name):
        if name == "hits":
            return object.__getattribute__(self, name)
        return object.__getattribute__(self, "_lookup")(name)

    def _lookup(self, name):
        return name.upper()


def main():
    p = Proxy(Target())
    a = p.value
    b = p.method(2)
    p.value = 10
    c = p.method(1)
    au = Audited()
    return a, b, c, p._log, au.anything, au.hits
