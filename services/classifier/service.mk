# Classifier make targets (included by the root Makefile).
CLASSIFIER := $(BIN)/triage-classifier

.PHONY: train evaluate model bench-classifier
# Both read data/corpus plus the reviewed corrections in data/corrections (train-only).
train: venv ## train the classifier from data/corpus plus data/corrections (hyper-parameters by cross-validation on train)
	$(CLASSIFIER) train --jobs 2

# With corrections in use, also trains (once, kept) the model without them, to report both.
evaluate: venv ## classifier figures on the test split, with and without the corrections; writes reports/classifier-evaluation.{txt,json}
	$(CLASSIFIER) evaluate --report-dir reports --jobs 2

model: venv ## train the classifier only when no artifact exists for the current corpus, corrections and code
	$(CLASSIFIER) train --if-missing --jobs 2

# One core: the throughput target is per core, so pin the process and its math libraries.
bench-classifier: model ## classifier messages/second, single versus batched, on one core
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $$(command -v taskset >/dev/null && echo taskset -c 0) $(CLASSIFIER) bench

TEST_PREREQS += model
BENCHES += bench-classifier
