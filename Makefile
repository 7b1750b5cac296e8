VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Compiled numba kernels are cached here (gitignored) and kept between runs, so only
# the first run in a fresh clone pays for compilation.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

# uv when it is there (fast, and venvs made by uv have no pip), pip otherwise.  uv is told
# to compile bytecode as pip does: without .pyc files (e.g. under PYTHONDONTWRITEBYTECODE)
# every `commlb` start would recompile numpy's sources, 1.1 s instead of 0.3 s for --help.
UV := $(shell command -v uv 2>/dev/null)
ifdef UV
MKVENV = uv venv -q --python $(1) $(2)
INSTALL = uv pip install -q --compile-bytecode --python $(1)
else
MKVENV = $(1) -m venv $(2)
INSTALL = $(1) -m pip install -q
endif

# The oldest versions pyproject.toml allows: the lowest Python in `requires-python`
# and the floor of every direct dependency.
MIN_PYTHON ?= 3.10
MIN_VENV ?= .venv-min

.PHONY: test test-full test-min lint demo bench clean precompile

$(PY):
	$(call MKVENV,python3,$(VENV))

$(STAMP): $(PY) pyproject.toml
	$(call INSTALL,$(PY)) -e '.[test,plot,lint]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check commlb cli tests bench examples
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n 2

test-full: $(STAMP)
	COMMLB_FULL=1 $(PY) -m pytest -n 2

# The suite against the version floors: a fresh venv with the lowest allowed Python
# and `--resolution lowest-direct` (each direct dependency at its floor, the extras'
# too: scipy, cvxpy, clarabel, highspy, threadpoolctl, safetensors, pyyaml, dask).
# Needs uv; MIN_PYTHON may be a path (e.g. a pyenv 3.10) where uv finds no 3.10.
test-min:
	rm -rf $(MIN_VENV)
	uv venv -q --python $(MIN_PYTHON) $(MIN_VENV)
	uv pip install -q --python $(MIN_VENV)/bin/python --resolution lowest-direct -e '.[test,plot,dask,bench]'
	uv pip list --python $(MIN_VENV)/bin/python
	NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache/min $(MIN_VENV)/bin/python -m pytest -n 2 -p no:cacheprovider

# Compile the numba kernels commands use into the cache once (about 45 s of CPU), so no
# command compiles on first use.
precompile: $(STAMP)
	$(VENV)/bin/commlb precompile

demo: $(STAMP)
	$(VENV)/bin/commlb simulate --task disjointness --model rnn

bench: $(STAMP)
	for f in bench/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(MIN_VENV) .numba_cache
