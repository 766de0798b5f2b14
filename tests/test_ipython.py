"""The IPython extension (%load_ext flowtrace, %flowtrace, %%flowtrace)
and a Trace's own display, with IPython's real InteractiveShell.

Each test runs its cells in a fresh interpreter (an IPython shell is a
process-wide singleton, and so is a FlowTrace session): the driver below
runs the cells with ``shell.run_cell`` and reports, per cell, what a
notebook would get: stdout, stderr, the display outputs (``display()``
data by MIME type), the result and the error.
"""
from __future__ import annotations

import json
import re
import sys

import pytest

from conftest import run_py

pytest.importorskip("IPython")

DRIVER = r"""
import json, os, sys, tempfile
os.environ["IPYTHONDIR"] = tempfile.mkdtemp()
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

config = Config()
config.HistoryManager.enabled = False
config.InteractiveShell.colors = COLORS  # at start: IPython 8 reads it only then
shell = InteractiveShell.instance(config=config)
out = []
for cell in CELLS:
    with capture_output() as c:
        r = shell.run_cell(cell, store_history=True)
    err = r.error_in_exec or r.error_before_exec
    out.append({
        "stdout": c.stdout, "stderr": c.stderr,
        "outputs": [o.data for o in c.outputs],
        "result": None if r.result is None else repr(r.result),
        "error": None if err is None else f"{type(err).__name__}: {err}",
    })
print(json.dumps(out))
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_cells(*cells, colors="NoColor", env=None):
    code = DRIVER.replace("CELLS", repr(list(cells))).replace("COLORS", repr(colors))
    r = run_py(code, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


DEFS = """\
def f(x):
    return g(x) * 2

def g(x):
    return x + 1
