"""The viewer's local server (``flowtrace view --serve``).

It serves the viewer of one trace to this machine only: bound
to 127.0.0.1, on a random port unless one is given, and every request must
carry the random token of the URL it prints (``?token=...``) and name this
server in its Host header (so that a web page elsewhere cannot reach it
through a name that resolves to 127.0.0.1: DNS rebinding). The page's data
streams from the engine into the socket on each request; nothing is
written to disk.

A trace of up to PAGE_LIMIT nodes is one page, as written to a file. A
bigger one is served in views: ``/?root=ID`` is the page of node ID's
subtree (every thread without ``root``) as deep as VIEW_BUDGET nodes go;
expanding a call at its frontier opens that call's view, and
``/api/search?q=TEXT`` searches the whole trace in the engine. The
functions table is the whole trace's (``Trace.stats`` in the engine).
Memory: what the engine holds, and one view's nodes per request.
"""
from __future__ import annotations

import hmac
import secrets
import sys
import threading
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import PAGE_LIMIT, VIEW_BUDGET, write_page

__all__ = ["ViewerServer"]


class _Handler(BaseHTTPRequestHandler):
    server: "ViewerServer"
    protocol_version = "HTTP/1.0"
    server_version = "flowtrace-viewer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.log is not None:
            self.server.log.write(f"flowtrace view: {format % args}\n")

    def _refuse(self, status: int, why: str) -> None:
        body = (why + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            self._refuse(403, "wrong Host: this server answers 127.0.0.1 and localhost only")
            return
        url = urlsplit(self.path)
        token = parse_qs(url.query).get("token", [""])[0]
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            self._refuse(403, "missing or wrong token: open the URL flowtrace view printed")
            return
        query = parse_qs(url.query)
        if url.path == "/api/search":
            self._search(query.get("q", [""])[0], query.get("count", ["1"])[0] != "0")
            return
        if url.path not in ("/", "/index.html"):
            self._refuse(404, "not found")
            return
        try:
            root = int(query.get("root", ["-1"])[0])
            start = max(0, int(query.get("from", ["0"])[0]))
        except ValueError:
            root, start = -2, 0
        if not -1 <= root < len(self.server.core):
            self._refuse(404, "no such call in this trace")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        s = self.server
        try:
            if s.in_views:
                write_page(s.core, self.wfile, title=s.title, sources=s.sources, root=root,
                           start=start, budget=s.budget, served=s.served_options())
            else:
                write_page(s.core, self.wfile, title=s.title, sources=s.sources)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away

    def _search(self, text: str, count: bool) -> None:
        body = json.dumps(self.server.search(text, count=count), ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def _line(ev: Any) -> str:
    """A search result's one line: "name(args) → result" or its exception."""
    if ev.kind in ("raise", "reraise", "handled"):
        return f"{ev.kind} {ev.exception or ''}"
    if ev.kind == "task":
        return f"task {ev.args_repr or ''}"
    body = ev.func_name.startswith(("<module", "class "))  # no call: no argument slot
    text = ev.func_name if body else f"{ev.func_name}({ev.args_repr or ''})"
    if ev.end == "raise":
        return f"{text} ↯ {ev.exception or ''}"
    if ev.result_repr is not None and not body:
        return f"{text} → {ev.result_repr}"
    return text


class ViewerServer(ThreadingHTTPServer):
    """Serves the page of ``core`` (a ``flowtrace._core.Trace``) on
    127.0.0.1. ``url`` is what to open; ``serve_forever()`` runs it,
    ``shutdown()`` (from another thread) stops it."""

    daemon_threads = True

    def __init__(self, core: Any, *, port: int = 0, title: str = "trace",
                 sources: bool = True, log: Any = sys.stderr,
                 page_limit: int = PAGE_LIMIT, budget: int = VIEW_BUDGET) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.core = core
        self.in_views = len(core) > page_limit
        self.budget = budget
        self._stats: list[list[Any]] | None = None
        self.title = title
        self.sources = sources
        self.log = log
        self.token = secrets.token_urlsafe(24)
        self.port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        if self.in_views:
            self.served_options()  # the whole trace's stats, before the first page asks

    def served_options(self) -> dict[str, Any]:
        """What a view's page needs from the whole trace."""
        if self._stats is None:
            self._stats = [[r[0], r[1], r[4], r[5], r[6], r[7], r[8]]
                           for r in self.core.stats()]
        return {"token": self.token, "nodes": len(self.core), "budget": self.budget,
                "stats": self._stats}

    def search(self, text: str, limit: int = 200, count: bool = True) -> dict[str, Any]:
        """The calls whose name, arguments or outcome contain ``text``: the
        first ``limit`` with their line and the view to open (two calls up,
        so that each shows in its context), and how many match in all
        (with ``count``, a scan of the whole trace; without, the scan stops
        at the ``limit``-th match and "total" is null)."""
        text = text.strip()
        if not text:
            return {"total": 0, "matches": []}
        total, ids = self.core.viewer_search(text, limit, count=count)
        if not count and total >= limit:
            total = None
        matches = []
        for i in ids:
            ev = self.core[i]
            view = i
            for _ in range(2):
                up = self.core[view].parent_id
                if up is None:
                    break
                view = up
            matches.append({"id": i, "view": view, "text": _line(ev)})
        return {"total": total, "matches": matches}

    def start(self) -> threading.Thread:
        """Serve from a daemon thread (tests, notebooks)."""
        t = threading.Thread(target=self.serve_forever, name="flowtrace-viewer", daemon=True)
        t.start()
        return t
