# Two commands on a fresh machine with Python >= 3.10: `make demo` and `make test`.
# Each creates .venv once and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test files spread over worker processes (pytest-xdist), one per core up to four;
# a file's tests stay in one worker, which fits their shared fixtures once.
# PYTEST_WORKERS=-n0 runs everything in this process.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

# The tests that cover fit, transform, persistence and determinism, run again on
# each Keras backend by `make test-backends`.
BACKEND_TESTS := tests/test_common.py tests/test_autoencoder.py tests/test_inference.py \
	tests/test_training.py tests/test_persistence.py tests/test_backends.py \
	tests/test_distribution.py tests/test_out_of_core.py tests/test_builder.py
# On this project's machines torch==2.13.0 is a local CPU wheel; elsewhere pass
# TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-jax test-torch test-backends lint bench docs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "skautoenc needs Python >= 3.10; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per set of extras: the editable install tracks the sources, the stamp
# tracks pyproject.toml (dependencies).
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(subst +,$(comma),$*)]"
	@touch $@

comma := ,

demo: $(VENV)/.installed-plot
	$(BIN)/python -m skautoenc demo

test: $(VENV)/.installed-test+dev+plot+docs
	SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -q $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-jax: $(VENV)/.installed-test+dev+plot+docs+jax
	KERAS_BACKEND=jax SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -q $(PYTEST_WORKERS) $(BACKEND_TESTS) $(PYTEST_ARGS)

$(VENV)/.installed-torch: | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	@touch $@

test-torch: $(VENV)/.installed-test+dev+plot+docs $(VENV)/.installed-torch
	KERAS_BACKEND=torch SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -q $(PYTEST_WORKERS) $(BACKEND_TESTS) $(PYTEST_ARGS)

# TensorFlow (the whole suite), then JAX and PyTorch (the backend tests).
test-backends: test test-jax test-torch

lint: $(VENV)/.installed-test+dev+plot+docs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed-test+dev+plot+docs
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

# HTML into docs/_build/html, running the examples/ gallery; fails on any warning.
# SKAUTOENC_DOCS_QUICK=1 runs the examples in their quick mode (SKAUTOENC_QUICK=1).
docs: $(VENV)/.installed-docs+plot
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info skautoenc-demo docs/_build docs/auto_examples docs/gen_modules
