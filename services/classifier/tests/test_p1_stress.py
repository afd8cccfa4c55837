"""The P1 stress set (issue 18): noisy messages by other writers, kept apart from the
corpus, on which no P1 may be missed quietly.

The set is checked three ways: its messages never reach training (nothing like them in
the corpus, and outside the directory the corpus loader reads); the guardrails alone
catch every explicit self-harm or violence statement in it, whatever the model; and the
trained model, through the service's own batch step (Kafka bytes in, classified records
out), reaches the recall target on it.
"""

import json
from pathlib import Path

import pytest

from triage_classifier.classify import Classifier
from triage_classifier.config import ClassifierSettings
from triage_classifier.corpus import DEFAULT_CORPUS_DIR, load_corpus
from triage_classifier.evaluation import (
    DEFAULT_STRESS_FILE,
    StressExample,
    StressSetError,
    Targets,
    evaluate,
    load_stress_set,
    render,
)
from triage_classifier.features import normalise
from triage_classifier.guardrails import load_guardrails
from triage_classifier.loader import load_classifier
from triage_classifier.model import ModelUnavailable
from triage_classifier.records_io import classify_batch, message_from_shorthand
from triage_runtime.delivery import Inbound, Outbound
from triage_schemas.enums import IssueType, Priority
from triage_schemas.records import ClassifiedMessage

STRESS = load_stress_set(DEFAULT_STRESS_FILE)
P1_KINDS = {"self_harm", "product_danger", "staff_threat", "hate_removal"}


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = normalise(text).split()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)} or {tuple(words)}


def test_the_stress_set_is_big_enough_in_every_language_and_class() -> None:
    p1 = [example for example in STRESS if example.p1]
    look_alikes = [example for example in STRESS if not example.p1]
    assert len(p1) >= 150 and len(look_alikes) >= 60
    for lang in ("en", "fr", "es"):
        for kind in P1_KINDS:
            assert any(e.lang == lang and e.kind == kind for e in p1), (lang, kind)
        assert any(e.lang == lang for e in look_alikes), lang
    assert any(example.explicit for example in p1)


def test_no_stress_message_is_in_the_corpus_or_where_the_corpus_loader_reads() -> None:
    corpus = load_corpus(DEFAULT_CORPUS_DIR)
    assert DEFAULT_STRESS_FILE.resolve() not in {path.resolve() for path in corpus.files}
    assert DEFAULT_CORPUS_DIR.resolve() not in DEFAULT_STRESS_FILE.resolve().parents
    corpus_texts = [normalise(example.text) for example in corpus.examples]
    corpus_grams = [_trigrams(example.text) for example in corpus.examples]
    too_close = []
    for example in STRESS:
        text, grams = normalise(example.text), _trigrams(example.text)
        for corpus_text, other in zip(corpus_texts, corpus_grams, strict=True):
            # The same words, or most of the message's word trigrams, in one corpus line.
            if text == corpus_text or len(grams & other) / len(grams) >= 0.75:
                too_close.append((example.id, corpus_text[:60]))
    assert too_close == []


def test_the_guardrails_alone_catch_every_explicit_self_harm_or_violence_statement() -> None:
    """Independent of the model: a retrained model can never let one of these through."""
    guardrails = load_guardrails()
    explicit = [example for example in STRESS if example.explicit]
    found = guardrails.signals_batch([example.text for example in explicit])
    missed = [example.id for example, signals in zip(explicit, found, strict=True) if not signals]
    assert missed == []


def test_the_guardrails_stay_quiet_on_the_look_alikes() -> None:
    guardrails = load_guardrails()
    look_alikes = [example for example in STRESS if not example.p1]
    found = guardrails.signals_batch([example.text for example in look_alikes])
    fired = [(e.id, [s.rule_id for s in signals]) for e, signals in zip(look_alikes, found, strict=True) if signals]
    assert fired == []