"""


def shown(cell):
    """The text the cell displayed (display() outputs, text/plain)."""
    return "".join(o["text/plain"] for o in cell["outputs"])


def test_cell_magic_runs_the_cell_and_shows_its_tree():
    load, defs, traced, after = run_cells(
        "%load_ext flowtrace", DEFS,
        "%%flowtrace -o t --args\n"
        "def h():\n"
        "    return f(3)\n"
        "y = h()\n"
        "y + 1\n",
        "[e.func_name for e in t], y, type(t).__name__")
    assert load["error"] is None and load["stdout"] == ""
    # the result of the cell's last expression is the cell's result
    assert traced["result"] == "9" and traced["error"] is None
    # the cell's functions, and those of an earlier cell, are user code
    assert shown(traced) == (
        "→ <module __main__>\n"
        "  → h()\n"
        "    → f(3)\n"
        "      → g(3) → 4\n"
        "    ← f(3) → 8\n"
        "  ← h() → 8\n"
        "← <module __main__>")
    assert after["result"] == "(['<module __main__>', 'h', 'f', 'g'], 8, 'Trace')"
    assert re.search(r"<ipython-input-\d+-[0-9a-f]+>", run_cells(
        "%load_ext flowtrace", "%%flowtrace -o t\nx = 1", "t[0].filename")[2]["result"])


def test_line_magic():
    cells = run_cells("%load_ext flowtrace", DEFS, "%flowtrace f(1) + f(2)", "_")
    assert cells[2]["result"] == "10"
    assert shown(cells[2]) == (
        "→ <module __main__>\n"
        "  → f()\n"
        "    → g()  → 2\n"
        "  ← f()  → 4\n"
        "  → f()\n"
        "    → g()  → 3\n"
        "  ← f()  → 6\n"
        "← <module __main__>")
    assert cells[3]["result"] == "10"  # Out[] as for the statement itself


def test_exception_goes_on_to_ipython_unchanged():
    body = "def bad():\n    return 1/0\nf(2)\nbad()\n"
    load, defs, plain, traced = run_cells("%load_ext flowtrace", DEFS, body,
                                          "%%flowtrace\n" + body)
    assert plain["error"] == traced["error"] == "ZeroDivisionError: division by zero"
    assert shown(traced).splitlines()[-2:] == [
        "  ↯ bad()  ZeroDivisionError: division by zero",
        "↯ <module __main__> ZeroDivisionError: division by zero"]
    # the traceback shows the cell's lines, not FlowTrace's frames
    tb = traced["stdout"]
    assert "----> 4 bad()" in tb and "----> 2     return 1/0" in tb
    # labelled as the cell it is (In[4]), as a cell's own lines are
    assert tb.count("Cell In[4]") == 3, tb
    assert "flowtrace" not in tb.replace("run_cell_magic('flowtrace'", "")


def test_options():
    cells = run_cells(
        "%load_ext flowtrace", DEFS,
        "%%flowtrace --timing\nf(1)",
        "%%flowtrace --include g --args\nf(1)",
        "%%flowtrace --depth 1\nf(1)",
        "%%flowtrace --lines 4 -o big\nfor i in range(10): g(i)",
        "%flowtrace --depth x f(1)",
        "%flowtrace -o 1x f(1)",
        "%flowtrace",
        "%flowtrace --bogus f(1)",
        "%flowtrace -h")
    assert re.fullmatch(r"← <module __main__> \[\d+\.\d+s\]", shown(cells[2]).splitlines()[-1])
    assert shown(cells[3]) == "→ g(1) → 2"
    assert shown(cells[4]) == "→ <module __main__> (+2 calls)\n(whole tree: flowtrace.print_tree())"
    assert shown(cells[5]).splitlines() == [
        "→ <module __main__>", "  → g()  → 1", "  → g()  → 2",
        "⋯ 8 lines left out (lines 4-11 of 12)",
        "← <module __main__>",
        "(whole tree: flowtrace.print_tree(big))"]
    for cell, message in zip(cells[6:10], [
            "UsageError: flowtrace: --depth takes a number, not 'x'",
            "UsageError: flowtrace: -o needs a variable name, not '1x'",
            "UsageError: %flowtrace needs a statement (or use %%flowtrace on a cell); "
            "%flowtrace -h for help",
            "UsageError: flowtrace: option --bogus not recognized; %flowtrace -h for help"]):
        # IPython shows a UsageError as one line, no traceback
        assert cell["stderr"] == message + "\n" and cell["error"] == message
    assert cells[10]["stdout"].startswith("%flowtrace [options] statement")


def test_semicolon_and_ipython_syntax_in_the_cell():
    cells = run_cells("%load_ext flowtrace", DEFS,
                      "%%flowtrace\nf(1);",
                      "%%flowtrace\nhome = %env HOME\nf(len(home))")
    assert cells[2]["result"] is None and "→ f()" in shown(cells[2])
    assert cells[3]["error"] is None and cells[3]["result"] is not None


def test_a_session_already_running():
    cells = run_cells("%load_ext flowtrace", DEFS,
                      "import flowtrace; flowtrace.start_tracing()",
                      "%%flowtrace\nf(1)",
                      "t = flowtrace.stop_tracing(); [e.func_name for e in t if e.func_name != '<module __main__>']")
    assert cells[3]["stdout"] == ("flowtrace: a tracing session is already running: this code is "
                                  "recorded in it (stop_tracing() gives its trace)\nOut[4]: 4\n")
    assert cells[3]["result"] == "4" and cells[3]["outputs"] == []
    assert cells[4]["result"] == "['f', 'g']"


def test_trace_displays_itself():
    cells = run_cells("%load_ext flowtrace", DEFS,
                      "%%flowtrace -o t\nf(1)", "t",
                      "import flowtrace\nwith flowtrace.tracing() as t2:\n"
                      "    for i in range(300): g(i)",
                      "t2")
    # the Out[] of a cell whose value is a Trace: what it is, then its tree
    assert cells[3]["result"] == "<flowtrace.Trace 3 calls, 1 thread(s)>"
    assert cells[3]["stdout"] == ("Out[4]: \n<flowtrace.Trace 3 calls, 1 thread(s)>\n"
                                  "→ <module __main__>\n  → f()\n    → g()  → 2\n  ← f()  → 4\n"
                                  "← <module __main__>\n")
    big = cells[5]["stdout"]
    assert "⋯ 100 lines left out (lines 135-234 of 300)" in big
    assert big.rstrip().endswith("(whole tree: flowtrace.print_tree(...))")


def test_colour_follows_ipython():
    cells = run_cells("%load_ext flowtrace", DEFS, "%%flowtrace\nf(1)", colors="Linux")
    assert ANSI.search(shown(cells[2]))
    assert ANSI.sub("", shown(cells[2])).startswith("→ <module __main__>\n  → f()")
    cells = run_cells("%load_ext flowtrace", DEFS, "%%flowtrace\nf(1)", colors="Linux",
                      env={"NO_COLOR": "1"})
    assert not ANSI.search(shown(cells[2]))


def test_unload():
    cells = run_cells("%load_ext flowtrace", "%unload_ext flowtrace", "%flowtrace 1")
    assert "Line magic function `%flowtrace` not found" in cells[2]["stderr"]


def test_the_example_runs_as_its_notebook_shows():
    from conftest import run_cmd, TESTS_DIR

    top = TESTS_DIR.parent
    r = run_cmd([sys.executable, str(top / "examples" / "ipython_example.py")], cwd=top,
                env={"NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    notebook = (top / "examples" / "notebook.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:python)?\n(In \[\d\].*?)```", notebook, re.S)
    assert len(blocks) == 6
    import IPython

    for block in blocks:  # each block of notebook.md is in the script's output
        lines = [li.rstrip() for li in block.splitlines()]
        if IPython.version_info < (9,) and "Traceback" in block:
            # IPython 8 shows its own run_cell_magic frame in a traceback
            lines = lines[:lines.index("-" * 75)]
        assert "\n".join(lines) in "\n".join(li.rstrip() for li in r.stdout.splitlines()), block


def test_syntax_error_shown_as_for_a_cell():
    cells = run_cells("%load_ext flowtrace", "import asyncio",
                      "%%flowtrace\nawait asyncio.sleep(0)\n1", "await asyncio.sleep(0)\n2")
    # IPython's own display of a syntax error, no frames of FlowTrace; then
    # one line that fails the cell, so that Run All stops there
    assert cells[2]["stdout"] == ("  Cell In[3], line 1\n    await asyncio.sleep(0)\n    ^\n"
                                  "SyntaxError: 'await' outside function\n\n")
    assert cells[2]["error"] == ("UsageError: flowtrace: the code has a syntax error (above); "
                                 "it did not run")
    assert cells[3]["result"] == "2"  # top-level await: outside the magic only


def test_notebook_shows_the_viewer_page():
    """Jupyter renders text/html: the cell's tree as the viewer's page in a
    sandboxed frame, with the cell's own source; a trace too big for a
    notebook keeps its text only."""
    cells = run_cells("%load_ext flowtrace", DEFS, "%%flowtrace -o t\nf(1)",
                      "import flowtrace, flowtrace._display as d; d.NOTEBOOK_NODES = 5\n"
                      "with flowtrace.tracing() as t2:\n    for i in range(10): g(i)",
                      "print(t._repr_html_() is not None, t2._repr_html_())")
    out = cells[2]["outputs"][0]
    frame = out["text/html"]
    assert frame.startswith('<iframe srcdoc="&lt;!doctype html&gt;')
    assert 'sandbox="allow-scripts"' in frame
    assert "flowtrace-viewer" in frame and "def f(x):" in frame  # the cell's source
    assert out["text/plain"].startswith("→ <module __main__>")  # the text stays beside it
    # a trace past NOTEBOOK_NODES: no HTML, IPython shows its text
    assert cells[4]["stdout"] == "True None\n"
