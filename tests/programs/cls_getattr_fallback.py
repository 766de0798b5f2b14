"""A property that raises AttributeError falls back to __getattr__; hasattr()
and getattr() with a default over both."""


class Config:
    def __init__(self, data):
        self._data = data

    @property
    def port(self):
        return self._lookup("port")

    def _lookup(self, key):
        if key not in self._data:
            raise AttributeError(key)
        return self._data[key]

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return default_for(name)


def default_for(name):
    return f"default-{name}"


def main():
    a = Config({"port": 80})
    b = Config({})
    return a.port, b.port, hasattr(b, "_hidden"), getattr(b, "_x", "none"), b.host
