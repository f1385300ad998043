# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# torch/torchvision are pinned first so the resolver never reaches for a newer CUDA build online
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test install install-dev lint bench bench-quality train clean eval-dev eval-unseen

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -e .
	touch $@

# The browser test drives Debian's Chromium (Playwright cannot download its own browser here).
CHROMIUM ?= /usr/bin/chromium
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev]"
	@test -x $(CHROMIUM) || { \
		echo "installing Chromium for the browser test (apt-get install chromium)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| { echo "could not install Chromium: the browser test will fail (install it, or set CHROMIUM=...)"; }; }
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/facetrust demo

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_speed.py --json benchmarks/results/speed_cpu.json

train: $(VENV)/.installed-dev
	$(VENV)/bin/facetrust train configs/default_detector.yaml
	$(VENV)/bin/facetrust train configs/default_detector_stage2.yaml

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info

# Score the labelled dev videos with the default ensemble and each member, and rebuild their model cards
# (needs ../shared/data; about 5 minutes on 2 cores).
CARD_WEIGHTS := src/facetrust/weights
CARD := $(PY) -m facetrust.training.card
DEV := ../shared/data/dev/videos
eval-dev: $(VENV)/.installed-dev
	mkdir -p runs
	$(VENV)/bin/facetrust detect $(DEV) --json runs/dev.json --csv runs/dev.csv || true
	$(VENV)/bin/facetrust detect $(DEV) --detector sbi_effnet_lite0 --json runs/dev_sbi.json || true
	$(VENV)/bin/facetrust detect $(DEV) --detector wholeface_lite0 --json runs/dev_wholeface.json || true
	$(CARD) $(CARD_WEIGHTS)/sbi_effnet_lite0.json $(CARD_WEIGHTS)/records/sbi_effnet_lite0.metrics.json \
		--dev runs/dev_sbi.json --dev-label "$(DEV)" --bench $(CARD_WEIGHTS)/records/bench.json \
		--out $(CARD_WEIGHTS)/sbi_effnet_lite0.md
	$(CARD) $(CARD_WEIGHTS)/wholeface_lite0.json $(CARD_WEIGHTS)/records/wholeface_lite0.metrics.json \
		--dev runs/dev_wholeface.json --dev-label "$(DEV)" --out $(CARD_WEIGHTS)/wholeface_lite0.md
	$(CARD) $(CARD_WEIGHTS)/blend_wholeface.json $(CARD_WEIGHTS)/records/blend_wholeface.fit.json \
		--dev runs/dev.json --dev-label "$(DEV)" --bench $(CARD_WEIGHTS)/records/bench_blend_wholeface.json \
		--out $(CARD_WEIGHTS)/blend_wholeface.md

# Issue 12 §1: score detectors on the eleven generators of ../shared/data/labelled that no model trained on
# (and dev, as a sanity check). Faces are scanned once into data_cache/eval_scans (about 5 minutes the first
# time on 2 cores), then every detector is scored from the cache. DETECTORS: names or spec .json files.
DETECTORS ?= default sbi_effnet_lite0 wholeface_lite0
eval-unseen: $(VENV)/.installed-dev
	$(PY) scripts/eval_unseen.py $(foreach d,$(DETECTORS),--detector $(d))

# The default detector against issue 12's quality targets (needs ../shared/data; the same caches as
# eval-unseen): writes benchmarks/results/quality_unseen.json.
bench-quality: $(VENV)/.installed-dev
	$(PY) benchmarks/bench_quality.py
