"""Learning from corrections (issue 18, item 4): `triage-classifier corrections export`
joins reclassified events with their messages into train-only corpus lines, and a model
trained with them gets the corrected examples right while the test split stays as it was."""

import io
import json
from argparse import Namespace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.classifier.tests.classifier_support import TINY, TINY_CONFIG
from triage_classifier import corrections as corrections_module
from triage_classifier.classify import Classifier
from triage_classifier.cli import corrections_dir_of, corrections_export_command, evaluate_command, main, train_command
from triage_classifier.config import ClassifierSettings
from triage_classifier.corpus import DEFAULT_CORPUS_DIR, DEFAULT_CORRECTIONS_DIR, load_corpus, split_of
from triage_classifier.corrections import (
    Corrected,
    MessageText,
    Problem,
    correction_id,
    export_corrections,
    load_training_corpus,
    mask_personal_data,
    parse_since,
    personal_data_left,
    read_corrections,
    read_messages,
    record_entry,
    with_corrections,
)
from triage_classifier.loader import load_classifier
from triage_classifier.model import CURRENT_FILE
from triage_classifier.records_io import classify_messages, message_from_shorthand
from triage_schemas.enums import ConversationEventType, IssueType, Lane, Priority, SentimentLabel
from triage_schemas.records import ConversationEvent, Correction, SocialMessage

MODEL = "clf-000000000000-sk1.9.1"

# Messages the tiny model (services/classifier/tests/classifier_support.py) gets wrong,
# with the issue type a person corrected them to. (Trained on 84 lines with two-fold
# calibration, the tiny model does not learn every correction: "the parcel locker
# swallowed my code" stayed wrong, so it is not here; `make evaluate` counts the
# corrected examples the real model gets right.)
MISSED = [
    ("m-warranty", "whats the warranty on the espresso machine", "product_question"),
    ("m-facture", "la facture de décembre est fausse", "payment_issue"),
    ("m-podcast", "can my podcast feature your headphones", "partnership"),
    ("m-thx", "thx for the quick fix yesterday, team", "feedback"),
    ("m-huella", "el lector de huellas ya no reconoce mi dedo", "technical_issue"),
]


def message(message_id: str, text: str, platform: str = "instagram") -> SocialMessage:
    shorthand = message_from_shorthand({"text": text, "platform": platform, "channel": "direct_message"})
    return shorthand.model_copy(update={"message_id": message_id, "conversation_id": f"c-{message_id}"})


