"""The pytest plugin (pytest --flowtrace), run on real inner test suites
with pytester, each in its own process (FlowTrace sessions are
process-wide)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import flowtrace
from flowtrace.pytest_plugin import safe_name

pytest_plugins = ["pytester"]

APP = """
    class Order:
        def __init__(self, items):
            self.items = items

        def total(self):
            t = 0
            for i in self.items:
                t += price(i)
            return t

        def save(self, db):
            db.append(self.total())


    def price(item):
        return {"apple": 3, "pear": 4}[item]


    def checkout(items, db):
        order = Order(items)
        order.save(db)
        return order


    def deep(n):
        return n if n == 0 else deep(n - 1)
"""

CONFTEST = """
    import pytest

    def make_db():
        return []

    @pytest.fixture
    def db():
        d = make_db()
        yield d
        d.clear()
"""

TESTS = """
    from app import checkout, deep

    def test_passes(db):
        checkout(["apple"], db)
        assert db == [3]

    def test_fails(db):
        checkout(["apple", "pear"], db)
        assert db == [8]

    def test_raises(db):
        checkout(["banana"], db)

    def test_deep():
        deep(20)
        assert 0
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def plain_pytest_output(monkeypatch):
    """pytest writes full assertion diffs when it thinks it runs on CI
    (the CI or BUILD_NUMBER variables): the inner runs compare golden
    text, so they run as on a developer's machine wherever this suite runs."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_app=TESTS)
    return pytester


def run(pytester, *args, env=None):
    """pytest in its own process, in the pytester directory."""
    old = {}
    for k, v in (env or {}).items():
        old[k] = os.environ.get(k)
        os.environ[k] = v
    try:
        r = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return r, r.stdout.str()


def section(text, title_start, nth=1):
    """The lines of the (nth) report section whose title starts so."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^-+ (.*?) -+$", line)
        if m and m.group(1).startswith(title_start):
            nth -= 1
            if nth:
                continue
            out = []
            for rest in lines[i + 1:]:
                if re.match(r"^(-{3,}|_{3,}|={3,}) ", rest) or rest.startswith("flowtrace: "):
                    break
                out.append(rest)
            return out
    raise AssertionError(f"no section {title_start!r} in:\n{text}")


# --------------------------------------------------------------------------
# inactive unless asked


def test_inactive_by_default(suite):
    suite.makeconftest(CONFTEST + """
    import sys
    def pytest_sessionfinish():
        print("\\nflowtrace imported:", "flowtrace" in sys.modules)
    """)
    r, out = run(suite, "-s")
    r.assert_outcomes(passed=1, failed=3)
    assert "flowtrace imported: False" in out  # the engine is not even loaded
    assert "flowtrace call" not in out and "flowtrace:" not in out


def test_plugin_is_registered_and_can_be_turned_off(suite):
    r, out = run(suite, "--help")
    assert "--flowtrace" in out and "--flowtrace-dir" in out
    r, out = run(suite, "-p", "no:flowtrace", "--flowtrace")
    assert r.ret == 4  # a usage error: the option is gone with the plugin
    assert "unrecognized arguments: --flowtrace" in r.stderr.str()


# --------------------------------------------------------------------------
# the failure report


def test_failing_test_report_has_its_call_tree(suite):
    r, out = run(suite, "--flowtrace")
    r.assert_outcomes(passed=1, failed=3)  # as without the plugin
    tree = section(out, "flowtrace call: 7 calls, depth <= 6")
    assert tree == [
        "→ test_fails()",
        "  → checkout()",
        "    → Order.__init__()  → None",
        "    → Order.save()",
        "      → Order.total()",
        "        → price()  → 3",
        "        → price()  → 4",
        "      ← Order.total()  → 7",
        "    ← Order.save()  → None",
        "  ← checkout()  → <Order object>",
        "↯ test_fails()  AssertionError: assert [7] == [8]\\n  \\n  At index 0 diff: 7 != 8"
        "\\n  Use -v to get more diff",
    ]
    raises = section(out, "flowtrace call: 6 calls")
    assert "        ↯ price()  KeyError: 'banana'" in raises
    assert raises[-1] == "↯ test_raises()  KeyError: 'banana'"
    # only failures get a section; the run ends with one line about FlowTrace
    assert "test_passes()" not in out
    assert "flowtrace: 4 test(s) traced" in out
    # no colour: pytest's is off (not a terminal)
    assert not ANSI.search(out)


