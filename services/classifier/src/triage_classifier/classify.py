"""From message text to a classification: model scores, taxonomy, guardrails, language, review flag."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from triage_classifier.guardrails import Guardrails, Signal
from triage_classifier.language import LanguageIdentifier, LanguagePolicy, identifier_for
from triage_classifier.model import TrainedModel
from triage_classifier.taxonomy import Taxonomy
from triage_schemas.enums import IssueType, Priority
from triage_schemas.records import Classification, Sentiment


@dataclass(frozen=True)
class Policy:
    """Settings that shape a decision without retraining."""

    review_below: float = 0.55
    max_model_chars: int = 2000
    # None: the threshold learned at training (in the model's metadata).
    p1_threshold: float | None = None
    language: LanguagePolicy = field(default_factory=LanguagePolicy)


# Why a person should look (``Classification.review_reasons``), besides the language's
# reasons (``triage_classifier.language``: empty_text, no_words, too_short,
# language_uncertain, language_not_trained:<code>).
LOW_CONFIDENCE = "low_confidence"
PROMOTED = "promoted_by_rule"


@dataclass
class Classifier:
    model: TrainedModel
    taxonomy: Taxonomy
    guardrails: Guardrails
    policy: Policy
    languages: LanguageIdentifier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Loaded here, with the model, so a service has it before its first message.
        self.languages = identifier_for(self.policy.language)

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def p1_threshold(self) -> float | None:
        if self.policy.p1_threshold is not None:
            return self.policy.p1_threshold
        learned = self.model.metadata.get("p1_threshold")
        return float(learned) if learned is not None else None

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify a batch with one vectorised model call."""
        if not texts:
            return []
        # Huge posts (pasted logs, spam walls) are cut for the model only; the record keeps them.
        clipped = [text[: self.policy.max_model_chars] for text in texts]
        predictions = self.model.predict(clipped)
        issue_types = predictions.issue_types
        model_types = [issue_types[int(index)] for index in np.argmax(predictions.issue_proba, axis=1)]
        answers, p1_reasons = self._p1_share(predictions.issue_proba, issue_types, model_types)
        # Guardrails only matter where the answer is still below P1.
        to_check = [row for row, issue in enumerate(answers) if self.taxonomy.priority(issue) != Priority.P1]
        signals = dict(zip(to_check, self.guardrails.signals_batch([clipped[row] for row in to_check]), strict=True))

        rounded_scores = np.round(predictions.issue_proba, 4).tolist()
        # A type absent from the training labels still gets its score (0.0), as every type must.
        absent = {issue: 0.0 for issue in IssueType if issue not in issue_types}
        best_sentiment = np.argmax(predictions.sentiment_proba, axis=1)
        languages = self.languages.identify_batch(clipped)
        results: list[Classification] = []
        for row in range(len(clipped)):
            scores = dict(zip(issue_types, rounded_scores[row], strict=True)) | absent
            issue_type, reasons = self._apply_guardrails(answers[row], signals.get(row, []))
            reasons[:0] = p1_reasons.get(row, [])
            # How likely the answer given is, so a promoted answer reads as the guess it is.
            confidence = min(max(float(scores[issue_type]), 0.0), 1.0)
            sentiment = int(best_sentiment[row])
            # The text's own problems first: they explain a low confidence.
            language = languages[row]
            review_reasons = [] if language.review_reason is None else [language.review_reason]
            if confidence < self.policy.review_below:
                review_reasons.append(LOW_CONFIDENCE)
            if issue_type != model_types[row]:
                review_reasons.append(PROMOTED)
            results.append(
                Classification(
                    issue_type=issue_type,
                    lane=self.taxonomy.lane(issue_type),
                    priority=self.taxonomy.priority(issue_type),
                    confidence=confidence,
                    needs_review=bool(review_reasons),
                    review_reasons=review_reasons,
                    sentiment=Sentiment(
                        label=predictions.sentiments[sentiment],
                        score=round(float(predictions.sentiment_proba[row, sentiment]), 4),
                    ),
                    scores=scores,
                    reasons=reasons,
                    model_version=self.model.version,
                    language=language.language,
                )
            )
        return results

    def _p1_share(
        self, proba: NDArray[np.float64], issue_types: list[IssueType], model_types: list[IssueType]
    ) -> tuple[list[IssueType], dict[int, list[str]]]:
        """Answer with the likeliest P1 type where the P1 types together reach the
        threshold although none of them is the single likeliest type."""
        answers = list(model_types)
        reasons: dict[int, list[str]] = {}
        threshold = self.p1_threshold
        p1_columns = [
            column for column, issue in enumerate(issue_types) if self.taxonomy.priority(issue) == Priority.P1
        ]
        if threshold is None or not p1_columns:
            return answers, reasons
        p1_share = proba[:, p1_columns].sum(axis=1)
        likeliest_p1 = np.argmax(proba[:, p1_columns], axis=1)
        for row, issue in enumerate(model_types):
            if self.taxonomy.priority(issue) != Priority.P1 and p1_share[row] >= threshold:
                answers[row] = issue_types[p1_columns[int(likeliest_p1[row])]]
                reasons[row] = [
                    f"p1-share {p1_share[row]:.2f} >= {threshold:.2f}: {answers[row].value} over model's {issue.value}"
                ]
        return answers, reasons

    def _apply_guardrails(self, predicted: IssueType, signals: list[Signal]) -> tuple[IssueType, list[str]]:
        """Promote only when a P1 signal outranks what the model chose; a guardrail
        never lowers the model's answer or swaps one P1 type for another."""
        if self.taxonomy.priority(predicted) == Priority.P1:
            return predicted, []
        urgent = [s for s in signals if self.taxonomy.outranks(s.issue_type, predicted)]
        if not urgent:
            return predicted, []
        chosen = urgent[0]
        for signal in urgent[1:]:
            if self.taxonomy.outranks(signal.issue_type, chosen.issue_type):
                chosen = signal
        reasons = [f"guardrail {s.rule_id}: {s.issue_type.value} signal over model's {predicted.value}" for s in urgent]
        # The rule that decided comes first.
        reasons.sort(key=lambda reason: not reason.startswith(f"guardrail {chosen.rule_id}:"))
        return chosen.issue_type, reasons
