"""A @trace function called millions of times keeps working (issue 9,
item 7): CPython 3.13 refuses set_events() after 2^24 calls (gh-120158),
and every outermost decorated call used to turn the events on and off."""
import sys

import pytest

from conftest import run_py


def test_a_hot_decorated_function_stops_toggling_the_events():
    r = run_py("""\
        import sys, io, contextlib, flowtrace
        @flowtrace.trace
        def f(x):
            return x + 1
        with contextlib.redirect_stdout(io.StringIO()) as out:
            for i in range(30000):
                f(i)
        assert out.getvalue().count("→ f(") == 30000
        # lingering: the id stays registered between the calls...
        print(sys.monitoring.get_tool(3))
        # ...and a session started by the program takes it over cleanly
        with flowtrace.tracing() as t:
            f(1)
        print(sys.monitoring.get_tool(3), len(t))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["flowtrace", "None 1"]


@pytest.mark.skipif(sys.version_info < (3, 13), reason="3.13's instrumentation version limit")
def test_past_the_instrumentation_version_limit():
    """The version is used up almost to its end by another tool's toggles
    (about 30 s), then the decorated function runs far more calls than the
    rest would allow if each one toggled."""
    r = run_py("""\
        import sys, io, contextlib, flowtrace
        M = sys.monitoring
        @flowtrace.trace
        def f(x):
            return x + 1
        with contextlib.redirect_stdout(io.StringIO()):
            for i in range(20000):   # lingering from here on
                f(i)
        M.use_tool_id(5, "burner")
        n = 0
        try:
            while True:
                M.set_events(5, M.events.PY_START); M.set_events(5, 0); n += 2
        except OverflowError:
            pass
        with contextlib.redirect_stdout(io.StringIO()) as out:
            for i in range(200000):  # each would have toggled twice
                assert f(i) == i + 1
        assert out.getvalue().count("→ f(") == 200000, out.getvalue()[:300]
        print("ok", n)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok ")
