"""Command line: ``flowtrace run|show|stats`` (also ``python -m flowtrace``).

``flowtrace run [options] script.py [args...]`` / ``run [options] -m module
[args...]``: the script runs as ``__main__`` with its own ``sys.argv``; its
stdout and stderr are untouched; the call tree goes to stderr (or ``-o
FILE``) so it never mixes with the program's output. The script's exit
code is FlowTrace's exit code; an exception that escapes it is shown as
Python shows it, and the trace recorded so far is still written (Ctrl-C
too).

``flowtrace show FILE`` renders a saved JSON trace as a tree again;
``flowtrace stats FILE`` prints per-function counts and times.
"""
from __future__ import annotations

import argparse
import os
import re
import runpy
import signal
import sys
import threading
import traceback
from typing import IO, Any

from . import __version__
from .api import print_tree, start_tracing, stop_tracing
from .model import Trace
from .saved import TraceFileError, format_of_path, load, load_for_walk, save, write_path

SAVED_FORMATS = ("ftrace", "json", "chrome", "perfetto", "html")
# the name `show --format F` gives the converted trace, next to the one read
CONVERTED_SUFFIX = {"ftrace": ".ftrace", "json": ".json", "chrome": ".chrome.json",
                    "perfetto": ".pftrace", "html": ".html"}
DEFAULT_FILES = {"json": "flowtrace.json", "chrome": "flowtrace.chrome.json",
                 "ftrace": "flowtrace.ftrace", "perfetto": "flowtrace.pftrace",
                 "html": "flowtrace.html"}

PATTERN_HELP = (
    "PATTERN is a module glob (myapp.*; a bare package name also covers its "
    "submodules), a path glob (src/**, relative to the current directory; "
    "**/tests/** anywhere), or a function name glob (*.save, parse). Order of "
    "precedence: @trace functions are always recorded; an --exclude match is "
    "never recorded; with --include, only what matches an --include is recorded "
    "(even in the standard library); otherwise your code is recorded, not the "
    "standard library or site-packages."
)


# `flowtrace --help`: every command with one example (one line per command)
COMMAND_EXAMPLES = (
    ("run", "flowtrace run app.py --port 8000", "run a script, its call tree on stderr"),
    ("", "flowtrace run -o t.ftrace -m pytest -q", "record a module's run to a file"),
    ("show", "flowtrace show t.ftrace --focus 'parse*'", "a saved trace as a tree"),
    ("stats", "flowtrace stats t.ftrace --top 20", "calls and times per function"),
    ("view", "flowtrace view t.ftrace --open", "see it in a browser: tree, timeline, source"),
)


def _examples() -> str:
    width = max(len(c[1]) for c in COMMAND_EXAMPLES)
    lines = ["commands, with an example each:"]
    for command, example, what in COMMAND_EXAMPLES:
        lines.append(f"  {command:<6} {example:<{width}}  # {what}")
    lines.append("")
    lines.append("Run 'flowtrace COMMAND --help' for a command's options.")
    return "\n".join(lines)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return n


