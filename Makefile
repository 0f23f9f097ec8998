# ClaimWatch developer tasks. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := clickhouse-server zookeeper ffmpeg chromium chromium-driver fonts-wqy-microhei
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help deps install demo test lint format bench clean vendor dashboards

help:  ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps:  ## Install the system packages the tests need (Debian: clickhouse-server, zookeeper, ffmpeg, chromium)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

$(BIN)/claimwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

install: $(BIN)/claimwatch  ## Create .venv and install ClaimWatch with its test tools

demo: install  ## Run the main job on embedded defaults: the sample stream through the pipeline, then the console
	$(BIN)/claimwatch demo

test: deps install lint  ## Install what the tests need, lint, and run the whole test suite
	$(BIN)/pytest

lint: install  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench
	$(BIN)/mypy

format: install  ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format pipeline tests bench
	$(BIN)/ruff check --fix pipeline tests bench

bench: install  ## Run the benchmarks (each prints its ratio against a baseline)
	$(BIN)/python -m bench.warehouse
	$(BIN)/python -m bench.cluster
	$(BIN)/python -m bench.claims
	$(BIN)/python -m bench.ledger_match
	$(BIN)/python -m bench.asr
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.console_load

vendor:  ## Refresh the console's vendored ECharts from package-lock.json (npm ci; committed)
	npm ci --no-audit --no-fund
	install -m 644 node_modules/echarts/dist/echarts.min.js pipeline/console/static/vendor/echarts.min.js
	install -m 644 node_modules/echarts/LICENSE pipeline/console/static/vendor/ECHARTS-LICENSE
	install -m 644 node_modules/echarts/NOTICE pipeline/console/static/vendor/ECHARTS-NOTICE
	install -m 644 node_modules/echarts/licenses/LICENSE-d3 pipeline/console/static/vendor/ECHARTS-LICENSE-d3
	install -m 644 node_modules/zrender/LICENSE pipeline/console/static/vendor/ZRENDER-LICENSE

dashboards: install  ## Regenerate dashboards/ (Grafana JSON) from the console's panel queries
	$(BIN)/python -m pipeline.reporting.grafana

clean:  ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