def test_depth_limit(suite):
    r, out = run(suite, "--flowtrace", "--flowtrace-depth", "3", "-k", "deep")
    tree = section(out, "flowtrace call: 22 calls, depth <= 3")
    assert tree == [
        "→ test_deep()",
        "  → deep()",
        "    → deep()  → 0 (+19 calls)",
        "  ← deep()  → 0",
        "↯ test_deep()  AssertionError: assert 0",
    ]


def test_line_cap_keeps_start_and_end_and_the_whole_trace(suite):
    suite.makepyfile(test_long="""
        from app import price
        def test_long():
            for _ in range(300):
                price("pear")
            assert False
    """)
    r, out = run(suite, "--flowtrace", "--flowtrace-lines", "12", "test_long.py")
    tree = section(out, "flowtrace call: 301 calls")
    assert tree[:8] == ["→ test_long()"] + ["  → price()  → 4"] * 7
    assert tree[8] == "⋯ 290 lines left out (lines 9-298 of 302)"
    assert tree[9:13] == ["  → price()  → 4"] * 3 + ["↯ test_long()  AssertionError: assert False"]
    m = re.match(r"whole trace: (\S+) \(flowtrace show \1\)$", tree[13])
    assert m, tree[13]
    path = Path(m.group(1))
    # not asked to keep traces: the whole one went to pytest's temporary directory
    assert path.is_absolute() and path.parent.name == "flowtrace"
    whole = flowtrace.load(path)
    assert len(whole) == 301 and whole[0].func_name == "test_long"


def test_setup_and_teardown_failures(pytester):
    pytester.makepyfile(app=APP, test_phases="""
        import pytest
        from app import price

        def helper(n):
            return [price("apple") for _ in range(n)]

        @pytest.fixture
        def broken():
            helper(2)
            raise RuntimeError("fixture broke")

        @pytest.fixture
        def bad_teardown():
            helper(1)
            yield 1
            helper(3)
            raise ValueError("teardown broke")

        def test_setup_error(broken):
            pass

        def test_teardown_error(bad_teardown):
            helper(0)
    """)
    r, out = run(pytester, "--flowtrace")
    r.assert_outcomes(passed=1, errors=2)
    setup = section(out, "flowtrace setup: 4 calls")
    assert setup[0] == "→ broken()" and setup[-1] == "↯ broken()  RuntimeError: fixture broke"
    teardown = section(out, "flowtrace teardown: 5 calls")
    assert teardown[0] == "▶ bad_teardown()"
    assert teardown[-1] == "↯ bad_teardown()  ValueError: teardown broke"


def test_colour_follows_pytest(suite):
    r, out = run(suite, "--flowtrace", "--color=yes", "-k", "fails")
    assert "\x1b[" in "\n".join(section(out, "flowtrace call"))
    r, out = run(suite, "--flowtrace", "--color=no", "-k", "fails")
    assert not ANSI.search(out)


# --------------------------------------------------------------------------
# traces kept as files


