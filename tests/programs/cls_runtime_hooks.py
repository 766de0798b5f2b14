"""User code the interpreter calls from C at run time: a metaclass __call__,
__del__ (run by refcounting inside whichever frame drops the object), a
weakref callback, dict.__missing__, __format__, __getitem__/__setitem__, an
exception class with its own __init__ and __str__ (called by str())."""
import weakref


class Registry(type):
    def __call__(cls, *args):
        obj = super().__call__(*args)
        register(obj)
        return obj


def register(obj):
    return obj


class Tracked(metaclass=Registry):
    log = []

    def __init__(self, name):
        self.name = name

    def __del__(self):
        Tracked.log.append(gone(self.name))


def gone(name):
    return "del " + name


class Defaults(dict):
    def __missing__(self, key):
        return make_default(key)


def make_default(key):
    return key * 2


class Money:
    def __init__(self, cents):
        self.cents = cents

    def __format__(self, spec):
        return f"{self.cents / 100:{spec or '.2f'}}"


class Grid:
    def __init__(self):
        self.cells = {}

    def __getitem__(self, key):
        return self.cells.get(key, 0)

    def __setitem__(self, key, value):
        self.cells[key] = value


class AppError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code

    def __str__(self):
        return f"app error {self.code}"


def on_collected(ref):
    Tracked.log.append("weakref callback")


def drop(objs):
    objs.clear()  # __del__ runs here


def main():
    objs = [Tracked("a"), Tracked("b")]
    ref = weakref.ref(objs[0], on_collected)
    drop(objs)
    d = Defaults(x=1)
    money = f"{Money(1234)} {Money(5):.1f}"
    g = Grid()
    g[1, 2] = 5
    g[1, 2] += 1
    try:
        raise AppError(7)
    except AppError as e:
        msg = str(e)
    return Tracked.log, ref() is None, d["x"], d["yy"], money, g[1, 2], msg
