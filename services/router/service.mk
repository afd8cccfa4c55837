# Router make targets (included by the root Makefile).
.PHONY: router-check-policy
router-check-policy:  ## validate the shipped router policies
	$(BIN)/triage-router check-policy services/router/src/triage_router/policies/default.yaml
	$(BIN)/triage-router check-policy services/router/src/triage_router/policies/demo.yaml

.PHONY: bench-router
bench-router:  ## routing decisions per second and peak memory, offline
	$(BIN)/python services/router/bench_router.py 20000
BENCHES += bench-router
