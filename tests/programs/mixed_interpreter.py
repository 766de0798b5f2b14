"""A small realistic program: a tokenizer (generator), a recursive-descent
parser (mutual recursion, exceptions for syntax errors) and an evaluator
(a class with dispatch by method name)."""


class ParseError(Exception):
    pass


def tokens(text):
    num = ""
    for ch in text:
        if ch.isdigit():
            num += ch
            continue
        if num:
            yield ("num", int(num))
            num = ""
        if ch in "+-*/()":
            yield ("op", ch)
        elif not ch.isspace():
            raise ParseError(ch)
    if num:
        yield ("num", int(num))


class Parser:
    def __init__(self, text):
        self.toks = list(tokens(text))
        self.pos = 0

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def expr(self):
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            node = (self.take()[1], node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.peek()[1] in ("*", "/"):
            node = (self.take()[1], node, self.factor())
        return node

    def factor(self):
        kind, value = self.take()
        if kind == "num":
            return value
        if value == "(":
            node = self.expr()
            if self.take()[1] != ")":
                raise ParseError("missing )")
            return node
        raise ParseError(str(value))


class Evaluator:
    def eval(self, node):
        if isinstance(node, int):
            return node
        op, a, b = node
        return getattr(self, {"+": "add", "-": "sub", "*": "mul", "/": "div"}[op])(
            self.eval(a), self.eval(b))

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def div(self, a, b):
        return a // b


def calc(text):
    try:
        return Evaluator().eval(Parser(text).expr())
    except ParseError as e:
        return f"error {e}"


def main():
    return [calc(t) for t in ("1+2*3", "(1+2)*3", "8/(3-1)", "2*(3", "4 $ 4")]
