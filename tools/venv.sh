#!/usr/bin/env bash
# Create (or refresh) a virtualenv for one interpreter and install FlowTrace
# into it, built from this checkout, with the test tools.
# Usage: tools/venv.sh PYTHON VENV_DIR [extra env for the build, e.g. FLOWTRACE_SANITIZE=1]
set -eu
py=$1; venv=$2; shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
log="$venv/install.log"
: >"$log"
pipi() { "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >>"$log" 2>&1; }
# The test tools: pytest, and the real companions the pytest plugin and the
# IPython extension are tested with (pytest-xdist, pytest-cov, IPython).
if ! "$venv/bin/python" -c "import pytest, setuptools, wheel, xdist, pytest_cov, IPython" 2>/dev/null; then
    pipi "pytest>=7" "setuptools>=68" wheel pytest-xdist pytest-cov ipython \
        || { cat "$log" >&2; exit 1; }
fi
# Perfetto's own message definitions, to parse --format perfetto in the tests
if ! "$venv/bin/python" -c "import perfetto.protos.perfetto.trace.perfetto_trace_pb2" 2>/dev/null; then
    pipi perfetto protobuf || { cat "$log" >&2; exit 1; }
fi
# Playwright drives Chromium in the viewer's tests (its Python package
# only: the browser is Debian's, tools/browser.sh)
if ! "$venv/bin/python" -c "import playwright.sync_api" 2>/dev/null; then
    pipi playwright || { cat "$log" >&2; exit 1; }
fi
# OpenTelemetry's SDK, to test flowtrace.otel against the real thing
if ! "$venv/bin/python" -c "import opentelemetry.sdk.trace" 2>/dev/null; then
    pipi opentelemetry-api opentelemetry-sdk || { cat "$log" >&2; exit 1; }
fi
# --no-build-isolation: build with the venv's setuptools (no network round trip).
# A normal build is editable (the extension lands in src/flowtrace/); a
# sanitized one is installed into the venv only, so that it never replaces
# the normal build in the source tree.
mode=(-e "$top")
case " $* " in *FLOWTRACE_SANITIZE=*|*FLOWTRACE_FUZZ=*) mode=("$top") ;; esac
echo "building flowtrace for $("$venv/bin/python" -V) in $venv (log: $log)"
env "$@" "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps "${mode[@]}" >>"$log" 2>&1 \
    || { cat "$log" >&2; echo "flowtrace: build failed (see above)" >&2; exit 1; }