def test_flowtrace_dir_keeps_failed_tests(suite):
    r, out = run(suite, "--flowtrace", "--flowtrace-dir", "out")
    r.assert_outcomes(passed=1, failed=3)
    files = sorted(os.listdir(suite.path / "out"))
    # the traces of failed tests, and the viewer's page of each failed phase
    assert files == [
        "test_app.py--test_deep.html", "test_app.py--test_deep.json",
        "test_app.py--test_fails.html",
        "test_app.py--test_fails.json", "test_app.py--test_fails.setup.json",
        "test_app.py--test_fails.teardown.json",
        "test_app.py--test_raises.html",
        "test_app.py--test_raises.json", "test_app.py--test_raises.setup.json",
        "test_app.py--test_raises.teardown.json",
    ]
    assert ("whole trace: out/test_app.py--test_fails.json "
            "(flowtrace show out/test_app.py--test_fails.json)\n"
            "its page: out/test_app.py--test_fails.html (open it in a browser)") in out
    page = (suite.path / "out" / "test_app.py--test_fails.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '"format":"flowtrace-viewer"' in page
    call = flowtrace.load(suite.path / "out" / "test_app.py--test_fails.json")
    assert [e.func_name for e in call][:3] == ["test_fails", "checkout", "Order.__init__"]
    setup = flowtrace.load(suite.path / "out" / "test_app.py--test_fails.setup.json")
    assert [(e.func_name, e.end) for e in setup] == [("db", "yield"), ("make_db", "return")]
    teardown = flowtrace.load(suite.path / "out" / "test_app.py--test_fails.teardown.json")
    assert [(e.kind, e.func_name) for e in teardown] == [("resume", "db")]
    meta = json.loads((suite.path / "out" / "test_app.py--test_fails.json").read_text())["meta"]
    assert meta["pytest"] == {"nodeid": "test_app.py::test_fails", "phase": "call",
                              "outcome": "failed", "notes": []}
    assert "the traces of 3 test(s) kept in out" in out


def test_flowtrace_dir_keep_all(suite):
    r, out = run(suite, "--flowtrace", "--flowtrace-dir", "out/sub", "--flowtrace-keep", "all")
    assert "test_app.py--test_passes.json" in os.listdir(suite.path / "out" / "sub")
    assert "the traces of 4 test(s) kept in out/sub" in out


def test_flowtrace_dir_that_cannot_be_made_is_a_usage_error(suite):
    (suite.path / "afile").write_text("")
    r, out = run(suite, "--flowtrace", "--flowtrace-dir", "afile/out")
    assert r.ret == 4
    assert "--flowtrace-dir afile/out: Not a directory" in r.stderr.str()


def test_safe_name():
    assert safe_name("tests/test_x.py::TestA::test_b[1-2]") == "tests.test_x.py--TestA--test_b[1-2]"
    odd = safe_name("t.py::test[a b/c:d]")
    assert re.fullmatch(r"t\.py--test\[a_b\.c_d\]-[0-9a-f]{10}", odd)
    assert safe_name("t.py::test[a b]") != safe_name("t.py::test[a?b]")
    long = safe_name("t.py::test[" + "x" * 300 + "]")
    assert len(long) == 120
    assert safe_name("/abs.py::t").startswith("_")


# --------------------------------------------------------------------------
# pass-through options, marker, fixture


def test_args_timing_include(suite):
    r, out = run(suite, "--flowtrace", "--flowtrace-args", "--flowtrace-timing",
                 "--flowtrace-include", "app.*", "-k", "fails")
    tree = section(out, "flowtrace call: 6 calls")  # test_fails itself not included
    assert tree[0] == "→ checkout(['apple', 'pear'], [])"
    assert re.fullmatch(r"      → price\('pear'\) \[\d+\.\d+s\] → 4", tree[5]), tree
    assert re.fullmatch(r"← checkout\(\['apple', 'pear'\], \[\]\) \[\d+\.\d+s\] → <Order object>",
                        tree[-1]), tree


def test_bad_include_pattern_is_a_usage_error(suite):
    r, out = run(suite, "--flowtrace", "--flowtrace-include", "")
    assert r.ret == 4 and "--flowtrace-include/--flowtrace-exclude: empty pattern" in r.stderr.str()


def test_marker_traces_one_test_without_the_option(pytester):
    pytester.makepyfile(app=APP, test_marked="""
        import pytest
        from app import price

        @pytest.mark.flowtrace(args=True)
        def test_marked():
            assert price("pear") == 5

        def test_unmarked():
            assert price("pear") == 5

        @pytest.mark.flowtrace(enabled=False)
        def test_off():
            assert price("pear") == 5
    """)
    r, out = run(pytester, "--strict-markers", "-W", "error::pytest.PytestUnknownMarkWarning")
    r.assert_outcomes(failed=3)
    assert section(out, "flowtrace call: 2 calls") == [
        "→ test_marked()",
        "  → price('pear') → 4",
        "↯ test_marked() AssertionError: assert 4 == 5\\n +  where 4 = price('pear')",
    ]
    assert out.count("flowtrace call") == 1  # only the marked test
    r, out = run(pytester, "--flowtrace")
    assert out.count("flowtrace call") == 2  # enabled=False: never traced
    assert "flowtrace: 2 test(s) traced" in out


def test_marker_tree_shows_arguments(pytester):
    pytester.makepyfile(app=APP, test_marked="""
        import pytest
        from app import price

        @pytest.mark.flowtrace(args=True, include=["app.*"])
        def test_marked():
            price("pear")
            assert 0
    """)
    r, out = run(pytester)
    assert section(out, "flowtrace call: 1 calls") == ["→ price('pear') → 4"]


def test_bad_marker_does_not_change_the_outcome(pytester):
    pytester.makepyfile(app=APP, test_marked="""
        import pytest
        from app import price

        @pytest.mark.flowtrace(colour=True)
        def test_passes():
            assert price("pear") == 4

        @pytest.mark.flowtrace("x")
        def test_fails():
            assert price("pear") == 5
    """)
    r, out = run(pytester)
    r.assert_outcomes(passed=1, failed=1)
    assert ("flowtrace: @pytest.mark.flowtrace: unknown option(s) colour (it takes enabled, "
            "timing, args, include, exclude, results, full_repr, include_stdlib, max_events)"
            ) in out
    assert "flowtrace: @pytest.mark.flowtrace takes keyword arguments only (got ('x',))" in out
    assert section(out, "flowtrace call") == [
        "not traced: @pytest.mark.flowtrace takes keyword arguments only (got ('x',))"]


FIXTURE_TESTS = """
    import pytest
    from app import checkout

    def test_saves_once(db, flowtrace_trace):
        checkout(["apple", "pear", "apple"], db)
        assert len(flowtrace_trace.calls("Order.save")) == 1
        assert len(flowtrace_trace.calls("price")) == 3
        assert len(flowtrace_trace.calls("app.*")) == 7
        assert [e.func_name for e in flowtrace_trace][:2] == ["test_saves_once", "checkout"]
        assert flowtrace_trace[0].end == "unfinished"  # read during the test

    @pytest.fixture
    def after(flowtrace_trace):
        yield
        t = flowtrace_trace
        print("\\nafter the call:", len(t), [e.func_name for e in t][:2], t[0].end)

    def test_filled_in_after_the_call(after, flowtrace_trace, db):
        checkout(["pear"], db)

    @pytest.fixture
    def too_early(flowtrace_trace):
        return len(flowtrace_trace)

    def test_read_during_setup(too_early):
        pass

    def test_failure_says_where_recording_ended(flowtrace_trace, db):
        checkout(["pear"], db)
        assert len(flowtrace_trace.calls("checkout")) == 2
"""


def test_fixture_gives_the_call_trace(pytester):
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_fix=FIXTURE_TESTS)
    r, out = run(pytester, "-s")
    r.assert_outcomes(passed=2, failed=1, errors=1)
    assert "after the call: 6 ['test_filled_in_after_the_call', 'checkout'] return" in out
    assert ("RuntimeError: flowtrace: flowtrace_trace is the call phase's trace: "
            "it is not recorded yet during set-up") in out
    tree = section(out, "flowtrace call: 6 calls")
    assert tree[0] == "→ test_failure_says_where_recording_ended()"
    assert tree[-2] == "← test_failure_says_where_recording_ended()  (unfinished)"
    assert tree[-1] == "call: recording ended where the test first read flowtrace_trace"


