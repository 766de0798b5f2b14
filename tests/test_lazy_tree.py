"""The text tree written as the tree is built (tree/lazy.c) says what the
whole tree says.

`flowtrace show` no longer builds every node before its first line: the
builder makes the nodes the text walk is about to read. Each program of
the differential corpus (tests/programs) is recorded, saved as .ftrace
and loaded twice: one copy is built whole first, the other is written
while it is built. Their texts (folded or not, --focus, --max-depth) and
then their JSON must be byte-identical, and the lazy copy must really
have been lazy wherever a lazy build is possible.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import flowtrace

HERE = Path(__file__).resolve().parent
PROGRAMS = sorted(p for p in (HERE / "programs").glob("*.py") if not p.name.startswith("_"))

# Recorded in one child process: each program's main() traced and saved.
RECORDER = r"""
import gc, importlib.util, json, sys
import flowtrace
out, mode, progs = sys.argv[1], sys.argv[2], sys.argv[3:]
for i, path in enumerate(progs):
    spec = importlib.util.spec_from_file_location(f"prog{i}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    gc.disable()
    flowtrace.start_tracing(timing=(mode == "timing"), args=(mode == "timing"))
    try:
        mod.main()
    except BaseException:
        pass
    finally:
        trace = flowtrace.stop_tracing()
        gc.enable()
    trace.save(f"{out}/{i}.ftrace")
"""


def _record(tmp: Path, mode: str) -> list[Path]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", RECORDER, str(tmp), mode, *map(str, PROGRAMS)],
                   check=True, env=env, capture_output=True, timeout=300)
    return [tmp / f"{i}.ftrace" for i in range(len(PROGRAMS))]


@pytest.fixture(scope="module", params=["default", "timing"])
def recorded(request, tmp_path_factory):
    return _record(tmp_path_factory.mktemp(request.param), request.param)


def _text(trace, **opts) -> str:
    buf = io.StringIO()
    flowtrace.print_tree(trace, file=buf, color=False, **opts)
    return buf.getvalue()


OPTIONS = [
    {},
    {"fold": True},
    {"fold": False},
    {"max_depth": 2},
    {"focus": "*gen*", "fold": True},
]


def test_corpus_recorded(recorded):
    assert len(recorded) == len(PROGRAMS) >= 60


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())
                         or "plain")
def test_lazy_text_and_json_are_the_whole_trees(recorded, opts):
    lazy_count = 0
    for path, prog in zip(recorded, PROGRAMS):
        whole = flowtrace.load(path)
        len(whole)  # built whole
        expected = _text(whole, **opts)
        lazy = flowtrace.load(path)
        got = _text(lazy, **opts)
        assert got == expected, f"{prog.name}: the lazy text differs"
        assert not lazy._c()._building  # the walk read it all: finished
        lazy_count += _was_lazy(path)
        assert _json(whole) == _json(lazy), f"{prog.name}: the tree differs after the walk"
    # every program of the corpus (asyncio lanes, generators handed between
    # threads included) is built lazily: only frames begun before tracing
    # and partial timing are not
    assert lazy_count == len(PROGRAMS), lazy_count


def _json(trace) -> dict:
    buf = io.StringIO()
    trace._c().write_json(buf)
    data = json.loads(buf.getvalue())
    data.get("meta", {}).pop("saved_at", None)
    return data


class _Stop(Exception):
    pass


class _FirstWrite:
    """A file whose first write stops the writer (a reader gone)."""
    encoding = "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def flush(self):
        pass

    def write(self, text):
        raise _Stop


def _was_lazy(path: Path) -> bool:
    """Whether this trace can be built as a walk reads it."""
    return flowtrace.load(path)._c()._build_lazily()


def test_an_interrupted_walk_then_a_whole_reader(recorded):
    """A walk stopped early (the pipe closed) leaves the tree half built;
    the next reader finishes it into the tree a full build makes."""
    checked = 0
    for path, prog in zip(recorded, PROGRAMS):
        trace = flowtrace.load(path)
        if not trace._c()._build_lazily():
            continue
        assert trace._c()._building
        try:  # the first lines written stop it
            trace._c().write_text(_FirstWrite(), fold=0, max_depth=1)
        except _Stop:
            pass
        assert trace._c()._building
        checked += 1
        whole = flowtrace.load(path)
        len(whole)
        assert _json(trace) == _json(whole), prog.name
        assert not trace._c()._building
        assert _text(trace) == _text(whole), prog.name
    assert checked >= 20


def _program_trace(tmp_path: Path, src: str, *run_opts: str) -> Path:
    prog = tmp_path / "prog.py"
    prog.write_text(src)
    out = tmp_path / "t.ftrace"
    subprocess.run([sys.executable, "-m", "flowtrace", "run", *run_opts, "-o", str(out),
                    str(prog)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
    return out


LOOP = """
def leaf(i):
    return i * 2

def gen(n):
    for i in range(n):
        yield leaf(i)

def step(k):
    s = sum(gen(5))
    try:
        if k % 7 == 0:
            raise ValueError(k)
    except ValueError:
        pass
    return s

def main():
    g = gen(3)
    next(g)           # left suspended: never resumed again
    return sum(step(k) for k in range(N))

main()
"""


@pytest.mark.parametrize("opts", [(), ("--timing",), ("--args",)])
def test_a_big_loop_is_written_as_built(tmp_path, opts):
    path = _program_trace(tmp_path, LOOP.replace("N", "3000"), *opts)
    whole = flowtrace.load(path)
    len(whole)
    for fold in (True, False):
        lazy = flowtrace.load(path)
        assert _text(lazy, fold=fold) == _text(whole, fold=fold)
    assert "(left suspended)" in _text(whole, fold=False)
    assert _was_lazy(path)


QUIET = """
def f(i):
    return i

def main():
    for i in range(1_500_000):
        f(i)

main()
"""


def test_show_ends_when_its_reader_does(tmp_path):
    """`flowtrace show big.ftrace | head` ends when head does, even where
    the folded text says nothing for a long while (1.5M calls of f folded
    into one line): the first lines are sent at once, and the closed pipe
    is noticed between two lines (141, quietly)."""
    path = _program_trace(tmp_path, QUIET)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    for fold in ("--fold", "--no-fold"):
        p = subprocess.Popen([sys.executable, "-m", "flowtrace", "show", fold, str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        first = [p.stdout.readline() for _ in range(3)]
        p.stdout.close()
        assert p.wait(timeout=60) == 141, fold
        assert p.stderr.read() == b""
        assert first[0].startswith("→ <module __main__>".encode())
        assert first[2].startswith("    → f(".encode())


def test_show_gives_the_records_and_nodes_back_and_counts_stay(recorded):
    """The CLI's reader (records given back as the tree is built, nodes as
    they are written) writes the same text, and the trace's counts (what
    `run` and `stats` say) are the survey's, equal to the records'."""
    for path, prog in zip(recorded, PROGRAMS):
        whole = flowtrace.load(path)
        counts = whole._c().counts()
        len(whole)
        lazy = flowtrace.load(path)
        lazy._c()._release_records()
        assert _text(lazy, fold=False) == _text(whole, fold=False), prog.name
        assert lazy._c().counts() == counts, prog.name


MIDFLIGHT = """
import flowtrace