def _display_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("display (text tree)")
    g.add_argument("--max-depth", type=_positive, metavar="N",
                   help="show calls down to depth N (1: only the outermost); a call at "
                   "the limit shows how many calls below it are hidden")
    g.add_argument("--focus", metavar="PATTERN",
                   help="only the subtrees of calls whose function name matches PATTERN "
                   "(a glob: 'parse*', 'Parser.*'), each after a line with the calls it is in")
    fold = g.add_mutually_exclusive_group()
    fold.add_argument("--fold", action="store_true", default=None,
                      help="fold runs of repeated calls (one function called many times "
                      "in a row by one caller): its first 3 calls, the calls that ended "
                      "in a new way, and '⋯ ×N more f(): how they ended' for the others "
                      "(default: only when the trace has more than 10,000 calls)")
    fold.add_argument("--no-fold", dest="fold", action="store_false",
                      help="never fold: every call on its own line")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour function names, arguments, results, exceptions, timing "
                   "and markers: auto (default) = only on a terminal, and not when "
                   "NO_COLOR is set (FORCE_COLOR forces it)")
    g.add_argument("--ascii", action="store_true",
                   help="use -> <- !! instead of the arrows (automatic when the output "
                   "encoding cannot show them)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowtrace",
        description="Show what a Python program did: which functions ran, in\n"
        "which order, with which arguments and results.",
        epilog=_examples(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"flowtrace {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run a script or module and record its calls",
        description="Run a script (or -m module) under FlowTrace and write its call "
        "tree (or a saved trace). Everything after the script name (or after "
        "-m MODULE) is the program's own arguments.",
        epilog=PATTERN_HELP,
    )
    rec = run.add_argument_group("what is recorded")
    rec.add_argument("--timing", action="store_true",
                     help="record each call's duration (shown as [0.000123s])")
    rec.add_argument("--args", action="store_true",
                     help="show the arguments of undecorated functions too (read from "
                     "the frame; values formatted without running your code)")
    rec.add_argument("--no-results", action="store_true",
                     help="do not record returned values (structure only)")
    rec.add_argument("--full-repr", action="store_true",
                     help="show values with their own repr() (runs your __repr__ methods)")
    rec.add_argument("--include", action="append", default=[], metavar="PATTERN",
                     help="record only code matching PATTERN (repeatable)")
    rec.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                     help="never record code matching PATTERN (repeatable); wins over "
                     "--include")
    rec.add_argument("--include-stdlib", action="store_true",
                     help="also record the standard library and site-packages")
    rec.add_argument("--max-events", type=_positive, metavar="N",
                     help="keep only the last N events of each thread (a flight recorder: "
                     "memory stays flat however long the program runs)")
    out = run.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="write to FILE instead: the text tree goes to stderr by default "
                     "(never mixed with the program's stdout); ftrace, json and chrome go "
                     "to flowtrace.ftrace / .json / .chrome.json by default; '-' is stdout")
    out.add_argument("--format", choices=("text", "ftrace", "json", "chrome", "perfetto", "html"),
                     default=None,
                     help="text: the call tree (default; ftrace, perfetto or html when -o "
                     "names a .ftrace, .pftrace or .html file); html: the viewer's page "
                     "(open it in a browser: tree, timeline, functions, source); ftrace: "
                     "FlowTrace's binary recording, compact and fast to "
                     "write and read back (flowtrace show/stats); json: FlowTrace's saved "
                     "trace as JSON; chrome: Chrome Trace Event JSON for Perfetto UI, "
                     "chrome://tracing and speedscope; perfetto: Perfetto's protobuf "
                     "trace (ui.perfetto.dev), for traces too big for JSON")
    _display_options(run)
    run.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE",
                     help="run a library module as a script (like python -m); the "
                     "arguments after it are the module's")
    run.add_argument("target", nargs=argparse.REMAINDER, metavar="script.py [args...]",
                     help="the script and its arguments")

    show = sub.add_parser(
        "show", help="print a saved trace as a tree (or convert it: --format)",
        description="Print the call tree of a trace saved with --format ftrace or json, "
        "or write it in another format (--format).")
    show.add_argument("file", metavar="FILE", help="a trace saved with --format ftrace or json")
    show.add_argument("-o", "--output", metavar="FILE",
                      help="write to FILE instead: the tree goes to stdout by default, "
                      "another format next to FILE (t.ftrace -> t.json, t.chrome.json, "
                      "t.pftrace, t.html); '-' is stdout")
    show.add_argument("--format", choices=("text",) + SAVED_FORMATS, default=None,
                      help="text: the call tree (default; ftrace, perfetto or html when -o "
                      "names a .ftrace, .pftrace or .html file); otherwise the trace "
                      "converted, as 'run --format' writes it (ftrace only from a "
                      ".ftrace: a JSON trace has no records)")
    show.add_argument("--callers", metavar="PATTERN",
                      help="instead of the tree: where the functions matching PATTERN (a "
                      "glob) were called from, merged like a profiler's call graph, with "
                      "the number of calls through each path (--max-depth: levels of callers)")
    _display_options(show)

    view = sub.add_parser(
        "view", help="see a saved trace in a browser: tree, timeline, functions, source",
        description="Write the viewer's page of a saved trace (one HTML file that opens "
        "with no network), or serve it from this machine (--serve).")
    view.add_argument("file", metavar="FILE", help="a trace saved with --format ftrace or json")
    view.add_argument("-o", "--output", metavar="PAGE",
                      help="where to write the page (default: FILE with .html in place of "
                      "its extension)")
    view.add_argument("--open", action="store_true",
                      help="open the page in the default browser (when there is one)")
    view.add_argument("--no-source", action="store_true",
                      help="do not embed the source of the traced files")
    view.add_argument("--serve", action="store_true",
                      help="serve the page from 127.0.0.1 (a random port and a token in the "
                      "URL) instead of writing it; Ctrl-C stops. A trace of more than 2M "
                      "calls is served without asking (unless -o), in views of 200k calls "
                      "that open one another, searched as a whole")
    view.add_argument("--port", type=int, default=0, metavar="N",
                      help="with --serve: the port (default: a free one)")

    stats = sub.add_parser(
        "stats", help="per-function counts (and times) of a saved trace",
        description="Per-function summary of a trace saved with --format ftrace or json: calls, "
        "resumptions of generators/coroutines, calls that raised, and, when the trace "
        "was recorded with --timing, total time (each outermost call once, like "
        "cProfile's cumulative time) and self time (total minus the calls it made).")
    stats.add_argument("file", metavar="FILE", help="a trace saved with --format ftrace or json")
    stats.add_argument("--top", type=_positive, metavar="N", help="only the first N lines")
    stats.add_argument("--sort", choices=("total", "self", "calls", "name"),
                       help="order: by total time (default with timing), self time, "
                       "calls (default without timing) or name")
    return p


