# levelfield: every target sets up what it needs itself (Python 3.11 venv in .venv).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-business

.PHONY: venv demo test lint typecheck bench bench-quick bench-pymc-venv serve browser clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(BIN)/levelfield demo $(DEMO_DIR) --seed 7 --force
	$(BIN)/levelfield analyze all --workspace $(DEMO_DIR)/levelfield.duckdb
	$(BIN)/levelfield advise --workspace $(DEMO_DIR)/levelfield.duckdb
	$(BIN)/levelfield report --workspace $(DEMO_DIR)/levelfield.duckdb -o $(DEMO_DIR)/report.html

# Debian's chromium for the real-browser tests; browsers cannot be downloaded by test tools here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# Two test workers on two cores: one BLAS thread each, or they fight over the cores.
test: venv browser lint typecheck
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -n 2 --timeout 900 -q

# Every benchmark (benchmarks/_*.py are helpers), then the generated table:
# benchmarks/results/SUMMARY.md and the README's block between the bench-table markers.
# PyMC-Marketing (pymc, pytensor compiling with g++) is the peer of benchmarks/clv_models.py;
# too heavy for the dev extra, it lives in the benchmark's own venv (never built by make test).
PYMC_VENV := benchmarks/.venv-pymc
bench-pymc-venv: $(PYMC_VENV)/.installed

$(PYMC_VENV)/.installed:
	@test -x $(PYMC_VENV)/bin/python || $(PY) -m venv $(PYMC_VENV)
	$(PYMC_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYMC_VENV)/bin/python -m pip install --quiet 'pymc-marketing>=0.19' 'pyarrow>=15'
	@touch $@

bench: venv bench-pymc-venv
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/_table.py

bench-quick: venv bench-pymc-venv
	@for b in benchmarks/[!_]*.py; do echo "== $$b --quick"; $(BIN)/python $$b --quick || exit 1; done

serve: venv
	$(BIN)/levelfield serve --demo

clean:
	rm -rf $(VENV) $(PYMC_VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
