"""A trace's tree, bounded, for places that show it to a person inside
another tool's output: a failing test's report (the pytest plugin), a
notebook cell (the IPython extension), a Trace's own display.

Bounded twice: in depth (``max_depth``, the text writer's own limit: a
call at the limit says how many calls below it are hidden) and in lines (a
tree longer than ``max_lines`` keeps its first and its last lines, and says
how many were left out between them). The last lines are kept because
that is where a failure ends: the exception going up the calls.

The text is made by the C writer (print_tree), streamed through a sink
that keeps only the lines it will show: a million-line tree is never held
in memory. :class:`TreeView` is what a rich display shows (IPython calls
``_repr_pretty_``), and Jupyter's HTML (``_repr_html_``): the viewer's page
in a frame, for traces of up to NOTEBOOK_NODES nodes (a notebook keeps its
outputs in the .ipynb file; past that size the text stays).
"""
from __future__ import annotations

import collections
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

from .model import Trace

__all__ = ["BoundedTree", "render", "TreeView", "DEFAULT_DEPTH", "DEFAULT_LINES",
           "NOTEBOOK_NODES", "page_frame"]

DEFAULT_DEPTH = 6
DEFAULT_LINES = 200
# the biggest trace a notebook shows as the viewer's page (about 3 MB of
# page with arguments); a bigger one shows its text tree
NOTEBOOK_NODES = 100_000


def page_frame(trace: Trace, height: int = 560) -> str | None:
    """The viewer's page of ``trace`` in an <iframe srcdoc> (scripts run,
    nothing else is allowed: no access to the notebook's page), or None for
    a trace too big (NOTEBOOK_NODES) or still being recorded."""
    import html
    import io

    from .viewer import write_page

    if trace._core is None or len(trace) == 0 or len(trace) > NOTEBOOK_NODES:
        return None
    buf = io.StringIO()
    write_page(trace._c(), buf, binary=False, title="notebook")
    return (f'<iframe srcdoc="{html.escape(buf.getvalue(), quote=True)}" '
            f'sandbox="allow-scripts" title="FlowTrace viewer" '
            f'style="width: 100%; height: {height}px; border: 1px solid #8884;"></iframe>')


class _Sink:
    """A write-only text file that keeps the first ``head`` lines and the
    last ``tail`` lines written to it, and counts all of them."""

    encoding = "utf-8"

    def __init__(self, head: int, tail: int) -> None:
        self.head: list[str] = []
        self.tail: collections.deque[str] = collections.deque(maxlen=max(tail, 0) or None)
        self.keep_tail = tail > 0
        self.nhead = head
        self.lines = 0
        self.partial = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def write(self, text: str) -> int:
        if not text:
            return 0
        parts = (self.partial + text).split("\n")
        self.partial = parts.pop()
        self.lines += len(parts)
        room = self.nhead - len(self.head)
        if room > 0:
            self.head.extend(parts[:room])
            parts = parts[room:]
        if parts and self.keep_tail:
            self.tail.extend(parts)  # only lines after the head
        return len(text)


@dataclass(frozen=True)
class BoundedTree:
    """The shown lines of a tree: ``head`` then, when ``omitted`` > 0, a
    gap of that many lines, then ``tail``. ``total``: lines of the whole
    tree at that depth."""

    head: list[str]
    tail: list[str]
    total: int

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self, gap: str | None = None) -> str:
        """The lines, one per line; ``gap`` replaces the default line that
        says how many were left out (``{n}``: their number)."""
        out = list(self.head)
        if self.omitted > 0:
            first = len(self.head) + 1
            line = (gap or "⋯ {n} lines left out (lines {first}-{last} of {total})").format(
                n=f"{self.omitted:,}", first=f"{first:,}",
                last=f"{first + self.omitted - 1:,}", total=f"{self.total:,}")
            out.append(line)
        out.extend(self.tail)
        return "".join(line + "\n" for line in out)


def render(trace: Trace, *, max_depth: int | None = DEFAULT_DEPTH,
           max_lines: int | None = DEFAULT_LINES, color: bool = False,
           ascii: bool = False) -> BoundedTree:
    """The tree of ``trace`` down to ``max_depth`` (None: all), at most
    ``max_lines`` lines (None: all): two thirds from its start, a third
    from its end."""
    from .api import print_tree

    if max_lines is None:
        head, tail = 1 << 62, 0
    else:
        if max_lines < 2:
            raise ValueError("max_lines must be >= 2 (None: no limit)")
        tail = max_lines // 3
        head = max_lines - tail
    sink = _Sink(head, tail)
    print_tree(trace, file=sink, ascii=ascii, color="always" if color else "never",
               max_depth=max_depth)
    if sink.partial:
        sink.write("\n")
    return BoundedTree(sink.head, list(sink.tail), sink.lines)


def color_wanted() -> bool:
    """Colour for a display that is not a file (a notebook's output, a
    report): off when ``NO_COLOR`` is set, as everywhere in FlowTrace."""
    return not os.environ.get("NO_COLOR")


def ipython_color() -> bool:
    """Colour in the running IPython shell: its ``%colors`` on, and no
    NO_COLOR. False outside IPython."""
    mod = sys.modules.get("IPython")
    shell = getattr(mod, "get_ipython", lambda: None)() if mod else None
    if shell is None:
        return False
    colors = str(getattr(shell, "colors", "nocolor") or "nocolor").lower()
    return colors != "nocolor" and color_wanted()


_HIDDEN = re.compile(r"\(\+[\d,]+ calls?\)(\x1b\[[0-9;]*m)*$")


class TreeView:
    """What a notebook shows for a trace: its tree, bounded.

    ``_repr_pretty_`` is IPython's text display (the terminal, and
    ``text/plain`` in Jupyter: colour there is ANSI, which both render).
    ``_repr_html_`` is Jupyter's: the viewer's page (tree, timeline,
    functions, source) for a trace of up to NOTEBOOK_NODES nodes; a bigger
    one keeps the text.

    ``whole``: how to see the whole tree (``flowtrace.print_tree(t)``),
    said under a tree that was cut or stopped at the depth limit.
    """

    def __init__(self, trace: Trace, *, max_depth: int | None = DEFAULT_DEPTH,
                 max_lines: int | None = DEFAULT_LINES, color: bool | None = None,
                 header: str | None = None, whole: str | None = None) -> None:
        self.trace = trace
        self.max_depth = max_depth
        self.max_lines = max_lines
        self.color = color
        self.header = header
        self.whole = whole

    def text(self, color: bool | None = None) -> str:
        if color is None:
            color = self.color if self.color is not None else color_wanted()
        if self.trace._core is None:
            return "(the trace is still being recorded)\n"
        parts = []
        if self.header:
            parts.append(self.header + "\n")
        if len(self.trace) == 0:
            parts.append("(no calls recorded)\n")
        else:
            tree = render(self.trace, max_depth=self.max_depth,
                          max_lines=self.max_lines, color=color)
            parts.append(tree.text())
            if self.whole and (tree.omitted > 0 or any(
                    _HIDDEN.search(line) for line in tree.head + tree.tail)):
                parts.append(f"(whole tree: {self.whole})\n")
        return "".join(parts)

    def __str__(self) -> str:
        return self.text(color=False)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # one text, newlines kept: the tree is already laid out
        p.text(self.text().rstrip("\n"))

    def _repr_html_(self) -> str | None:
        return page_frame(self.trace)