# --------------------------------------------------------------------------
# run

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


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def _wait_for_threads() -> None:
    """As the interpreter does at exit: wait for non-daemon threads, so
    their calls are in the trace."""
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is not me and not t.daemon and t.is_alive():
            t.join()


def _write_output(ns: argparse.Namespace, trace: Trace, command: str) -> None:
    fmt = ns.format
    calls, events = trace._c().counts()  # from the records: no tree built
    path = None
    if fmt == "text":
        if ns.output and ns.output != "-":
            path = ns.output
            write_path(ns.output, lambda out: _print(trace, out, ns), text=True)
        else:
            _flush_program_stdout()
            _print(trace, sys.stdout if ns.output == "-" else sys.stderr, ns)
    else:
        path = _save(trace, ns.output or DEFAULT_FILES[fmt], fmt,
                     {"command": command, "argv": sys.argv})
    size = _file_size(path)
    if path is not None and fmt == "html":
        print(f"flowtrace: {calls:,} call{'s' if calls != 1 else ''} in {path} "
              f"({_human_bytes(size or 0)}; open it in a browser)", file=sys.stderr)
    elif path is not None and fmt != "text":
        _say_saved(calls, path, fmt, size)
    for line in end_notes(calls, events, size=size, path=path, module=ns.module,
                          include=ns.include, exclude=ns.exclude,
                          include_stdlib=ns.include_stdlib, max_events=ns.max_events):
        print(f"flowtrace: {line}", file=sys.stderr)


def _save(trace: Trace, out: str, fmt: str, meta: dict[str, Any]) -> str | None:
    """The trace saved in format `fmt` to the file `out` ('-': stdout); the
    file's path, or None for stdout."""
    if out == "-":
        sys.stdout.flush()
        save(trace, sys.stdout.buffer, format=fmt, meta=meta)
        sys.stdout.buffer.flush()
        return None
    save(trace, out, format=fmt, meta=meta)
    return out


def _say_saved(calls: int, path: str, fmt: str, size: int | None) -> None:
    where = f" ({fmt}, {_human_bytes(size)})" if size is not None else f" ({fmt})"
    print(f"flowtrace: {calls:,} call{'s' if calls != 1 else ''} saved to {path}{where}",
          file=sys.stderr)


