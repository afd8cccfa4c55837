# Router make targets (included by the root Makefile).
.PHONY: router-check-policy
router-check-policy:  ## validate the shipped router policies
	$(BIN)/triage-router check-policy services/router/src/triage_router/policies/default.yaml
	$(BIN)/triage-router check-policy services/router/src/triage_router/policies/demo.yaml

.PHONY: bench-router
bench-router: venv ## routing decisions per second and peak memory, offline
	$(BIN)/triage-router bench --count 20000
BENCHES += bench-router
