"""Hypothesis generators of hostile input lines, shared by the command and stage fuzzers.

Every generator starts from something the project documents as valid (the platform
payload fixtures of ``services/ingest/tests/fixtures``, records built from the schema
models) and then breaks it the way strangers do: hostile strings, numbers and times put
anywhere in the tree, keys deleted or added, the serialised line truncated, spliced with
bad bytes or buried in brackets.
"""

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import strategies as st

from triage_router.policy import DEFAULT_POLICY, load_policy
from triage_router.routing import route
from triage_schemas.enums import Channel, ConversationEventType, Direction, IssueType, Lane, Platform, Priority
from triage_schemas.records import ClassifiedMessage, ConversationEvent, Correction, SocialMessage

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "services" / "ingest" / "tests" / "fixtures"

Json = Any

# ---------------------------------------------------------------- documented inputs


def _platform_of(fixture: Path) -> Platform:
    return Platform(fixture.stem.split("_")[0])


PAYLOADS: list[tuple[Platform, dict[str, Any]]] = [
    (_platform_of(path), json.loads(path.read_text(encoding="utf-8"))) for path in sorted(FIXTURES.glob("*.json"))
]
"""Every platform payload fixture with its platform (from its file name)."""

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = NOW - timedelta(hours=1)
"""Inside every range a stage accepts: not before 2000, not in the future."""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- hostile values

OVERFLOW = "<1e999>"
"""Written as the bare number ``1e999`` by ``serialised``: valid JSON that Python reads as
infinity, which no Python value can stand for before serialising."""

HOSTILE_STRINGS: list[str] = [
    "",
    " ",
    "\ud800",  # lone high surrogate
    "a\udfffb",  # lone low surrogate inside text
    "\x00",
    "nul\x00inside",
    "\u202eevil\u202c",  # right-to-left override
    "\u200f\u200e",  # RTL and LTR marks
    "\u200b\u200c\u200d\ufeff",  # zero-width characters and a BOM
    "line\u2028separator\u2029paragraph",
    "\x1b[31mred\x1b[0m",
    "new\nline\r\nand\rreturns",
    "e\u0301\u0301\u0301\u0301\u0301\u0301",  # stacked combining marks
    "🔥" * 50,
    "x" * 70_000,
    "where is my order " * 2_000,
    "$(rm -rf /) '; DROP TABLE --",
    "\\ud800",  # the six characters, not a surrogate
    "null",
    "NaN",
    OVERFLOW,
]

HOSTILE_NUMBERS: list[Any] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -1e308,
    5e-324,
    0,
    -1,
    -(2**63),
    2**63,
    2**64 + 1,
    10**30,
    0.5,
    True,
]

HOSTILE_TIMES: list[Any] = [
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2099-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
    "2026-11-22T12:00:00",  # no timezone
    "2026-02-30T00:00:00Z",
    "2026-11-22T25:61:61Z",
    "2026-11-22",
    "yesterday",
    "",
    "+275760-09-13T00:00:00Z",
    "2026-11-22T12:00:00+24:00",
    0,
    -1,
    1e20,
    253402300800,  # 10000-01-01 in epoch seconds
    iso(NOW),
    iso(NOW + timedelta(days=400)),
]

hostile_strings = st.sampled_from(HOSTILE_STRINGS) | st.text(max_size=40)
hostile_numbers = st.sampled_from(HOSTILE_NUMBERS) | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
hostile_times = st.sampled_from(HOSTILE_TIMES)
hostile_scalars: st.SearchStrategy[Json] = st.one_of(
    hostile_strings, hostile_numbers, hostile_times, st.none(), st.booleans()
)
hostile_values: st.SearchStrategy[Json] = st.recursive(
    hostile_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile_strings, children, max_size=3),
    max_leaves=6,
)


# ---------------------------------------------------------------- structural mutation


