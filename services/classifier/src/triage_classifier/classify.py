"""From message text to a classification: model scores, taxonomy, guardrails, review flag."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage_classifier.guardrails import Guardrails, Signal
from triage_classifier.model import TrainedModel
from triage_classifier.taxonomy import Taxonomy
from triage_schemas.enums import IssueType, Priority
from triage_schemas.records import Classification, Sentiment


@dataclass(frozen=True)
class Policy:
    """Settings that shape a decision without retraining."""

    review_below: float = 0.55
    max_model_chars: int = 2000


@dataclass
class Classifier:
    model: TrainedModel
    taxonomy: Taxonomy
    guardrails: Guardrails
    policy: Policy

    @property
    def version(self) -> str:
        return self.model.version

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Classify a batch with one vectorised model call."""
        if not texts:
            return []
        # Huge posts (pasted logs, spam walls) are cut for the model only; the record keeps them.
        clipped = [text[: self.policy.max_model_chars] for text in texts]
        predictions = self.model.predict(clipped)
        issue_types = predictions.issue_types
        sentiments = predictions.sentiments
        best_issue = np.argmax(predictions.issue_proba, axis=1)
        best_sentiment = np.argmax(predictions.sentiment_proba, axis=1)
        results: list[Classification] = []
        predicted_types = [issue_types[int(index)] for index in best_issue]
        # Guardrails only matter where the model chose something below P1.
        to_check = [row for row, issue in enumerate(predicted_types) if self.taxonomy.priority(issue) != Priority.P1]
        signals: dict[int, list[Signal]] = dict(
            zip(to_check, self.guardrails.signals_batch([clipped[row] for row in to_check]), strict=True)
        )
        rounded_scores = np.round(predictions.issue_proba, 4).tolist()
        # A type absent from the training labels still gets its score (0.0), as every type must.
        absent = {issue: 0.0 for issue in IssueType if issue not in issue_types}
        for row in range(len(clipped)):
            scores = dict(zip(issue_types, rounded_scores[row], strict=True)) | absent
            predicted = predicted_types[row]
            confidence = float(predictions.issue_proba[row, best_issue[row]])
            issue_type, reasons = self._apply_guardrails(predicted, signals.get(row, []))
            sentiment_row = int(best_sentiment[row])
            results.append(
                Classification(
                    issue_type=issue_type,
                    lane=self.taxonomy.lane(issue_type),
                    priority=self.taxonomy.priority(issue_type),
                    confidence=round(min(max(confidence, 0.0), 1.0), 4),
                    needs_review=confidence < self.policy.review_below or issue_type != predicted,
                    sentiment=Sentiment(
                        label=sentiments[sentiment_row],
                        score=round(float(predictions.sentiment_proba[row, sentiment_row]), 4),
                    ),
                    scores=scores,
                    reasons=reasons,
                    model_version=self.model.version,
                )
            )
        return results

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
