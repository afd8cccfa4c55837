"""Training: hyper-parameters chosen by cross-validation on the train split only."""

import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from triage_classifier.corpus import Corpus, Example, corpus_digest
from triage_classifier.features import make_features
from triage_classifier.model import TrainedModel, model_version

# Bump when features.py or this module changes in a way that changes the model,
# so the artifact version moves with the code as well as with the data.
CODE_REVISION = 3


@dataclass(frozen=True)
class TrainingConfig:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    word_buckets: int = 2**18
    char_buckets: int = 2**19
    c_grid: tuple[float, ...] = (0.1, 0.3, 1.0)
    cv_folds: int = 4
    calibration_folds: int = 3
    seed: int = 13
    jobs: int = 1

    def fingerprint(self) -> dict[str, Any]:
        # The worker count changes speed, not the model.
        described = asdict(self)
        described.pop("jobs")
        return {"code_revision": CODE_REVISION, **described}


def _pipeline(config: TrainingConfig) -> Pipeline:
    # A linear SVM separates sparse text features well; sigmoid calibration turns its
    # margins into probabilities the needs_review threshold can rely on. Balanced class
    # weights keep the rare, urgent types from being drowned by feedback and questions.
    calibrated = CalibratedClassifierCV(
        LinearSVC(class_weight="balanced", random_state=config.seed),
        method="sigmoid",
        cv=config.calibration_folds,
        # One SVM refit on all of train (calibrated on out-of-fold margins) predicts
        # three times faster than an ensemble of the per-fold SVMs.
        ensemble=False,
    )
    return Pipeline(
        [
            (
                "features",
                make_features(config.word_ngrams, config.char_ngrams, config.word_buckets, config.char_buckets),
            ),
            ("classifier", calibrated),
        ]
    )


def _choose_c(config: TrainingConfig, texts: list[str], labels: list[str]) -> tuple[float, dict[str, Any]]:
    """The regularisation strength with the best cross-validated macro-F1 on ``texts``."""
    if len(config.c_grid) == 1:
        return config.c_grid[0], {"best_C": config.c_grid[0], "cross_validated": False}
    search = GridSearchCV(
        _pipeline(config),
        {"classifier__estimator__C": list(config.c_grid)},
        scoring="f1_macro",
        cv=StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed),
        n_jobs=config.jobs,
        refit=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # A class smaller than the fold count only warns; the corpus check reports it.
        warnings.filterwarnings("ignore", message="The least populated class")
        search.fit(texts, labels)
    results = search.cv_results_
    best = float(search.best_params_["classifier__estimator__C"])
    summary: dict[str, Any] = {
        "best_C": best,
        "best_macro_f1": round(float(search.best_score_), 4),
        "macro_f1_by_C": {
            str(params["classifier__estimator__C"]): round(float(score), 4)
            for params, score in zip(results["params"], results["mean_test_score"], strict=True)
        },
    }
    return best, summary


def train(corpus: Corpus, config: TrainingConfig | None = None) -> TrainedModel:
    """Fit the issue-type and sentiment heads on the train split."""
    config = config or TrainingConfig()
    examples = corpus.split("train")
    if not examples:
        raise ValueError("the corpus has no training examples")
    texts = [example.text for example in examples]
    issue_labels = [example.issue_type.value for example in examples]
    sentiment_labels = [example.sentiment.value for example in examples]
    issue_c, issue_cv = _choose_c(config, texts, issue_labels)
    sentiment_c, sentiment_cv = _choose_c(config, texts, sentiment_labels)

    issue_pipeline = _pipeline(config).set_params(classifier__estimator__C=issue_c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        issue_pipeline.fit(texts, issue_labels)
        features = issue_pipeline.named_steps["features"]
        # The sentiment head reuses the issue head's fitted features, so serving pays
        # for one feature pass per batch instead of two.
        sentiment_classifier = _pipeline(config).named_steps["classifier"]
        sentiment_classifier.set_params(estimator__C=sentiment_c)
        sentiment_classifier.fit(features.transform(texts), sentiment_labels)

    version = model_version(corpus_digest(corpus.files), config.fingerprint())
    metadata = {
        "version": version,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn": sklearn.__version__,
        "training_config": config.fingerprint(),
        "corpus_files": [path.name for path in corpus.files],
        "corpus_problems": len(corpus.problems),
        "train_examples": len(examples),
        "train_by_issue_type": _counts(examples, "issue_type"),
        "train_by_lang": _counts(examples, "lang"),
        "issue_type_cv": issue_cv,
        "sentiment_cv": sentiment_cv,
    }
    return TrainedModel(
        version=version,
        features=features,
        issue_classifier=issue_pipeline.named_steps["classifier"],
        sentiment_classifier=sentiment_classifier,
        metadata=metadata,
    )


def expected_version(corpus: Corpus, config: TrainingConfig | None = None) -> str:
    return model_version(corpus_digest(corpus.files), (config or TrainingConfig()).fingerprint())


def _counts(examples: list[Example], attribute: str) -> dict[str, int]:
    return dict(sorted(Counter(str(getattr(example, attribute)) for example in examples).items()))