def _paths(value: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree (the root is the empty path)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _replace(value: Json, path: tuple[Any, ...], new: Json) -> Json:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


_DELETE = object()


def _delete(value: Json, path: tuple[Any, ...]) -> Json:
    head, rest = path[0], path[1:]
    if not rest:
        if isinstance(value, dict):
            return {key: child for key, child in value.items() if key != head}
        return [child for index, child in enumerate(value) if index != head]
    return _replace(value, (head,), _delete(value[head], rest))


@st.composite
def mutated(draw: st.DrawFn, value: Json, max_mutations: int = 3) -> Json:
    """``value`` with up to ``max_mutations`` places replaced, deleted or added to."""
    for _ in range(draw(st.integers(0, max_mutations))):
        path = draw(st.sampled_from(_paths(value)))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "time", "string", "number"]))
        if action == "delete" and path:
            value = _delete(value, path)
        elif action == "add":
            target = value
            for part in path:
                target = target[part]
            if isinstance(target, dict):
                value = _replace(value, path, {**target, draw(hostile_strings): draw(hostile_values)})
            elif isinstance(target, list):
                value = _replace(value, path, [*target, draw(hostile_values)])
        elif action == "time":
            value = _replace(value, path, draw(hostile_times))
        elif action == "string":
            value = _replace(value, path, draw(hostile_strings))
        elif action == "number":
            value = _replace(value, path, draw(hostile_numbers))
        else:
            value = _replace(value, path, draw(hostile_values))
    return value


def _encode(text: str) -> bytes:
    # a lone surrogate written raw becomes bytes no UTF-8 decoder accepts
    return text.encode("utf-8", "surrogatepass")


