"""Exception translation: raise X from e, raise X from None, implicit context."""


class ConfigError(Exception):
    pass


def parse(text):
    return int(text)


def load(text):
    try:
        return parse(text)
    except ValueError as e:
        raise ConfigError(f"bad {text!r}") from e


def load_quiet(text):
    try:
        return parse(text)
    except ValueError:
        raise ConfigError("quiet") from None


def load_implicit(text):
    try:
        return parse(text)
    except ValueError:
        describe(text)
        raise ConfigError("implicit")


def describe(text):
    return len(text)


def main():
    out = [load("12")]
    for f in (load, load_quiet, load_implicit):
        try:
            f("x")
        except ConfigError as e:
            out.append((f.__name__, type(e.__cause__).__name__, e.__suppress_context__))
    return out
