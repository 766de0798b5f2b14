"""Where the standard library, site-packages and FlowTrace itself live.

These path prefixes decide, once per code object and in C, what is not
user code and so is not traced by default.
"""
from __future__ import annotations

import os
import site
import sys
import sysconfig


def _variants(path: str) -> set[str]:
    out = set()
    for p in (path, os.path.realpath(path), os.path.abspath(path)):
        out.add(p.rstrip(os.sep) + os.sep)
    return out


def default_excludes() -> tuple[str, ...]:
    """Prefixes of the standard library and of installed packages."""
    dirs: set[str] = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            dirs |= _variants(paths[key])
    try:
        for p in site.getsitepackages():
            dirs |= _variants(p)
    except AttributeError:  # some embedded interpreters
        pass
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if user_site:
        dirs |= _variants(user_site)
    for p in sys.path:
        if p and ("site-packages" in p or "dist-packages" in p):
            dirs |= _variants(p)
    # frozen modules (importlib bootstrap, codecs...) are the stdlib
    return tuple(sorted(dirs)) + ("<frozen ",)


def own_dirs() -> tuple[str, ...]:
    """FlowTrace's own code, never traced: its package, and the pytest
    plugin's entry module beside it (prefixes: a directory's end with a
    separator, a file's name whole)."""
    pkg = os.path.dirname(os.path.abspath(__file__))
    out = _variants(pkg)
    entry = os.path.join(os.path.dirname(pkg), "_flowtrace_pytest.py")
    if os.path.exists(entry):
        out |= {entry, os.path.realpath(entry)}
    return tuple(sorted(out))
