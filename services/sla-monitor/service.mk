# sla-monitor make targets (included by the root Makefile)
.PHONY: bench-sla
BENCHES += bench-sla

bench-sla: ## SLA monitor: resident memory and timer accuracy with 1,000,000 open clocks
	$(BIN)/triage-sla-monitor bench
