"""Language awareness: the identifier on the held-out set, and the review reasons it gives
through the classification path (Kafka batch step, with the tiny model of conftest)."""

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE  # type: ignore[import-untyped]
from py3langid.langid import LanguageIdentifier as Py3Langid
from pydantic import ValidationError

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.language import (
    DEFAULT_TRAINED,
    LanguageIdentifier,
    LanguagePolicy,
    LanguageSetupError,
    encode,
    identifier_for,
    readable,
)
from triage_classifier.records_io import classify_batch
from triage_runtime.delivery import Inbound
from triage_schemas.records import Classification, ClassifiedMessage

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "language" / "heldout.jsonl"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
REQUIRED = ("en", "fr", "es", "de", "it", "pt", "nl")


def heldout() -> list[tuple[str, str]]:
    lines = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(line["text"], line["language"]) for line in lines]


def message(number: int, text: str) -> bytes:
    return json.dumps(
        {
            "record_type": "message",
            "message_id": f"m{number}",
            "conversation_id": f"conv-m{number}",
            "platform": "instagram",
            "channel": "direct_message",
            "direction": "inbound",
            "author": {"id": "u1"},
            "text": text,
            "created_at": "2026-11-22T12:00:00Z",
            "received_at": "2026-11-22T12:00:01Z",
        }
    ).encode()


def classify(classifier: Classifier, *texts: str) -> list[Classification]:
    """Through the service's batch step: Kafka bytes in, classified records out."""
    batch = [Inbound(message(number, text)) for number, text in enumerate(texts)]
    results: list[Classification] = []
    for result in classify_batch(classifier, "social.classified", batch):
        assert not isinstance(result, BaseException), result
        [out] = result
        assert isinstance(out.record, ClassifiedMessage)
        results.append(out.record.classification)
    return results


# The held-out set


def test_the_heldout_set_has_forty_messages_per_language_and_no_duplicates() -> None:
    rows = heldout()
    counts = Counter(language for _, language in rows)
    assert all(counts[language] >= 40 for language in REQUIRED), counts
    assert len({text for text, _ in rows}) == len(rows)


def test_heldout_accuracy_is_at_least_95_percent() -> None:
    rows = heldout()
    verdicts = identifier_for(LanguagePolicy()).identify_batch([text for text, _ in rows])
    right = Counter(
        language for (_, language), verdict in zip(rows, verdicts, strict=True) if verdict.language == language
    )
    total = Counter(language for _, language in rows)
    accuracy = sum(right.values()) / len(rows)
    by_language = ", ".join(f"{language} {right[language]}/{total[language]}" for language in total)
    print(f"\nheld-out language accuracy: {accuracy:.3f} ({sum(right.values())}/{len(rows)}; {by_language})")
    assert accuracy >= 0.95


def test_heldout_messages_in_untrained_languages_need_review_and_trained_ones_do_not() -> None:
    rows = heldout()
    verdicts = identifier_for(LanguagePolicy()).identify_batch([text for text, _ in rows])
    trained = [verdict for (_, language), verdict in zip(rows, verdicts, strict=True) if language in DEFAULT_TRAINED]
    untrained = [
        verdict for (_, language), verdict in zip(rows, verdicts, strict=True) if language not in DEFAULT_TRAINED
    ]
    assert sum(verdict.review_reason is not None for verdict in trained) / len(trained) <= 0.02
    assert sum(verdict.review_reason is not None for verdict in untrained) / len(untrained) >= 0.95


# The identifier's arithmetic


@pytest.mark.parametrize(
    "policy",
    [LanguagePolicy(), LanguagePolicy(candidates=("en", "sr", "hr", "bs", "ru", "uz"), trained=("en",))],
    ids=["default", "two-script languages"],
)
def test_probabilities_equal_py3langids_own_for_one_text_and_for_a_batch(policy: LanguagePolicy) -> None:
    ours = identifier_for(policy)
    reference = Py3Langid.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(list(policy.candidates))
    texts = [text for text, _ in heldout()]
    corpus = [json.loads(line)["text"] for path in sorted(CORPUS.glob("*.jsonl")) for line in path.open()]
    texts += corpus[::50]
    encoded = [encode(readable(text, policy.max_chars)) for text in texts] + [b"", b"!!"]
    expected = np.array([[dict(reference.rank(data))[label] for label in ours.labels] for data in encoded])
    batch = ours.probabilities(encoded)  # walked in NumPy
    one_by_one = np.vstack([ours.probabilities([data]) for data in encoded])  # walked in Python
    np.testing.assert_allclose(batch, expected, atol=5e-5)
    np.testing.assert_allclose(one_by_one, expected, atol=5e-5)


def test_a_batch_gets_the_verdicts_of_its_texts_one_by_one() -> None:
    identifier = identifier_for(LanguagePolicy())
    texts = [*[text for text, _ in heldout()][::7], "", "🔥🔥", "ok", "x" * 5000]
    batch = identifier.identify_batch(texts)
    one_by_one = [identifier.identify(text) for text in texts]
    assert [(v.language, v.review_reason) for v in batch] == [(v.language, v.review_reason) for v in one_by_one]
    assert [v.confidence for v in batch] == pytest.approx([v.confidence for v in one_by_one], abs=2e-4)


def test_links_handles_digits_and_emoji_are_not_read() -> None:
    assert readable("@ZapShoes 2x 😍😍 https://t.co/abc l’app #fail a@b.com 10€", 300) == "x l’app fail"


