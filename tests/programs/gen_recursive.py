"""Recursive generators: in-order traversal with yield from, permutations."""


def inorder(tree):
    if tree is None:
        return
    left, value, right = tree
    yield from inorder(left)
    yield visit(value)
    yield from inorder(right)


def visit(v):
    return v


def perms(items):
    if len(items) <= 1:
        yield list(items)
        return
    for i in range(len(items)):
        for rest in perms(items[:i] + items[i + 1:]):
            yield [items[i]] + rest


def main():
    tree = ((None, 1, None), 2, ((None, 3, None), 4, None))
    return list(inorder(tree)), list(perms([1, 2, 3]))
