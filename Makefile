VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-full demo bench clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,plot]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2

test-full: $(STAMP)
	COMMLB_FULL=1 $(PY) -m pytest -n 2 tests/test_constructions_full.py

demo: $(STAMP)
	$(VENV)/bin/commlb simulate --task disjointness --model rnn

bench: $(STAMP)
	for f in bench/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV)
