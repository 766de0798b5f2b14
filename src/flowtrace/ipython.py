"""IPython / Jupyter: ``%load_ext flowtrace``, then ``%%flowtrace`` on a
cell and ``%flowtrace statement`` on a line.

The code runs as it would without the magic: the value of the cell's last
expression is its result (``Out[n]``), an exception goes on to IPython
(which shows it and marks the cell as failed), and the call tree is shown
under the cell as a display object (:class:`flowtrace._display.TreeView`:
the text tree now, an HTML form when the viewer exists).

Code is compiled by IPython's own compiler (``shell.compile``, codeop), so
the cell's functions are the user's code for FlowTrace as in any cell, and
tracebacks show the cell's lines.
"""
from __future__ import annotations

import ast
import re
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
    output_can_be_silenced,
)

from . import _display
from .api import start_tracing, stop_tracing

__all__ = ["FlowTraceMagics", "load_ipython_extension", "unload_ipython_extension"]

USAGE = """\
%flowtrace [options] statement      trace one statement (its value is the result)
%%flowtrace [options]               trace the cell below

options:
  --timing            record each call's duration
  --args              show the arguments of every call
  --include PATTERN   record only code matching PATTERN (repeatable)
  --exclude PATTERN   never record code matching PATTERN (repeatable)
  --depth N           show calls down to depth N (default 6)
  --lines N           show at most N lines of the tree (default 200)
  -o NAME             keep the trace in the variable NAME
"""


# where the value of the code's last expression is kept a moment, in the
# user's namespace, for the magic to return it
RESULT = "_flowtrace_result_"


def _positive(name: str, text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"flowtrace: {name} takes a number, not {text!r}") from None
    if n < 1:
        raise UsageError(f"flowtrace: {name} must be >= 1")
    return n


@magics_class
class FlowTraceMagics(Magics):
    """``%flowtrace`` and ``%%flowtrace``."""

    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    @output_can_be_silenced
    def flowtrace(self, line: str = "", cell: str | None = None,
                  local_ns: dict[str, Any] | None = None) -> Any:
        __tracebackhide__ = True  # noqa: F841  (IPython hides this frame)
        try:
            opts, stmt = self.parse_options(
                line, "o:h", "timing", "args", "include=", "exclude=", "depth=", "lines=",
                "help", list_all=True, posix=False, strict=False)
        except UsageError as e:  # getopt's words, then ours
            msg = re.split(r"\s*\(\s*allowed:", str(e))[0]
            raise UsageError(f"flowtrace: {msg}; %flowtrace -h for help") from None
        if "h" in opts or "help" in opts:
            print(USAGE, end="")
            return None
        if cell is not None and stmt.strip():
            raise UsageError("%%flowtrace takes only options on its line; the code goes "
                             "in the cell below it")
        source = cell if cell is not None else stmt
        if not source.strip():
            raise UsageError("%flowtrace needs a statement (or use %%flowtrace on a cell); "
                             "%flowtrace -h for help")
        name = opts["o"][-1] if "o" in opts else None
        if name is not None and not name.isidentifier():
            raise UsageError(f"flowtrace: -o needs a variable name, not {name!r}")
        depth = _positive("--depth", opts["depth"][-1]) if "depth" in opts else _display.DEFAULT_DEPTH
        lines = _positive("--lines", opts["lines"][-1]) if "lines" in opts else _display.DEFAULT_LINES
        if lines < 2:
            raise UsageError("flowtrace: --lines must be >= 2")
        options = dict(timing="timing" in opts, args="args" in opts,
                       include=opts.get("include") or None,
                       exclude=opts.get("exclude") or None)
        try:
            code, has_value, filename = self._compile(source)
        except SyntaxError:
            # shown as IPython shows a cell's syntax error, then one line
            # that fails the cell (Run All stops there, as for a plain cell)
            self.shell.showsyntaxerror()
            raise UsageError("flowtrace: the code has a syntax error (above); it did not "
                             "run") from None
        shell = self.shell
        glob = shell.user_ns
        local = local_ns if local_ns is not None else glob
        try:
            start_tracing(**options)
            started = True
        except RuntimeError as e:
            # a session of the user's own is running: the code is recorded
            # in it; anything else (no sys.monitoring id free) runs untraced
            started = False
            msg = str(e)
            if "already running" in msg:
                print("flowtrace: a tracing session is already running: this code is "
                      "recorded in it (stop_tracing() gives its trace)")
            else:
                print(msg if msg.startswith("flowtrace") else f"flowtrace: {msg}")
        except (ValueError, TypeError) as e:
            raise UsageError(f"flowtrace: {e}") from None
        try:
            exec(code, glob, local)
            return local.pop(RESULT, None) if has_value else None
        finally:
            if started:
                self._show(options, name, depth, lines)

    def _compile(self, source: str) -> tuple[Any, bool, str]:
        """The code of ``source`` as IPython compiles a cell (its input
        transformations, its compiler, a cached name for tracebacks), and
        whether its last statement is an expression: its value, the
        result, is then kept in ``RESULT`` (one code object, so the tree
        has one root for the cell)."""
        shell = self.shell
        text = shell.transform_cell(source)
        filename = shell.compile.cache(text, self._cell_number(), raw_code=source)
        tree = shell.compile.ast_parse(text, filename=filename)
        tree = shell.transform_ast(tree)
        has_value = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
        if has_value:
            last = tree.body[-1]
            tree.body[-1] = ast.copy_location(
                ast.Assign(targets=[ast.Name(RESULT, ast.Store())], value=last.value), last)
            ast.fix_missing_locations(tree)
        return shell.compile(tree, filename, "exec"), has_value, filename

    def _cell_number(self) -> int:
        """The number of the cell running this magic (In[n]), for the name
        its code is cached under: read from the cell's own code name, as
        IPython versions differ on when they count a cell."""
        names = getattr(self.shell.compile, "_filename_map", None)
        f = sys._getframe(1)
        while f is not None and isinstance(names, dict):
            n = names.get(f.f_code.co_filename)
            if isinstance(n, int):
                return n
            f = f.f_back
        return int(self.shell.execution_count)

    def _show(self, options: dict[str, Any], name: str | None, depth: int,
              lines: int) -> None:
        from IPython.display import display

        try:
            trace = stop_tracing()
        except RuntimeError:
            print("flowtrace: the code stopped the tracing session itself; no tree to show")
            return
        if name is not None:
            self.shell.user_ns[name] = trace
        whole = f"flowtrace.print_tree({name})" if name else "flowtrace.print_tree()"
        display(_display.TreeView(trace, max_depth=depth, max_lines=lines,
                                  color=_display.ipython_color(), whole=whole))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext flowtrace``: registers ``%flowtrace`` / ``%%flowtrace``."""
    ipython.register_magics(FlowTraceMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext flowtrace``: nothing to undo but the magics' presence."""
    magics = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("flowtrace", None)

