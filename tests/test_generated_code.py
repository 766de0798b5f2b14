"""Code compiled from a string is judged by where it was created.

Code made by ``exec``/``compile`` has a file name like ``<string>`` that
no path rule can judge. A library in site-packages (or the standard
library) that generates functions at run time must not have them shown
as the user's code in the default tree; code the user's own files
generate, and code run as the main program (a REPL, IPython's cells,
``python -c``), stays the user's.

The library here is a real package in a directory named
``site-packages`` on ``PYTHONPATH``, which FlowTrace's default rule treats
as installed code, run with ``flowtrace run`` as a user would.
"""
import sys
import textwrap

import pytest

from conftest import run_cmd, write_program

GENLIB = '''
import sys


def make_adder(n):
    """Generated in a fresh namespace: its globals have no __name__."""
    ns = {}
    exec(compile(f"def add(x):\\n    return x + {n}\\n", "<genlib>", "exec"), ns)
    return ns["add"]


def make_in_caller(name):
    """Generated into the caller's module (as dataclasses and attrs do)."""
    g = sys._getframe(1).f_globals
    exec(f"def {name}(x):\\n    return x * 2\\n", g)
    return g[name]


def make_nested():
    """Generated code that itself generates code."""
    ns = {}
    exec("def outer():\\n"
         "    inner_ns = {}\\n"
         "    exec('def inner():\\\\n    return 7\\\\n', inner_ns)\\n"
         "    return inner_ns['inner']\\n", ns)
    return ns["outer"]()


def call_user(fn):
    return fn(5)
'''


@pytest.fixture
def project(tmp_path):
    lib = tmp_path / "site-packages" / "genlib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text(GENLIB, encoding="utf-8")
    return tmp_path


def flowtrace_run(project, code, *options):
    prog = write_program(project, code)
    env = {"PYTHONPATH": str(project / "site-packages"), "NO_COLOR": "1"}
    return run_cmd([sys.executable, "-m", "flowtrace", "run", *options, str(prog)],
                   cwd=project, env=env)


def tree_lines(proc):
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.lstrip()[:1] in "→←"]


def test_library_generated_function_in_fresh_namespace_is_the_library_s(project):
    proc = flowtrace_run(project, """
        import genlib
        def main():
            add = genlib.make_adder(3)
            return add(4)
        print(main())
    """)
    assert proc.stdout == "7\n"
    assert tree_lines(proc) == ["→ <module __main__>", "  → main()  → 7", "← <module __main__>"]


def test_library_generated_function_in_user_module_is_the_library_s(project):
    (project / "helper.py").write_text(textwrap.dedent("""
        import genlib
        def run():
            double = genlib.make_in_caller("double")
            return double(21)
    """), encoding="utf-8")
    proc = flowtrace_run(project, """
        import helper
        def main():
            return helper.run()
        print(main())
    """)
    assert proc.stdout == "42\n"
    assert tree_lines(proc) == ["→ <module __main__>", "  → <module helper>", "  → main()",
                                "    → run()  → 42", "  ← main()  → 42", "← <module __main__>"]


def test_library_generated_function_in_main_module_is_the_library_s(project):
    """As dataclasses and attrs do for classes of the script run."""
    proc = flowtrace_run(project, """
        import genlib
        def main():
            return genlib.make_in_caller("double")(21)
        print(main())
    """)
    assert proc.stdout == "42\n"
    assert tree_lines(proc) == ["→ <module __main__>", "  → main()  → 42", "← <module __main__>"]


def test_doctest_examples_are_the_user_s(project):
    write_program(project, '''
        def square(x):
            """
            >>> square(3)
            9
            """
            return x * x
    ''', name="mathy.py")
    proc = flowtrace_run(project, """
        import doctest, mathy
        print(doctest.testmod(mathy))
    """)
    assert "attempted=1" in proc.stdout
    lines = tree_lines(proc)
    assert "    → square()  → 9" in lines, lines
    # the example runs in the module's namespace, as doctest runs it
    assert lines[lines.index("    → square()  → 9") - 1] == "  → <module mathy>", lines


def test_code_generated_by_generated_library_code_is_the_library_s(project):
    proc = flowtrace_run(project, """
        import genlib
        def main():
            inner = genlib.make_nested()
            return inner()
        print(main())
    """)
    assert proc.stdout == "7\n"
    assert tree_lines(proc) == ["→ <module __main__>", "  → main()  → 7", "← <module __main__>"]


def test_user_generated_function_passed_to_a_library_is_the_user_s(project):
    proc = flowtrace_run(project, """
        import genlib
        ns = {}
        exec("def triple(x):\\n    return x * 3\\n", ns)
        def main():
            return genlib.call_user(ns["triple"])
        print(main())
    """)
    assert proc.stdout == "15\n"
    assert tree_lines(proc) == ["→ <module __main__>", "  → <module>", "  → main()",
                                "    → triple()  → 15",
                                "  ← main()  → 15", "← <module __main__>"]


def test_include_stdlib_shows_the_library_s_generated_code(project):
    proc = flowtrace_run(project, """
        import genlib
        def main():
            return genlib.make_adder(3)(4)
        print(main())
    """, "--include-stdlib")
    assert proc.stdout == "7\n"
    assert "add" in proc.stderr, proc.stderr


def test_notes_do_not_outlive_their_code():
    """The notes keyed by a code object's address go with the code object."""
    import gc
    from flowtrace import _core
    before = _core._origin_count()
    for i in range(1000):
        ns = {}
        exec(f"def f{i}():\n    return {i}\n", ns)
        del ns
    gc.collect()
    assert _core._origin_count() <= before + 5


def test_code_run_in_main_namespace_by_the_stdlib_is_the_user_s():
    """code.InteractiveInterpreter (stdlib) compiles the lines a user types,
    as IPython does: they run in __main__'s namespace and are the user's."""
    import subprocess
    from conftest import _env
    src = textwrap.dedent("""
        import code, sys, flowtrace
        sys.modules["__main__"].__dict__
        with flowtrace.tracing() as t:
            code.InteractiveInterpreter(sys.modules["__main__"].__dict__).runsource(
                "def typed(x):\\n    return x + 1\\n", symbol="exec")
            code.InteractiveInterpreter(sys.modules["__main__"].__dict__).runsource(
                "typed(1)")
        print(sorted({e.func_name for e in t}))
    """)
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                          env=_env({"NO_COLOR": "1"}), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "typed" in proc.stdout, proc.stdout
