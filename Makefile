# Two commands on a fresh machine with Python >= 3.10: `make demo` and `make test`.
# Each creates .venv once and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean

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

test: $(VENV)/.installed-test+dev+plot
	SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-test+dev+plot
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed-test+dev+plot
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info skautoenc-demo
