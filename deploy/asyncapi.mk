# The pipeline's AsyncAPI 3 document (docs/asyncapi.yaml), included by the root Makefile.
# Generated from the services' code (triage-local asyncapi, triage_runtime.contract) and
# validated by the official AsyncAPI CLI, installed from npm into .run/npm.
.PHONY: asyncapi asyncapi-check asyncapi-cli

ASYNCAPI_DOC := docs/asyncapi.yaml
ASYNCAPI_CLI_VERSION := 6.2.0
ASYNCAPI_NPM := .run/npm
ASYNCAPI_CLI := $(ASYNCAPI_NPM)/.asyncapi-cli-$(ASYNCAPI_CLI_VERSION)

$(ASYNCAPI_CLI):
	@command -v npm >/dev/null || { echo "npm is missing: the AsyncAPI CLI comes from the npm registry (apt-get install nodejs npm)"; exit 1; }
	@mkdir -p $(ASYNCAPI_NPM)
	npm install --prefix $(ASYNCAPI_NPM) --save-exact --no-audit --no-fund --loglevel=error @asyncapi/cli@$(ASYNCAPI_CLI_VERSION)
	@touch $@

asyncapi-cli: $(ASYNCAPI_CLI) ## install the AsyncAPI CLI (@asyncapi/cli, pinned) into .run/npm

asyncapi: venv $(ASYNCAPI_CLI) ## write docs/asyncapi.yaml from the services' code and validate it with the AsyncAPI CLI
	$(BIN)/triage-local asyncapi --write $(ASYNCAPI_DOC) --validate

asyncapi-check: venv $(ASYNCAPI_CLI) ## fail when docs/asyncapi.yaml is stale or the AsyncAPI CLI finds a problem in it
	$(BIN)/triage-local asyncapi --check $(ASYNCAPI_DOC) --validate

# tests/deploy/test_asyncapi.py runs the CLI
TEST_PREREQS += $(ASYNCAPI_CLI)
