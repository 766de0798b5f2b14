"""What `flowtrace run` says at the end besides the trace: the calls it
saved (calls, not events), why nothing was recorded, that a recording was
big and how to record less; and --max-events, the flight recorder."""
import re
import sys

from conftest import run_cmd, write_program

from flowtrace.cli import BIG_RUN_EVENTS, end_notes

FT = [sys.executable, "-m", "flowtrace"]

PROG = """
def price(i):
    return i * 2

def main():
    return sum([price(i) for i in range(40)])

main()
"""


def test_saved_line_counts_calls_and_says_the_size(tmp_path):
    write_program(tmp_path, PROG)
    for fmt, name in (("ftrace", "t.ftrace"), ("json", "t.json"), ("chrome", "t.chrome.json")):
        r = run_cmd([*FT, "run", "--format", fmt, "-o", name, "prog.py"], tmp_path)
        assert r.returncode == 0, r.stderr
        size = (tmp_path / name).stat().st_size
        # <module>, main and 40 price(): 42 calls, whatever the format
        assert re.fullmatch(rf"flowtrace: 42 calls saved to {re.escape(name)} \({fmt}, "
                            r"[0-9.]+ kB\)\n", r.stderr), r.stderr
        assert f"{size / 1000:.1f} kB" in r.stderr or f"{size / 1000:.0f} kB" in r.stderr


def test_nothing_recorded_from_a_stdlib_module_names_its_package(tmp_path):
    (tmp_path / "e.json").write_text("{}")
    r = run_cmd([*FT, "run", "-m", "json.tool", "e.json"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "{}\n"  # the program's output, untouched
    assert r.stderr == (
        "flowtrace: no calls recorded: all code ran in the standard library or "
        "site-packages; to see json use --include json\n")


def test_nothing_recorded_says_which_option_left_it_out(tmp_path):
    write_program(tmp_path, PROG)
    r = run_cmd([*FT, "run", "--include", "nosuch", "prog.py"], tmp_path)
    assert r.stderr == ("flowtrace: no calls recorded: no code that ran matched "
                        "--include nosuch\n")
    r = run_cmd([*FT, "run", "--exclude", "prog.py", "prog.py"], tmp_path)
    assert r.stderr == (
        "flowtrace: no calls recorded: all code ran in the standard library or "
        "site-packages or matched --exclude prog.py; --include PATTERN records the code "
        "it matches\n")


def test_pytest_under_run_shows_the_users_tests_not_pytest(tmp_path):
    write_program(tmp_path, """
        def add(a, b):
            return a + b

        def test_add():
            assert add(1, 2) == 3
    """, name="test_mine.py")
    r = run_cmd([*FT, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "test_mine.py"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "→ test_add()\n" in r.stderr and "  → add()  → 3\n" in r.stderr
    assert "no calls recorded" not in r.stderr
    assert "pytest_" not in r.stderr  # pytest's own hooks are not recorded


def test_a_closed_stdout_does_not_stop_the_tree(tmp_path):
    write_program(tmp_path, """
        import sys
        def main():
            print("bye")
            sys.stdout.close()
        main()
    """)
    r = run_cmd([*FT, "run", "prog.py"], tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "  → main()  → None\n" in r.stderr


def test_max_events_keeps_the_last_events(tmp_path):
    write_program(tmp_path, PROG.replace("range(40)", "range(100_000)"))
    r = run_cmd([*FT, "run", "--max-events", "1000", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    first = r.stderr.splitlines()[0]
    assert re.fullmatch(r"⋯ \d+ earlier events not kept \(max_events\)", first), first
    assert len(r.stderr.splitlines()) < 20_000  # not the 100,000 calls
    assert r.stderr.rstrip().endswith("← <module __main__>")
    bad = run_cmd([*FT, "run", "--max-events", "0", "prog.py"], tmp_path)
    assert bad.returncode == 2 and "must be >= 1" in bad.stderr


def test_a_big_recording_says_how_to_record_less():
    assert end_notes(10, BIG_RUN_EVENTS) == []
    assert end_notes(6_000_000, 12_345_678, size=432_000_000, path="du.ftrace") == [
        "a big recording: 12,345,678 events (6,000,000 calls), 432 MB in du.ftrace; to "
        "record less use --include PKG (only that package), --exclude PATTERN, "
        "--max-events N (the last N events of each thread)"]
    # to stderr there is no file; a flight recorder is not told about itself
    assert end_notes(6_000_000, 12_345_678, max_events=100) == [
        "a big recording: 12,345,678 events (6,000,000 calls); to record less use "
        "--include PKG (only that package), --exclude PATTERN"]
    assert end_notes(5, 50, big=40) != []


def test_a_big_recording_from_the_command_line(tmp_path):
    """The threshold is BIG_RUN_EVENTS; the run here records 2.4M events and
    asks for the note at 2M through the same function (end_notes' `big`)."""
    write_program(tmp_path, """
        def f(i):
            return i
        for i in range(1_200_000):
            f(i)
    """)
    code = ("import sys, flowtrace.cli as c; sys.argv[0] = 'flowtrace'; "
            "c.end_notes.__kwdefaults__['big'] = 2_000_000; sys.exit(c.main())")
    r = run_cmd([sys.executable, "-c", code, "run", "-o", "t.ftrace", "prog.py"], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("flowtrace: 1,200,001 calls saved to t.ftrace (ftrace, ")
    assert lines[1].startswith("flowtrace: a big recording: 2,400,002 events "
                               "(1,200,001 calls), ")
    assert lines[1].endswith(" in t.ftrace; to record less use --include PKG (only that "
                             "package), --exclude PATTERN, --max-events N (the last N "
                             "events of each thread)")
