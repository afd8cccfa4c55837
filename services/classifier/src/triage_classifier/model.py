"""The trained model: artifact layout, versioning, loading and vectorised prediction."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from numpy.typing import NDArray

from triage_classifier.features import ServingFeatures
from triage_schemas.enums import IssueType, SentimentLabel

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models"
ARTIFACT_FILE = "model.joblib"
CARD_FILE = "training.json"
CURRENT_FILE = "CURRENT"


class ModelUnavailable(RuntimeError):
    """No usable artifact; the message says which path was tried and how to build one."""


def model_version(corpus_digest: str, training_config: dict[str, Any]) -> str:
    """Changes whenever the data, the training configuration or scikit-learn changes,
    so an artifact is never reused for a corpus it was not trained on."""
    digest = hashlib.sha256()
    digest.update(corpus_digest.encode("ascii"))
    digest.update(json.dumps(training_config, sort_keys=True).encode("utf-8"))
    return f"clf-{digest.hexdigest()[:12]}-sk{sklearn.__version__}"


@dataclass
class Predictions:
    issue_types: list[IssueType]
    issue_proba: NDArray[np.float64]
    sentiments: list[SentimentLabel]
    sentiment_proba: NDArray[np.float64]


@dataclass(frozen=True)
class CalibratedLinear:
    """A calibrated linear SVM reduced to its arithmetic.

    scikit-learn validates its input on every call, once per class calibrator, which
    costs milliseconds per message; serving computes the same probabilities directly
    (a unit test holds the two equal).
    """

    classes: tuple[str, ...]
    coef: NDArray[np.float32]
    intercept: NDArray[np.float64]
    slope: NDArray[np.float64]
    offset: NDArray[np.float64]

    @classmethod
    def from_sklearn(cls, calibrated: Any) -> "CalibratedLinear":
        (fitted,) = calibrated.calibrated_classifiers_  # trained with ensemble=False
        svm = fitted.estimator
        # float32 like the features: half the memory, and margins need no more precision.
        coef = np.asarray(svm.coef_, dtype=np.float32)
        intercept = np.asarray(svm.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:
            raise ValueError("a two-class head is not supported; the corpus needs at least three labels")
        return cls(
            classes=tuple(str(name) for name in calibrated.classes_),
            coef=np.ascontiguousarray(coef.T),
            intercept=intercept,
            slope=np.array([calibrator.a_ for calibrator in fitted.calibrators], dtype=np.float64),
            offset=np.array([calibrator.b_ for calibrator in fitted.calibrators], dtype=np.float64),
        )

    def predict_proba(self, matrix: Any) -> NDArray[np.float64]:
        margins = np.asarray(matrix @ self.coef, dtype=np.float64) + self.intercept
        proba: NDArray[np.float64] = 1.0 / (1.0 + np.exp(self.slope * margins + self.offset))
        total = proba.sum(axis=1, keepdims=True)
        uniform = total[:, 0] == 0
        proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / len(self.classes)), where=total > 0)
        proba[uniform] = 1.0 / len(self.classes)
        return np.clip(proba, 0.0, 1.0)


@dataclass
class TrainedModel:
    version: str
    features: Any
    issue_classifier: Any
    sentiment_classifier: Any
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        self._issue_head = CalibratedLinear.from_sklearn(self.issue_classifier)
        self._sentiment_head = CalibratedLinear.from_sklearn(self.sentiment_classifier)
        self._serving_features = ServingFeatures(self.features)
        self.issue_types = [IssueType(name) for name in self._issue_head.classes]
        self.sentiments = [SentimentLabel(name) for name in self._sentiment_head.classes]

    def predict(self, texts: list[str]) -> Predictions:
        """One feature pass shared by both heads, for the whole batch."""
        matrix = self._serving_features.transform(texts)
        return Predictions(
            issue_types=self.issue_types,
            issue_proba=self._issue_head.predict_proba(matrix),
            sentiments=self.sentiments,
            sentiment_proba=self._sentiment_head.predict_proba(matrix),
        )

    def save(self, model_dir: Path, make_current: bool = True) -> Path:
        """Write the artifact to ``<model_dir>/<version>/``; ``make_current``: point
        ``CURRENT`` at it (not for a baseline trained only to be compared with)."""
        target = model_dir / self.version
        target.mkdir(parents=True, exist_ok=True)
        artifact = {
            "version": self.version,
            "features": self.features,
            "issue_classifier": self.issue_classifier,
            "sentiment_classifier": self.sentiment_classifier,
            "metadata": self.metadata,
        }
        # Write then rename, so a reader never loads a half-written artifact.
        partial = target / (ARTIFACT_FILE + ".partial")
        joblib.dump(artifact, partial, compress=3)
        partial.replace(target / ARTIFACT_FILE)
        (target / CARD_FILE).write_text(json.dumps(self.metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if make_current:
            (model_dir / CURRENT_FILE).write_text(self.version + "\n", encoding="utf-8")
        return target


def artifact_path(model_dir: Path, version: str) -> Path:
    return model_dir / version / ARTIFACT_FILE


def current_version(model_dir: Path) -> str:
    pointer = model_dir / CURRENT_FILE
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        raise ModelUnavailable(
            f"no trained model in {model_dir} ({CURRENT_FILE} missing); run `make model` "
            "or set TRIAGE_CLASSIFIER_MODEL_DIR"
        ) from None
    if not version:
        raise ModelUnavailable(f"{pointer} is empty; run `make train`")
    return version


def load_model(model_dir: Path, version: str | None = None) -> TrainedModel:
    version = version or current_version(model_dir)
    path = artifact_path(model_dir, version)
    if not path.exists():
        raise ModelUnavailable(f"no model artifact at {path}; run `make model` or check TRIAGE_CLASSIFIER_MODEL_*")
    try:
        artifact = joblib.load(path)
    except Exception as error:
        raise ModelUnavailable(f"model artifact {path} cannot be loaded ({type(error).__name__}: {error})") from None
    return TrainedModel(
        version=str(artifact["version"]),
        features=artifact["features"],
        issue_classifier=artifact["issue_classifier"],
        sentiment_classifier=artifact["sentiment_classifier"],
        metadata=dict(artifact["metadata"]),
    )