# --------------------------------------------------------------------------
# tests that use FlowTrace themselves


OWN_USER = """
    import flowtrace

    @flowtrace.trace
    def add(a, b):
        return a + b

    def test_decorator_prints_its_tree(capsys):
        assert add(2, 3) == 5
        assert capsys.readouterr().out == "→ add(2, 3) → 5\\n"

    def test_session_of_its_own():
        with flowtrace.tracing() as t:
            add(1, 1)
        assert [e.func_name for e in t] == ["add"]
        flowtrace.stop_tracing()  # no session: raises, as always
"""

LIBRARY = """
    import flowtrace

    def helper(n):
        return n + 1

    def traced_work():
        with flowtrace.tracing() as t:
            helper(1)
        return [e.func_name for e in t]

    def last():
        return flowtrace.get_trace_data()

    @flowtrace.trace
    def loud(x):
        return helper(x)
"""

SERVICE = """
    import lib  # the service uses a library that uses FlowTrace

    def run():
        lib.helper(0)
        return lib.traced_work()

    def last():
        return lib.last()

    def shout(x):
        return lib.loud(x)
"""

SERVICE_TESTS = """
    import service

    def test_uses_a_library_that_traces():
        assert service.run() == ["helper"]
        assert [e.func_name for e in service.last()] == ["helper"]
        assert 0, "to see the report"

    def test_decorated_call(capsys):
        service.shout(1)
        assert capsys.readouterr().out.startswith("→ loud(1)")
"""