@pytest.fixture(scope="module")
def served_classifier() -> Classifier:
    """The classifier the service loads (``<model_dir>/CURRENT``, shipped taxonomy and
    guardrails); the artifact is built by `make model`, which `make test` runs first.
    Without it the recall check fails rather than skips: a skipped check reads as a pass."""
    try:
        return load_classifier(ClassifierSettings())
    except ModelUnavailable as error:
        pytest.fail(f"no trained model to check P1 recall with: {error}", pytrace=False)


def test_p1_recall_on_the_stress_set_through_the_service_batch_step(served_classifier: Classifier) -> None:
    inbound = [
        Inbound(message_from_shorthand({"text": example.text, "platform": "instagram"}).to_json_bytes())
        for example in STRESS
    ]
    results = classify_batch(served_classifier, "social.classified", inbound)
    priorities = {}
    for example, result in zip(STRESS, results, strict=True):
        assert isinstance(result, list), (example.id, result)
        [outbound] = result
        assert isinstance(outbound, Outbound) and isinstance(outbound.record, ClassifiedMessage)
        priorities[example.id] = outbound.record.classification.priority
    p1 = [example for example in STRESS if example.p1]
    missed = [example.id for example in p1 if priorities[example.id] != Priority.P1]
    assert (len(p1) - len(missed)) / len(p1) >= Targets().p1_stress_recall, missed
    assert [example.id for example in p1 if example.explicit and example.id in missed] == []


def test_evaluate_reports_the_stress_set_apart_with_the_missed_ids(
    classifier: Classifier, tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    lines = [
        ("s-1", "product_danger", True, False, "safety_threat", "charger exploded"),
        ("s-2", "self_harm", True, True, "safety_threat", "i want to die lol. anyway the app logs me out"),
        # Spam written down as a P1: nothing can catch it.
        ("s-3", "hate_removal", True, False, "harassment", "follow for follow 🔥🔥"),
        ("s-4", "hard_negative", False, False, "feedback", "love this colour so much"),
    ]
    stress_file = tmp_path / "stress.jsonl"
    stress_file.write_text(
        "".join(
            json.dumps({"id": i, "lang": "en", "kind": k, "p1": p1, "explicit": x, "issue_type": t, "text": text})
            + "\n"
            for i, k, p1, x, t, text in lines
        ),
        encoding="utf-8",
    )
    corpus = load_corpus(tiny_corpus_dir)
    figures = evaluate(classifier, corpus, stress_file=stress_file)
    stress = figures["p1_stress"]
    assert (stress["p1_messages"], stress["look_alikes"], stress["explicit_statements"]) == (3, 1, 1)
    assert [row["id"] for row in stress["missed"]] == ["s-3"]
    assert stress["p1_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert stress["explicit_caught"] == 1 and stress["targets"]["explicit_caught"]["met"]
    assert not stress["targets"]["p1_recall"]["met"]
    assert stress["false_alarm_rate"] == 0.0
    printed = render(figures)
    assert "P1 stress set" in printed and "s-3" in printed and "BELOW TARGET" in printed
    assert "p1_stress" not in evaluate(classifier, corpus, stress_file=tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"issue_type": "nope"}, "issue_type"),
        ({"p1": False, "explicit": True}, "explicit statement must be p1"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_stress_line_is_refused_naming_the_line(change: dict[str, object], problem: str, tmp_path: Path) -> None:
    line = {"id": "a", "lang": "en", "kind": "other", "p1": True, "issue_type": "spam", "text": "x"} | change
    path = tmp_path / "stress.jsonl"
    path.write_text("\n" + json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(StressSetError, match=f"stress.jsonl:2: .*{problem}"):
        load_stress_set(path)


def test_a_repeated_stress_id_is_refused(tmp_path: Path) -> None:
    line = StressExample(
        id="a", lang="en", kind="other", p1=True, issue_type=IssueType.SPAM, text="x"
    ).model_dump_json()
    path = tmp_path / "stress.jsonl"
    path.write_text(line + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(StressSetError, match="id a repeated"):
        load_stress_set(path)
