#!/usr/bin/env bash
# Print every CPython >= 3.12 on this machine that can build FlowTrace, one
# path per line, one per distinct version, newest first. Looks on PATH, in
# pyenv's versions, and at Debian's /usr/bin/python3.1x.
# Usage: tools/find_pythons.sh [--first]
set -u
candidates=()
for name in python3 python3.12 python3.13 python3.14 python3.15 python; do
    p=$(command -v "$name" 2>/dev/null) && candidates+=("$p")
done
roots=()
command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root 2>/dev/null)")
roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /opt/pyenv)
for r in "${roots[@]}"; do
    [ -n "$r" ] && [ -d "$r/versions" ] || continue
    for p in "$r"/versions/*/bin/python3; do [ -x "$p" ] && candidates+=("$p"); done
done
for p in /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9]; do
    [ -x "$p" ] && candidates+=("$p")
done

declare -A seen=()
rows=()
for p in "${candidates[@]}"; do
    # pyenv shims are wrappers: ask the interpreter for its real path
    info=$("$p" - 2>/dev/null <<'PY'
import os, sys, sysconfig
ok = sys.version_info >= (3, 12) and sys.implementation.name == "cpython"
ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
inc = os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
try:
    import venv  # noqa: F401
except ImportError:
    ok = False
if ok and not ft and inc:
    print("%d.%d.%d %s" % (sys.version_info[:3] + (os.path.realpath(sys.executable),)))
PY
) || continue
    [ -n "$info" ] || continue
    ver=${info%% *}; exe=${info#* }
    [ -n "${seen[$ver]:-}" ] && continue
    seen[$ver]=1
    rows+=("$ver $exe")
done
[ ${#rows[@]} -gt 0 ] || { echo "no CPython >= 3.12 with headers and venv found" >&2; exit 1; }
sorted=$(printf '%s\n' "${rows[@]}" | sort -t. -k1,1nr -k2,2nr -k3,3nr | cut -d' ' -f2)
if [ "${1:-}" = "--first" ]; then
    printf '%s\n' "$sorted" | head -n 1
else
    printf '%s\n' "$sorted"
fi
