# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# torch/torchvision are pinned first so the resolver never reaches for a newer CUDA build online
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test install install-dev lint bench train clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/facetrust demo

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_detect.py

train: $(VENV)/.installed-dev
	$(VENV)/bin/facetrust train configs/default_detector.yaml

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info
