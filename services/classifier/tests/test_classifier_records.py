"""Records in and out: the Kafka batch step and the offline `classify` lines."""

import io
import json

import pytest

from triage_classifier.classify import Classifier
from triage_classifier.cli import CHUNK_LINES, classify_lines
from triage_classifier.records_io import classify_batch
from triage_runtime.delivery import Inbound, Rejected
from triage_schemas.records import ClassifiedMessage


def message(message_id: str, text: str, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "record_type": "message",
        "message_id": message_id,
        "conversation_id": f"conv-{message_id}",
        "platform": "instagram",
        "channel": "direct_message",
        "direction": "inbound",
        "author": {"id": "u1", "handle": "someone", "followers": 120},
        "text": text,
        "created_at": "2026-11-22T12:00:00Z",
        "received_at": "2026-11-22T12:00:01Z",
        "pii": ["order_number"],
    }
    record.update(extra)
    return record


def test_batch_keeps_order_and_turns_bad_records_into_reasons(classifier: Classifier) -> None:
    batch = [
        Inbound(json.dumps(message("m1", "where is my order")).encode()),
        Inbound(b"\xff\xfe not json"),
        Inbound(json.dumps({"record_type": "routed"}).encode()),
        Inbound(json.dumps(message("m2", "collab?", platform="myspace")).encode()),
        Inbound(json.dumps([1, 2]).encode()),
        Inbound(json.dumps(message("m3", "charged twice")).encode()),
    ]
    results = classify_batch(classifier, "out", batch)
    assert len(results) == 6
    good = [r for r in results if not isinstance(r, Rejected)]
    records = [out.record for outputs in good for out in outputs]
    assert all(isinstance(r, ClassifiedMessage) for r in records)
    assert [getattr(r, "message_id", None) for r in records] == ["m1", "m3"]
    assert [out.key for outputs in good for out in outputs] == ["conv-m1", "conv-m3"]
    reasons = [r.reason for r in results if isinstance(r, Rejected)]
    assert reasons[0] == "not valid UTF-8 (byte 0: invalid start byte)"
    assert "record_type is 'routed'" in reasons[1]
    assert reasons[2].startswith("not a valid message: platform")
    assert reasons[3] == "not a JSON object but list"


def test_the_classified_record_keeps_the_whole_message(classifier: Classifier) -> None:
    huge = "my parcel never came " * 20_000  # 420 KB: its classified record still fits in Kafka
    [outputs] = classify_batch(classifier, "out", [Inbound(json.dumps(message("m1", huge)).encode())])
    assert not isinstance(outputs, Rejected)
    record = outputs[0].record
    assert isinstance(record, ClassifiedMessage)
    assert record.text == huge
    assert record.author.followers == 120 and record.pii == ["order_number"]


def run(classifier: Classifier, lines: list[str]) -> tuple[list[dict[str, object]], list[str], int]:
    out, err = io.StringIO(), io.StringIO()
    bad = classify_lines(classifier, io.StringIO("".join(line + "\n" for line in lines)), out, err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue().splitlines(), bad


def test_offline_lines_classify_pass_through_and_report_bad_lines(classifier: Classifier) -> None:
    event = {
        "record_type": "conversation_event",
        "event_id": "e1",
        "conversation_id": "c1",
        "type": "resolved",
        "at": "2026-11-22T12:00:00Z",
    }
    lines = [
        json.dumps(message("m1", "is the blue one back in stock")),
        "{oops",
        json.dumps(event),
        json.dumps({"text": "follow for follow 🔥🔥", "platform": "tiktok", "author_followers": 250_000}),
        json.dumps({"text": "hi", "platform": "myspace"}),
        "",
        json.dumps({"text": "hi", "mood": "happy"}),
        json.dumps({"record_type": "message", "message_id": "m9"}),
        json.dumps({"text": "does this jacket run small"}),
    ]
    records, errors, bad = run(classifier, lines)
    assert [r["record_type"] for r in records] == ["classified", "conversation_event", "classified", "classified"]
    assert records[1] == event
    shorthand = records[2]
    assert shorthand["platform"] == "tiktok" and shorthand["channel"] == "public_comment"
    assert shorthand["author"]["followers"] == 250_000  # type: ignore[index]
    assert str(shorthand["message_id"]).startswith("offline:") and shorthand["message_id"] != records[3]["message_id"]
    classification = shorthand["classification"]
    assert isinstance(classification, dict)
    assert set(classification) >= {
        "issue_type",
        "lane",
        "priority",
        "confidence",
        "needs_review",
        "sentiment",
        "scores",
        "reasons",
        "model_version",
    }
    assert bad == 4
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 5", "line 7", "line 8"]
    assert "myspace" in errors[1] and "mood" in errors[2] and "conversation_id" in errors[3]


@pytest.mark.parametrize("count", [CHUNK_LINES - 1, CHUNK_LINES, CHUNK_LINES * 2 + 3])
def test_offline_order_holds_across_chunks(classifier: Classifier, count: int) -> None:
    lines = [json.dumps(message(f"m{n}", f"order {n} where is it")) for n in range(count)]
    lines.insert(count // 2, json.dumps({"record_type": "sla_alert", "alert_id": "a1"}))
    records, errors, bad = run(classifier, lines)
    ids = [r.get("message_id", r.get("alert_id")) for r in records]
    expected = [f"m{n}" for n in range(count)]
    expected.insert(count // 2, "a1")
    assert ids == expected and errors == [] and bad == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hi \x1b[31mred", "text has U+001B (a control character) at position 3"),
        ("nul\x00", "text has U+0000 (a control character) at position 3"),
        ("\ud800x", "not writable as UTF-8: an unpaired surrogate escape"),  # refused as it is parsed
    ],
)
def test_a_message_written_straight_to_the_topic_with_unprintable_text_is_rejected(
    classifier: Classifier, text: str, reason: str
) -> None:
    value = json.dumps(message("m1", text)).encode()
    good = json.dumps(message("m2", "tabs\tand\nnewlines are fine")).encode()
    bad, ok = classify_batch(classifier, "out", [Inbound(value), Inbound(good)])
    assert isinstance(bad, Rejected) and bad.reason.startswith(reason)
    assert not isinstance(ok, Rejected)
