# `make run`: the whole pipeline on this machine (deploy/local, the triage-local command).
.PHONY: run docs docs-check

DEMO ?= 1

run: venv model ## the whole pipeline here: broker, topics, four services, demo source, live view (DEMO=0: no demo)
	@$(BIN)/triage-local run $(if $(filter 0,$(DEMO)),--no-demo)

docs: venv ## regenerate the settings reference in README.md from the settings models
	$(BIN)/triage-local settings-doc

docs-check: venv ## fail when README.md's settings reference is stale
	$(BIN)/triage-local settings-doc --check

TEST_PREREQS += docs-check
