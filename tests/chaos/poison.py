"""Poison records for the chaos suite: bytes no stage can use, each carrying its id.

Every poison record is one realistic record with one thing wrong, so a stage that only
half-checks its input lets it through. The id travels twice: in the ``chaos-poison``
header (a dead letter keeps its input's headers) and as ``chaospoisonNNNNNN`` inside the
bytes, so a record dead-lettered by a later stage, or wrongly delivered, is still found.
"""

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from triage_local.payloads import BRAND_IDS, Customer, messenger_dm, telegram_private, x_dm
from triage_schemas.enums import Platform

HEADER = "chaos-poison"
MARKER = re.compile(rb"chaospoison(\d{6})")
# Far past any stage's depth limit and Python's recursion limit.
DEEP = 50_000
# Over ingest's 512 KiB raw-record limit, under Kafka's 1 MiB record limit.
RAW_OVERSIZED_CHARS = 600_000
# Just under the broker's largest record (message.max.bytes, 1,048,588 bytes with the batch
# overhead) as a message, so it can be published, and over it once the classifier adds its
# section: the classified output cannot be written and the input must become a dead letter.
MESSAGE_OVERSIZED_BYTES = 1_048_000
OUT_OF_RANGE = "0001-01-01T00:00:00+05:00"  # becomes year 0 in UTC: no datetime holds it
CONTROL = "\u0000\u0007\u001b[2J"
LONE_SURROGATE = "\ud800"


def marker(pid: int) -> str:
    return f"chaospoison{pid:06d}"


def _customer(pid: int, name: str = "Poison Tester") -> Customer:
    return Customer(str(8_000_000_000 + pid), f"poison_{pid}", name, 10)


def _envelope(platform: Platform, payload: dict[str, Any], received_at: str | None = None) -> dict[str, Any]:
    return {
        "record_type": "raw_envelope",
        "schema_version": 1,
        "platform": platform.value,
        "received_at": received_at or datetime.now(UTC).isoformat(),
        "source": "chaos-poison",
        "account_id": BRAND_IDS[platform],
        "payload": payload,
    }


def _raw(pid: int, text: str = "", *, name: str = "Poison Tester", mid: str | None = None) -> dict[str, Any]:
    """A valid Messenger envelope (the base every raw poison spoils)."""
    event = messenger_dm(mid or f"{marker(pid)}x", _customer(pid, name), f"{marker(pid)} {text}", datetime.now(UTC))
    return _envelope(event.platform, event.payload)


def _dumps(value: Any) -> bytes:
    # ensure_ascii keeps a lone surrogate as a \ud800 escape: what a lenient producer writes
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def _deep(inner: str) -> str:
    return "[" * DEEP + json.dumps(inner) + "]" * DEEP


def raw_not_json(pid: int) -> bytes:
    return f'{{"record_type": "raw_envelope", "platform": "messenger", "payload": {{"note": "{marker(pid)}"'.encode()


def raw_invalid_utf8(pid: int) -> bytes:
    return _dumps(_raw(pid, "broken bytes: XX")).replace(b"XX", b"\xff\xfe\xc3\x28")