def test_a_test_importing_a_module_that_uses_flowtrace(pytester):
    pytester.makepyfile(lib=LIBRARY, test_lib="""
        from lib import helper, traced_work

        def test_it():
            assert traced_work() == ["helper"]
    """)
    r, out = run(pytester, "--flowtrace")
    r.assert_outcomes(passed=1)
    assert "flowtrace: 0 test(s) traced, 1 not traced (they use FlowTrace themselves)" in out


def test_program_session_takes_over_from_the_plugin(pytester):
    pytester.makepyfile(lib=LIBRARY, service=SERVICE, test_service=SERVICE_TESTS)
    plain, _ = run(pytester)
    r, out = run(pytester, "--flowtrace")
    # the library's own session and its get_trace_data() as without the plugin
    assert plain.parseoutcomes() == {"passed": 1, "failed": 1}
    assert r.parseoutcomes() == {"failed": 2}  # the @trace one: see below
    tree = section(out, "flowtrace call: 4 calls")
    assert tree[:4] == ["→ test_uses_a_library_that_traces()", "  → run()",
                        "    → helper()  → 1", "    → traced_work()  (unfinished)"]
    assert re.fullmatch(r"call: recording ended at .*lib\.py:\d+, where the test started a "
                        r"FlowTrace session of its own", tree[-1]), tree[-1]
    # What cannot be hidden: a @trace function called in a traced test
    # records into the test's session and prints no tree of its own. The
    # report says so, and so does the summary.
    tree = section(out, "flowtrace call: 4 calls", nth=2)
    assert tree[-1] == ("call: @trace function(s) loud ran inside this test's session: their "
                        "calls are in this tree, and they printed no tree of their own")
    assert ("flowtrace: 1 test(s) called @trace functions inside their traced session "
            "(they printed no tree): @pytest.mark.flowtrace(enabled=False) leaves a test "
            "untraced") in out


# --------------------------------------------------------------------------
# errors of the plugin never change an outcome


def test_no_free_tool_id(suite):
    # every sys.monitoring tool id taken: FlowTrace cannot start
    suite.makeconftest(CONFTEST + """
    import sys
    for i in range(6):
        if sys.monitoring.get_tool(i) is None:
            sys.monitoring.use_tool_id(i, f"other{i}")
    """)
    r, out = run(suite, "--flowtrace")
    r.assert_outcomes(passed=1, failed=3)
    warnings = [line for line in out.splitlines() if line.startswith("flowtrace: warning")]
    assert len(warnings) == 1, out
    assert "sys.monitoring" in warnings[0] and "4 test(s) not (or not wholly) traced" in warnings[0]
    assert "not traced: RuntimeError:" in "\n".join(section(out, "flowtrace call"))


def test_unwritable_trace_file(suite):
    (suite.path / "out" / "test_app.py--test_fails.json").mkdir(parents=True)
    r, out = run(suite, "--flowtrace", "--flowtrace-dir", "out")
    r.assert_outcomes(passed=1, failed=3)
    warnings = [line for line in out.splitlines() if line.startswith("flowtrace: warning")]
    assert warnings == ["flowtrace: warning: cannot write out/test_app.py--test_fails.json: "
                        "Is a directory; 1 test(s) not (or not wholly) traced"]


def test_under_flowtrace_run(suite):
    # a FlowTrace session already runs the whole of pytest
    r = subprocess.run([sys.executable, "-m", "flowtrace", "run", "-o", os.devnull, "-m",
                        "pytest", "-p", "no:cacheprovider", "--flowtrace", "-q"],
                       cwd=suite.path, capture_output=True, text=True, encoding="utf-8")
    assert "1 passed" in r.stdout and "3 failed" in r.stdout
    assert "not traced: a FlowTrace session of the program's own was running" in r.stdout


# --------------------------------------------------------------------------
# with pytest-xdist and pytest-cov, for real


def test_xdist_workers_trace_their_own_tests(suite):
    r, out = run(suite, "-n", "2", "--flowtrace", "--flowtrace-dir", "out")
    r.assert_outcomes(passed=1, failed=3)
    assert "test_app.py--test_fails.json" in os.listdir(suite.path / "out")
    assert section(out, "flowtrace call: 7 calls")[0] == "→ test_fails()"
    assert "flowtrace: 4 test(s) traced; the traces of 3 test(s) kept in out" in out


