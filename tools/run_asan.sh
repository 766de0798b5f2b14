#!/usr/bin/env bash
# Run the test suite against an AddressSanitizer + UBSan build of the C
# engine, on every CPython >= 3.12 found (or PY=...). The interpreter itself
# is not instrumented, so the sanitizer runtimes are preloaded and Python's
# allocator is switched to malloc (so ASan sees every object); leak
# detection is off because CPython keeps memory alive until exit by design.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ -n "${PY:-}" ]; then
    pythons=$PY
else
    pythons=$(tools/find_pythons.sh) || exit 1
fi
libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
status=0
for py in $pythons; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv=.venvs/asan$ver
    tools/venv.sh "$py" "$venv" FLOWTRACE_SANITIZE=1 || { status=1; continue; }
    # the engine must be instrumented, or this run checks nothing
    so=$(ls "$venv"/lib/python"$ver"/site-packages/flowtrace/_core*.so 2>/dev/null | head -n 1)
    if [ -z "$so" ] || ! nm -D "$so" | grep -q '__asan_report'; then
        echo "flowtrace: $so is not built with AddressSanitizer" >&2
        status=1
        continue
    fi
    echo "=== ASan/UBSan, Python $ver ==="
    # run from tests/ so that src/ is not importable: the sanitized build
    # installed in the venv is the one tested
    (cd tests && LD_PRELOAD="$libasan $libubsan" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    PYTHONMALLOC=malloc \
        "../$venv/bin/python" -m pytest -q -p no:cacheprovider "$@") || status=1
done
# the next plain build must not reuse the sanitized objects
rm -rf build
exit $status
