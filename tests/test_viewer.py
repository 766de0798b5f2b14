"""The viewer's page (flowtrace.viewer, --format html, flowtrace view) in a
real browser: Playwright driving Debian's Chromium (tools/browser.sh puts
it there; FLOWTRACE_CHROMIUM names it). FLOWTRACE_NO_BROWSER=1 skips the
browser tests; otherwise a missing browser is a failure, not a skip."""
from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import flowtrace
from flowtrace import _core
from flowtrace.viewer import write_page
from flowtrace.viewer.server import ViewerServer

from conftest import run_cmd, session, tree_text, write_program

ARTIFACTS = Path(__file__).resolve().parent.parent / "build" / "test-artifacts"


# ---- programs traced -------------------------------------------------------

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def seed_fib(**options):
    """The seed's first example: fib(3) with its arguments."""
    return session(fib, 3, args=True, **options)


def deep_error(x):
    raise KeyError(f"missing {x} </script><b>")


def middle(x):
    return deep_error(x)


def outer():
    try:
        middle(7)
    except KeyError:
        return "handled"


def gen():
    yield 1
    yield 2


def worker():
    fib(2)


def story():
    fib(3)
    outer()
    g = gen()
    next(g)
    next(g)
    t = threading.Thread(target=worker, name="helper")
    t.start()
    t.join()


# ---- the browser -------------------------------------------------------------

def _chromium() -> str | None:
    for b in (os.environ.get("FLOWTRACE_CHROMIUM"), "/usr/bin/chromium",
              "/usr/bin/chromium-browser"):
        if b and os.access(b, os.X_OK):
            return b
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("FLOWTRACE_NO_BROWSER") == "1":
        pytest.skip("FLOWTRACE_NO_BROWSER=1")
    exe = _chromium()
    assert exe, "no Chromium: run tools/browser.sh (or set FLOWTRACE_NO_BROWSER=1)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # the browser is not ours to sanitize (make asan preloads ASan)
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"], env=env,
                              timeout=60_000)
        yield b
        b.close()


class Page:
    """A page of the viewer open in the browser; collects console errors."""

    def __init__(self, browser, path: Path | str, hash: str = "") -> None:
        self.pg = browser.new_page(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.pg.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.pg.on("pageerror", lambda e: self.errors.append(str(e)))
        url = path if str(path).startswith("http") else Path(path).as_uri()
        self.pg.goto(url + hash)
        if self.pg.query_selector("iframe") is None:
            self.pg.wait_for_selector("body[data-ready='1']", timeout=60_000)

    def lines(self) -> list[str]:
        return self.pg.eval_on_selector_all("#tree-rows .line", "els => els.map(e => e.textContent)")

    def row(self, text: str):
        return self.pg.locator("#tree-rows .row", has_text=text).first

    def selected(self) -> str:
        return self.pg.text_content("#tree-rows .row.sel .line")

    def close(self) -> None:
        self.pg.close()
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture
def open_page(browser):
    pages = []

    def open_(path, hash=""):
        p = Page(browser, path, hash)
        pages.append(p)
        return p

    yield open_
    for p in pages:
        p.close()


def page_of(trace, tmp_path, name="trace.html", **kw) -> Path:
    path = tmp_path / name
    flowtrace.save(trace, path, format="html", **kw)
    return path


# ---- the page's data, without a browser ----------------------------------------

def viewer_data(trace) -> dict:
    buf = io.StringIO()
    trace._c().write_viewer(buf)
    return json.loads(buf.getvalue())


def test_data_columns_describe_every_node():
    _, trace = session(story, timing=True, args=True)
    d = viewer_data(trace)
    assert d["format"] == "flowtrace-viewer" and d["version"] == 1
    assert d["ncalls"] == len(trace) and d["clock"] == "ns"
    for col in d["nodes"].values():
        assert len(col) == len(trace)
    strings = d["strings"]
    names = [strings[i] for i in d["functions"]["name"]]
    events = list(trace)
    # storage order is the events' order: names, args and results agree
    for i, e in enumerate(events):
        assert names[d["nodes"]["fn"][i]] == e.func_name
        a = d["nodes"]["a"][i]
        assert (strings[a - 1] if a else None) == e.args_repr
    # the thread ranges cover every node
    assert d["threads"]["first"][0] == 0 and d["threads"]["first"][-1] == len(trace)


def test_data_escapes_script_end_in_values():
    _, trace = session(outer, args=True)
    buf = io.StringIO()
    trace._c().write_viewer(buf)
    text = buf.getvalue()
    assert "</script>" not in text and "<b>" not in text
    assert "missing 7 </script><b>" in "".join(json.loads(text)["strings"])


def test_page_is_self_contained(tmp_path):
    _, trace = seed_fib()
    page = page_of(trace, tmp_path).read_text(encoding="utf-8")
    # no network: nothing fetched from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    script = (Path(flowtrace.__file__).parent / "viewer" / "page.js").read_text(encoding="utf-8")
    # the one request a page makes is the served page's search, on its own server
    assert script.count("fetch(") == 1 and "fetch(`api/search?token=" in script
    assert "XMLHttpRequest" not in script and "http" not in script.replace("https://", "")
    assert page.count("</script>") == 4  # data, sources, options, the script


# ---- in the browser ------------------------------------------------------------

def test_seed_fib_renders_the_text_tree(open_page, tmp_path):
    text, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path))
    assert p.lines() == text.splitlines()
    assert p.lines()[0] == "→ fib(3)"


