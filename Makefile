# FlowTrace: `make demo` and `make test` do all set-up on a fresh machine:
# they find a CPython >= 3.12 (PATH, pyenv's versions, /usr/bin/python3.1x),
# create a venv under .venvs/, build the C engine and install the package.

PY ?= $(shell tools/find_pythons.sh --first)
PYVER = $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV = .venvs/py$(PYVER)

.PHONY: demo test test-one asan fuzz bench check clean

demo:
	@tools/venv.sh $(PY) $(VENV)
	@echo "--- flowtrace run examples/demo.py (the program's own output, then its call tree) ---"
	@$(VENV)/bin/flowtrace run examples/demo.py
	@mkdir -p build
	@echo "--- flowtrace run --timing --args -o build/demo.html examples/demo.py (the viewer's page) ---"
	@$(VENV)/bin/flowtrace run --timing --args -o build/demo.html examples/demo.py >/dev/null
	@echo "open file://$(CURDIR)/build/demo.html in a browser: tree, timeline, functions, source"

# the suite on every Python >= 3.12 found
test:
	@tools/run_tests.sh

# the suite on one Python: make test-one PY=/path/to/python3.12
test-one:
	@PY=$(PY) tools/run_tests.sh

# the suite under AddressSanitizer + UBSan (every Python found, or PY=...)
asan:
	@tools/run_asan.sh

# fuzz flowtrace.load() with atheris for 60 s on each Python found (or PY=...):
# tools/run_fuzz.sh SECONDS for longer runs
fuzz:
	@tools/run_fuzz.sh 60

# the benchmark in its own venv with the peers (VizTracer from PyPI; cProfile;
# the floor module it builds): one table per Python
bench:
	@bench/setup_venv.sh $(PY)

clean:
	rm -rf build .venvs .fuzz src/*.egg-info src/flowtrace/*.so bench/.build
