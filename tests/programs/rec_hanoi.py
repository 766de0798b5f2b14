"""Towers of Hanoi and Ackermann (small): deep, branching recursion."""


def move(moves, a, b):
    moves.append((a, b))


def hanoi(n, src, dst, via, moves):
    if n == 0:
        return
    hanoi(n - 1, src, via, dst, moves)
    move(moves, src, dst)
    hanoi(n - 1, via, dst, src, moves)


def ack(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ack(m - 1, 1)
    return ack(m - 1, ack(m, n - 1))


def main():
    moves = []
    hanoi(3, "A", "C", "B", moves)
    return len(moves), ack(1, 2)
