"""Recursion over a tree of nodes: depth, count, flatten with an accumulator."""


class Node:
    def __init__(self, value, *children):
        self.value = value
        self.children = list(children)


def depth(node):
    return 1 + max((depth(c) for c in node.children), default=0)


def count(node):
    total = 1
    for c in node.children:
        total += count(c)
    return total


def flatten(node, acc):
    acc.append(node.value)
    for c in node.children:
        flatten(c, acc)
    return acc


def build():
    return Node(1, Node(2, Node(4), Node(5, Node(7))), Node(3, Node(6)))


def main():
    t = build()
    return depth(t), count(t), flatten(t, [])