def leaf(i):
    return i

def outer():
    flowtrace.start_tracing()
    for i in range(3):
        leaf(i)
    return 1

outer()
trace = flowtrace.stop_tracing()
trace.save(OUT)
"""


def test_a_frame_begun_before_tracing_is_built_whole(tmp_path):
    """outer() began before tracing: its exit adopts what came before, which
    a walk cannot know until the end, so the tree is built whole first."""
    out = tmp_path / "t.ftrace"
    prog = tmp_path / "prog.py"
    prog.write_text(MIDFLIGHT.replace("OUT", repr(str(out))))
    subprocess.run([sys.executable, str(prog)], check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
    trace = flowtrace.load(out)
    assert not trace._c()._build_lazily()
    text = _text(trace)
    assert "(began before tracing)" in text
    whole = flowtrace.load(out)
    len(whole)
    assert _text(whole) == text


ASYNC_LOOPS = """
import asyncio

async def work(n):
    await asyncio.sleep(0)
    return n

async def main(k):
    return sum(await asyncio.gather(*(work(i) for i in range(k))))

async def slow(n):
    await asyncio.sleep(0.05)
    return n

def first(loop):
    t = loop.create_task(slow(7))
    loop.run_until_complete(asyncio.sleep(0))
    return t

def second(loop, t):
    return loop.run_until_complete(t)

def run_twice():
    loop = asyncio.new_event_loop()
    try:  # a task made in first()'s run of the loop finishes in second()'s
        second(loop, first(loop))
    finally:
        loop.close()

def runs():
    for k in range(3):
        asyncio.run(main(k + 2))

def after(n):  # walked once the runs' region is laid out
    return n * 2