def test_threads_generators_exceptions_render_the_text_tree(open_page, tmp_path):
    text, trace = session(story, timing=True, args=True)
    p = open_page(page_of(trace, tmp_path))
    assert p.lines() == text.splitlines()
    assert "── thread helper ──" in p.lines()
    # calls counted as flowtrace run counts them, resumptions apart
    calls = sum(e.kind == "call" for e in trace)
    assert p.pg.text_content("#summary").startswith(f"{calls} calls · 1 resumption · ")


def test_collapse_and_expand(open_page, tmp_path):
    _, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path))
    p.row("→ fib(3)").locator(".tw").click()
    assert p.lines() == ["→ fib(3) → 2 (+4 calls)"]
    p.row("fib(3)").locator(".tw").click()
    assert len(p.lines()) == 7
    p.pg.click("#collapse-all")
    assert p.lines() == ["→ fib(3) → 2 (+4 calls)"]
    p.pg.click("#expand-all")
    assert len(p.lines()) == 7


def test_keyboard_navigation(open_page, tmp_path):
    _, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path))
    p.pg.focus("#tree")
    p.pg.keyboard.press("ArrowDown")
    assert p.selected() == "→ fib(3)"
    p.pg.keyboard.press("ArrowDown")
    assert p.selected() == "  → fib(2)"
    p.pg.keyboard.press("ArrowLeft")  # collapse fib(2)
    assert p.lines()[1] == "  → fib(2) → 1 (+2 calls)"
    p.pg.keyboard.press("ArrowRight")  # expand it again
    assert p.lines()[2] == "    → fib(1) → 1"
    p.pg.keyboard.press("ArrowLeft")
    p.pg.keyboard.press("ArrowLeft")  # collapsed already: to the caller
    assert p.selected() == "→ fib(3)"
    p.pg.keyboard.press("Enter")  # toggles
    assert p.lines() == ["→ fib(3) → 2 (+4 calls)"]


def test_search_counts_and_navigates(open_page, tmp_path):
    _, trace = session(story, args=True)
    p = open_page(page_of(trace, tmp_path))
    p.pg.focus("#tree")
    p.pg.keyboard.press("/")
    p.pg.keyboard.type("missing 7")
    p.pg.keyboard.press("Enter")
    # the call that raised it, its caller (same exception), the marker
    assert p.pg.text_content("#search-count") == "1 of 3"
    assert "deep_error(7)" in p.selected() or "middle(7)" in p.selected()
    first = p.selected()
    p.pg.keyboard.press("Enter")
    assert p.pg.text_content("#search-count") == "2 of 3"
    assert p.selected() != first
    p.pg.keyboard.press("Shift+Enter")
    assert p.pg.text_content("#search-count") == "1 of 3" and p.selected() == first
    p.pg.fill("#search", "no such thing")
    p.pg.wait_for_function("document.getElementById('search-count').textContent === 'no match'")


