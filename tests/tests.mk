# Cross-service suites and benchmarks (included by the root Makefile).
.PHONY: fuzz chaos bench-pipeline test-handlers

test-handlers: venv kafka-up ## every service's handler cases twice: in memory (TestKafkaBroker) and on the local broker
	$(BIN)/pytest tests/handlers $(PYTEST_ARGS)

fuzz: venv ## the fuzz suite at full size: 10,000 generated hostile inputs per offline command and per stage; prints the counts
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/fuzz -q -s -p no:cacheprovider --timeout 0

chaos: venv model ## the fault suite at full size (20,000 messages) on a broker of its own; prints a table per fault, writes reports/chaos.json
	TRIAGE_CHAOS_MESSAGES=$${TRIAGE_CHAOS_MESSAGES:-20000} $(BIN)/pytest tests/chaos -q -s -p no:cacheprovider --timeout 0

bench-pipeline: venv model ## four services against a plain aiokafka chain on a broker of its own: drain rate, CPU per record, latency; reports/bench-pipeline.json
	$(BIN)/python -m tests.bench.pipeline $(BENCH_PIPELINE_ARGS)

BENCHES += bench-pipeline
