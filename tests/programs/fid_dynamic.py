"""Classes and code made at run time, in loops, and freed: classes made by
type() (instances returned and passed), exception classes made by type(),
functions compiled from strings (under this file's name and under a name of
their own), lambdas made in a loop."""
import gc

SOURCE = """
def made_{i}(x, *rest, scale={i}):
    if x < 0:
        raise ValueError("negative in made_{i}: " + str(x))
    return [x * scale, len(rest), "made_{i}"]
"""


def make_class(i):
    return type(f"Dyn{i}", (), {"i": i, "double": lambda self: self.i * 2})


def instance_of(cls):
    return cls()


def use(obj):
    return obj.double()


def make_error(i):
    return type(f"DynError{i}", (ValueError,), {})


def raise_dynamic(cls, i):
    raise cls(f"dynamic {i}")


def compile_function(i, filename):
    namespace = {}
    exec(compile(SOURCE.format(i=i), filename, "exec"), globals(), namespace)
    return namespace[f"made_{i}"]


def main():
    out = []
    for i in range(4):
        cls = make_class(i)
        obj = instance_of(cls)
        out.append(use(obj))
        err = make_error(i)
        try:
            raise_dynamic(err, i)
        except ValueError as e:
            out.append(type(e).__name__)
        del cls, obj, err
        gc.collect()  # the classes are freed: the next ones may reuse their memory
    for i in range(3):
        for filename in (__file__, "<fidelity-dynamic>"):
            f = compile_function(i, filename)
            out.append(f(i + 1, "a", "b"))
            try:
                f(-i - 1)
            except ValueError as e:
                out.append(str(e))
            del f
            gc.collect()
    fns = [lambda x, k=k: x + k for k in range(3)]
    out.append([f(10) for f in fns])
    return out
