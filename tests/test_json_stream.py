"""The streaming JSON reader of load() (tree/json_reader.c, tree/load_json.c):
the file is read in pieces, so every token may be cut between two reads.
Read with a tiny piece size (an internal parameter), a trace loads into the
same tree as in one piece; escapes, surrogates, numbers and key order follow
json.loads; a file is never read whole."""
import io
import json
import os
import resource
import subprocess
import sys

import pytest

from conftest import session, tree_text

import flowtrace
from flowtrace import TraceFileError, _core, load, save
from flowtrace.saved import _load_json


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def texts(a, b=None):
    return f"{a}|{b}"


def work():
    fib(4)
    texts("é\u2028\"q\\", b="\U0001d11e")
    try:
        texts(1, b=[2])
        raise KeyError("k\n")
    except KeyError:
        pass


def read(data, chunk):
    return flowtrace.Trace(_core.Trace._from_json(io.BytesIO(data), None, chunk, 0))


@pytest.fixture(scope="module")
def saved():
    _, t = session(work, timing=True, args=True)
    buf = io.BytesIO()
    save(t, buf)
    return t, buf.getvalue()


def events(t):
    return [(e.func_name, e.args_repr, e.result_repr, e.exception, e.parent_id, e.kind,
             e.end, e.duration) for e in t]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_every_piece_size_gives_the_same_tree(saved, chunk):
    t, data = saved
    t2 = read(data, chunk)
    assert tree_text(t2) == tree_text(t)
    assert events(t2) == events(t)


@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_load_json_with_a_piece_size(tmp_path, saved, chunk):
    t, data = saved
    path = tmp_path / "t.json"
    path.write_bytes(data)
    with open(path, "rb") as f:
        t2 = _load_json(str(path), f, f.read(10), chunk)
    assert events(t2) == events(t)


def doc(calls, functions=None, threads=None, **header):
    d = {"format": "flowtrace", "version": 1, "ncalls": len(calls),
         "functions": functions or [{"id": 0, "name": "f", "module": None, "file": "x.py",
                                     "line": 1}],
         "threads": threads or [{"id": 0, "ident": 1, "name": "MainThread"}],
         "calls": calls}
    d.update(header)
    return d


def call(i, parent=None, **kw):
    return {"id": i, "parent": parent, "thread": 0, "function": 0, "kind": "call",
            "end": "return", **kw}


ESCAPED = [
    r'"a\"b\\c\/d\b\f\n\r\t"',
    r'"\u00e9\u4e2d\ud834\udd1e"',       # a pair joined
    r'"x\ud800y"',                          # a lone high surrogate kept
    r'"\udc00"',                            # a lone low one
    r'"\ud800\ud800\udc00"',                # lone high, then a pair
    r'"\ud800\n"',                          # lone high, then another escape
    '"\u00e9\u4e2d\U0001d11e raw"',         # raw UTF-8
    '""',
]


@pytest.mark.parametrize("chunk", [1, 2, 1 << 20])
@pytest.mark.parametrize("text", ESCAPED)
def test_strings_decode_as_json_loads_does(text, chunk):
    data = json.dumps(doc([call(0, args="A", result="B")]))
    data = data.replace('"A"', text).encode()
    t = read(data, chunk)
    assert t[0].args_repr == json.loads(text)
    assert t[0].result_repr == "B"


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_key_order_and_whitespace_are_free(chunk):
    d = doc([call(0, args="a"), call(1, 0, result="r")])
    # calls first, then threads, functions, header last: read again by seeking
    text = json.dumps({k: d[k] for k in ["calls", "threads", "functions", "ncalls",
                                          "version", "format"]}, indent=3)
    text = text.replace('"id": 1', '"t0" : 5 ,\n\t"id":1').replace("{", "{ \r\n ")
    t = read(text.encode(), chunk)
    assert [(e.parent_id, e.args_repr, e.result_repr) for e in t] == \
           [(None, "a", None), (0, None, "r")]


def test_unknown_keys_and_values_are_skipped():
    d = doc([{**call(0), "extra": {"deep": [1, 2.5e3, None, True, "s", -0.0, NaN_TEXT]}}],
            meta={"any": [[[{"thing": "x"}]]]}, future=1e400)
    text = json.dumps(d).replace('"NaN_TEXT"', "NaN")
    t = read(text.encode(), 2)
    assert len(t) == 1


