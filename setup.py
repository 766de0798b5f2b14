"""Build of the C engine (flowtrace._core); metadata lives in pyproject.toml.

FLOWTRACE_SANITIZE=1 builds with AddressSanitizer and UBSan (see `make asan`).
FLOWTRACE_DEBUG=1 builds without optimisation, with debug info.
FLOWTRACE_FUZZ=1 (with CC=clang) builds with libFuzzer's coverage counters
and AddressSanitizer, for the atheris fuzzer (see `make fuzz`).
"""
import os
import sys
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The engine's folders are its stages (docs/design.md): recording, tree,
# output, python (the module and its types), common.
CORE = "src/flowtrace/_core"
sources = sorted(glob(f"{CORE}/*/*.c"))
extra_compile = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"]
extra_link = []
VARIANT = ("fuzz" if os.environ.get("FLOWTRACE_FUZZ") else
           "sanitize" if os.environ.get("FLOWTRACE_SANITIZE") else "")
if os.environ.get("FLOWTRACE_FUZZ"):
    flags = ["-fsanitize=address,fuzzer-no-link", "-fno-omit-frame-pointer"]
    extra_compile += flags + ["-O1", "-g"]
    extra_link += flags
elif os.environ.get("FLOWTRACE_SANITIZE"):
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    extra_compile += flags + ["-O1", "-g"]
    extra_link += flags
elif os.environ.get("FLOWTRACE_DEBUG"):
    extra_compile += ["-O0", "-g"]
else:
    extra_compile += ["-O2"]

if sys.platform == "win32":  # MSVC does not take gcc's flags
    extra_compile, extra_link = [], []

class BuildExt(build_ext):
    """A sanitized or fuzzing build compiles every file again, in a build
    folder of its own: setuptools reuses an object file newer than its
    source whatever flags made it, so objects of a plain build would make a
    "sanitized" extension without a single check."""

    def finalize_options(self):
        super().finalize_options()
        if VARIANT:
            self.build_temp = os.path.join(self.build_temp, VARIANT)
            self.force = True


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        Extension(
            "flowtrace._core",
            sources=sources,
            include_dirs=[CORE],
            depends=sorted(glob(f"{CORE}/*/*.h")),
            extra_compile_args=extra_compile,
            extra_link_args=extra_link,
        )
    ]
)