def test_unknown_or_unreachable_languages_are_refused() -> None:
    with pytest.raises(LanguageSetupError, match="xx"):
        LanguageIdentifier(LanguagePolicy(candidates=("en", "xx")))
    with pytest.raises(LanguageSetupError, match="de"):
        LanguageIdentifier(LanguagePolicy(candidates=("en", "fr"), trained=("en", "de")))


# Through the classification path


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty_text"),
        ("   \n\t ", "empty_text"),
        ("😍😍🔥🔥", "no_words"),
        ("@ZapShoes 👍 https://t.co/x1y2", "no_words"),
        ("!!! 100%", "no_words"),
        ("ok", "too_short"),
        ("thx 🙏", "too_short"),
    ],
)
def test_texts_with_nothing_to_judge_need_review(classifier: Classifier, text: str, reason: str) -> None:
    [result] = classify(classifier, text)
    assert result.needs_review
    assert result.review_reasons[0] == reason
    assert result.language is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Wo ist mein Paket? Ich warte seit zwei Wochen auf die Lieferung", "de"),
        ("Il mio ordine non è ancora arrivato, potete aiutarmi?", "it"),
        ("O aplicativo fecha toda vez que eu tento pagar, que raiva", "pt"),
        ("Mijn pakket is nog steeds niet bezorgd, wat is er aan de hand?", "nl"),
        ("Где мой заказ? Жду уже две недели", "ru"),
    ],
)
def test_a_language_the_model_was_not_trained_on_needs_review(classifier: Classifier, text: str, language: str) -> None:
    [result] = classify(classifier, text)
    assert result.language == language
    assert result.needs_review
    assert result.review_reasons[0] == f"language_not_trained:{language}"


def test_confident_english_french_and_spanish_are_not_flagged_for_language(classifier: Classifier) -> None:
    texts = {
        "en": "the app crashes every time i open it, please fix it",
        "fr": "mon colis n'est jamais arrivé, pouvez-vous vérifier le suivi ?",
        "es": "me cobraron dos veces el mismo pedido, necesito el reembolso",
    }
    results = classify(classifier, *texts.values())
    for language, result in zip(texts, results, strict=True):
        assert result.language == language
        assert not any(
            reason.startswith(("language_", "empty", "no_words", "too_short")) for reason in result.review_reasons
        )
        # Whatever remains is the model's own doubt.
        assert result.needs_review == bool(result.review_reasons)
        assert set(result.review_reasons) <= {"low_confidence", "promoted_by_rule"}


def test_a_confident_answer_in_a_trained_language_needs_no_review(classifier: Classifier) -> None:
    # A line of the tiny corpus: the model is sure of it.
    [result] = classify(classifier, "the app crashes every time i open it")
    assert result.language == "en"
    assert result.review_reasons == [] and not result.needs_review


def test_the_models_own_reasons_are_named(classifier: Classifier) -> None:
    [promoted] = classify(classifier, "love the colour but the charger caught fire on my nightstand")
    assert "promoted_by_rule" in promoted.review_reasons and promoted.needs_review
    strict = replace(classifier, policy=replace(classifier.policy, review_below=1.0))
    [result] = classify(strict, "hmm ok, not sure about that")
    assert result.review_reasons == ["low_confidence"]
    # The text's problem comes before the model's doubt it explains.
    [german] = classify(strict, "Wo ist mein Paket? Ich warte seit zwei Wochen")
    assert german.review_reasons[:2] == ["language_not_trained:de", "low_confidence"]


def test_the_letters_needed_are_a_setting(classifier: Classifier) -> None:
    strict = replace(classifier, policy=replace(classifier.policy, language=LanguagePolicy(min_letters=20)))
    [result] = classify(strict, "where is my order??")
    assert result.review_reasons[0] == "too_short"


# Settings


def test_language_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_CLASSIFIER_LANGUAGE_CANDIDATES", '["en", "FR", "de", "it"]')
    monkeypatch.setenv("TRIAGE_CLASSIFIER_TRAINED_LANGUAGES", '["en", "de"]')
    monkeypatch.setenv("TRIAGE_CLASSIFIER_LANGUAGE_MIN_LETTERS", "6")
    policy = ClassifierSettings().language_policy()
    assert policy.candidates == ("en", "fr", "de", "it") and policy.trained == ("en", "de")
    assert policy.min_letters == 6
    identifier = identifier_for(policy)
    assert identifier.identify("Wo ist mein Paket? Ich warte seit zwei Wochen").review_reason is None
    assert identifier.identify("Il mio ordine non è ancora arrivato").review_reason == "language_not_trained:it"


@pytest.mark.parametrize(
    ("candidates", "trained", "problem"),
    [
        ('["en", "klingon"]', '["en"]', "does not know klingon"),
        ('["en", "fr"]', '["en", "es"]', "es not among"),
        ("[]", '["en"]', "at least 1"),
    ],
)
def test_language_settings_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, candidates: str, trained: str, problem: str
) -> None:
    monkeypatch.setenv("TRIAGE_CLASSIFIER_LANGUAGE_CANDIDATES", candidates)
    monkeypatch.setenv("TRIAGE_CLASSIFIER_TRAINED_LANGUAGES", trained)
    with pytest.raises(ValidationError, match=problem):
        ClassifierSettings()
