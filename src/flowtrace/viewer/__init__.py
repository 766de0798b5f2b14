"""The viewer: one self-contained HTML page of a trace (docs/viewer.md).

The page is ``page.html`` with the stylesheet (``page.css``) and the script
(``page.js``) put inline, the trace's data as written by the engine
(``Trace.write_viewer``: columns of numbers and a string table) and the
source of the traced files. It opens from disk, with no network.
"""
from __future__ import annotations

import html
import json
import linecache
from importlib import resources
from typing import Any

__all__ = ["write_page", "SOURCE_FILE_LIMIT", "SOURCE_TOTAL_LIMIT", "PAGE_LIMIT", "VIEW_BUDGET"]

# Past this many nodes a trace is served in views (flowtrace view --serve):
# measured in headless Chromium on the reference machine, 2.7M calls are
# interactive in 2 s and 7M in 4.9 s (search over all of them 2-9 s); a
# view of VIEW_BUDGET nodes opens in well under a second.
PAGE_LIMIT = 2_000_000
VIEW_BUDGET = 200_000

# sources are embedded up to these sizes (characters): past them the page
# says "no source" for the rest rather than grow without bound
SOURCE_FILE_LIMIT = 2_000_000
SOURCE_TOTAL_LIMIT = 20_000_000


def _asset(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON that can sit inside a <script> element (no "</script>")."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sources(files: list[str]) -> dict[str, str]:
    """The text of each file that can be read (linecache: files on disk,
    and what IPython and others registered there), within the limits."""
    out: dict[str, str] = {}
    total = 0
    for name in files:
        try:
            lines = linecache.getlines(name)
        except Exception:  # a loader that fails: no source, not an error
            continue
        if not lines:
            continue
        text = "".join(lines)
        if text.endswith("\n"):
            text = text[:-1]
        if len(text) > SOURCE_FILE_LIMIT or total + len(text) > SOURCE_TOTAL_LIMIT:
            continue
        out[name] = text
        total += len(text)
    return out


def write_page(core: Any, file: Any, *, binary: bool = True, title: str = "trace",
               sources: bool = True, root: int = -1, budget: int = 0, start: int = 0,
               served: dict[str, Any] | None = None) -> None:
    """Write the page of ``core`` (a ``flowtrace._core.Trace``) to ``file``,
    opened for writing (bytes when ``binary``, else str). The trace's data
    streams from the engine; the page is never held whole in memory.

    With ``budget`` (or ``root``), the page holds one view of the tree: the
    subtree of node ``root`` (-1: every thread) as deep as ``budget`` nodes
    allow (viewer_select.h), a page of its children from the ``start``-th
    when they alone pass the budget; ``served`` then tells the page how to ask the
    server for other views and for searches (token, whole-trace figures).
    """
    page = _asset("page.html")
    head, rest = page.split("{{DATA}}")
    middle, tail = rest.split("{{SOURCES}}")
    options, tail = tail.split("{{OPTIONS}}")
    head = (head.replace("{{TITLE}}", html.escape(title))
            .replace("{{CSS}}", _asset("page.css")))

    def put(text: str) -> None:
        file.write(text.encode("utf-8") if binary else text)

    put(head)
    files = core.write_viewer(file, binary=binary, root=root, budget=budget, start=start)
    put(middle)
    put(_script_json(_sources(files) if sources else {}))
    put(options)
    put(_script_json({"title": title, "sources": sources, "served": served}))
    put(tail.replace("{{JS}}", _asset("page.js")))