"""


def test_asyncio_lanes_laid_out_as_the_loop_returns(tmp_path):
    """Each asyncio.run() is laid out once its frame returns, and the walk
    waits for it; a task whose lane was made by an earlier run of the same
    loop (a later run_until_complete finishes it) needs the whole tree."""
    for src, lazy in ((ASYNC_LOOPS + "runs()\nafter(1)\n", True),
                      (ASYNC_LOOPS + "run_twice()\n", False)):
        path = _program_trace(tmp_path, src)
        whole = flowtrace.load(path)
        len(whole)
        assert flowtrace.load(path)._c()._build_lazily() is lazy
        for fold in (True, False):
            assert _text(flowtrace.load(path), fold=fold) == _text(whole, fold=fold)
        assert "task" in _text(whole)


def test_stats_walk_as_built_and_say_the_same(recorded):
    """Trace.stats() is one walk in order too: built as it goes, with the
    records (and, for the CLI, the nodes) given back; the rows are the
    whole tree's, times included."""
    for path, prog in zip(recorded, PROGRAMS):
        whole = flowtrace.load(path)
        len(whole)
        expected = whole.stats()
        lazy = flowtrace.load(path)
        assert lazy.stats() == expected, prog.name
        spent = flowtrace.load(path)
        spent._c()._release_records()
        assert spent.stats() == expected, prog.name


def test_the_cli_gives_nodes_back_and_shows_the_same(tmp_path):
    """flowtrace show and stats give back the nodes their walk has passed
    (in pieces of 2^18): on a trace of about 660,000 nodes - generators,
    exceptions, folding - what they print is what the whole tree prints."""
    path = _program_trace(tmp_path, LOOP.replace("N", "50000"))
    whole = flowtrace.load(path)
    assert len(whole) > 2 * 2 ** 18
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "NO_COLOR": "1"}
    for opts in ([], ["--no-fold"], ["--focus", "step"]):
        p = subprocess.run([sys.executable, "-m", "flowtrace", "show", *opts, str(path)],
                           capture_output=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        fold = "--no-fold" not in opts
        focus = "step" if "--focus" in opts else None
        assert p.stdout.decode() == _text(whole, fold=fold, focus=focus), opts
    p = subprocess.run([sys.executable, "-m", "flowtrace", "stats", "--sort", "name", str(path)],
                       capture_output=True, env=env, timeout=300, text=True)
    calls = {line.rsplit("  (", 1)[0].split("  ")[-1].strip(): int(line.split()[0])
             for line in p.stdout.splitlines()[1:-1]}
    assert calls == {r.name: r.calls for r in whole.stats()}


def test_a_spent_trace_says_so(tmp_path):
    """A reader that gave the walked nodes back (the CLI's) leaves a trace
    that cannot be read again: any later reader says so in one line, and
    never reads the pages given back."""
    path = _program_trace(tmp_path, LOOP.replace("N", "50000"))
    trace = flowtrace.load(path)
    trace._c()._release_records()
    text = _text(trace, max_depth=2)
    assert text.startswith("→ <module __main__>")
    for again in (len, lambda t: t.stats(), lambda t: _text(t)):
        with pytest.raises(MemoryError, match="load the file again"):
            again(trace)


# --------------------------------------------------------------------------
# JSON read as the walk goes (load_json.c paused at the calls)

def _json_file(path: Path, tmp: Path) -> Path:
    out = tmp / (path.stem + ".json")
    flowtrace.load(path).save(out, format="json")
    return out


def _lazy_json(path: Path, chunk: int = 1 << 20, release: bool = False):
    from flowtrace import _core
    f = open(path, "rb")
    core = _core.Trace._from_json_lazily(f, chunk, path.stat().st_size, release)
    assert core is not None and core._building
    import weakref
    weakref.finalize(core, f.close)
    return flowtrace.Trace(core)


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())
                         or "plain")
def test_json_read_as_walked_gives_the_whole_files_text(recorded, opts, tmp_path):
    for path, prog in zip(recorded, PROGRAMS):
        js = _json_file(path, tmp_path)
        whole = flowtrace.load(js)
        expected = _text(whole, **opts)
        assert _text(_lazy_json(js), **opts) == expected, prog.name
        assert _text(_lazy_json(js, chunk=7, release=True), **opts) == expected, prog.name


def test_json_read_as_walked_then_whole(recorded, tmp_path):
    """The rest of the file is read by the next reader that needs it all:
    the same tree (JSON saved back, stats) as a whole load."""
    for path, prog in zip(recorded, PROGRAMS):
        js = _json_file(path, tmp_path)
        whole = flowtrace.load(js)
        lazy = _lazy_json(js)
        try:
            lazy._c().write_text(_FirstWrite(), fold=0)
        except _Stop:
            pass
        assert _json(lazy) == _json(whole), prog.name
        assert _lazy_json(js).stats() == whole.stats(), prog.name


