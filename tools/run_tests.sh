#!/usr/bin/env bash
# Build FlowTrace and run the test suite on every CPython >= 3.12 found
# (tools/find_pythons.sh), each in its own venv under .venvs/.
# Usage: tools/run_tests.sh [pytest args...]     PY=/path/python limits it to one
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ -n "${PY:-}" ]; then
    pythons=$PY
else
    pythons=$(tools/find_pythons.sh) || exit 1
fi
status=0
summary=()
# the viewer's tests drive a real Chromium (tools/browser.sh installs it)
if [ -z "${FLOWTRACE_NO_BROWSER:-}" ] && [ -z "${FLOWTRACE_CHROMIUM:-}" ]; then
    if chromium=$(tools/browser.sh); then
        export FLOWTRACE_CHROMIUM=$chromium
    fi
fi
for py in $pythons; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv=.venvs/py$ver
    echo "=== Python $ver ($py) ==="
    if ! tools/venv.sh "$py" "$venv"; then
        summary+=("Python $ver: build FAILED"); status=1; continue
    fi
    "$venv/bin/python" -m pytest -q "$@"
    rc=$?
    if [ $rc -eq 0 ]; then summary+=("Python $ver: passed"); else summary+=("Python $ver: FAILED (pytest exit $rc)"); status=1; fi
done
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
exit $status
