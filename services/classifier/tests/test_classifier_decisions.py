"""What a classification says: scores, confidence, review flag, guardrail promotion."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from triage_classifier.classify import Classifier
from triage_classifier.model import CURRENT_FILE, ModelUnavailable, TrainedModel, load_model
from triage_schemas.enums import IssueType, Lane, Priority


def test_every_issue_type_is_scored_and_confidence_is_the_top_score(classifier: Classifier) -> None:
    [result] = classifier.classify(["where is my order, tracking hasnt moved"])
    assert set(result.scores) == set(IssueType)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.confidence == pytest.approx(max(result.scores.values()), abs=1e-4)
    assert result.scores[result.issue_type] == max(result.scores.values())
    assert result.model_version == classifier.version
    assert 0.0 <= result.sentiment.score <= 1.0


def test_training_examples_come_back_with_their_label(classifier: Classifier) -> None:
    texts = ["the app crashes every time i open it", "me cobraron dos veces el mismo pedido", "follow for follow 🔥🔥"]
    results = classifier.classify(texts)
    assert [r.issue_type for r in results] == [IssueType.TECHNICAL_ISSUE, IssueType.PAYMENT_ISSUE, IssueType.SPAM]
    assert results[1].lane == Lane.SUPPORT and results[1].priority == Priority.P2


def test_a_guardrail_promotes_a_missed_p1_signal_and_asks_for_review(classifier: Classifier) -> None:
    text = "love the colour but the charger caught fire on my nightstand"
    model_only = max(classifier.classify([text])[0].scores.items(), key=lambda item: item[1])[0]
    [result] = classifier.classify([text])
    if classifier.taxonomy.priority(model_only) == Priority.P1:
        pytest.fail(f"the tiny model already says {model_only}; pick a text it gets wrong")
    assert result.issue_type == IssueType.SAFETY_THREAT
    assert (result.lane, result.priority) == (Lane.RISK, Priority.P1)
    assert result.needs_review
    assert result.reasons[0].startswith("guardrail safety-product-harm:")
    assert model_only.value in result.reasons[0]


def test_a_guardrail_never_lowers_or_swaps_a_p1_answer(classifier: Classifier) -> None:
    # Labelled account_compromise in the tiny corpus; "lawyer" would fire the legal rule.
    [result] = classifier.classify(["my account got hacked last night, cant get back in, my lawyer knows"])
    assert result.issue_type == IssueType.ACCOUNT_COMPROMISE
    assert result.reasons == []


def test_low_confidence_needs_review_at_the_configured_threshold(classifier: Classifier) -> None:
    # Long enough for its language to be read, so only the confidence decides.
    text = "hmm ok, not sure about that"
    [result] = classifier.classify([text])
    strict = replace(classifier, policy=replace(classifier.policy, review_below=result.confidence + 0.01))
    lenient = replace(classifier, policy=replace(classifier.policy, review_below=result.confidence - 0.01))
    assert strict.classify([text])[0].review_reasons == ["low_confidence"]
    assert strict.classify([text])[0].needs_review
    assert not lenient.classify([text])[0].needs_review


def test_batch_answers_equal_one_by_one_answers(classifier: Classifier) -> None:
    texts = ["does this jacket run small", "", "a" * 50_000, "je suis influenceuse, partenariat possible ?", "🔥" * 10]
    assert classifier.classify(texts) == [classifier.classify([text])[0] for text in texts]


def test_huge_text_is_cut_for_the_model_only(classifier: Classifier) -> None:
    head = "my account got hacked last night, cant get back in. "
    [long] = classifier.classify([head + "x" * 1_000_000])
    [short] = classifier.classify([head + "x" * (classifier.policy.max_model_chars - len(head))])
    assert long == short


def test_serving_probabilities_equal_scikit_learns(tiny_model: TrainedModel) -> None:
    texts = ["where is my refund", "collab?", "the charger caught fire", "ok"]
    matrix = tiny_model.features.transform(texts)
    predictions = tiny_model.predict(texts)
    np.testing.assert_allclose(predictions.issue_proba, tiny_model.issue_classifier.predict_proba(matrix), atol=1e-5)
    np.testing.assert_allclose(
        predictions.sentiment_proba, tiny_model.sentiment_classifier.predict_proba(matrix), atol=1e-5
    )


def test_saved_model_loads_back_with_the_same_answers(tiny_model: TrainedModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    assert (tmp_path / CURRENT_FILE).read_text(encoding="utf-8").strip() == tiny_model.version
    loaded = load_model(tmp_path)
    texts = ["is the blue one back in stock", "on m'a débité deux fois"]
    np.testing.assert_array_equal(loaded.predict(texts).issue_proba, tiny_model.predict(texts).issue_proba)


def test_a_missing_model_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="make model"):
        load_model(tmp_path)
    with pytest.raises(ModelUnavailable, match="no model artifact at"):
        load_model(tmp_path, "clf-nothing")


def test_a_high_enough_p1_share_answers_with_the_likeliest_p1_type(classifier: Classifier) -> None:
    text = "the box was a bit damaged but ok"
    [plain] = classifier.classify([text])
    assert classifier.taxonomy.priority(plain.issue_type) != Priority.P1
    p1_scores = {i: p for i, p in plain.scores.items() if classifier.taxonomy.priority(i) == Priority.P1}
    share = sum(p1_scores.values())
    likeliest_p1 = max(p1_scores, key=lambda issue: p1_scores[issue])

    below = replace(classifier, policy=replace(classifier.policy, p1_threshold=share - 0.01))
    [promoted] = below.classify([text])
    assert promoted.issue_type == likeliest_p1 and promoted.priority == Priority.P1
    assert promoted.needs_review
    assert promoted.reasons[0].startswith("p1-share")
    assert promoted.confidence == pytest.approx(p1_scores[likeliest_p1], abs=1e-4)

    above = replace(classifier, policy=replace(classifier.policy, p1_threshold=share + 0.01))
    assert above.classify([text])[0].issue_type == plain.issue_type