def raw_oversized(pid: int) -> bytes:
    return _dumps(_raw(pid, "where is my order " * (RAW_OVERSIZED_CHARS // 18)))


def raw_deep_nesting(pid: int) -> bytes:
    head = _dumps(_raw(pid, "nested"))[:-1]  # the envelope without its closing brace
    return head + b', "extra": ' + _deep(marker(pid)).encode() + b"}"


def raw_nan(pid: int) -> bytes:
    event = x_dm("5eed" + f"{pid:06d}", _customer(pid), f"{marker(pid)} follower count is NaN", datetime.now(UTC))
    event.payload["users"][_customer(pid).id]["followers_count"] = float("nan")
    return json.dumps(_envelope(event.platform, event.payload)).encode()  # allow_nan writes a bare NaN


def raw_control_chars(pid: int) -> bytes:
    return _dumps(_raw(pid, f"terminal escape {CONTROL} in the text"))


def raw_surrogate_text(pid: int) -> bytes:
    return _dumps(_raw(pid, f"half an emoji {LONE_SURROGATE} here"))


def raw_surrogate_user_name(pid: int) -> bytes:
    event = telegram_private(
        f"{pid:012x}",
        _customer(pid, f"Ana{LONE_SURROGATE} Poison"),
        f"{marker(pid)} my name is broken",
        datetime.now(UTC),
    )
    event.payload["message"]["from"]["username"] = f"ana{LONE_SURROGATE}"
    event.payload["message"]["chat"]["username"] = f"ana{LONE_SURROGATE}"
    return _dumps(_envelope(event.platform, event.payload))


def raw_surrogate_message_id(pid: int) -> bytes:
    return _dumps(_raw(pid, "my message id is broken", mid=f"{marker(pid)}{LONE_SURROGATE}"))


def raw_out_of_range_date(pid: int) -> bytes:
    record = _raw(pid, "from the year 1")
    record["received_at"] = OUT_OF_RANGE
    return _dumps(record)


def raw_wrong_record_type(pid: int) -> bytes:
    return _dumps(_message(pid, "a normalised message sent to social.raw"))


def raw_not_an_object(pid: int) -> bytes:
    return _dumps(["raw_envelope", marker(pid), {"platform": "messenger"}])


def _message(pid: int, text: str) -> dict[str, Any]:
    """A valid ``message`` record (the base every social.messages poison spoils)."""
    now = datetime.now(UTC).isoformat()
    return {
        "record_type": "message",
        "schema_version": 1,
        "message_id": f"x:{marker(pid)}",
        "conversation_id": f"x:dm:{BRAND_IDS[Platform.X]}:{marker(pid)}",
        "platform": "x",
        "channel": "direct_message",
        "direction": "inbound",
        "account_id": BRAND_IDS[Platform.X],
        "author": {"id": f"{8_000_000_000 + pid}", "handle": f"poison_{pid}", "followers": 10},
        "text": f"{marker(pid)} {text}",
        "created_at": now,
        "received_at": now,
        "pii": [],
    }


def message_not_json(pid: int) -> bytes:
    return f'{{"record_type": "message", "message_id": "x:{marker(pid)}", "text": '.encode()


def message_invalid_utf8(pid: int) -> bytes:
    return _dumps(_message(pid, "broken bytes: XX")).replace(b"XX", b"\xff\xfe\xc3\x28")


def message_oversized(pid: int) -> bytes:
    base = len(_dumps(_message(pid, "")))
    return _dumps(_message(pid, "x" * (MESSAGE_OVERSIZED_BYTES - base)))


def message_deep_nesting(pid: int) -> bytes:
    head = _dumps(_message(pid, "nested"))[:-1]
    return head + b', "extra": ' + _deep(marker(pid)).encode() + b"}"


def message_nan(pid: int) -> bytes:
    record = _message(pid, "follower count is NaN")
    record["author"]["followers"] = float("nan")
    return json.dumps(record).encode()


def message_control_chars(pid: int) -> bytes:
    return _dumps(_message(pid, f"terminal escape {CONTROL} in the text"))


def message_surrogate_text(pid: int) -> bytes:
    return _dumps(_message(pid, f"half an emoji {LONE_SURROGATE} here"))


def message_surrogate_user_name(pid: int) -> bytes:
    record = _message(pid, "my handle is broken")
    record["author"]["handle"] = f"ana{LONE_SURROGATE}"
    return _dumps(record)


def message_surrogate_message_id(pid: int) -> bytes:
    record = _message(pid, "my message id is broken")
    record["message_id"] = f"x:{marker(pid)}{LONE_SURROGATE}"
    return _dumps(record)


def message_out_of_range_date(pid: int) -> bytes:
    record = _message(pid, "from the year 1")
    record["created_at"] = OUT_OF_RANGE
    return _dumps(record)


def message_wrong_record_type(pid: int) -> bytes:
    return _dumps(_raw(pid, "a raw envelope sent to social.messages"))


def message_not_an_object(pid: int) -> bytes:
    return _dumps([marker(pid), "message"])


Builder = Callable[[int], bytes]

RAW: dict[str, Builder] = {
    "not_json": raw_not_json,
    "invalid_utf8": raw_invalid_utf8,
    "oversized": raw_oversized,
    "deep_nesting": raw_deep_nesting,
    "nan": raw_nan,
    "control_chars": raw_control_chars,
    "surrogate_text": raw_surrogate_text,
    "surrogate_user_name": raw_surrogate_user_name,
    "surrogate_message_id": raw_surrogate_message_id,
    "out_of_range_date": raw_out_of_range_date,
    "wrong_record_type": raw_wrong_record_type,
    "not_an_object": raw_not_an_object,
}
"""What ``social.raw`` gets: a connector's mistakes and an attacker's webhook bodies."""

MESSAGES: dict[str, Builder] = {
    "not_json": message_not_json,
    "invalid_utf8": message_invalid_utf8,
    "oversized": message_oversized,
    "deep_nesting": message_deep_nesting,
    "nan": message_nan,
    "control_chars": message_control_chars,
    "surrogate_text": message_surrogate_text,
    "surrogate_user_name": message_surrogate_user_name,
    "surrogate_message_id": message_surrogate_message_id,
    "out_of_range_date": message_out_of_range_date,
    "wrong_record_type": message_wrong_record_type,
    "not_an_object": message_not_an_object,
}
"""What ``social.messages`` gets from a producer that bypasses ingest."""


def base_records() -> dict[str, bytes]:
    """The unspoilt bases, for the check that each poison differs from a valid record by one fault."""
    return {"raw": _dumps(_raw(0, "a valid base")), "message": _dumps(_message(0, "a valid base"))}


def poison_id(value: bytes, headers: dict[str, str]) -> int | None:
    """The poison id a record (or a dead letter's original) carries, if any."""
    if HEADER in headers:
        return int(headers[HEADER])
    found = MARKER.search(value)
    return int(found.group(1)) if found else None
