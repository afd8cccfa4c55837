# social-triage: every command a developer, CI or an operator runs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
KAFKA := deploy/local-kafka/kafka.sh
SERVICES := ingest classifier router sla-monitor
# Distributions installed into the venv besides the services: the record contract
# (schemas), what every service runs on (runtime) and the local runner behind `make run`.
DISTS := schemas runtime $(foreach s,$(SERVICES),services/$(s)) deploy/local
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .run/.system-packages
PYTEST_ARGS ?=
# Each service may add its own targets (train, bench-*, ...) in services/<service>/service.mk
# and append to TEST_PREREQS what `make test` must build first.
TEST_PREREQS :=
BENCHES :=
-include $(wildcard services/*/service.mk deploy/*.mk tests/tests.mk)

.PHONY: help venv system-deps kafka-up kafka-down kafka-logs kafka-status topics schemas \
        lint typecheck test test-unit bench clean

help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

venv: $(STAMP) ## create .venv and install every distribution, editable, with the dev tools

$(STAMP): $(foreach d,$(DISTS),$(d)/pyproject.toml) requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --no-build-isolation $(foreach d,$(DISTS),-e $(d)) -r requirements-dev.txt
	@touch $@

system-deps: $(SYSTEM_STAMP) ## Debian packages the tests use (prometheus, promtool, alertmanager, kcat, chromium)

$(SYSTEM_STAMP): Makefile
	@mkdir -p .run
	@missing=""; for cmd in prometheus promtool prometheus-alertmanager kcat docker-compose chromium; do command -v $$cmd >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager kcat docker-compose chromium >/dev/null; \
	fi
	@touch $@

kafka-up: ## fetch (once) and start the local Kafka broker on 127.0.0.1:9092; a no-op when running
	@$(KAFKA) up

kafka-down: ## stop the local Kafka broker by its pid
	@$(KAFKA) down

kafka-status:
	@$(KAFKA) status

kafka-logs: ## show the local broker's log (.run/kafka/logs/server.log)
	@$(KAFKA) logs

topics: venv kafka-up ## create every topic from the settings (idempotent)
	@$(BIN)/triage-topics create

schemas: venv ## export the JSON Schema of every record to schemas/json/
	$(BIN)/python -m triage_schemas.export schemas/json

lint: venv ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --no-cache --check .

typecheck: venv ## mypy, strict
	$(BIN)/mypy schemas/src runtime/src $(foreach s,$(SERVICES),services/$(s)/src) deploy/local/src tests deploy/checks deploy/local/tests

test: venv system-deps kafka-up $(TEST_PREREQS) lint typecheck ## everything CI runs: lint, types, all tests on a real broker
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(BENCHES) ## every benchmark; each prints its figures

test-unit: venv ## tests that need no broker
	$(BIN)/pytest -m "not kafka" $(PYTEST_ARGS)

clean: ## remove the venv and local state (the broker must be down)
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache .hypothesis
