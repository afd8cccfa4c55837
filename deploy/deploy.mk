# Deployment checks, included by the root Makefile.
.PHONY: deploy-check deploy-rules

deploy-check: venv system-deps ## validate overlays, manifests, alert rules, compose file and Dockerfiles
	$(BIN)/python deploy/checks/deploy_check.py

deploy-rules: venv ## regenerate the PrometheusRule and the base routing-policy copy from their sources
	$(BIN)/python deploy/checks/deploy_check.py --write-rules

TEST_PREREQS += deploy-check
