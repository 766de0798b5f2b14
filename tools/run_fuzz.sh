#!/usr/bin/env bash
# Fuzz flowtrace.load() with atheris (coverage-guided, libFuzzer inside) for
# SECONDS (default 60) on every CPython >= 3.12 found (or PY=...), each in its
# own venv .venvs/fuzz-X.Y with atheris from PyPI. The harness is
# tests/fuzz/fuzz_load.py: load() must give a Trace or a one-line
# TraceFileError, and a trace that loads must print, save and load again.
#
# With clang on PATH the C engine is built with libFuzzer's coverage counters
# and AddressSanitizer (FLOWTRACE_FUZZ=1), so the fuzzer is guided by the C
# loader's branches and memory errors are caught; without clang only the
# Python code is coverage-guided (the C engine still runs, unsanitized;
# CLANG= forces this).
#
# Seeds: tests/fuzz/corpus/ (kept small, in git) and tests/fuzz/crashes/
# (every finding, replayed by tests/test_fuzz_corpus.py). What the fuzzer
# learns goes to .fuzz/corpus-X.Y (not in git; kept between local runs).
# A finding is written to .fuzz/findings-X.Y/ and fails the run (exit 1):
# minimise it with `tools/run_fuzz.sh min FILE` (PY=... for another Python),
# then add it to tests/fuzz/crashes/ and fix the loader.
#
# Usage: tools/run_fuzz.sh [SECONDS]     tools/run_fuzz.sh min FILE
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ -n "${PY:-}" ]; then
    pythons=$PY
else
    pythons=$(tools/find_pythons.sh) || exit 1
fi
mode=fuzz
if [ "${1:-}" = "min" ]; then
    mode=min; finding=${2:?usage: tools/run_fuzz.sh min FILE}
    finding=$(cd "$(dirname "$finding")" && pwd)/$(basename "$finding")
    pythons=$(printf '%s\n' $pythons | head -n 1)
fi
seconds=${1:-60}
[ "$mode" = min ] && seconds=0
case "$seconds" in ''|*[!0-9]*) echo "usage: tools/run_fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
clang=${CLANG-$(command -v clang || true)}  # CLANG= forces the build without C coverage

# set up .venvs/fuzz-X.Y for $1; sets $venv, $native (1: C coverage + ASan)
setup_venv() {
    local py=$1 ver=$2
    venv=.venvs/fuzz-$ver
    native=0
    # the clang objects must not be reused by a later gcc build, nor the reverse
    rm -rf build
    if [ -n "$clang" ]; then
        if CC=$clang tools/venv.sh "$py" "$venv" FLOWTRACE_FUZZ=1 CC="$clang"; then
            native=1
        else
            echo "fuzz: the clang build failed (above); fuzzing the normal build" >&2
        fi
        rm -rf build
    fi
    if [ $native = 0 ]; then
        tools/venv.sh "$py" "$venv" || return 1
    fi
    if ! "$venv/bin/python" -c "import atheris" 2>/dev/null; then
        echo "installing atheris into $venv"
        if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check atheris \
                >"$venv/atheris.log" 2>&1; then
            echo "fuzz: atheris does not install for Python $ver:" >&2
            tail -n 20 "$venv/atheris.log" >&2
            return 2
        fi
    fi
}

# run the harness with libFuzzer options "$@" (preloading ASan when native)
harness() {
    local preload=""
    if [ $native = 1 ]; then
        preload="$("$venv/bin/python" -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so"
    fi
    # PYTHONMALLOC=malloc: ASan sees every Python object; CPython keeps
    # memory until exit by design, so leak detection is off
    mkdir -p .fuzz
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$top/$venv/bin/python" \
        "$top/tests/fuzz/fuzz_load.py" >".fuzz/harness-$ver"
    chmod +x ".fuzz/harness-$ver"
    LD_PRELOAD=$preload PYTHONMALLOC=malloc \
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    FLOWTRACE_FUZZ_ARGV0="$top/.fuzz/harness-$ver" \
        "$venv/bin/python" tests/fuzz/fuzz_load.py "$@"
}

status=0
fuzzed=0
summary=()
for py in $pythons; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "=== fuzz load(), Python $ver ==="
    setup_venv "$py" "$ver"
    rc=$?
    if [ $rc = 1 ]; then summary+=("Python $ver: build FAILED"); status=1; continue; fi
    if [ $rc = 2 ]; then
        # no atheris for this Python: at least the corpus and the crashes
        "$venv/bin/python" tests/fuzz/fuzz_load.py tests/fuzz/corpus/* tests/fuzz/crashes/* \
            || status=1
        summary+=("Python $ver: no atheris, corpus replayed only"); continue
    fi
    [ $native = 1 ] && how="C coverage + ASan (clang)" || how="Python coverage only (no clang)"
    if [ $mode = min ]; then
        harness -minimize_crash=1 -runs=20000 -max_len=8192 -timeout=20 \
            -exact_artifact_path="$finding.min" "$finding" 2>&1 | grep -v '^#' | tail -n 5
        [ -s "$finding.min" ] || { echo "fuzz: not minimised (does it still fail?)" >&2; exit 1; }
        echo "minimised: $finding.min ($(wc -c <"$finding.min") bytes)"
        exit 0
    fi
    work=.fuzz/corpus-$ver; found=.fuzz/findings-$ver; log=.fuzz/fuzz-$ver.log
    mkdir -p "$work" "$found"
    echo "$how; ${seconds}s; log: $log"
    harness -max_total_time="$seconds" -dict=tests/fuzz/flowtrace.dict \
        -max_len=8192 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$found/" "$work" tests/fuzz/corpus tests/fuzz/crashes >"$log" 2>&1
    rc=$?
    fuzzed=1
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
    if [ $rc = 0 ]; then
        summary+=("Python $ver: no finding, ${runs:-?} inputs in ${seconds}s ($cov; $how)")
    else
        echo "--- finding (end of $log) ---"
        tail -n 60 "$log"
        summary+=("Python $ver: FINDING (exit $rc) after ${runs:-?} inputs: $(ls -t "$found" | head -n 1 | sed "s|^|$found/|")")
        status=1
    fi
done
echo "=== fuzz summary ==="
printf '%s\n' "${summary[@]}"
if [ $fuzzed = 0 ] && [ $status = 0 ]; then
    echo "fuzz: atheris ran on no Python" >&2
    status=1
fi
exit $status