def _flush_program_stdout() -> None:
    """What the program printed goes out before the tree; a program may
    have closed its stdout (json.tool does), which is its own business."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


# a run that records more than this many events is told how to record less
BIG_RUN_EVENTS = 10_000_000


def end_notes(calls: int, events: int, *, size: int | None = None, path: str | None = None,
              module: list[str] | None = None, include: list[str] = (),
              exclude: list[str] = (), include_stdlib: bool = False,
              max_events: int | None = None,
              big: int = BIG_RUN_EVENTS) -> list[str]:
    """What the end of a run says besides the trace: why nothing was
    recorded, or that the recording was big and how to make it smaller.
    ``module``: ``-m``'s words (the module first), or None for a script."""
    if events == 0:
        why = "no calls recorded: "
        if include:
            return [why + "no code that ran matched --include " + ", ".join(include)]
        where = "all code ran in the standard library or site-packages"
        if include_stdlib:
            return [why + "all code that ran matched --exclude " + ", ".join(exclude)]
        if exclude:
            where += " or matched --exclude " + ", ".join(exclude)
        if module:
            top = module[0].split(".")[0]
            return [f"{why}{where}; to see {top} use --include {top}"]
        return [f"{why}{where}; --include PATTERN records the code it matches"]
    if events <= big:
        return []
    what = f"{events:,} events ({calls:,} calls)"
    if size is not None and path is not None:
        what += f", {_human_bytes(size)} in {path}"
    hints = ["--include PKG (only that package)", "--exclude PATTERN"]
    if max_events is None:
        hints.append("--max-events N (the last N events of each thread)")
    return [f"a big recording: {what}; to record less use " + ", ".join(hints)]


def _file_size(path: str | None) -> int | None:
    try:
        return os.stat(path).st_size if path is not None else None
    except OSError:
        return None


def _human_bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            v = n / scale
            return f"{v:.1f} {unit}" if v < 10 else f"{v:.0f} {unit}"
    return f"{n} bytes"


def _print(trace: Any, out: IO[str], ns: argparse.Namespace) -> None:
    print_tree(trace, out, ascii=ns.ascii or None, color=ns.color, max_depth=ns.max_depth,
               focus=ns.focus, fold=ns.fold)


def _format_of(output: str | None) -> str:
    """The format a file name says (a binary format's), else text (a
    .json name too: --format json says JSON)."""
    fmt = format_of_path(output or "", "text")
    return "text" if fmt == "json" else fmt


def _run(ns: argparse.Namespace) -> int:
    if ns.format is None:  # a binary format's file name says which
        ns.format = _format_of(ns.output)
    if ns.module is not None:
        if not ns.module:
            print("flowtrace run: -m needs a module name", file=sys.stderr)
            return 2
        module, *args = ns.module
        sys.argv = [module, *args]
        sys.path.insert(0, os.getcwd())
        command = " ".join(["-m", module, *args])
        runner = lambda: runpy.run_module(module, run_name="__main__", alter_sys=True)  # noqa: E731
    else:
        script = os.path.abspath(ns.target[0])
        if not os.path.exists(script):
            print(f"flowtrace: can't open file {ns.target[0]!r}: no such file", file=sys.stderr)
            return 2
        sys.argv = [ns.target[0], *ns.target[1:]]
        sys.path.insert(0, os.path.dirname(script))
        command = " ".join(ns.target)
        runner = lambda: runpy.run_path(script, run_name="__main__")  # noqa: E731
    problem = _output_problem(ns.output)
    if problem:
        print(f"flowtrace: cannot write {ns.output}: {problem}", file=sys.stderr)
        return 2
    try:
        start_tracing(timing=ns.timing, results=not ns.no_results, full_repr=ns.full_repr,
                      include_stdlib=ns.include_stdlib, args=ns.args,
                      include=ns.include, exclude=ns.exclude, max_events=ns.max_events)
    except (ValueError, TypeError, RuntimeError) as e:
        print(f"flowtrace: {e}", file=sys.stderr)
        return 2
    code = 0
    interrupted = False
    finish = _Finisher(ns, command)
    finish.watch_signals()
    try:
        try:
            runner()
        except SystemExit as e:
            code = _exit_code(e)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            # shown as Python would show it; the trace is still written
            _print_program_traceback(e)
            code = 1
        _wait_for_threads()
    except KeyboardInterrupt as e:
        _print_program_traceback(e)
        interrupted = True
        code = 130
    code = finish(code)
    if interrupted:
        _die_by(signal.SIGINT)
    return code