@st.composite
def serialised(draw: st.DrawFn, value: Json) -> bytes:
    """``value`` as one JSON line (NaN written as ``NaN``, non-ASCII raw or escaped),
    sometimes damaged after serialising."""
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True).replace(f'"{OVERFLOW}"', "1e999")
    line = _encode(text)
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "splice", "nest", "wrap-list", "crlf", "bom"]))
    if damage == "truncate" and line:
        line = line[: draw(st.integers(0, len(line) - 1))]
    elif damage == "splice":
        at = draw(st.integers(0, len(line)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\r", b",", b"}", b'"', b"\\"]))
        line = line[:at] + junk + line[at:]
    elif damage == "nest":
        depth = draw(st.sampled_from([10, 63, 64, 65, 1_000, 100_000]))
        line = b"[" * depth + line + b"]" * depth
    elif damage == "wrap-list":
        line = b"[" + line + b"]"
    elif damage == "crlf":
        line += b"\r"
    elif damage == "bom":
        line = b"\xef\xbb\xbf" + line
    return line.replace(b"\n", b"\\n")  # one physical line whatever the damage


junk_lines: st.SearchStrategy[bytes] = st.one_of(
    st.sampled_from(
        [b"", b"   ", b"{", b"}", b"5", b"null", b"[]", b'"text"', b"NaN", b"-Infinity", b"1e999", b"\xff\xfe", b"\x00"]
    ),
    st.binary(max_size=30).map(lambda raw: raw.replace(b"\n", b"")),
    st.text(max_size=30).map(lambda text: _encode(text.replace("\n", ""))),
    st.sampled_from([b"9" * 5_000, b'{"a":' * 70 + b"1" + b"}" * 70]),
)


# ---------------------------------------------------------------- records from the schema models


def message_dict(text: str = "where is my order #NW-48213, it never arrived") -> dict[str, Any]:
    return SocialMessage(
        message_id="instagram:m1",
        conversation_id="instagram:c1",
        platform=Platform.INSTAGRAM,
        channel=Channel.DIRECT_MESSAGE,
        direction=Direction.INBOUND,
        author={"id": "u1", "handle": "someone", "followers": 120},
        text=text,
        created_at=RECENT,
        received_at=RECENT,
    ).model_dump(mode="json")


def classified_dict(text: str = "i was charged twice for one order") -> dict[str, Any]:
    return ClassifiedMessage.model_validate(
        {
            **message_dict(text),
            "record_type": "classified",
            "classification": {
                "issue_type": IssueType.PAYMENT_ISSUE,
                "lane": Lane.SUPPORT,
                "priority": Priority.P2,
                "confidence": 0.8,
                "needs_review": False,
                "sentiment": {"label": "negative", "score": 0.7},
                "scores": {"payment_issue": 0.8, "order_shipping": 0.1},
                "model_version": "fuzz",
            },
        }
    ).model_dump(mode="json")


_POLICY = load_policy(DEFAULT_POLICY)


def routed_dict(text: str = "i was charged twice for one order", direction: str = "inbound") -> dict[str, Any]:
    classified = ClassifiedMessage.model_validate({**classified_dict(text), "direction": direction})
    return route(classified, _POLICY).model_dump(mode="json")


def event_dict(kind: ConversationEventType, seconds: float = 0) -> dict[str, Any]:
    correction = None
    if kind is ConversationEventType.RECLASSIFIED:  # a reclassified event carries its correction
        correction = Correction(message_id="instagram:m1", issue_type=IssueType.SAFETY_THREAT, model_version="fuzz")
    return ConversationEvent(
        event_id=f"e-{kind.value}-{seconds}",
        conversation_id="instagram:c1",
        type=kind,
        at=RECENT + timedelta(seconds=seconds),
        actor="agent-7",
        correction=correction,
    ).model_dump(mode="json")


texts = st.sampled_from(["where is my order", "my account got hacked", "love this colour", *HOSTILE_STRINGS])
writable_texts = texts.filter(lambda text: not any("\ud800" <= c <= "\udfff" for c in text))
"""Texts a record can be built from (a lone surrogate arrives by mutation instead)."""


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    record = message_dict(draw(texts))
    record["conversation_id"] = f"instagram:c{draw(st.integers(0, 3))}"
    return record


shorthand_lines = st.fixed_dictionaries(
    {"text": texts},
    optional={
        "platform": st.sampled_from([p.value for p in Platform]),
        "channel": st.sampled_from([c.value for c in Channel]),
        "author_followers": st.integers(0, 10**7),
    },
)


@st.composite
def classified_records(draw: st.DrawFn) -> dict[str, Any]:
    record = classified_dict(draw(texts))
    record["classification"]["issue_type"] = draw(st.sampled_from([i.value for i in IssueType]))
    record["classification"]["priority"] = draw(st.sampled_from([p.value for p in Priority]))
    record["conversation_id"] = f"instagram:c{draw(st.integers(0, 3))}"
    return record


@st.composite
def routed_records(draw: st.DrawFn) -> dict[str, Any]:
    record = routed_dict(draw(writable_texts), draw(st.sampled_from(["inbound", "inbound", "outbound"])))
    record["conversation_id"] = f"instagram:c{draw(st.integers(0, 3))}"
    record["created_at"] = iso(RECENT + timedelta(seconds=draw(st.integers(0, 86_400))))
    return record


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    record = event_dict(draw(st.sampled_from(list(ConversationEventType))), draw(st.integers(0, 86_400)))
    record["conversation_id"] = f"instagram:c{draw(st.integers(0, 3))}"
    return record


def other_records() -> st.SearchStrategy[dict[str, Any]]:
    """Records of types a command passes through, and near-misses of record types."""
    return st.one_of(
        st.just({"record_type": "dead_letter", "stage": "x", "error": "y", "original": "z", "at": iso(NOW)}),
        st.just({"record_type": "sla_alert", "alert_id": "a1"}),
        st.sampled_from(["clasified", "Routed", "message ", "", None, 5, ["routed"]]).map(
            lambda kind: {**classified_dict(), "record_type": kind}
        ),
    )


def lines_of(records: st.SearchStrategy[Json], max_lines: int = 4) -> st.SearchStrategy[list[bytes]]:
    """JSON lines: valid records, mutated records, damaged serialisations and junk."""
    one_line = st.one_of(
        records.flatmap(serialised),
        records.flatmap(mutated).flatmap(serialised),
        records.flatmap(mutated),  # mutated but written as a plain, valid JSON line
        junk_lines,
    ).map(lambda item: item if isinstance(item, bytes) else _encode(json.dumps(item, allow_nan=True)))
    return st.lists(one_line, min_size=1, max_size=max_lines)


@st.composite
def ingest_documents(draw: st.DrawFn) -> tuple[Platform, list[bytes]]:
    """A platform (for ``--platform``) and a raw envelope or bare payload of it, as a JSON
    line (valid, mutated or damaged) or as one pretty-printed document over many lines."""
    platform, payload = draw(st.sampled_from(PAYLOADS))
    envelope = {
        "record_type": "raw_envelope",
        "schema_version": 1,
        "platform": platform.value,
        "received_at": iso(RECENT),
        "source": "fuzz",
        "payload": payload,
    }
    document = draw(st.sampled_from([envelope, payload]))
    form = draw(st.sampled_from(["line", "line", "line", "pretty"]))
    if form == "pretty":
        return platform, _encode(json.dumps(draw(mutated(document)), indent=2, allow_nan=True)).split(b"\n")
    return platform, draw(lines_of(st.just(document), max_lines=1))


# ---------------------------------------------------------------- Kafka records for the stage fuzzers
#
# A stage reads one Kafka value at a time, so a value may be anything a producer can
# write: a JSON document over many lines, a megabyte, bytes that are not text at all.

HUGE_STRINGS: list[str] = [
    "x" * 999_000,  # a message this long is under the input limit, its classified record over the output limit
    "é" * 400_000,
    "y" * 500_000,  # as a conversation id: the key and the value of one output together pass 1 MiB
    "\x01" * 120_000,  # six bytes each once escaped as JSON
]

HUGE_VALUES: list[bytes] = [
    b"\x01" * 300_000,  # not JSON; a dead letter escaping it as text would grow past 1 MB
    b"\xff" * 400_000,  # not UTF-8: the dead letter carries base64 of its first 256 KiB
    b"{" + b'"pad":"' + b"y" * 1_100_000 + b'"}',  # over every stage's input limit
]

stage_junk: st.SearchStrategy[bytes] = st.one_of(
    junk_lines,
    st.binary(max_size=60),
    st.sampled_from([b"\n", b'{\n  "record_type": "message"\n}', b"[" * 70 + b"]" * 70, b'"\\ud800"', *HUGE_VALUES]),
)
"""Values no stage can use, including newlines (a Kafka value is not a line)."""


def _string_paths(value: Json) -> list[tuple[Any, ...]]:
    return [path for path in _paths(value) if path and isinstance(_at(value, path), str)]


def _at(value: Json, path: tuple[Any, ...]) -> Json:
    for part in path:
        value = value[part]
    return value


@st.composite
def with_huge_string(draw: st.DrawFn, value: Json) -> Json:
    """``value`` with one of its strings replaced by a huge one."""
    paths = _string_paths(value)
    if not paths:
        return value
    return _replace(value, draw(st.sampled_from(paths)), draw(st.sampled_from(HUGE_STRINGS)))


def _plain(value: Json, ensure_ascii: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=True).replace(f'"{OVERFLOW}"', "1e999")
    return _encode(text)


@st.composite
def kafka_values(draw: st.DrawFn, records: st.SearchStrategy[Json]) -> bytes:
    """One Kafka value: mostly a record from ``records``, written as a producer would (valid,
    mutated, pretty-printed), sometimes damaged after serialising, huge, or junk."""
    form = draw(
        st.sampled_from(["valid"] * 4 + ["mutated"] * 4 + ["pretty", "damaged", "mutated-damaged", "huge", "junk"])
    )
    if form == "junk":
        return draw(stage_junk)
    record = draw(records)
    if form in ("mutated", "mutated-damaged", "pretty"):
        record = draw(mutated(record))
    elif form == "huge":
        record = draw(with_huge_string(record))
    if form in ("damaged", "mutated-damaged"):
        return draw(serialised(record))
    if form == "pretty":
        return _encode(json.dumps(record, indent=2, ensure_ascii=draw(st.booleans()), allow_nan=True))
    return _plain(record, draw(st.booleans()))


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


kafka_keys: st.SearchStrategy[bytes | None] = st.one_of(
    st.none(),
    st.just(b""),
    st.sampled_from([b"instagram:c1", b"\xff\xfe", b"\xed\xa0\x80", "ключ\u202e".encode()]),
    st.binary(max_size=24),
    st.text(max_size=24).map(_encode),
)
"""Keys as a producer may send them: absent, empty, text, not UTF-8."""

_header_texts = st.sampled_from([text for text in HOSTILE_STRINGS if not _has_surrogate(text) and len(text) < 200])
kafka_headers: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({"content-type": "application/json"}),
    st.dictionaries(
        st.sampled_from(["content-type", "traceparent", "x-source", ""]) | st.text(max_size=12),
        _header_texts
        | st.text(max_size=24)
        | st.binary(max_size=12).map(lambda raw: raw.decode("utf-8", "backslashreplace")),
        max_size=3,
    ),
)
"""Headers as ``Inbound.from_consumer_record`` hands them over: text, never a lone
surrogate (it decodes header bytes with ``backslashreplace``)."""


