"""The viewer's local server (``flowtrace view --serve``).

It serves one page, the viewer of one trace, to this machine only: bound
to 127.0.0.1, on a random port unless one is given, and every request must
carry the random token of the URL it prints (``?token=...``) and name this
server in its Host header (so that a web page elsewhere cannot reach it
through a name that resolves to 127.0.0.1: DNS rebinding). The page's data
streams from the engine into the socket on each request; nothing is
written to disk.
"""
from __future__ import annotations

import hmac
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import write_page

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
        if url.path not in ("/", "/index.html"):
            self._refuse(404, "not found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        try:
            write_page(self.server.core, self.wfile, title=self.server.title,
                       sources=self.server.sources)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away


class ViewerServer(ThreadingHTTPServer):
    """Serves the page of ``core`` (a ``flowtrace._core.Trace``) on
    127.0.0.1. ``url`` is what to open; ``serve_forever()`` runs it,
    ``shutdown()`` (from another thread) stops it."""

    daemon_threads = True

    def __init__(self, core: Any, *, port: int = 0, title: str = "trace",
                 sources: bool = True, log: Any = sys.stderr) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.core = core
        self.title = title
        self.sources = sources
        self.log = log
        self.token = secrets.token_urlsafe(24)
        self.port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"

    def start(self) -> threading.Thread:
        """Serve from a daemon thread (tests, notebooks)."""
        t = threading.Thread(target=self.serve_forever, name="flowtrace-viewer", daemon=True)
        t.start()
        return t