class _Finisher:
    """Stops the session and writes the trace, once: when the program ends,
    or when SIGTERM or SIGHUP would end it.

    Killed by one of those, an untraced program dies at once (no `finally`,
    no `atexit`): so the trace is written from within the signal's handler,
    without unwinding the program, and the process then dies by the same
    signal, with the status the signal gives. Only a signal whose action is
    the default one is watched: one the program ignores (SIG_IGN inherited
    from its parent) stays ignored, and a handler the program installs
    replaces FlowTrace's, as it would replace the default.
    """

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))

    def __init__(self, ns: argparse.Namespace, command: str) -> None:
        self.ns = ns
        self.command = command
        self.done = False
        self.pending: int | None = None  # a signal that came while writing
        self.pid = os.getpid()  # a forked child inherits the handler, not the trace

    def watch_signals(self) -> None:
        if not _main_thread():
            return
        for sig in self.SIGNALS:
            if signal.getsignal(sig) is signal.SIG_DFL:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:
            # a fork()ed child (multiprocessing's terminate()): the trace is
            # the parent's to write; the child dies as it would have
            _die_by(signum)
        if self.done:
            self.pending = signum  # writing now: die once it is written
            return
        self(0)
        _die_by(signum)

    def __call__(self, code: int) -> int:
        if self.done:
            return code
        self.done = True
        # A second Ctrl-C must not cut the trace being written.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            try:
                trace = stop_tracing()
            except RuntimeError:
                # the program itself stopped FlowTrace's session (it uses
                # flowtrace's API): nothing of ours is left to write
                print("flowtrace: the program stopped the tracing session itself "
                      "(stop_tracing()); no trace to write", file=sys.stderr)
                return code or 1
            _write_output(self.ns, trace, self.command)
        except BrokenPipeError:
            _silence_stdout()
        except OSError as e:
            where = self.ns.output or ("stderr" if self.ns.format == "text" else "")
            print(f"flowtrace: cannot write the trace to {where}: {e.strerror or e}",
                  file=sys.stderr)
            code = code or 1
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        if self.pending is not None:
            _die_by(self.pending)
        return code


def _output_problem(output: str | None) -> str | None:
    """Why the output file could not be written, found before the program
    runs (so that a long run is not lost to a typo): a missing directory,
    or a directory given as the file. None if it looks writable."""
    if not output or output == "-":
        return None
    target = os.path.realpath(output)
    if os.path.isdir(target):
        return "it is a directory"
    parent = os.path.dirname(target) or "."
    if not os.path.isdir(parent):
        return f"no such directory: {os.path.dirname(output) or '.'}"
    if not os.access(parent, os.W_OK | os.X_OK) and not os.path.exists(target):
        return f"permission denied: {os.path.dirname(output) or '.'}"
    return None


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _die_by(signum: int) -> None:
    """End as the signal ends a Python program that does not handle it
    (after an uncaught KeyboardInterrupt, Python dies by SIGINT): the shell
    and a parent process see the signal, not an exit status."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    if os.name == "posix":
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _silence_stdout() -> None:
    """The reader of our stdout has gone (`| head`): stop writing to it,
    without the interpreter's own complaint at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------
# show, stats

def _load(path: str, tree_only: bool = True) -> Trace | None:
    """The saved trace, or None (said in one line). `tree_only`: it is read
    for its tree, so its records are given back as the tree is built (a
    big .ftrace is never in memory twice, as records and as nodes)."""
    try:
        trace = load(path)
    except TraceFileError as e:
        print(f"flowtrace: {e}", file=sys.stderr)
        return None
    if tree_only:
        trace._c()._release_records()
    return trace


def _walked(path: str, command: Any) -> int:
    """`command(trace)` for a reader that walks the tree once (show's text,
    stats): the trace is read as the walk goes (load_for_walk), so a JSON
    file's errors may come after the first lines: said as one line."""
    try:
        trace, streamed = load_for_walk(path)
    except TraceFileError as e:
        print(f"flowtrace: {e}", file=sys.stderr)
        return 1
    try:
        return command(trace)
    except ValueError as e:
        if not streamed or isinstance(e, OSError):
            raise
        _silence_stdout()
        print(f"flowtrace: {path}: {e}", file=sys.stderr)
        return 1


