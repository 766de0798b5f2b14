"""Include/exclude patterns: each kind (module glob, package, path glob,
function name, qualified name), the precedence rule, and the same patterns
through start_tracing(), tracing() and @trace(...)."""
import json
import os
import sys
import textwrap

import pytest

from conftest import run_cmd, session, tree_text, write_program

from flowtrace import _core, start_tracing, trace, tracing
from flowtrace.api import normalize_patterns

glob = _core._glob_match


@pytest.mark.parametrize("pattern, text, path, expected", [
    ("myapp.*", "myapp.models", False, True),
    ("myapp.*", "myapp", False, False),
    ("*.save", "Order.save", False, True),
    ("*.save", "save", False, False),
    ("save", "save", False, True),
    ("s?ve", "save", False, True),
    ("f[a-c]o", "fbo", False, True),
    ("f[!a-c]o", "fbo", False, False),
    ("[]]", "]", False, True),
    ("[", "[", False, True),
    ("é*", "éclair", False, True),
    ("?", "é", False, True),
    ("/a/src/**", "/a/src/x/y.py", True, True),
    ("/a/src/*", "/a/src/x/y.py", True, False),
    ("/a/src/*", "/a/src/y.py", True, True),
    ("/a/src/**/y.py", "/a/src/y.py", True, True),
    ("/a/src/**/y.py", "/a/src/q/r/y.py", True, True),
    ("**/tests/**", "/home/u/p/tests/test_x.py", True, True),
    ("**/*.py", "/x/y.py", True, True),
    ("/a/?/b.py", "/a/x/b.py", True, True),
    ("/a/?/b.py", "/a//b.py", True, False),
    ("*", "anything.at.all", False, True),
])
def test_glob(pattern, text, path, expected):
    assert glob(pattern, text, path) is expected


def test_glob_is_linear_on_hostile_patterns():
    # a backtracking matcher takes exponential time on this
    import time
    t0 = time.perf_counter()
    assert not glob("a*" * 40 + "b", "a" * 5000, False)
    assert time.perf_counter() - t0 < 2.0


def test_normalize_patterns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cwd = os.getcwd()
    assert normalize_patterns(None) == ()
    assert normalize_patterns("myapp.*") == ("myapp.*",)
    assert normalize_patterns(["src/**", "app.py", "lib/", "*.py", "**/t/**", "/abs/*"]) == (
        f"{cwd}/src/**", f"{cwd}/app.py", f"{cwd}/lib/**", "**/*.py", "**/t/**", "/abs/*")
    with pytest.raises(TypeError):
        normalize_patterns([1])
    with pytest.raises(ValueError):
        normalize_patterns([""])


# ---------------------------------------------------------------------------
# a small package to filter

PKG = {
    "myapp/__init__.py": "",
    "myapp/models.py": """\
        class Order:
            def save(self):
                return helper(1)

        def helper(x):
            return x + 1
    """,
    "myapp/views.py": """\
        from myapp.models import Order

        def render():
            return Order().save() * 2

        def parse(s):
            return int(s)
    """,
    "other/__init__.py": "",
    "other/tools.py": """\
        import json

        def dump(x):
            return json.dumps(x)

        def parse(s):
            return s.strip()
    """,
}

MAIN = """\
    import sys
    sys.path.insert(0, {root!r})
    from myapp.views import render, parse
    from other.tools import dump, parse as oparse

    def main():
        render()
        parse("3")
        dump([1])
        oparse(" x ")

    import flowtrace
    opts = {opts}
    flowtrace.start_tracing(**opts)
    main()
    t = flowtrace.stop_tracing()
    for e in t:
        print(e.module, e.func_name)
"""


@pytest.fixture(scope="module")
def pkg(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg")
    for rel, code in PKG.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code), encoding="utf-8")
    return root


def names(pkg, **opts):
    script = write_program(pkg, MAIN.format(root=str(pkg), opts=repr(opts)), name="main_prog.py")
    p = run_cmd([sys.executable, str(script)], cwd=pkg)
    assert p.returncode == 0, p.stderr
    return [tuple(line.split(" ", 1)) for line in p.stdout.splitlines()]


def funcs(pkg, **opts):
    return [f for _, f in names(pkg, **opts)]


def test_no_patterns_records_user_code(pkg):
    assert funcs(pkg) == ["main", "render", "Order.save", "helper", "parse", "dump", "parse"]


def test_module_recorded(pkg):
    got = names(pkg)
    assert ("myapp.models", "Order.save") in got
    assert ("__main__", "main") in got
    assert ("other.tools", "dump") in got


def test_include_module_glob(pkg):
    assert funcs(pkg, include=["myapp.*"]) == ["render", "Order.save", "helper", "parse"]


def test_include_package_name_covers_submodules(pkg):
    assert funcs(pkg, include=["other"]) == ["dump", "parse"]