def test_exception_links_jump(open_page, tmp_path):
    _, trace = session(outer, args=True)
    p = open_page(page_of(trace, tmp_path))
    p.row("↯ middle(7)").click()
    p.pg.click("#details a:text('where it was raised')")
    assert p.selected().strip().startswith("↯ deep_error(7)")
    p.pg.click("#details a:text('where it was caught')")
    assert p.selected().strip().startswith("✓ caught KeyError")


def test_generator_resumption_links_to_its_first_call(open_page, tmp_path):
    _, trace = session(story)
    p = open_page(page_of(trace, tmp_path))
    p.row("▶ gen()").click()
    p.pg.click("#details a:text('first call of this generator')")
    assert p.selected().strip().startswith("→ gen()")
    p.pg.click("#details a:text('resumed later')")
    assert p.selected().strip().startswith("▶ gen()")


def test_source_shows_the_function(open_page, tmp_path):
    _, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path))
    p.row("→ fib(3)").click()
    assert p.pg.text_content("#source .src-line.first").endswith("def fib(n):")
    assert p.pg.text_content("#source .src-file") == __file__
    # scrolled to it: the marked line is inside the source panel's box
    assert p.pg.evaluate("""() => {
        const box = document.getElementById('source').getBoundingClientRect();
        const line = document.querySelector('#source .src-line.first').getBoundingClientRect();
        return line.top >= box.top && line.bottom <= box.bottom;
    }""")


def make_point_class():
    class Point:
        x = 1
    return Point


def test_a_class_body_shows_no_result(open_page, tmp_path):
    # a body "returns" None: the tree shows no result for it, nor do the details
    _, trace = session(make_point_class)
    p = open_page(page_of(trace, tmp_path))
    p.row("class make_point_class.<locals>.Point").click()
    details = p.pg.text_content("#details")
    assert "class make_point_class.<locals>.Point" in details and "returned" not in details
    p.row("make_point_class()").click()
    assert "returned" in p.pg.text_content("#details")  # a call's result is there


def test_no_source_when_asked(tmp_path):
    _, trace = seed_fib()
    out = tmp_path / "p.html"
    with open(out, "wb") as f:
        write_page(trace._c(), f, sources=False)
    assert "def fib(n):" not in out.read_text(encoding="utf-8")


def test_timeline_click_selects_the_call(open_page, tmp_path):
    _, trace = seed_fib(timing=True)
    p = open_page(page_of(trace, tmp_path))
    box = p.pg.locator("#timeline").bounding_box()
    # the outermost call spans the whole width of the first lane's top row
    p.pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + 18 + 8)
    assert p.selected().startswith("→ fib(3)")
    assert p.pg.text_content("#clock-note").startswith("Timeline: real time")


def test_timeline_says_when_event_order_is_the_clock(open_page, tmp_path):
    _, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path))
    assert "order of events" in p.pg.text_content("#clock-note")


def test_deep_link_selects_a_node(open_page, tmp_path):
    _, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path), "#node=2")
    assert p.selected() == "    → fib(1) → 1"
    p.row("fib(0)").click()
    assert p.pg.evaluate("location.hash") == "#node=3"


def test_focus_and_breadcrumbs(open_page, tmp_path):
    _, trace = seed_fib()
    p = open_page(page_of(trace, tmp_path))
    p.row("  → fib(2)").click()
    p.pg.click("#details a:text('focus on this call')")
    assert p.lines() == ["→ fib(2)", "  → fib(1) → 1", "  → fib(0) → 0", "← fib(2) → 1"]
    assert p.pg.text_content("#crumbs") == "all›fib›fib"
    p.pg.click("#crumbs a:text('all')")
    assert len(p.lines()) == 7


def test_thread_filter(open_page, tmp_path):
    _, trace = session(story)
    p = open_page(page_of(trace, tmp_path))
    p.pg.select_option("#lane-filter", label="thread helper")
    assert p.lines()[0] == "→ worker()" and p.lines()[-1] == "← worker()  → None"