def _show(ns: argparse.Namespace) -> int:
    fmt = ns.format or _format_of(ns.output)
    if fmt != "text":
        tree_only = [name for name, given in (("--callers", ns.callers is not None),
                                              ("--focus", ns.focus is not None),
                                              ("--max-depth", ns.max_depth is not None),
                                              ("--fold/--no-fold", ns.fold is not None))
                     if given]
        if tree_only:
            print(f"flowtrace show: {', '.join(tree_only)} shape the text tree; they do not "
                  f"apply to --format {fmt}", file=sys.stderr)
            return 2
        return _convert(ns, fmt)
    if ns.callers is not None:
        trace = _load(ns.file)
        return 1 if trace is None else _show_trace(ns, trace)
    return _walked(ns.file, lambda trace: _show_trace(ns, trace))


def _show_trace(ns: argparse.Namespace, trace: Trace) -> int:
    def show(out: IO[str]) -> None:
        if ns.callers is None:
            _print(trace, out, ns)
            return
        encoding = getattr(out, "encoding", None) or "utf-8"
        try:
            "\u2190\u22ef".encode(encoding)
            ascii = bool(ns.ascii)
        except (UnicodeEncodeError, LookupError):
            ascii = True
        trace._c().write_callers(out, ns.callers, max_depth=ns.max_depth or 0, ascii=ascii)

    def write() -> None:
        if ns.output:
            write_path(ns.output, show, text=True)
        else:
            show(sys.stdout)
            sys.stdout.flush()

    return _writing(write, ns.output or "stdout")


def _convert(ns: argparse.Namespace, fmt: str) -> int:
    """`show --format F`: the saved trace written in format F."""
    out = ns.output
    if out is None:
        stem = re.sub(r"(\.chrome)?\.(json|ftrace|pftrace|perfetto-trace)$", "", ns.file)
        out = stem + CONVERTED_SUFFIX[fmt]
    if out != "-" and os.path.exists(out) and os.path.exists(ns.file) and \
            os.path.samefile(out, ns.file):
        print(f"flowtrace: {out} is the file being read: name another with -o", file=sys.stderr)
        return 1
    problem = _output_problem(out)  # before a long load, as run does before running
    if problem is not None:
        print(f"flowtrace: cannot write {out}: {problem}", file=sys.stderr)
        return 2
    trace = _load(ns.file, tree_only=fmt != "ftrace")
    if trace is None:
        return 1
    meta = {"command": "show", "argv": sys.argv, "source": ns.file}

    try:
        rc = _writing(lambda: _save(trace, out, fmt, meta), out if out != "-" else "stdout")
    except ValueError as e:  # what the format cannot hold (ftrace from JSON)
        print(f"flowtrace: {e}", file=sys.stderr)
        return 1
    if rc == 0 and out != "-":
        _say_saved(trace._c().counts()[0], out, fmt, _file_size(out))
    return rc


