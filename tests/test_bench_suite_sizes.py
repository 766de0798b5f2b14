"""The pure parts of bench/suite_sizes.py: pytest's summary line, the table."""
import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _module():
    spec = importlib.util.spec_from_file_location("suite_sizes", BENCH / "suite_sizes.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("suite_sizes", mod)
    spec.loader.exec_module(mod)
    return mod


def test_outcomes_reads_pytest_q_summary_line():
    ss = _module()
    out = "....F..s\n=== short test summary info ===\nFAILED tests/t.py::x\n" \
          "1 failed, 1200 passed, 4 skipped, 2 xfailed, 3 warnings, 1 error in 9.12s\n"
    assert ss.outcomes(out) == {"failed": 1, "passed": 1200, "skipped": 4, "xfailed": 2,
                                "errors": 1}
    assert ss.outcomes("909 passed in 3.05s\n") == {"passed": 909}
    assert ss.outcomes("909 passed in 0:01:02s\n") == {}  # not pytest -q's format
    assert ss.outcomes("ImportError while loading conftest\n") == {}


def test_table_lists_every_format_with_bytes_per_event():
    ss = _module()
    read = {"load": {"seconds": 0.3, "peak_rss": 167e6, "calls": 10, "events": 40},
            "tree": {"seconds": 0.4, "peak_rss": 168e6},
            "show": {"seconds": 0.5, "peak_rss": 169e6},
            "stats": {"seconds": 0.4, "peak_rss": 169e6},
            "head": {"seconds": 0.25, "ended": 0.31, "exit": 141}}
    r = {"suite": "s", "tree": "s-1.0", "python": "3.12.1", "options": "default",
         "tests": ["tests"], "events": 40, "calls": 10, "records": 41, "threads": 1,
         "plain": {"seconds": 1.0, "peak_rss": 60e6, "exit": 0, "outcomes": {"passed": 3}},
         "traced": {"seconds": 2.0, "peak_rss": 70e6, "exit": 0, "outcomes": {"passed": 3},
                    "notes": []},
         "same_outcome": True, "recording_rss": 10e6,
         "formats": {"ftrace": {"bytes": 400, "read": read},
                     "json": {"bytes": 4000, "write": {"seconds": 1.5, "peak_rss": 2e6},
                              "read": {**read, "load": {**read["load"], "events": 12}},
                              "same_calls": True},
                     "chrome": {"error": "Traceback\nMemoryError\n"}}}
    text = ss.table(r)
    assert "same" in text and "DIFFERENT" not in text
    rows = {}
    for line in text.splitlines():
        if line.split() and line.split()[0] in ("ftrace", "json", "chrome"):
            rows.setdefault(line.split()[0], line)  # the table's row, not the notes under it
    assert "10.0" in rows["ftrace"] and "(recorded)" in rows["ftrace"]  # 400 B / 40 events
    assert "100.0" in rows["json"] and "1.50 s / 2 MB" in rows["json"]
    assert "error: MemoryError" in rows["chrome"]
    assert "0.40 s / 168 MB" in rows["ftrace"]  # load + tree
    assert "0.25 s / 0.31 s" in rows["ftrace"]  # show | head: its lines, its end
    assert "250000.0 B/event" in text  # recording: 10 MB over 40 events
