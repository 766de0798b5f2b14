"""Command line: ``flowtrace run [options] script.py [args...]``.

The script runs as ``__main__`` with its own ``sys.argv``; its stdout and
stderr are untouched; the call tree goes to stderr (or ``-o FILE``) so it
never mixes with the program's output. The script's exit code is
FlowTrace's exit code.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from typing import IO

from . import __version__
from .api import print_tree, start_tracing, stop_tracing


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowtrace",
        description="Show what a Python program did: which functions ran, in "
        "which order, with which results.",
    )
    p.add_argument("--version", action="version", version=f"flowtrace {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run a script or module and print its call tree",
        description="Run a script (or -m module) under FlowTrace and print its call tree.",
    )
    run.add_argument("-o", "--output", metavar="FILE",
                     help="write the tree to FILE (default: stderr)")
    run.add_argument("--timing", action="store_true",
                     help="record each call's duration and show it as [0.000123s]")
    run.add_argument("--no-results", action="store_true",
                     help="do not record returned values (structure only)")
    run.add_argument("--full-repr", action="store_true",
                     help="show values with their own repr() (runs your __repr__ methods)")
    run.add_argument("--include-stdlib", action="store_true",
                     help="also trace the standard library and site-packages")
    run.add_argument("--ascii", action="store_true",
                     help="use -> <- !! instead of arrows")
    run.add_argument("-m", dest="module", metavar="MODULE",
                     help="run a library module as a script (like python -m)")
    run.add_argument("target", nargs=argparse.REMAINDER,
                     help="script.py [args...] (or the module's args with -m)")
    return p


def _print_program_traceback(exc: BaseException) -> None:
    """Show an escaping exception as Python would for the script itself:
    without FlowTrace's and runpy's frames on top."""
    ours = {os.path.realpath(__file__), os.path.realpath(runpy.__file__), "<frozen runpy>"}
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name not in ours and os.path.realpath(name) not in ours:
            break
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def _run_target(ns: argparse.Namespace) -> int:
    if ns.module:
        sys.argv = [ns.module, *ns.target]
        sys.path.insert(0, os.getcwd())
        runner = lambda: runpy.run_module(ns.module, run_name="__main__", alter_sys=True)  # noqa: E731
    else:
        script = ns.target[0]
        sys.argv = list(ns.target)
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        runner = lambda: runpy.run_path(script, run_name="__main__")  # noqa: E731
    start_tracing(timing=ns.timing, results=not ns.no_results, full_repr=ns.full_repr,
                  include_stdlib=ns.include_stdlib)
    code = 0
    try:
        runner()
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt as e:
        _print_program_traceback(e)
        code = 130
    except BaseException as e:
        # shown as Python would show it; the trace is still written
        _print_program_traceback(e)
        code = 1
    finally:
        trace = stop_tracing()
        out: IO[str]
        if ns.output:
            with open(ns.output, "w", encoding="utf-8") as out:
                print_tree(trace, out, ascii=ns.ascii or None)
        else:
            sys.stdout.flush()
            print_tree(trace, sys.stderr, ascii=ns.ascii or None)
    return code


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    ns = p.parse_args(argv)
    if ns.command != "run":
        p.print_help()
        return 2
    if not ns.module and not ns.target:
        p.error("run: give a script (or -m module)")
    if not ns.module and not os.path.exists(ns.target[0]):
        print(f"flowtrace: can't open file {ns.target[0]!r}: no such file", file=sys.stderr)
        return 2
    return _run_target(ns)


if __name__ == "__main__":
    sys.exit(main())