NaN_TEXT = "NaN_TEXT"


@pytest.mark.parametrize("value", ["1.0", "1e2", "-3", "true", '"1"', "[1]", "{}", "NaN",
                                   "Infinity", "-Infinity", "12345678901234567890123"])
def test_numbers_that_are_not_ids(tmp_path, value):
    text = json.dumps(doc([call(0)])).replace('"function": 0', f'"function": {value}')
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(TraceFileError, match=r"calls\[0\]\.function: (expected an integer|out of range)$"):
        load(path)


@pytest.mark.parametrize("cut", ["string", "number", "escape", "literal", "key"])
@pytest.mark.parametrize("chunk", [1, 4, 1 << 20])
def test_a_file_cut_inside_a_token_is_truncated(tmp_path, cut, chunk):
    text = json.dumps(doc([call(0, args="abc\\u00e9", t0=123456, began_before=True)]))
    at = {"string": text.index("abc") + 2, "number": text.index("123456") + 3,
          "escape": text.index("\\u00e9") + 3, "literal": text.index("true") + 2,
          "key": text.index('"began_before"') + 4}[cut]
    with pytest.raises(ValueError, match=r"^not valid JSON: the file ends too early \(truncated\)"
                                         r" at line 1 column \d+$"):
        read(text[:at].encode(), chunk)


@pytest.mark.parametrize("data, words", [
    (b'{"format": "flowtrace", "version": 1,\n  "x": tru }', "Expecting value at line 2"),
    (b'{"format": "flowtrace" "version": 1}', "Expecting ',' delimiter at line 1 column 24"),
    (b'{"format": "flowtrace", 5: 1}', "Expecting property name enclosed in double quotes"),
    (b'{"format" "flowtrace"}', "Expecting ':' delimiter"),
    (b'{"format": "a\\qb"}', "Invalid \\escape"),
    (b'{"format": "\\u12G4"}', "Invalid \\uXXXX escape"),
    (b'{"format": "a\x01b"}', "Invalid control character at"),
    (b'{"format": "flowtrace"} x', "Extra data"),
    (b'{"format": "\xc3\xa9\xff"}', "not UTF-8 text (byte 14)"),
    (b'{"format": "\xed\xa0\x80"}', "not UTF-8 text (byte 12)"),  # an encoded surrogate
    (b'{"format": "\xc3', "not UTF-8 text (byte 12)"),
    (b'\xef\xbb\xbf{"format": "flowtrace"}', "Unexpected UTF-8 BOM"),
    (b"  \n\t ", "empty file"),
    (b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}", "nested too deeply"),
    (b'{"a": 1' + b"0" * 5000 + b"}", "4300 digits"),
    (b'{"a": -}', "Expecting value"),
    (b'{"a": 1.}', "Expecting ',' delimiter"),
])
@pytest.mark.parametrize("chunk", [1, 1 << 20])
def test_syntax_errors_in_json_loads_words(data, words, chunk):
    with pytest.raises(ValueError) as e:
        read(data, chunk)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_lines_and_columns_count_characters(tmp_path):
    text = '{"format": "flowtrace",\n"é€": 1,\n"ab": "é€" x}'
    with pytest.raises(ValueError) as e:
        read(text.encode(), 3)
    with pytest.raises(json.JSONDecodeError) as j:
        json.loads(text)
    assert str(e.value) == f"not valid JSON: Expecting ',' delimiter at line {j.value.lineno} " \
                           f"column {j.value.colno}"


def test_duplicate_part_is_refused():
    d = json.dumps(doc([call(0)]))
    with pytest.raises(ValueError, match='file: "threads" twice'):
        read(d[:-1].encode() + b', "threads": []}', 1 << 20)


def test_calls_before_threads_in_a_pipe_is_one_line(tmp_path):
    d = doc([call(0)])
    text = json.dumps({k: d[k] for k in ["format", "version", "calls", "functions", "threads"]})
    path = tmp_path / "t.json"
    path.write_text(text)
    assert len(load(path)) == 1  # seekable: read again
    r, w = os.pipe()
    os.write(w, text.encode())
    os.close(w)
    with os.fdopen(r, "rb") as f:
        with pytest.raises(TraceFileError, match="cannot be read twice"):
            _load_json("pipe", f, f.read(4096))


