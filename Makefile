# Quick start: `make demo` serves the app on http://127.0.0.1:7860 with the shipped model; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo test lint bench gpu-check space-bundle

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

demo: install
	PYTHONPATH=. $(PY) space/app.py --host 127.0.0.1 --port 7860

test: install
	$(PY) -m pytest -q -ra

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) -m benchmarks.speed

# On a lent CUDA machine (at most 8 minutes): CUDA tests, one 299 px bf16 epoch, 299 px batch-64 inference speed.
# Prints that it skipped, and succeeds, where there is no GPU.
gpu-check: install
	$(PY) benchmarks/gpu_check.py

# The Space as deployed: app, fer_model, model/, requirements pinned to this venv (python -m fer_model push uploads it).
space-bundle:
	PYTHONPATH=. $(PY) -m fer_model space-bundle --space space --model space/model --out dist/space
