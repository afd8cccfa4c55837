# The Grafana dashboard (deploy/monitoring/dashboards/), included by the root Makefile.
.PHONY: dashboards dashboard-lint dashboard-linter

DASHBOARDS := deploy/monitoring/dashboards
DASHBOARD_LINTER := .run/bin/dashboard-linter
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)

# Grafana's dashboard linter, built from upstream's source with our patch (why, and what
# it changes: the top of $(DASHBOARD_LINTER_PATCH)). `go mod download` fetches the exact
# version from the Go module proxy (`go env GOPROXY`) and checks it against the checksum
# database; the go.sum hash below pins it too. The patched copy lives in .run/build/, its
# stamp records that the patch applied; its dependencies come from the proxy, pinned by
# upstream's go.sum.
DASHBOARD_LINTER_MODULE := github.com/grafana/dashboard-linter
DASHBOARD_LINTER_VERSION := v0.2.0
DASHBOARD_LINTER_SUM := h1:VV2GAwqCgY1VavwYD+Cw/tAeVXgFJxSIZnkEwgGUzJU=
DASHBOARD_LINTER_PATCH := $(DASHBOARDS)/linter.patch
DASHBOARD_LINTER_SRC := .run/build/dashboard-linter-$(DASHBOARD_LINTER_VERSION)
DASHBOARD_LINTER_STAMP := $(DASHBOARD_LINTER_SRC)/.patched

$(DASHBOARD_LINTER_STAMP): $(DASHBOARD_LINTER_PATCH) deploy/dashboards.mk
	@rm -rf $(DASHBOARD_LINTER_SRC) && mkdir -p $(dir $(DASHBOARD_LINTER_SRC))
	@module=$(DASHBOARD_LINTER_MODULE)@$(DASHBOARD_LINTER_VERSION); \
	json=$$(cd $(dir $(DASHBOARD_LINTER_SRC)) && $(GO) mod download -json $$module 2>&1); \
	field() { sed -n "s/^[[:space:]]*\"$$1\": \"\(.*\)\",\{0,1\}$$/\1/p" <<<"$$json"; }; \
	if [ -n "$$(field Error)" ] || [ -z "$$(field Dir)" ]; then \
	  echo "error: could not download $$module from the Go module proxy ($$($(GO) env GOPROXY)):"; \
	  echo "$${json}"; exit 1; fi; \
	if [ "$$(field Sum)" != "$(DASHBOARD_LINTER_SUM)" ]; then \
	  echo "error: $$module has checksum $$(field Sum), expected $(DASHBOARD_LINTER_SUM)"; exit 1; fi; \
	cp -R "$$(field Dir)" $(DASHBOARD_LINTER_SRC) && chmod -R u+w $(DASHBOARD_LINTER_SRC)
	@patch -p1 -s --batch --no-backup-if-mismatch -d $(DASHBOARD_LINTER_SRC) -i $(abspath $(DASHBOARD_LINTER_PATCH)) \
	  || { echo "error: $(DASHBOARD_LINTER_PATCH) does not apply to $(DASHBOARD_LINTER_MODULE)@$(DASHBOARD_LINTER_VERSION)"; exit 1; }
	@touch $@

$(DASHBOARD_LINTER): $(DASHBOARD_LINTER_STAMP)
	@mkdir -p $(@D)
	cd $(DASHBOARD_LINTER_SRC) && $(GO) build -mod=mod -trimpath -buildvcs=false -o $(abspath $@) .

dashboard-linter: $(DASHBOARD_LINTER) ## build Grafana's dashboard linter (upstream source + our patch) into .run/bin/

dashboards: venv ## regenerate the dashboard JSON (and the Kubernetes component's copy) from deploy/monitoring/dashboards/generate.py
	$(BIN)/python -m deploy.monitoring.dashboards.generate

dashboard-lint: $(DASHBOARD_LINTER) ## Grafana's dashboard linter on the dashboard, strict (tests/deploy/test_dashboard.py runs it too)
	$(DASHBOARD_LINTER) lint --strict $(DASHBOARDS)/social-triage.json

# tests/deploy/test_dashboard.py runs the linter
TEST_PREREQS += $(DASHBOARD_LINTER)