def test_header_quotes_like_json_dumps():
    base = doc([call(0)])
    for value, quoted in [('"fl\\u00e9\\n"', '"fl\\u00e9\\n"'), ("[1,2]", "[1, 2]"),
                          ('{"a":1}', '{"a": 1}')]:
        text = json.dumps(base).replace('"format": "flowtrace"', f'"format": {value}')
        with pytest.raises(ValueError, match="format: expected"):
            read(text.encode(), 2)
        try:
            read(text.encode(), 2)
        except ValueError as e:
            assert f"got {quoted} (not a FlowTrace trace)" in str(e)
    for value, quoted in [("1e0", "1.0"), ("2.50", "2.5"), ("1e400", "Infinity")]:
        text = json.dumps(base).replace('"version": 1', f'"version": {value}')
        with pytest.raises(ValueError, match=f"version: expected an integer, got {quoted}$"):
            read(text.encode(), 1 << 20)


def test_equal_texts_share_one_str():
    _, t = session(fib, 6, args=True)
    buf = io.BytesIO()
    save(t, buf)
    t2 = read(buf.getvalue(), 1 << 20)
    ones = [e.result_repr for e in t2 if e.result_repr == "1"]
    assert len(ones) > 3 and all(r is ones[0] for r in ones)


def test_a_big_file_is_read_in_pieces(tmp_path):
    """A 40 MB trace loads with far less memory than its text: the file
    is never read whole (the old loader held the text, its decoded copy and
    the parsed dicts)."""
    code = f"""
import resource, sys, flowtrace
from flowtrace.saved import _load_json
sys.setrecursionlimit(10000)
def leaf(i):
    return i
with flowtrace.tracing(args=True) as t:
    for i in range(400_000):
        leaf(i)
flowtrace.save(t, {str(tmp_path / 'big.json')!r})
size = {str(tmp_path / 'big.json')!r}
del t
import gc; gc.collect()
def rss():
    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])
before = rss()
t = flowtrace.load(size)
grew = rss() - before
peak = int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])
print(len(t), grew, peak - before, __import__('os').path.getsize(size) // 1024)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    n, grew, peak, file_kb = map(int, r.stdout.split())
    assert n == 400_000
    # the old path's peak was 6-10 times the file; now it is the trace kept
    # (a node and a str per call here) and one piece of the file
    assert peak < 2 * file_kb and peak < 1.5 * grew + 8192, (peak, grew, file_kb)


def outcome(data, chunk):
    try:
        return events(read(data, chunk))
    except ValueError as e:
        return str(e)


def test_the_fast_path_reads_what_the_general_one_reads(saved):
    # A member of a call written as the writer writes it is read by a
    # fast path when it lies whole in the window (a big piece); read one
    # byte at a time, every member takes the general path. Mutated at
    # many places inside the calls, both must give the same tree or the
    # same error, word for word.
    _, data = saved
    start = data.index(b'"calls"')
    mutations = [b"", b",", b"}", b"{", b'"', b":", b"0", b"9", b"-", b".", b"e", b" ",
                 b"\\", b"t", b"n", b"\x01", b"\xc3\xa9"]
    checked = 0
    for pos in range(start, len(data) - 1, 3):
        m = mutations[pos % len(mutations)]
        for mutated in (data[:pos] + m + data[pos + 1:], data[:pos] + m + data[pos:]):
            assert outcome(mutated, 1 << 20) == outcome(mutated, 1), (pos, m)
            checked += 1
    assert checked > 500
    # and the unmutated file: the same tree either way
    assert outcome(data, 1 << 20) == outcome(data, 1)
    assert isinstance(outcome(data, 1 << 20), list)


@pytest.mark.parametrize("digits", [1, 2, 7, 8, 9, 15, 16, 17, 18, 19, 20])
def test_numbers_of_every_length_read_alike(saved, digits):
    # the fast path reads digits eight at a time: every length, on either
    # side of eight and of the 18 it takes at most, gives what the general
    # path gives (a value, or the same error)
    _, data = saved
    start = data.index(b'"t1":') + 5  # a duration: t1 - t0, seen in the events
    end = start
    while data[end:end + 1].isdigit():
        end += 1
    for number in (b"9" * digits, b"1" + b"0" * (digits - 1), b"1234567890123456789012"[:digits]):
        mutated = data[:start] + number + data[end:]
        assert outcome(mutated, 1 << 20) == outcome(mutated, 1), number
