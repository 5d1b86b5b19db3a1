# One-command workflows on a fresh machine (Python 3.10+ with venv, make).
#   make test     create .venv, install the package with pinned dev tools, run the tests
#   make example  same environment, run the quick-start example end to end
#   make bench    run the benchmarks (fit, encode, metrics, accuracy, scoring,
#                 scale, large, distributed; ~3.5 h, bench_large needs ~12 GB free, SANSA's
#                 SuiteSparse (see benchmarks/bench_large.py) and a quiet machine)
#   make docs     build the documentation without running the examples
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# PyTorch's CPU build; a bare `torch` requirement would pull the multi-GB CUDA one.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: dev test test-fast example bench lint docs docs-full clean

dev: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e ".[text,baselines,faiss,distributed,dev,docs]"
	touch $@

test: dev
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: dev
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# No screen here: the figure goes to examples/quick_start.png.
example: dev
	HF_HUB_OFFLINE=1 MPLBACKEND=Agg SKLEARN_L3AE_FIGURE=examples/quick_start.png \
		$(PY) examples/plot_quick_start.py

bench: dev
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_fit.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_encode.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_metrics.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_accuracy.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_score.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_scale.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_large.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench_distributed.py

lint: dev
	$(PY) -m ruff check sklearn_l3ae tests benchmarks examples

# Warnings are errors; html-noplot does not run the gallery examples.
docs: dev
	HF_HUB_OFFLINE=1 $(MAKE) -C docs html-noplot SPHINXBUILD=$(abspath $(VENV))/bin/sphinx-build

# The full build also runs every example (several minutes).
docs-full: dev
	HF_HUB_OFFLINE=1 $(MAKE) -C docs html SPHINXBUILD=$(abspath $(VENV))/bin/sphinx-build

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
	$(MAKE) -C docs clean