def test_functions_table_sorts_and_lists_calls(open_page, tmp_path):
    _, trace = session(story, args=True)
    p = open_page(page_of(trace, tmp_path))
    p.pg.click("#tab-functions")
    first_col = lambda: p.pg.eval_on_selector_all(  # noqa: E731
        "#functions tbody tr td:first-child", "els => els.map(e => e.textContent)")
    assert first_col()[0] == "fib"  # most calls first
    p.pg.click("#functions th:text('function')")
    assert first_col() == sorted(first_col())
    p.pg.click("#functions td:text-is('deep_error')")
    assert p.pg.text_content("#fn-calls .hint") == "1 activation of deep_error"
    p.pg.click("#fn-calls div[data-node]")
    assert p.selected().strip().startswith("↯ deep_error(7)")


def test_demo_page_screenshot(open_page, tmp_path):
    """The README's picture: the demo program's page."""
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
    out = tmp_path / "demo.html"
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "--timing", "--args",
                 "-o", str(out), str(demo)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    p = open_page(out)
    p.row("→ main()").click()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.pg.screenshot(path=str(ARTIFACTS / "viewer-demo.png"))
    assert (ARTIFACTS / "viewer-demo.png").stat().st_size > 10_000


def test_million_call_page_loads(open_page, tmp_path, capsys):
    _, trace = session(fib, 28)  # 1,028,457 calls
    t = time.perf_counter()
    page = page_of(trace, tmp_path)
    written = time.perf_counter() - t
    t = time.perf_counter()
    p = open_page(page)
    loaded = time.perf_counter() - t
    with capsys.disabled():
        print(f"\n[viewer] {len(trace):,} calls: page {page.stat().st_size / len(trace):.1f} B/call, "
              f"written in {written:.2f}s, interactive in {loaded:.2f}s")
    assert p.pg.evaluate("window.flowtraceViewer.nodes") == len(trace)
    assert p.lines()[0].startswith("→ fib()")
    # only what is on screen is in the DOM
    assert p.pg.locator("#tree-rows .row").count() < 200


# ---- flowtrace run / view, and the server -----------------------------------------

def test_run_writes_a_page_for_an_html_name(tmp_path):
    prog = write_program(tmp_path, "def f():\n    return 1\nf()\n")
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "-o", "t.html", str(prog)],
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"flowtrace: 2 calls in t.html \(\d+ kB; open it in a browser\)", r.stderr), r.stderr
    assert (tmp_path / "t.html").read_text(encoding="utf-8").startswith("<!doctype html>")