def _writing(write: Any, where: str) -> int:
    """Run `write`; a write error is one line and exit status 1, a closed
    pipe (`| head`) a quiet exit, as with other Unix tools."""
    try:
        write()
    except BrokenPipeError:
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what the shell reports for head's writers
    except OSError as e:
        _silence_stdout()  # nothing more can go there (ENOSPC: /dev/full)
        print(f"flowtrace: cannot write {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def _fmt_time(t: float | None) -> str:
    return "" if t is None else f"{t:.6f}"


def _stats(ns: argparse.Namespace) -> int:
    return _walked(ns.file, lambda trace: _stats_of(ns, trace))


def _stats_of(ns: argparse.Namespace, trace: Trace) -> int:
    rows = trace.stats()  # one walk: a big trace's nodes are given back as it goes
    every = list(rows)
    timed = bool(rows) and rows[0].total is not None
    sort = ns.sort or ("total" if timed else "calls")
    if sort in ("total", "self") and not timed:
        print("flowtrace: this trace has no timing (record it with --timing); "
              "sorting by calls", file=sys.stderr)
        sort = "calls"
    keys = {
        "total": lambda r: (-(r.total or 0.0), r.name),
        "self": lambda r: (-(r.self or 0.0), r.name),
        "calls": lambda r: (-r.calls, -r.resumes, r.name),
        "name": lambda r: (r.name, r.filename or "", r.lineno),
    }
    rows.sort(key=keys[sort])
    if ns.top:
        rows = rows[: ns.top]
    resumes = any(r.resumes for r in rows)
    head = ["calls"] + (["resumes"] if resumes else []) + ["raised"]
    head += ["total s", "self s"] if timed else []
    table = []
    for r in rows:
        cells = [str(r.calls)] + ([str(r.resumes)] if resumes else []) + [str(r.raised)]
        if timed:
            cells += [_fmt_time(r.total), _fmt_time(r.self)]
        where = f"{r.filename}:{r.lineno}" if r.filename else "?"
        table.append((cells, f"{r.name}  ({where})"))
    widths = [max([len(h)] + [len(c[0][i]) for c in table]) for i, h in enumerate(head)]
    total_calls = sum(r.calls for r in every)
    nfunctions = len(every)

    def write() -> None:
        out = sys.stdout
        # a name may hold a lone surrogate (an undecodable file name): shown
        # as its escape, as the tree shows it
        if hasattr(out, "reconfigure"):
            out.reconfigure(errors="backslashreplace")
        print("  ".join(h.rjust(w) for h, w in zip(head, widths)) + "  function", file=out)
        for cells, name in table:
            print("  ".join(c.rjust(w) for c, w in zip(cells, widths)) + "  " + name, file=out)
        # calls as run counts them (the tree's nodes are no measure a
        # reader knows, and the walk has given them back)
        total_resumes = sum(r.resumes for r in every)
        print(f"{total_calls} calls" + (f", {total_resumes} resumptions" if total_resumes else "")
              + f", {nfunctions} functions" + ("" if timed else " (no timing recorded)"),
              file=out)
        out.flush()

    return _writing(write, "stdout")


# --------------------------------------------------------------------------
# view

def _open_in_browser(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except Exception:  # a broken browser setting: say where the page is instead
        return False


def _view(ns: argparse.Namespace) -> int:
    trace = _load(ns.file)
    if trace is None:
        return 1
    title = os.path.basename(ns.file)
    from .viewer import PAGE_LIMIT

    if ns.serve or (ns.output is None and len(trace) > PAGE_LIMIT):
        # too big for one page in a browser: served in views
        return _serve(trace, ns, title)
    page = ns.output or os.path.splitext(ns.file)[0] + ".html"
    if os.path.realpath(page) == os.path.realpath(ns.file):
        print(f"flowtrace: the page would replace the trace {ns.file}: give -o PAGE",
              file=sys.stderr)
        return 2
    problem = _output_problem(page)
    if problem:
        print(f"flowtrace: cannot write {page}: {problem}", file=sys.stderr)
        return 2
    from .viewer import write_page

    code = _writing(lambda: write_path(
        page, lambda f: write_page(trace._c(), f, title=title, sources=not ns.no_source)), page)
    if code:
        return code
    url = "file://" + os.path.abspath(page)
    if ns.open and _open_in_browser(url):
        print(f"flowtrace: opened {page}", file=sys.stderr)
    else:
        print(f"flowtrace: page written to {page} (open {url})", file=sys.stderr)
    return 0


def _serve(trace: Trace, ns: argparse.Namespace, title: str) -> int:
    from .viewer import PAGE_LIMIT
    from .viewer.server import ViewerServer

    try:
        server = ViewerServer(trace._c(), port=ns.port, title=title,
                              sources=not ns.no_source, log=None, page_limit=PAGE_LIMIT)
    except OSError as e:
        print(f"flowtrace: cannot listen on 127.0.0.1:{ns.port}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    how = (f" ({len(trace):,} calls, in views of {server.budget:,})"
           if server.in_views else "")
    # the URL stands alone, so that a terminal's link or a double-click takes all of it
    print(f"flowtrace: serving {ns.file}{how} at {server.url}  (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    if ns.open:
        _open_in_browser(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("flowtrace: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    try:
        ns = p.parse_args(argv)
    except SystemExit as e:  # --help, --version, a usage error
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        return _writing(sys.stdout.flush, "stdout") or code
    if ns.command is None:
        p.print_help(sys.stderr)
        return 2
    if ns.command == "run":
        if ns.module is None and not ns.target:
            print("flowtrace run: give a script (or -m module); see flowtrace run --help",
                  file=sys.stderr)
            return 2
        # the program's own output is the program's: its errors are its own
        return _run(ns)
    if ns.command == "view":
        return _view(ns)
    return _show(ns) if ns.command == "show" else _stats(ns)


if __name__ == "__main__":
    sys.exit(main())