def test_show_of_a_big_json_answers_before_it_is_read(tmp_path):
    """`flowtrace show big.json | head`: the file is read as far as the
    walk has come; show and stats print what a whole load prints."""
    path = _program_trace(tmp_path, LOOP.replace("N", "50000"))
    js = _json_file(path, tmp_path)
    whole = flowtrace.load(js)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "NO_COLOR": "1"}
    p = subprocess.Popen([sys.executable, "-m", "flowtrace", "show", str(js)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = [p.stdout.readline() for _ in range(3)]
    p.stdout.close()
    assert p.wait(timeout=60) == 141 and p.stderr.read() == b""
    assert b"".join(first).decode() == "".join(_text(whole).splitlines(True)[:3])
    for opts in ([], ["--no-fold"]):
        p = subprocess.run([sys.executable, "-m", "flowtrace", "show", *opts, str(js)],
                           capture_output=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == _text(whole, fold="--no-fold" not in opts), opts


@pytest.mark.parametrize("damage, words", [
    (lambda b: b[: len(b) * 2 // 3], "truncated"),
    (lambda b: b.replace(b'"kind":"call"', b'"kind":"cal"', 1) if b.count(b'"kind":"call"') < 2
     else b[: b.rfind(b'"kind":"call"')] + b'"kind":"cal"' + b[b.rfind(b'"kind":"call"') + 13:],
     "kind"),
    (lambda b: re_ncalls(b, +5), "calls"),
])
def test_a_damaged_json_says_so_after_what_it_could_show(tmp_path, damage, words):
    """Read as the walk goes, a damage in the middle of the calls comes
    after the lines before it: one line on stderr, exit 1, never a
    traceback; `load()` still refuses the whole file at once."""
    path = _program_trace(tmp_path, LOOP.replace("N", "3000"))
    js = _json_file(path, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_bytes(damage(js.read_bytes()))
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "NO_COLOR": "1"}
    for cmd in (["show", "--no-fold"], ["stats"]):
        p = subprocess.run([sys.executable, "-m", "flowtrace", *cmd, str(bad)],
                           capture_output=True, env=env, timeout=120, text=True)
        assert p.returncode == 1, (cmd, p.stderr)
        assert p.stderr.startswith(f"flowtrace: {bad}: ") and p.stderr.count("\n") == 1, p.stderr
        assert words in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    with pytest.raises(flowtrace.TraceFileError, match=words):
        flowtrace.load(bad)


def re_ncalls(data: bytes, more: int) -> bytes:
    """The header announcing `more` calls than the file holds."""
    import re
    return re.sub(rb'"ncalls":(\d+)', lambda m: b'"ncalls":%d' % (int(m.group(1)) + more), data,
                  count=1)


def test_a_json_without_a_count_is_read_whole(tmp_path):
    """No "ncalls" in the header: the nodes cannot be presized, so the file
    is read whole first - and shown the same."""
    import re
    path = _program_trace(tmp_path, LOOP.replace("N", "300"))
    js = _json_file(path, tmp_path)
    bare = tmp_path / "bare.json"
    bare.write_bytes(re.sub(rb'"ncalls":\d+,', b"", js.read_bytes(), count=1))
    from flowtrace import _core
    with open(bare, "rb") as f:
        assert _core.Trace._from_json_lazily(f, 1 << 20, bare.stat().st_size, False) is None
    from flowtrace.saved import load_for_walk
    trace, streamed = load_for_walk(bare)
    assert not streamed
    assert _text(trace) == _text(flowtrace.load(js))


def test_a_listed_thread_without_calls_is_refused_both_ways(tmp_path):
    """The writer leaves out a thread that ran no traced code (and dropped
    nothing); the walk takes every listed thread to have calls (whether
    the tree shows thread headers), so the loader refuses a file that
    lists one - load() at once, show after its lines."""
    import re
    path = _program_trace(tmp_path, LOOP.replace("N", "30"))
    js = _json_file(path, tmp_path)
    data = js.read_bytes()
    thread = re.search(rb'\{"id":0,"ident":\d+,"name":"[^"]*"\}', data).group(0)
    extra = thread.replace(b'"id":0', b'"id":1').replace(b'"name":"', b'"name":"idle-', 1)
    bad = tmp_path / "extra.json"
    bad.write_bytes(data.replace(thread, thread + b",\n" + extra, 1))
    with pytest.raises(flowtrace.TraceFileError, match=r"threads\[1\]: no call"):
        flowtrace.load(bad)
    p = subprocess.run([sys.executable, "-m", "flowtrace", "show", str(bad)], capture_output=True,
                       text=True, timeout=60, env={**os.environ,
                                                   "PYTHONPATH": str(HERE.parent / "src")})
    assert p.returncode == 1 and "threads[1]: no call" in p.stderr and p.stderr.count("\n") == 1


def test_show_reads_a_pipe_once(tmp_path):
    """`cat t.json | flowtrace show /dev/stdin`: a pipe is read once, whole
    (nothing of it is taken to look at its start first)."""
    path = _program_trace(tmp_path, LOOP.replace("N", "200"))
    js = _json_file(path, tmp_path)
    expected = _text(flowtrace.load(js))
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "NO_COLOR": "1"}
    for source in (js, path):
        p = subprocess.run([sys.executable, "-m", "flowtrace", "show", "/dev/stdin"],
                           input=source.read_bytes(), capture_output=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == expected, source.name
