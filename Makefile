# Everything runs from a fresh clone with only python3 and make: uv is bootstrapped into .tools/,
# the locked environment into .venv/. uv never downloads a Python (UV_PYTHON_DOWNLOADS=never) and
# --locked fails loudly on a stale lock instead of rewriting it. --compile-bytecode: where
# PYTHONDONTWRITEBYTECODE is set (many machines, most container images) every command would otherwise
# recompile pandas, pyarrow and weasyprint from source (≈ 2 s a run, issue 12).
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --locked --no-sync
OUT ?= out

.PHONY: report test bench setup system-deps sample-data docs lint format clean

# memreport's own modules too (the package is installed editable, so uv does not compile it); only
# changed files are recompiled, and a stale .pyc is never used (Python checks the source's mtime).
setup: .venv/.synced
	@$(RUN) python -m compileall -q memreport

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --compile-bytecode --python $(PYTHON) --quiet
	touch $@

# The main job: the sample host's capacity report (HTML, PDF, JSON) in $(OUT)/.
report: setup
	$(RUN) memreport report sample_data/kvm-sample -o $(OUT)
	@echo "open $(OUT)/kvm-sample/report.html or report.pdf"

# System tools the tests drive for real: Chromium (HTML checks), poppler (PDF text and pictures),
# sysstat (real sar/sadf output), sos (a real sosreport), dash and busybox (the sh collector).
system-deps:
	@bash tests/system_deps.sh

# Lint first (seconds): the suite runs on code that is formatted, lint-clean and type-checked.
test: setup system-deps lint
	$(RUN) pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: setup
	ONLY=$(ONLY) $(RUN) python benchmarks/run.py

# Every parser against 100,000 mutated real files (FUZZ_CASES=…, or FUZZ_ARGS='sadf vmstat -n 5000'):
# per parser the cases run, the failures (each with a rerun command) and the peak memory.
fuzz: setup system-deps
	$(RUN) python tests/fuzz.py $(FUZZ_ARGS)

sample-data: setup
	$(RUN) python sample_data/generate.py

# The parts of docs/ written from the code (thresholds table, the sample's answer); tests check them.
docs: setup
	$(RUN) python docs/gen_docs.py

# ruff (lint and format, pyproject.toml [tool.ruff]) and mypy; `make format` rewrites what ruff would.
lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy memreport

format: setup
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

clean:
	rm -rf $(OUT) .pytest_cache