def test_view_writes_the_page_beside_the_trace(tmp_path):
    prog = write_program(tmp_path, "def f():\n    return 1\nf()\n")
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "-o", "t.ftrace", str(prog)],
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cmd([sys.executable, "-m", "flowtrace", "view", "t.ftrace"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("flowtrace: page written to t.html (open file://")
    assert "def f():" in (tmp_path / "t.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["missing.json"], "flowtrace: missing.json: cannot read: No such file or directory"),
    (["t.json", "-o", "nodir/x.html"], "flowtrace: cannot write nodir/x.html: no such directory: nodir"),
    (["t.json", "-o", "t.json"], "flowtrace: the page would replace the trace t.json: give -o PAGE"),
])
def test_view_bad_input_is_one_line(tmp_path, args, message):
    prog = write_program(tmp_path, "def f():\n    return 1\nf()\n")
    run_cmd([sys.executable, "-m", "flowtrace", "run", "--format", "json", "-o", "t.json",
             str(prog)], cwd=tmp_path)
    r = run_cmd([sys.executable, "-m", "flowtrace", "view", *args], cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.strip() == message


def _get(port: int, path: str, host: str | None = None) -> tuple[int, str]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("GET", path, skip_host=True)
    c.putheader("Host", host or f"127.0.0.1:{port}")
    c.endheaders()
    r = c.getresponse()
    body = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, body


@pytest.fixture
def server():
    _, trace = seed_fib()
    s = ViewerServer(trace._c(), log=None)
    s.start()
    yield s
    s.shutdown()
    s.server_close()


def test_server_binds_loopback_and_needs_the_token(server):
    assert server.server_address[0] == "127.0.0.1"
    status, body = _get(server.port, f"/?token={server.token}")
    assert status == 200 and '"format":"flowtrace-viewer"' in body
    assert _get(server.port, "/")[0] == 403
    assert _get(server.port, "/?token=wrong")[0] == 403
    assert _get(server.port, f"/?token={server.token}", host="evil.example:80")[0] == 403
    assert _get(server.port, f"/?token={server.token}", host=f"localhost:{server.port}")[0] == 200
    assert _get(server.port, f"/other?token={server.token}")[0] == 404


def test_served_page_works_in_the_browser(open_page, server):
    p = open_page(server.url)
    assert p.lines()[0] == "→ fib(3)"


def test_view_serve_runs_until_ctrl_c(tmp_path):
    prog = write_program(tmp_path, "def f():\n    return 1\nf()\n")
    run_cmd([sys.executable, "-m", "flowtrace", "run", "-o", "t.ftrace", str(prog)], cwd=tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "flowtrace", "view", "--serve", "t.ftrace"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
        assert m, line
        status, body = _get(int(m.group(1)), f"/?token={m.group(2)}")
        assert status == 200 and "def f():" in body
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr.read().strip() == "flowtrace: stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- big traces: served in views ---------------------------------------------

def many_fibs():
    for _ in range(50):
        fib(12)  # 465 calls each


def test_view_selection_holds_levels_within_the_budget():
    _, trace = session(fib, 5, args=True)
    buf = io.StringIO()
    trace._c().write_viewer(buf, budget=5)
    d = json.loads(buf.getvalue())
    # fib(5), fib(4) with both children, fib(3): level 1 whole, then the
    # children of the first level-1 node that fit
    assert d["ncalls"] == 5
    assert d["nodes"]["depth"] == [0, 1, 2, 2, 1]
    ids = [sum(d["nodes"]["id"][:k + 1]) for k in range(5)]
    assert ids == [0, 1, 2, 7, 10]
    frontier = [ke >> 10 & 1 for ke in d["nodes"]["ke"]]
    assert frontier == [0, 0, 1, 1, 1]
    assert d["nodes"]["n"] == [0, 0, 4, 2, 4]  # calls below each frontier node
    assert d["view"] == {"root": -1, "total": 15, "siblings": 1, "from": 0, "shown": 1,
                         "path": [], "path_fn": []}
    buf = io.StringIO()
    trace._c().write_viewer(buf, root=10, budget=100)
    d = json.loads(buf.getvalue())
    assert d["view"]["path"] == [0] and d["ncalls"] == 5  # fib(3)'s subtree, all of it


def test_view_of_a_bad_node_is_an_error():
    _, trace = session(fib, 3)
    with pytest.raises(ValueError, match="no node 99"):
        trace._c().write_viewer(io.StringIO(), root=99, budget=10)


def test_search_in_the_engine():
    _, trace = session(fib, 5, args=True)
    total, ids = trace._c().viewer_search("FIB", 3)
    assert total == 15 and ids == [0, 1, 2]
    total, ids = trace._c().viewer_search("3")  # args 3, or result 3
    assert [e.id for e in trace if e.args_repr == "3" or e.result_repr == "3"] == ids
    # what is on screen first: the scan stops at the limit
    assert trace._c().viewer_search("fib", 3, count=False) == (3, [0, 1, 2])
    assert trace._c().viewer_search("zz", 3, count=False) == (0, [])


@pytest.fixture
def big_server():
    _, trace = session(many_fibs, args=True)
    s = ViewerServer(trace._c(), log=None, page_limit=100, budget=300)
    s.start()
    yield s
    s.shutdown()
    s.server_close()


def test_big_trace_is_served_in_views(open_page, big_server):
    p = open_page(big_server.url)
    assert big_server.in_views
    assert p.pg.text_content("#summary").startswith("23,251 nodes in the trace, this view holds 299 calls")
    lines = p.lines()
    assert lines[:3] == ["→ many_fibs()", "  → fib(12)", "    → fib(11)"]
    assert "      → fib(10) → 55 (+176 calls)" in lines  # a frontier call, collapsed
    # expanding it opens its view, with the path back in the breadcrumbs
    p.row("→ fib(10) → 55 (+176 calls)").locator(".tw").click()
    p.pg.wait_for_selector("body[data-ready='1']")
    assert "root=3" in p.pg.url and p.pg.evaluate("location.hash") == "#node=3"
    assert p.pg.text_content("#crumbs") == "all›many_fibs›fib›fib›fib"
    assert p.lines()[0] == "→ fib(10)"
    p.pg.click("#crumbs a:text('many_fibs')")
    p.pg.wait_for_selector("body[data-ready='1']")
    assert p.lines()[0] == "→ many_fibs()" and "root=0" in p.pg.url


def test_served_search_covers_the_whole_trace(open_page, big_server):
    p = open_page(big_server.url)
    p.pg.fill("#search", "→ 1")  # nothing: arrows are not in the texts
    p.pg.fill("#search", "233")  # fib(13)'s result: none; fib(12) returns 144
    p.pg.press("#search", "Enter")
    p.pg.wait_for_function("document.getElementById('search-count').textContent.endsWith('0 in all')")
    # typed, not Enter: Enter also jumps to the first match, whose details
    # replace the list if the server answered first (a loaded machine)
    p.pg.fill("#search", "144")
    p.pg.wait_for_function("document.getElementById('search-count').textContent.endsWith('50 in all')")
    assert p.pg.text_content("#details h2") == "50 matches in the whole trace"
    # Enter steps to a match: its details stay, whenever the server answers
    p.pg.fill("#search", "")
    p.pg.fill("#search", "144")
    p.pg.press("#search", "Enter")
    p.pg.wait_for_function("document.getElementById('search-count').textContent.endsWith('50 in all')")
    assert "fib(12)" in p.pg.text_content("#details h2")
    p.pg.fill("#search", "")
    p.pg.fill("#search", "144")  # typed again: the list
    p.pg.wait_for_function("document.querySelector('#details h2').textContent === '50 matches in the whole trace'")
    # a match outside this view opens the view around it
    p.pg.locator("#details a", has_text="fib(12) → 144").last.click()
    p.pg.wait_for_selector("body[data-ready='1']")
    assert p.selected().strip() == "→ fib(12) → 144 (+464 calls)" or "fib(12)" in p.selected()


def test_served_functions_table_is_the_whole_trace(open_page, big_server):
    p = open_page(big_server.url)
    p.pg.click("#tab-functions")
    rows = p.pg.eval_on_selector_all("#functions tbody tr", "els => els.map(e => [...e.children].map(c => c.textContent))")
    assert rows[0][:3] == ["fib", "test_viewer", "23250"]


def test_view_serves_a_big_trace_by_itself(tmp_path, monkeypatch):
    import flowtrace.viewer as viewer

    _, trace = session(many_fibs)
    path = tmp_path / "big.ftrace"
    trace.save(path, format="ftrace")
    code = (
        "import sys, flowtrace.viewer as v, flowtrace.cli as c; v.PAGE_LIMIT = 1000; "
        "sys.exit(c.main(['view', sys.argv[1]]))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert " (23,251 calls, in views of 200,000) at http://127.0.0.1:" in line, line
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_notebook_frame_renders_in_the_browser(open_page, tmp_path):
    """What Jupyter shows for a Trace (its _repr_html_): the page runs
    inside a sandboxed frame, selection included (no history there)."""
    text, trace = seed_fib()
    host = tmp_path / "notebook.html"
    host.write_text(f"<!doctype html><meta charset=utf-8><body>{trace._repr_html_()}</body>",
                    encoding="utf-8")
    p = open_page(host)  # the host page has no data-ready: wait for the frame's
    frame = p.pg.frame_locator("iframe")
    frame.locator("body[data-ready='1']").wait_for()
    lines = frame.locator("#tree-rows .line").all_text_contents()
    assert lines == text.splitlines()
    frame.locator("#tree-rows .row", has_text="fib(0)").first.click()
    assert frame.locator("#details h2").text_content() == "→ fib(0) → 0"


def test_the_example_writes_its_page(tmp_path):
    example = Path(__file__).resolve().parent.parent / "examples" / "viewer_example.py"
    r = run_cmd([sys.executable, str(example), str(tmp_path / "ex.html")], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "    ⋯ ×147 more price(): all returned\n" in r.stdout
    assert "    ↯ price('item150')" in r.stdout
    assert (tmp_path / "ex.html").read_text(encoding="utf-8").startswith("<!doctype html>")


def test_dark_theme_follows_the_system(browser, tmp_path):
    _, trace = seed_fib()
    path = page_of(trace, tmp_path)
    for scheme, dark in (("light", False), ("dark", True)):
        pg = browser.new_page(color_scheme=scheme)
        pg.goto(path.as_uri())
        pg.wait_for_selector("body[data-ready='1']")
        rgb = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        level = sum(int(x) for x in re.findall(r"\d+", rgb)[:3]) / 3
        assert (level < 64) == dark, (scheme, rgb)
        pg.close()


def test_timeline_hover_shows_the_call(open_page, tmp_path):
    _, trace = seed_fib(timing=True)
    p = open_page(page_of(trace, tmp_path))
    box = p.pg.locator("#timeline").bounding_box()
    p.pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + 18 + 8)
    tip = p.pg.locator("#tip")
    tip.wait_for(state="visible")
    assert tip.text_content().startswith("→ fib(3) [")
    assert tip.text_content().endswith(f"{__file__}:{fib.__code__.co_firstlineno}")


def test_demo_page_renders_the_text_tree(open_page, tmp_path):
    """The demo (module and class bodies, threads, asyncio tasks, a
    generator, exceptions): the page's lines are `flowtrace show`'s."""
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
    r = run_cmd([sys.executable, "-m", "flowtrace", "run", "--timing", "--args",
                 "-o", "demo.ftrace", str(demo)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    show = run_cmd([sys.executable, "-m", "flowtrace", "show", "--no-fold", "--color", "never",
                    "demo.ftrace"], cwd=tmp_path)
    view = run_cmd([sys.executable, "-m", "flowtrace", "view", "demo.ftrace"], cwd=tmp_path)
    assert show.returncode == 0 and view.returncode == 0, (show.stderr, view.stderr)
    p = open_page(tmp_path / "demo.html")
    assert "  → class Account [" in "\n".join(p.lines())
    assert p.lines() == show.stdout.splitlines()


def test_a_call_with_more_children_than_a_view_holds_is_paged(open_page):
    _, trace = session(many_fibs)  # many_fibs() has 50 children
    buf = io.StringIO()
    trace._c().write_viewer(buf, root=0, budget=21, start=10)
    d = json.loads(buf.getvalue())
    assert (d["view"]["siblings"], d["view"]["from"], d["view"]["shown"]) == (50, 10, 20)
    assert d["ncalls"] == 21 and d["nodes"]["depth"] == [0] + [1] * 20
    s = ViewerServer(trace._c(), log=None, page_limit=100, budget=21)
    s.start()
    try:
        p = open_page(s.url)
        p.row("→ many_fibs()").locator(".tw").click()  # a frontier: opens its view
        p.pg.wait_for_selector("body[data-ready='1']")
        lines = p.lines()
        assert lines[0] == "→ many_fibs()" and len(lines) == 1 + 20 + 1 + 1
        assert lines[-2] == "  ⋯ 30 more calls here (next page: click)"
        assert "calls 1-20 of 50 under it" in p.pg.text_content("#summary")
        p.pg.click("#tree-rows .row.page")
        p.pg.wait_for_selector("body[data-ready='1']")
        assert "from=20" in p.pg.url
        lines = p.lines()
        assert lines[1] == "  ⋯ 20 earlier calls here (previous page: click)"
        assert lines[-2] == "  ⋯ 10 more calls here (next page: click)"
        # the same pages from the toolbar, whatever is scrolled into view
        assert "calls 21-40 of 50" in p.pg.text_content("#crumbs")
        p.pg.click("#crumbs a:text('next ›')")
        p.pg.wait_for_selector("body[data-ready='1']")
        assert "from=40" in p.pg.url and p.lines()[-2] == "  → fib()  → 144 (+464 calls)"
    finally:
        s.shutdown()
        s.server_close()
