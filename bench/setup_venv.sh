#!/usr/bin/env bash
# Create the benchmark's own venv for one Python, install the peers and
# FlowTrace into it, then run the benchmark.
#
#   bench/setup_venv.sh PYTHON [run.py options...]
#   bench/setup_venv.sh python3.13 --quick
#   BENCH_NO_RUN=1 bench/setup_venv.sh python3.12      # set up only
#   BENCH_SOURCE=HEAD bench/setup_venv.sh python3.12   # flowtrace from a commit, not the work tree
#
# The venv is bench/.venv-<major.minor> (gitignored). Into it go:
#   - viztracer from PyPI (the peer; cProfile comes with Python),
#   - flowtrace, built from this checkout (a non-editable install, built from a
#     temporary copy of the sources, so nothing is written outside bench/);
#     what it was built from is kept in <venv>/flowtrace-source.txt.
# The floor module is built by run.py itself (bench/.build/).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 PYTHON [run.py options...]" >&2
    exit 2
fi
py=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv="$here/.venv-$ver"
log="$venv/install.log"

if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
: >"$log"
pipi() { "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >>"$log" 2>&1; }

# Peers and build tools (skipped when already there).
if ! "$venv/bin/python" -c "import viztracer, setuptools, wheel" 2>/dev/null; then
    echo "installing viztracer into $venv (log: $log)"
    pipi "viztracer>=0.16" "setuptools>=68" wheel || { cat "$log" >&2; exit 1; }
fi

# FlowTrace, rebuilt on every call (the sources change): from the working tree,
# or with BENCH_SOURCE=HEAD (or any commit) from that commit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${BENCH_SOURCE:-}" ]; then
    source_desc="commit $(git -C "$top" rev-parse --short "$BENCH_SOURCE")"
    git -C "$top" archive "$BENCH_SOURCE" setup.py pyproject.toml README.md src | (cd "$tmp" && tar xf -)
else
    source_desc="working tree at $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')"
    (cd "$top" && tar cf - --exclude='*.so' --exclude='*.o' --exclude='__pycache__' \
        --exclude='*.egg-info' setup.py pyproject.toml README.md src) | (cd "$tmp" && tar xf -)
fi
echo "building flowtrace ($source_desc) for $("$venv/bin/python" -V) into $venv"
pipi --no-build-isolation --no-deps --force-reinstall "$tmp" \
    || { cat "$log" >&2; echo "flowtrace: build failed (see above)" >&2; exit 1; }
echo "$source_desc, built $(date -u '+%Y-%m-%d %H:%M UTC')" >"$venv/flowtrace-source.txt"

"$venv/bin/python" -c 'import viztracer, flowtrace; print("viztracer", viztracer.__version__, "| flowtrace", flowtrace.__version__, "from", flowtrace.__file__)'

if [ -z "${BENCH_NO_RUN:-}" ]; then
    exec "$venv/bin/python" "$here/run.py" "$@"
fi