def test_include_exact_module(pkg):
    assert funcs(pkg, include=["myapp.models"]) == ["Order.save", "helper"]


def test_include_function_name(pkg):
    assert funcs(pkg, include=["*.save"]) == ["Order.save"]
    assert funcs(pkg, include=["parse"]) == ["parse", "parse"]


def test_include_full_name(pkg):
    assert funcs(pkg, include=["other.tools.parse"]) == ["parse"]
    assert names(pkg, include=["other.tools.parse"]) == [("other.tools", "parse")]


def test_include_path_glob(pkg):
    assert funcs(pkg, include=[f"{pkg}/myapp/**"]) == ["render", "Order.save", "helper", "parse"]
    assert funcs(pkg, include=[f"{pkg}/*/tools.py"]) == ["dump", "parse"]
    assert funcs(pkg, include=["**/views.py"]) == ["render", "parse"]


def test_relative_path_pattern_is_from_cwd(pkg):
    # the child runs in pkg: "myapp/" means pkg/myapp/**
    assert funcs(pkg, include=["myapp/"]) == ["render", "Order.save", "helper", "parse"]


def test_exclude_each_kind(pkg):
    assert funcs(pkg, exclude=["other.*"]) == ["main", "render", "Order.save", "helper", "parse"]
    assert funcs(pkg, exclude=["*.save"]) == ["main", "render", "helper", "parse", "dump", "parse"]
    assert funcs(pkg, exclude=["**/myapp/**"]) == ["main", "dump", "parse"]


def test_exclude_wins_over_include(pkg):
    assert funcs(pkg, include=["myapp"], exclude=["helper"]) == ["render", "Order.save", "parse"]


def test_include_can_bring_stdlib(pkg):
    got = funcs(pkg, include=["json", "other"])
    assert "dump" in got and "dumps" in got
    # without it the stdlib stays out
    assert "dumps" not in funcs(pkg, include=["other"])


def test_exclude_everything(pkg):
    assert funcs(pkg, exclude=["*"]) == []


def test_flowtrace_never_recorded_even_if_included(pkg):
    got = names(pkg, include=["flowtrace", "flowtrace.*", "*"])
    assert not [m for m, _ in got if m and m.startswith("flowtrace")]


# ---------------------------------------------------------------------------
# in-process: decorated functions always, sessions one after another

def plain_helper(x):
    return x * 2


@trace
def decorated_helper(x):
    return plain_helper(x) + 1


def work():
    return decorated_helper(2) + plain_helper(1)


def test_decorated_always_recorded():
    _, t = session(work, exclude=["*"])
    assert [e.func_name for e in t] == ["decorated_helper"]
    assert t[0].args_repr == "2"


def test_tracing_context_takes_patterns():
    with tracing(exclude="plain_helper") as t:
        work()
    assert [e.func_name for e in t] == ["work", "decorated_helper"]


def test_sessions_with_different_patterns_rearm_disabled_code():
    for _ in range(2):
        _, t = session(work, exclude=["plain_helper"])
        assert "plain_helper" not in [e.func_name for e in t]
        _, t = session(work)
        assert [e.func_name for e in t].count("plain_helper") == 2


def test_trace_decorator_with_patterns(capsys):
    @trace(exclude=["plain_helper"])
    def outer():
        return plain_helper(3) + json.loads("1")

    assert outer() == 7
    out = capsys.readouterr().out
    assert out == "→ test_trace_decorator_with_patterns.<locals>.outer() → 7\n"

    @trace(include=["json"])
    def outer2():
        return plain_helper(3) + json.loads("1")

    assert outer2() == 7
    out = capsys.readouterr().out
    assert "plain_helper" not in out and "loads" in out


def test_bad_pattern_types():
    with pytest.raises(TypeError):
        start_tracing(include=[3])
    with pytest.raises(TypeError):
        trace(include=[None])(work)
    assert not _core.is_active()


def test_patterns_from_cli(tmp_path):
    script = write_program(tmp_path, """\
        def keep(x):
            return drop(x) + 1

        def drop(x):
            return x

        keep(1)
    """)
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", "--exclude", "drop", str(script)],
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "→ <module __main__>\n  → keep()  → 2\n← <module __main__>\n"
    p = run_cmd([sys.executable, "-m", "flowtrace", "run", "--include", "drop",
                 "--include", "keep", "--exclude", "keep", str(script)], cwd=tmp_path)
    assert p.stderr == "→ drop()  → 1\n"


def test_excluded_code_is_disabled():
    """Excluded code gets DISABLE: after the first call, its events no
    longer reach FlowTrace (the record count does not grow with calls)."""
    def loop(n):
        for i in range(n):
            plain_helper(i)

    _, t1 = session(loop, 10, exclude=["plain_helper"])
    _, t2 = session(loop, 1000, exclude=["plain_helper"])
    assert len(t1) == len(t2) == 1
    assert t1._c().nrecords == t2._c().nrecords
