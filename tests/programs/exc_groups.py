"""ExceptionGroup and except*: handlers per type, nested handlers."""


def fail_many():
    errors = []
    for i, cls in enumerate((ValueError, TypeError, ValueError)):
        errors.append(make(cls, i))
    raise ExceptionGroup("many", errors)


def make(cls, i):
    return cls(i)


def on_value(eg):
    return len(eg.exceptions)


def on_type(eg):
    return len(eg.exceptions)


def handle():
    seen = []
    try:
        fail_many()
    except* ValueError as eg:
        seen.append(("value", on_value(eg)))
    except* TypeError as eg:
        seen.append(("type", on_type(eg)))
    return seen


def handler_in_handler():
    try:
        raise LookupError("a")
    except LookupError:
        try:
            make(RuntimeError, 0)
            raise RuntimeError("b")
        except RuntimeError as e:
            return on_value(ExceptionGroup("x", [e]))


def main():
    return handle(), handler_in_handler()