def _salted(value: Json, salt: int) -> Json:
    """Every id in a payload changed the same way, so which ids are equal (the brand's
    page and a message's sender, a reply and its parent) stays as it was."""
    if isinstance(value, dict):
        return {
            key: (_salt(child, salt) if isinstance(key, str) and key.endswith("id") and key != "id_str" else child)
            if not isinstance(child, dict | list)
            else _salted(child, salt)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_salted(child, salt) for child in value]
    return value


def _salt(value: Json, salt: int) -> Json:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value * 1_000 + salt
    if isinstance(value, str) and value:
        return f"{value}{salt:03d}"
    return value


@st.composite
def raw_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A documented platform payload in a raw envelope, its ids sometimes renamed (a new
    message) and sometimes not (a platform's retry: a duplicate)."""
    platform, payload = draw(st.sampled_from(PAYLOADS))
    salt = draw(st.sampled_from([None, None, 1, 2, 3]) | st.integers(0, 999))
    envelope: dict[str, Any] = {
        "record_type": "raw_envelope",
        "schema_version": 1,
        "platform": platform.value,
        "received_at": iso(RECENT),
        "source": "fuzz",
        "payload": payload if salt is None else _salted(payload, salt),
    }
    if draw(st.booleans()):
        envelope["account_id"] = draw(st.sampled_from(["17841400008460056", "northwind", "acct-1"]))
    return envelope


LATE_TIMES = ["2099-12-31T23:59:59Z", "2099-12-31T20:00:00Z", "2099-12-30T12:00:00Z", "2099-06-30T12:00:00Z"]
"""Accepted times whose clocks fall due after 2100, the last moment a record may carry."""


@st.composite
def late_routed_records(draw: st.DrawFn) -> dict[str, Any]:
    """A routed message written just before 2100, its stamped deadlines moved with it."""
    record = draw(routed_records())
    created = datetime.fromisoformat(record["created_at"])
    late = datetime.fromisoformat(draw(st.sampled_from(LATE_TIMES)))
    shift = late - created
    record["created_at"] = iso(late)
    routing = record["routing"]
    for field_name, stamped in list(routing.items()):
        if field_name.endswith("_at") and isinstance(stamped, str):
            moved = datetime.fromisoformat(stamped) + shift
            routing[field_name] = iso(moved) if moved.year < 2100 else "2099-12-31T23:59:59Z"
    return record


@cache
def validators() -> dict[str, Any]:
    """A JSON Schema validator per record type, from the exported schemas/json/."""
    found = {}
    for path in (ROOT / "schemas" / "json").glob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        found[path.name.removesuffix(".schema.json")] = jsonschema.validators.validator_for(schema)(schema)
    return found
