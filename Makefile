# Two commands on a fresh machine with only python3:  make demo  and  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export NNLITE_DATA ?= $(abspath ../shared/data)

.PHONY: demo test bench venv clean docs docs-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the packaging changes.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python -m nnlite demo --out out

# ruff (lint and import order, configured in pyproject.toml) first: it takes a second.
test: $(VENV)/.installed-test
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -q tests

# The models table (every model's fit vs PyTorch and JAX, when installed: pip install -e ".[bench,jax]");
# the kernel micro-benchmarks are `python -m benchmarks --what steps,kernels,compile`.
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks --what models

# The documentation site (docs/_build/html): API reference, backprop course, gallery, results.
# The gallery runs each example's quick setting (NNLITE_QUICK=1); nothing is fetched at build time.
$(VENV)/.installed-docs: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

docs: $(VENV)/.installed-docs
	rm -rf docs/api/generated
	cd docs && NNLITE_QUICK=1 MPLBACKEND=Agg ../$(BIN)/python -m sphinx -W --keep-going -b html . _build/html

# Builds the site, then opens it in headless Chromium (Debian's package, installed when missing):
# typeset math, gallery thumbnails, search; screenshots in docs/_build/screenshots/.
docs-test: docs
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)
	NNLITE_DOCS_TEST=1 $(BIN)/python -m pytest -q tests/test_docs.py tests/test_docs_course.py

clean:
	rm -rf $(VENV) out build *.egg-info
