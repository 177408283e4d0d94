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
	$(PY) space/app.py --host 127.0.0.1 --port 7860

test: install
	$(PY) -m pytest -q -ra

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) benchmarks/speed.py

# On a lent CUDA machine (at most 8 minutes): CUDA tests, one 299 px bf16 epoch, 299 px batch-64 inference speed.
# Prints that it skipped, and succeeds, where there is no GPU.
gpu-check: install
	$(PY) benchmarks/gpu_check.py

# The Space folder plus the library it imports, ready for `huggingface-cli upload` / `HfApi.upload_folder`.
space-bundle:
	rm -rf dist/space && mkdir -p dist && cp -r space dist/space && cp -r fer_model dist/space/fer_model
	find dist/space -name __pycache__ -prune -exec rm -rf {} +