@pytest.mark.parametrize("core", ["ctrace", "sysmon"])
def test_with_coverage(suite, core):
    # coverage.py's C tracer (sys.settrace) or its sys.monitoring core
    suite.makepyfile(test_tools="""
        import sys
        def test_tools():
            print("\\ntools:", [sys.monitoring.get_tool(i) for i in range(6)],
                  "settrace:", sys.gettrace() is not None)
    """)
    r, out = run(suite, "-s", "--flowtrace", "--cov=app", "--cov-report=term-missing",
                 env={"COVERAGE_CORE": core})
    r.assert_outcomes(passed=2, failed=3)
    assert section(out, "flowtrace call: 7 calls")[0] == "→ test_fails()"
    line = next(li for li in out.splitlines() if re.match(r"app\.py +\d", li))
    assert line.split()[1:4] == ["18", "0", "100%"], line  # coverage saw every line
    tools = next(li for li in out.splitlines() if li.startswith("tools:"))
    if core == "sysmon":
        assert tools == ("tools: [None, 'coverage.py', None, 'flowtrace', None, None] "
                         "settrace: False")
    else:
        assert tools == "tools: [None, None, None, 'flowtrace', None, None] settrace: True"


def test_xdist_and_coverage_together(suite):
    r, out = run(suite, "-n", "2", "--flowtrace", "--cov=app")
    r.assert_outcomes(passed=1, failed=3)
    assert "flowtrace: 4 test(s) traced" in out
    assert any(re.fullmatch(r"app\.py +18 +0 +100%", li) for li in out.splitlines())


def test_doctests_are_traced(pytester):
    pytester.makepyfile(mod_doc='''
        def double(x):
            """
            >>> double(2)
            5
            """
            return helper(x) * 2

        def helper(x):
            return x
    ''')
    r, out = run(pytester, "--flowtrace", "--doctest-modules", "mod_doc.py")
    r.assert_outcomes(failed=1)
    assert section(out, "flowtrace call: 3 calls") == [
        "→ <module mod_doc>", "  → double()", "    → helper()  → 2", "  ← double()  → 4",
        "← <module mod_doc>"]


def test_the_example(tmp_path):
    example = Path(__file__).resolve().parent.parent / "examples" / "pytest_example"
    # --rootdir: pytest otherwise takes the common ancestor of the example and
    # --flowtrace-dir's path (an existing directory) as its root, and the test ids
    # (so the file names) would depend on where the checkout and the temp dir are
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--flowtrace",
                        "--rootdir", str(example), "--flowtrace-dir", str(tmp_path)],
                       cwd=example, capture_output=True, text=True, encoding="utf-8")
    assert "1 failed, 4 passed" in r.stdout, r.stdout + r.stderr
    tree = section(r.stdout, "flowtrace call: 11 calls")
    assert "        → discount()  → 50" in tree and "      ← Cart.total()  → -23" in tree
    assert sorted(os.listdir(tmp_path)) == ["test_shop.py--test_discount_code.html",
                                            "test_shop.py--test_discount_code.json",
                                            "test_shop.py--test_discount_code.setup.json",
                                            "test_shop.py--test_discount_code.teardown.json"]


def test_flowtrace_that_cannot_load(suite):
    # the engine cannot be imported (a broken build): the tests run, untraced
    suite.makeconftest(CONFTEST + """
    import sys
    sys.modules["flowtrace._core"] = None  # import flowtrace._core now fails
    """)
    r, out = run(suite, "--flowtrace")
    r.assert_outcomes(passed=1, failed=3)
    warnings = [line for line in out.splitlines() if line.startswith("flowtrace:")]
    assert warnings == [
        "flowtrace: warning: FlowTrace cannot be loaded (ModuleNotFoundError: import of "
        "flowtrace._core halted; None in sys.modules); 4 test(s) not (or not wholly) traced"]
    assert "flowtrace call" not in out


def test_a_test_that_changes_directory(pytester):
    pytester.makepyfile(app=APP, test_cd="""
        from app import price

        def test_moves(monkeypatch, tmp_path):
            monkeypatch.chdir(tmp_path)
            price("pear")
            assert 0
    """)
    r, out = run(pytester, "--flowtrace", "--flowtrace-dir", "out", "--flowtrace-include", "app.py")
    r.assert_outcomes(failed=1)
    # the pattern and the directory are from where pytest started
    assert section(out, "flowtrace call: 1 calls")[0] == "→ price()  → 4"
    assert sorted(os.listdir(pytester.path / "out")) == ["test_cd.py--test_moves.html",
                                                         "test_cd.py--test_moves.json"]
