"""Build bench/floor/floormod.c for the running interpreter and import it.

No setuptools: the module is one C file, compiled with the interpreter's own
headers straight into bench/.build/<cache_tag>/floormod<EXT_SUFFIX>, e.g.
bench/.build/cpython-312/floormod.cpython-312-x86_64-linux-gnu.so.

Usage:
    python bench/build_floor.py [--force]      # build (if stale) and print the path

From Python:
    import build_floor
    floormod = build_floor.load()              # builds if stale, then imports
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "floor" / "floormod.c"
MODULE_NAME = "floormod"  # must match PyInit_floormod in the source

# -Werror on purpose: the module must compile clean on 3.12 and 3.13 with gcc.
# -DNDEBUG as in the interpreter's own CFLAGS (what setuptools uses for flowtrace).
CFLAGS = ["-O2", "-shared", "-fPIC", "-DNDEBUG", "-Wall", "-Wextra", "-Werror"]


def output_path() -> Path:
    """Where the extension for the running interpreter is built."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    return HERE / ".build" / sys.implementation.cache_tag / (MODULE_NAME + suffix)


def is_stale(out: Path) -> bool:
    """True if `out` is missing or older than its source or this script."""
    if not out.exists():
        return True
    built = out.stat().st_mtime
    return any(dep.stat().st_mtime > built for dep in (SOURCE, Path(__file__).resolve()))


def build(force: bool = False, verbose: bool = False) -> Path:
    """Compile the floor module if needed; return the path of the shared object."""
    out = output_path()
    if not force and not is_stale(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    include = sysconfig.get_paths()["include"]
    cc = shlex.split(os.environ.get("CC", "cc"))
    # Compile to a temporary name and rename: never leave a half-written .so.
    fd, tmp = tempfile.mkstemp(prefix=MODULE_NAME + ".", suffix=".so.tmp", dir=out.parent)
    os.close(fd)
    cmd = [*cc, *CFLAGS, f"-I{include}", str(SOURCE), "-o", tmp]
    if verbose:
        print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    try:
        subprocess.run(cmd, check=True)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def load(force: bool = False, verbose: bool = False) -> ModuleType:
    """Build if stale, then import the floor module from bench/.build."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    path = build(force=force, verbose=verbose)
    loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, str(path))
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[MODULE_NAME] = module
    return module


def stdlib_prefixes() -> tuple[str, ...]:
    """The argument for floormod.start(): stdlib and site-packages directories.

    Each ends with a path separator, so "/usr/lib/python3.12" does not also match
    "/usr/lib/python3.12-extra". Files under them (and "<frozen ...>" pseudo-files,
    which the module adds itself) are treated as non-user code.
    """
    paths = sysconfig.get_paths()
    seen: list[str] = []
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = paths.get(key)
        if not path:
            continue
        prefix = os.path.join(os.path.realpath(path), "")
        for p in (prefix, os.path.join(path, "")):  # real and as-configured spelling
            if p not in seen:
                seen.append(p)
    return tuple(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args()
    print(build(force=args.force, verbose=True))


if __name__ == "__main__":
    main()