def event(
    message_id: str,
    issue_type: str,
    at: str = "2026-12-07T14:03:12Z",
    actor: str | None = "agent-17",
    sentiment: str | None = None,
    event_id: str | None = None,
    lane: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    correction = Correction(
        message_id=message_id,
        issue_type=IssueType(issue_type),
        lane=Lane(lane) if lane else None,
        priority=Priority(priority) if priority else None,
        sentiment=SentimentLabel(sentiment) if sentiment else None,
        model_version=MODEL,
    )
    record = ConversationEvent(
        event_id=event_id or f"e-{message_id}-{at}",
        conversation_id=f"c-{message_id}",
        type=ConversationEventType.RECLASSIFIED,
        at=datetime.fromisoformat(at),
        actor=actor,
        correction=correction,
    )
    written: dict[str, Any] = json.loads(record.model_dump_json())
    return written


def other_event(message_id: str) -> dict[str, Any]:
    return {
        "record_type": "conversation_event",
        "event_id": f"r-{message_id}",
        "conversation_id": f"c-{message_id}",
        "type": "agent_replied",
        "at": "2026-12-07T10:00:00Z",
        "actor": "agent-3",
    }


def corrected(message_id: str, issue_type: str, at: str = "2026-12-07T14:03:12Z", **extra: Any) -> Corrected:
    [found] = read_corrections([("test", event(message_id, issue_type, at, **extra))]).corrections
    return found


def texts(*items: tuple[str, str]) -> dict[str, MessageText]:
    return {i: MessageText(i, text, "instagram", "direct_message", language="en") for i, text in items}


def jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def no_language(found: list[str]) -> list[str | None]:
    return [None] * len(found)


@pytest.fixture
def tiny_corpus(tiny_corpus_dir: Path) -> Any:
    return load_corpus(tiny_corpus_dir)


def tiny_text(split: str) -> tuple[str, str]:
    """A tiny-corpus line of the ``split``, as (text, issue type)."""
    for issue_type, lines in TINY.items():
        for number, text in enumerate(lines):
            if split_of(f"tiny-{issue_type}-{number}") == split:
                return text, issue_type
    raise AssertionError(split)


# --- joining and provenance ----------------------------------------------------------------------


def test_a_correction_joined_with_its_message_becomes_a_corpus_line_with_its_provenance(
    classifier: Classifier, tiny_corpus: Any
) -> None:
    bare = message("x:1001", "my gift card balance vanished after checkout")
    [classified] = classify_messages([message("x:1002", "la facture de décembre est fausse")], classifier)
    found = read_messages(
        [("m1", json.loads(bare.model_dump_json())), ("m2", json.loads(classified.model_dump_json()))]
    )
    events = read_corrections(
        [
            ("e1", event("x:1001", "payment_issue", sentiment="negative")),
            ("e2", other_event("x:1001")),
            ("e3", event("x:1002", "payment_issue", at="2026-12-08T09:30:00+01:00", actor="lead-2")),
        ]
    )
    assert (len(events.corrections), events.other_events, events.problems) == (2, 1, [])

    result = export_corrections(events.corrections, found.messages, tiny_corpus, languages=lambda t: ["en"] * len(t))
    first, second = result.lines
    assert first == {
        "id": correction_id("x:1001"),
        "lang": "en",  # identified: a bare message does not say
        "platform": "instagram",
        "channel": "direct_message",
        "text": "my gift card balance vanished after checkout",
        "issue_type": "payment_issue",
        "sentiment": "negative",
        "source": "correction",
        "agent": "agent-17",
        "date": "2026-12-07",
        "corrected_at": "2026-12-07T14:03:12Z",
        "model_version": MODEL,
    }
    assert first["id"].startswith("corr-") and "x:1001" not in json.dumps(first)
    # From a classified record: its language and the model's answer; no sentiment corrected.
    assert second["lang"] == classified.classification.language
    assert second["model_answer"] == classified.classification.issue_type.value
    assert (second["sentiment"], second["agent"], second["date"]) == (None, "lead-2", "2026-12-08")
    assert second["corrected_at"] == "2026-12-08T08:30:00Z"
    assert result.counts["exported"] == 2 and result.left_out == []


def test_a_correction_without_its_message_or_before_since_is_counted_and_named_not_dropped_quietly(
    tiny_corpus: Any,
) -> None:
    found = [corrected("m-1", "spam", "2026-12-01T10:00:00Z"), corrected("m-2", "spam"), corrected("m-3", "spam")]
    result = export_corrections(
        found,
        texts(("m-2", "free likes here"), ("m-1", "cheap followers")),
        tiny_corpus,
        since=parse_since("2026-12-05"),
        languages=no_language,
    )
    assert [line["text"] for line in result.lines] == ["free likes here"]
    assert (result.counts["before_since"], result.counts["message_not_found"]) == (1, 1)
    assert result.left_out == ["event e-m-3-2026-12-07T14:03:12Z: message m-3 is not among the messages read"]


def test_a_corrected_lane_or_priority_is_named_as_not_learned(tiny_corpus: Any) -> None:
    # The model answers issue types; lane and priority come from the routing policy.
    answered = {
        i: MessageText(i, text, "instagram", "comment", language="en", model_answer=answer)
        for i, text, answer in [
            ("m-1", "card declined at the till again", "payment_issue"),
            ("m-2", "your courier threw the parcel at my dog", "feedback"),
            ("m-3", "charged three times, fuming", "payment_issue"),
        ]
    }
    found = [
        corrected("m-1", "payment_issue", priority="P1"),
        corrected("m-2", "payment_issue", lane="risk", at="2026-12-07T14:04:00Z"),
        corrected("m-3", "payment_issue", priority="P1", sentiment="negative", at="2026-12-07T14:05:00Z"),
    ]

    result = export_corrections(found, answered, tiny_corpus, languages=no_language)

    assert [line["text"] for line in result.lines] == [answered["m-2"].text, answered["m-3"].text]
    assert result.counts["lane_or_priority_only"] == 1
    assert result.left_out == [
        "event e-m-1-2026-12-07T14:03:12Z: only the priority was corrected (payment_issue kept); "
        "the model learns issue types, the lane and priority come from the routing policy"
    ]
    assert [note.split(" ")[1] for note in result.not_learned] == [
        "e-m-2-2026-12-07T14:04:00Z:",
        "e-m-3-2026-12-07T14:05:00Z:",
    ]
    assert "the corrected lane is not learned" in result.not_learned[0]


def test_the_export_command_names_what_will_not_be_learned(
    classifier: Classifier, tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    [classified] = classify_messages([message("x:7", "the strap snapped after one week")], classifier)
    answer = classified.classification.issue_type.value
    other = "spam" if answer != "spam" else "feedback"
    events = jsonl(
        tmp_path / "events.jsonl",
        [event("x:7", other, lane="risk")],
    )
    messages = jsonl(tmp_path / "classified.jsonl", [json.loads(classified.model_dump_json())])
    out, err = io.StringIO(), io.StringIO()
    code = corrections_export_command(
        events=events, messages=messages, from_topic=False, out=tmp_path / "out.jsonl",
        corpus_dir=tiny_corpus_dir, corrections_dir=tmp_path, out_stream=out, err=err,
    )  # fmt: skip
    assert code == 0
    assert err.getvalue().startswith("not learned: event e-x:7-2026-12-07T14:03:12Z: the corrected lane is not learned")
    assert json.loads((tmp_path / "out.jsonl").read_text())["issue_type"] == other


def test_since_takes_a_day_or_a_timestamp() -> None:
    assert parse_since("2026-12-05") == datetime(2026, 12, 5, tzinfo=UTC)
    assert parse_since("2026-12-05T10:00:00+01:00") == datetime(2026, 12, 5, 9, tzinfo=UTC)
    assert parse_since("2026-12-05T10:00:00") == datetime(2026, 12, 5, 10, tzinfo=UTC)


# --- personal data --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to c.martin@gmail.com asap", "write to [email] asap"),
        ("call me +33 6 12 34 56 78 or 0612345678", "call me [phone] or [phone]"),
        ("(555) 123-4567 after 6", "[phone] after 6"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        ("refund to FR76 3000 6000 0112 3456 7890 189", "refund to [iban]"),
        ("@dave_92 stop it", "@user stop it"),
        # Short numbers, dates and amounts say nothing about a person: kept.
        ("order #A-10293 of 12/03/2024, 1.234,50 €, 3 items", "order #A-10293 of 12/03/2024, 1.234,50 €, 3 items"),
    ],
)
def test_the_export_masks_personal_data(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked
    assert personal_data_left(mask_personal_data(text)) == []


def test_exported_text_is_masked(tiny_corpus: Any) -> None:
    result = export_corrections(
        [corrected("m-1", "payment_issue")],
        {
            "m-1": MessageText(
                "m-1", "charged twice, reach me at ana.perez@correo.es or +34 612 345 678", "x", "mention"
            )
        },
        tiny_corpus,
        languages=no_language,  # no language named: "und"
    )
    assert result.lines[0]["text"] == "charged twice, reach me at [email] or [phone]"
    assert result.lines[0]["lang"] == "und"


# --- de-duplication -----------------------------------------------------------------------------


def test_one_line_per_text_the_latest_correction_wins(tiny_corpus: Any) -> None:
    found = [
        corrected("m-1", "payment_issue", "2026-12-07T10:00:00Z"),
        corrected("m-1", "account_compromise", "2026-12-07T11:00:00Z"),  # the same message, corrected again
        corrected("m-2", "spam", "2026-12-08T10:00:00Z"),
        corrected("m-3", "feedback", "2026-12-06T10:00:00Z"),  # the same text as m-2, accents and case aside
    ]
    messages = texts(
        ("m-1", "someone bought stuff with my card"),
        ("m-2", "Gagnez de l'argent FACILE, lien en bio!!"),
        ("m-3", "gagnez de l'argent facile, lien en bio!!"),
    )
    result = export_corrections(found, messages, tiny_corpus, languages=no_language)
    assert [(line["id"], line["issue_type"]) for line in result.lines] == [
        (correction_id("m-1"), "account_compromise"),
        (correction_id("m-2"), "spam"),
    ]
    assert result.counts["superseded"] == 2
    assert all("corrected again later" in note for note in result.left_out)


def test_a_correction_already_exported_with_the_same_labels_is_not_repeated(tiny_corpus: Any, tmp_path: Path) -> None:
    first = export_corrections([corrected("m-1", "spam")], texts(("m-1", "dm me 4 promo")), tiny_corpus)
    jsonl(tmp_path / "2026-12-07.jsonl", first.lines)
    exported = with_corrections(tiny_corpus, tmp_path).corrections
    assert [e.text for e in exported] == ["dm me 4 promo"]
    later = "2026-12-09T00:00:00Z"
    again = export_corrections(
        [corrected("m-1", "spam", later)], texts(("m-1", "dm me 4 promo")), tiny_corpus, exported=exported
    )
    assert again.lines == [] and again.counts["already_exported"] == 1
    # The same text, now labelled otherwise: exported, and at training the later line wins.
    changed = export_corrections(
        [corrected("m-2", "feedback", later)], texts(("m-2", "DM me 4 promo!")), tiny_corpus, exported=exported
    )
    assert [line["issue_type"] for line in changed.lines] == ["feedback"]


# --- the test split ------------------------------------------------------------------------------


def test_no_correction_whose_text_is_a_corpus_line_is_exported(tiny_corpus: Any) -> None:
    test_text, test_label = tiny_text("test")
    train_text, train_label = tiny_text("train")
    other = next(issue for issue in IssueType if issue.value != train_label).value
    found = [
        corrected("m-test", "spam"),
        corrected("m-test-loud", test_label),
        corrected("m-train-same", train_label),
        corrected("m-train-other", other),
        corrected("m-new", "spam"),
    ]
    messages = texts(
        ("m-test", test_text),
        ("m-test-loud", test_text.upper() + "!!!"),  # the same words, shouted: still the test line
        ("m-train-same", train_text),
        ("m-train-other", train_text),
        ("m-new", "brand new words nobody wrote before"),
    )
    # Two messages with the train text: the later correction (m-train-other) is the one judged.
    result = export_corrections(found, messages, tiny_corpus, languages=no_language)
    assert [line["text"] for line in result.lines] == ["brand new words nobody wrote before"]
    assert result.counts["in_test_split"] == 1 and result.counts["corpus_disagrees"] == 1
    assert any("in the test split" in note for note in result.left_out)
    assert any(f"labelled {train_label}" in note for note in result.left_out)


def test_a_test_line_with_personal_data_is_recognised_once_masked(tmp_path: Path) -> None:
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    test_id = next(f"en-z-{n:04d}" for n in range(100) if split_of(f"en-z-{n:04d}") == "test")
    text = "my account was hacked, write me at c.martin@gmail.com"
    line = {"id": test_id, "lang": "en", "text": text, "issue_type": "account_compromise", "sentiment": "negative"}
    jsonl(corpus_dir / "en-z.jsonl", [line])
    corpus = load_corpus(corpus_dir)
    result = export_corrections([corrected("m-1", "account_compromise")], texts(("m-1", text)), corpus)
    assert result.lines == [] and result.counts["in_test_split"] == 1
    # and the same line committed by hand (masked) is not used either
    committed = tmp_path / "corrections"
    committed.mkdir()
    jsonl(committed / "2026-12-07.jsonl", [_line("corr-aaaa", mask_personal_data(text), "account_compromise")])
    loaded = with_corrections(corpus, committed)
    assert loaded.corrections == [] and "in the test split" in loaded.correction_notes[0]


def _line(line_id: str, text: str, issue_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": line_id,
        "lang": "en",
        "text": text,
        "issue_type": issue_type,
        "sentiment": None,
        "source": "correction",
        "agent": "agent-1",
        "date": "2026-12-07",
        **extra,
    }


def test_correction_lines_are_train_only_whatever_their_id(tiny_corpus: Any, tmp_path: Path) -> None:
    ids = [f"corr-{n:016x}" for n in range(40)]
    assert any(split_of(i) == "test" for i in ids)  # by the corpus rule, some would be test lines
    words = [chr(97 + n // 26) + chr(97 + n % 26) for n in range(40)]  # aa, ab, …: one text each
    jsonl(tmp_path / "2026-12-07.jsonl", [_line(i, f"new words {w} about nothing", "feedback") for i, w in
                                           zip(ids, words, strict=True)])  # fmt: skip
    loaded = with_corrections(tiny_corpus, tmp_path)
    assert len(loaded.corrections) == 40 and not loaded.problems
    assert loaded.split("test") == tiny_corpus.split("test")
    assert {e.id for e in loaded.split("train")} == {e.id for e in tiny_corpus.split("train")} | set(ids)
    # the model version moves with the corrections
    assert loaded.digest() != tiny_corpus.digest() and loaded.without_corrections().digest() == tiny_corpus.digest()


def test_committed_corrections_latest_wins_across_files(tiny_corpus: Any, tmp_path: Path) -> None:
    jsonl(tmp_path / "2026-12-01.jsonl", [_line("corr-a", "where did my bonus points go", "payment_issue")])
    jsonl(
        tmp_path / "2026-12-08.jsonl",
        [_line("corr-b", "Where did my bonus points go??", "technical_issue", date="2026-12-08")],
    )
    loaded = with_corrections(tiny_corpus, tmp_path)
    assert [(e.id, e.issue_type.value) for e in loaded.corrections] == [("corr-b", "technical_issue")]
    assert loaded.correction_notes == ["corr-a: corrected again later (corr-b); the later one is used"]


# --- malformed input ------------------------------------------------------------------------------


def test_bad_correction_files_lines_are_problems_by_line_never_used(tiny_corpus: Any, tmp_path: Path) -> None:
    jsonl(
        tmp_path / "2026-12-07.jsonl",
        [
            _line("corr-ok", "a perfectly fine new message", "spam"),
            "{not json",
            _line("corr-src", "another new message", "spam", source="corpus"),
            _line("corr-mail", "mail me at bob@example.org", "spam"),
            _line("corr-day", "yet another message", "spam", date=None),
            _line("corr-type", "one more message", "complaint"),
            _line("en-a-0001", "a message posing as a corpus line", "spam"),
        ],
    )
    loaded = with_corrections(tiny_corpus, tmp_path)
    assert [e.id for e in loaded.corrections] == ["corr-ok"]
    reasons = [str(problem) for problem in loaded.problems]
    assert reasons[0].startswith("2026-12-07.jsonl:2: not JSON")
    assert reasons[1].startswith("2026-12-07.jsonl:3: source")
    assert reasons[2] == (
        "2026-12-07.jsonl:4: text: still holds an e-mail address; mask it before committing (see the README)"
    )
    assert reasons[3].startswith("2026-12-07.jsonl:5: date")
    assert reasons[4].startswith("2026-12-07.jsonl:6: issue_type")
    assert reasons[5].startswith("2026-12-07.jsonl:7: id")
    assert len(reasons) == 6


def test_bad_records_are_problems_by_where_they_are() -> None:
    events = read_corrections(
        [
            Problem("events.jsonl line 1", "not JSON: Expecting value at line 1 column 1"),
            ("events.jsonl line 2", [1, 2]),
            ("events.jsonl line 3", {"record_type": "message"}),
            ("events.jsonl line 4", {**event("m-1", "spam"), "correction": None}),
            ("events.jsonl line 5", event("m-1", "spam")),
        ]
    )
    assert len(events.corrections) == 1
    assert [problem.where for problem in events.problems] == [f"events.jsonl line {n}" for n in (1, 2, 3, 4)]
    assert "reclassified event carries a correction" in events.problems[3].reason
    found = read_messages(
        [
            ("m line 1", {"record_type": "message", "message_id": "m-1", "text": "no other field"}),
            ("m line 2", {"record_type": "message", "message_id": "m-9"}),  # not wanted: not even validated
            ("m line 3", {"record_type": "routed", "message_id": "m-1"}),
        ],
        wanted={"m-1"},
    )
    assert found.messages == {} and found.other_messages == 1
    assert [str(problem).split(":")[0] for problem in found.problems] == ["m line 1", "m line 3"]
    assert record_entry("t", 0, 7, None) == Problem("t partition 0 offset 7", "a record without a value")
    assert isinstance(record_entry("t", 1, 8, b"{oops"), Problem)


def test_the_export_command_reports_every_bad_line_counts_them_and_exports_the_good_ones(
    tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        (json.dumps(event("x:1", "spam")) + "\n").encode()
        + b"{not json\n"
        + b'{"text": "\xff"}\n'
        + (json.dumps(other_event("x:1")) + "\n").encode()
        + (json.dumps({**event("x:2", "spam"), "type": "resolved"}) + "\n").encode()
    )
    messages = jsonl(
        tmp_path / "messages.jsonl",
        [json.loads(message("x:1", "get free followers now, link in bio").model_dump_json()), {"text": "bare"}],
    )
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "corrections" / "2026-12-07.jsonl"
    code = corrections_export_command(
        events=events,
        messages=messages,
        from_topic=False,
        out=target,
        corpus_dir=tiny_corpus_dir,
        corrections_dir=tmp_path / "corrections",
        out_stream=out,
        err=err,
    )
    assert code == 1
    errors = err.getvalue().splitlines()
    assert errors[0].startswith("events.jsonl line 2: not JSON")
    assert errors[1].startswith("events.jsonl line 3: not valid UTF-8")
    assert errors[2].startswith("events.jsonl line 5: not a valid conversation_event")
    assert errors[3].startswith("messages.jsonl line 2: record_type None is not one of message, classified")
    assert (
        errors[4] == "triage-classifier corrections export: 4 lines or records were rejected (see the messages above)"
    )
    [line] = [json.loads(text) for text in target.read_text().splitlines()]
    assert (line["text"], line["issue_type"], line["source"]) == (
        "get free followers now, link in bio",
        "spam",
        "correction",
    )
    assert "1 corrections read (1 other conversation events), 1 joined" in out.getvalue()
    assert f"1 corpus lines written to {target}" in out.getvalue()
    # not over an existing file without --force
    again = corrections_export_command(
        events=events, messages=messages, from_topic=False, out=target, corpus_dir=tiny_corpus_dir, err=err
    )
    assert again == 2 and "exists" in err.getvalue().splitlines()[-1]


def test_the_export_command_needs_its_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["corrections", "export", "--messages", "m.jsonl", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "give --events FILE, or --from-topic" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["corrections", "export", "--from-topic", "--since", "last week"])
    assert "neither a day" in capsys.readouterr().err


def test_from_topic_reads_the_events_then_only_the_messages_it_needs(
    tiny_corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = {
        "social.conversation-events": [json.dumps(event("x:1", "spam")).encode(), b"[]"],
        "social.classified": [
            message("x:0", "not corrected").model_dump_json().encode(),
            message("x:1", "follow 4 follow, link in bio").model_dump_json().encode(),
        ],
    }
    read: dict[str, int] = {}

    async def fake_topic(topic: str, keep: Any = None) -> list[Any]:
        entries = [record_entry(topic, 0, offset, value) for offset, value in enumerate(records[topic])]
        kept = [e for e in entries if isinstance(e, Problem) or keep is None or keep(e[1])]
        read[topic] = len(kept)
        return kept

    monkeypatch.setattr(corrections_module, "topic_entries", fake_topic)
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "out.jsonl"
    code = corrections_export_command(
        events=None,
        messages=None,
        from_topic=True,
        out=target,
        corpus_dir=tiny_corpus_dir,
        corrections_dir=tmp_path,
        out_stream=out,
        err=err,
    )
    assert code == 1 and err.getvalue().startswith("social.conversation-events partition 0 offset 1: a JSON list")
    assert read == {"social.conversation-events": 2, "social.classified": 1}
    assert json.loads(target.read_text())["text"] == "follow 4 follow, link in bio"


# --- training with the corrections -----------------------------------------------------------------


def test_exported_corrections_train_a_model_that_gets_them_right_with_the_test_split_untouched(
    tiny_corpus_dir: Path, classifier: Classifier, tmp_path: Path
) -> None:
    # The tiny model (no corrections) gets every one of these messages wrong.
    before = classifier.classify([text for _, text, _ in MISSED])
    assert all(r.issue_type.value != label for r, (*_, label) in zip(before, MISSED, strict=True))

    classified = classify_messages([message(i, text) for i, text, _ in MISSED], classifier)
    events = jsonl(tmp_path / "events.jsonl", [event(i, label, actor="lead-1") for i, _, label in MISSED])
    messages = jsonl(tmp_path / "classified.jsonl", [json.loads(record.model_dump_json()) for record in classified])
    corrections_dir = tmp_path / "corrections"
    out = corrections_dir / "2026-12-07.jsonl"
    assert (
        corrections_export_command(
            events=events,
            messages=messages,
            from_topic=False,
            out=out,
            corpus_dir=tiny_corpus_dir,
            corrections_dir=corrections_dir,
            out_stream=io.StringIO(),
            err=io.StringIO(),
        )
        == 0
    )
    assert len(out.read_text().splitlines()) == len(MISSED)

    settings = ClassifierSettings(corpus_dir=tiny_corpus_dir, model_dir=tmp_path / "models")
    assert train_command(settings, False, TINY_CONFIG, corrections_dir) == 0
    trained = load_classifier(settings)
    assert trained.model.metadata["train_corrections"] == len(MISSED)
    after = trained.classify([text for _, text, _ in MISSED])
    assert [r.issue_type.value for r in after] == [label for *_, label in MISSED]

    # The test split is the corpus's own, line for line, with or without the corrections.
    bare = load_corpus(tiny_corpus_dir)
    with_them = load_training_corpus(tiny_corpus_dir, corrections_dir)
    assert [(e.id, e.text) for e in with_them.split("test")] == [(e.id, e.text) for e in bare.split("test")]
    assert not {e.text for e in with_them.corrections} & {e.text for e in bare.split("test")}

    # `make evaluate`: both models' figures on that one test split.
    assert evaluate_command(settings, tmp_path / "reports", corrections_dir, TINY_CONFIG) == 0
    figures = json.loads((tmp_path / "reports" / "classifier-evaluation.json").read_text())
    section = figures["corrections"]
    assert section["used"] == len(MISSED) and section["corrections_in_test_split"] == 0
    assert section["with"]["model_version"] == trained.version != section["without"]["model_version"]
    assert section["with"]["corrected_examples_right"] == len(MISSED)
    assert section["without"]["corrected_examples_right"] == 0
    assert {"p1_recall", "issue_type_macro_f1", "lane_macro_f1"} <= set(section["without"])
    assert figures["test_examples"] == len(bare.split("test")) == section["test_split"]["examples"]
    # The model without corrections was trained to compare with; CURRENT still names the one with them.
    assert (tmp_path / "models" / CURRENT_FILE).read_text().strip() == trained.version
    report = (tmp_path / "reports" / "classifier-evaluation.txt").read_text()
    assert "corrected examples right" in report and "without corrections" in report


def test_train_without_the_corrections_is_the_corpus_model(tiny_corpus_dir: Path, tmp_path: Path) -> None:
    settings = ClassifierSettings(corpus_dir=tiny_corpus_dir, model_dir=tmp_path / "models")
    empty = tmp_path / "none"
    empty.mkdir()
    train_command(settings, True, TINY_CONFIG, None)
    alone = (tmp_path / "models" / CURRENT_FILE).read_text()
    train_command(settings, True, TINY_CONFIG, empty)
    assert (tmp_path / "models" / CURRENT_FILE).read_text() == alone  # no files: the same version, not retrained


def test_the_committed_corrections_directory_loads_cleanly() -> None:
    loaded = load_training_corpus(DEFAULT_CORPUS_DIR, DEFAULT_CORRECTIONS_DIR)
    assert [str(problem) for problem in loaded.problems] == []
    assert loaded.split("test") == load_corpus(DEFAULT_CORPUS_DIR).split("test")


def test_the_corrections_are_read_next_to_the_corpus_unless_told_otherwise(tmp_path: Path) -> None:
    """An image that trains from a copied corpus (TRIAGE_CLASSIFIER_CORPUS_DIR) finds the
    corrections copied with it."""
    settings = ClassifierSettings(corpus_dir=tmp_path / "data" / "corpus")
    assert corrections_dir_of(settings, Namespace(corrections_dir=None)) == tmp_path / "data" / "corrections"
    assert corrections_dir_of(settings, Namespace(corrections_dir=tmp_path / "x")) == tmp_path / "x"
    assert corrections_dir_of(settings, Namespace(corrections_dir=None, no_corrections=True)) is None
    assert corrections_dir_of(ClassifierSettings(), Namespace(corrections_dir=None)) == DEFAULT_CORRECTIONS_DIR
