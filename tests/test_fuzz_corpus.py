"""Replay of the fuzz corpus (issue 9): every file in tests/fuzz/corpus/
(the seeds) and tests/fuzz/crashes/ (every finding the fuzzer ever made,
minimised) goes through the fuzz harness's own property, check() in
tests/fuzz/fuzz_load.py: load() gives a Trace or a one-line TraceFileError,
and a trace that loads prints, saves and loads again into the same tree.
Runs without atheris (tools/run_fuzz.sh is the fuzzer)."""
import importlib.util
from pathlib import Path

import pytest

import flowtrace

FUZZ = Path(__file__).resolve().parent / "fuzz"
CORPUS = sorted(p for p in (FUZZ / "corpus").iterdir() if p.is_file())
CRASHES = sorted(p for p in (FUZZ / "crashes").iterdir()
                 if p.is_file() and not p.name.startswith(".") and p.suffix != ".md")

_spec = importlib.util.spec_from_file_location("fuzz_load", FUZZ / "fuzz_load.py")
fuzz_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_load)


@pytest.mark.parametrize("path", CORPUS + CRASHES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_replay(path):
    fuzz_load.check(path.read_bytes())


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_seeds_are_what_their_names_say(path):
    """valid_* seeds load (a format change that breaks them must
    regenerate them: python tests/fuzz/make_corpus.py), bad_* ones do not."""
    if path.name.startswith("valid_"):
        assert len(flowtrace.load(path)) > 0
    else:
        assert path.name.startswith("bad_")
        with pytest.raises(flowtrace.TraceFileError):
            flowtrace.load(path)


def test_corpus_stays_small():
    assert sum(p.stat().st_size for p in CORPUS + CRASHES) < 200_000
    assert all(p.stat().st_size < 4096 for p in CORPUS if p.name.startswith("valid_"))


def test_harness_reports_a_broken_contract(tmp_path):
    """The property is not vacuous: a trace whose tree does not survive a
    round trip, or an error that is not a one-line TraceFileError, is a
    finding."""
    with pytest.raises(fuzz_load.Finding):
        fuzz_load._exercise(flowtrace.load(FUZZ / "corpus" / "valid_threads.json"), "not the tree")


def test_header_messages_quote_the_value_briefly(tmp_path):
    """A float version is named as such (it said "expected a number, got a
    number"), and a wrong ncalls is quoted in at most 40 characters (it was
    the whole value, however large)."""
    with pytest.raises(flowtrace.TraceFileError, match="version: expected an integer, got 1.0$"):
        flowtrace.load(FUZZ / "corpus" / "bad_version_float.json")
    path = tmp_path / "t.json"
    path.write_text('{"format":"flowtrace","version":1,"functions":[],"threads":[],"calls":[],'
                    '"ncalls":[' + ",".join(["12345"] * 5000) + "]}")
    with pytest.raises(flowtrace.TraceFileError) as e:
        flowtrace.load(path)
    assert "0 calls where the header announces [12345," in str(e.value)
    assert len(str(e.value)) < len(str(path)) + 120
