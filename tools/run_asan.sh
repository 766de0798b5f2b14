#!/usr/bin/env bash
# Run the test suite against an AddressSanitizer + UBSan build of the C
# engine (first Python found, or PY=...). The interpreter itself is not
# instrumented, so the ASan runtime is preloaded; leak detection is off
# because CPython keeps memory alive until exit by design.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
py=${PY:-$(tools/find_pythons.sh --first)} || exit 1
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=.venvs/asan$ver
tools/venv.sh "$py" "$venv" FLOWTRACE_SANITIZE=1 || exit 1
libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
echo "=== ASan/UBSan, Python $ver ==="
LD_PRELOAD="$libasan $libubsan" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
PYTHONMALLOC=malloc \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
rc=$?
# the next plain build must not pick up the sanitized objects
rm -rf build
exit $rc
