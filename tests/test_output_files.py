"""print_tree into real files: a UTF-8 text file is written through its
binary buffer (no decode/encode round trip); the result must be exactly what
the text layer would have written, in order with the file's own writes."""
import io

from conftest import run_py, session, tree_text

from flowtrace import print_tree
from flowtrace.api import _utf8_buffer


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def traced():
    return session(fib, 4)[1]


def test_utf8_file_gets_the_same_text_in_order(tmp_path):
    t = traced()
    expected = tree_text(t)
    assert "→" in expected
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="utf-8") as f:
        assert _utf8_buffer(f) is f.buffer
        f.write("before\n")  # still in the text layer when print_tree runs
        print_tree(t, file=f)
        f.write("after ✓\n")
    assert path.read_text(encoding="utf-8") == "before\n" + expected + "after ✓\n"


def test_other_files_go_through_write(tmp_path):
    t = traced()
    expected = tree_text(t)

    class Recording(io.TextIOWrapper):  # a subclass may override write: it is called
        pieces: list[str] = []

        def write(self, s):
            Recording.pieces.append(s)
            return super().write(s)

    path = tmp_path / "sub.txt"
    with Recording(open(path, "wb"), encoding="utf-8") as f:
        assert _utf8_buffer(f) is None
        print_tree(t, file=f)
    assert "".join(Recording.pieces) == expected
    assert path.read_text(encoding="utf-8") == expected

    latin = tmp_path / "latin.txt"
    with open(latin, "w", encoding="latin-1") as f:
        assert _utf8_buffer(f) is None
        print_tree(t, file=f)  # no arrows in latin-1: the ASCII form
    assert "->" in latin.read_text(encoding="latin-1")

    with open(tmp_path / "rw.txt", "w+", encoding="utf-8") as f:
        assert _utf8_buffer(f) is None  # readable: the text layer keeps its state
        print_tree(t, file=f)
        f.seek(0)
        assert f.read() == expected

    s = io.StringIO()
    assert _utf8_buffer(s) is None
    print_tree(t, file=s)
    assert s.getvalue() == expected


def test_line_buffered_file_is_flushed(tmp_path):
    t = traced()
    path = tmp_path / "lb.txt"
    with open(path, "w", encoding="utf-8", buffering=1) as f:
        print_tree(t, file=f)
        # visible before close, as with the text layer's line buffering
        assert path.read_text(encoding="utf-8") == tree_text(t)


def test_stdout_pipe_keeps_order_with_print():
    p = run_py("""
        import sys
        from flowtrace import trace

        @trace
        def f(x):
            return x * 2

        print("one")
        f(2)
        print("two")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "one\n→ f(2) → 4\ntwo\n"


def test_facts_follow_a_change_of_encoding(tmp_path):
    t = traced()
    path = tmp_path / "re.txt"
    with open(path, "w", encoding="latin-1") as f:
        print_tree(t, file=f)  # ASCII arrows, through write()
        f.reconfigure(encoding="utf-8")
        assert _utf8_buffer(f) is f.buffer
        print_tree(t, file=f)  # arrows now, through the buffer
    text = path.read_bytes().decode("utf-8")
    assert text == tree_text(t, ascii=True) + tree_text(t)
