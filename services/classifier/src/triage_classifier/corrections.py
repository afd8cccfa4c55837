"""Learning from corrections: people's reclassifications as train-only corpus lines.

A person who corrects a classification publishes a ``reclassified`` conversation event
(``social.conversation-events``) whose ``correction`` names the message and the right
issue type (and, when they changed it, the sentiment). ``triage-classifier corrections
export`` joins those corrections with their messages' texts (``social.messages`` or
``social.classified``, or JSON-lines files of the same records) and writes corpus lines
with their provenance::

    {"id": "corr-…", "lang": "fr", "platform": "instagram", "channel": "direct_message",
     "text": "…", "issue_type": "payment_issue", "sentiment": null, "source": "correction",
     "agent": "agent-17", "date": "2026-12-07", "corrected_at": "2026-12-07T14:03:12Z",
     "model_version": "clf-…", "model_answer": "account_compromise"}

The care lead reads the file, then commits it under ``data/corrections/``; ``make train``
adds those lines to the train split (``load_training_corpus``). They never reach the
test split: the split is decided by a corpus line's id, and correction lines are not
corpus lines (``Corpus.split``); and a correction whose text is already a corpus line
(test or train) is not used, so no test text is ever trained on. When one text was
corrected more than once, the latest correction counts.

The corpus is public, and people's messages are not: the export masks e-mail addresses,
phone numbers, card-like numbers, IBANs and @handles with simple patterns (ingest only
detects the kinds of personal data, ``triage_ingest.pii``, and does not mask them; its
code is not imported here). Names, street addresses, order numbers and codes typed in are
not masked: the care lead's review is for them (services/classifier/README.md).

Everything here but ``topic_entries`` is pure: no Kafka, no files written.
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triage_classifier.corpus import (
    DEFAULT_CORPUS_DIR,
    DEFAULT_CORRECTIONS_DIR,
    Corpus,
    CorpusProblem,
    Example,
    corpus_files,
    load_corpus,
    split_of,
)
from triage_classifier.features import normalise
from triage_runtime import safejson
from triage_runtime.jsonlines import LineError, one_line, read_json_lines, record_type_error, validation_summary
from triage_runtime.patterns import compile_pattern
from triage_schemas.enums import ConversationEventType
from triage_schemas.records import ClassifiedMessage, ConversationEvent, Correction, SocialMessage

ID_PREFIX = "corr-"
MESSAGE_RECORD_TYPES = ("message", "classified")

# --- personal data ------------------------------------------------------------------------
# RE2 (linear time whatever the text), as every configurable pattern in the project.
_EMAIL = compile_pattern(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", ignore_case=True)
_IBAN = compile_pattern(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
# A digit run with the separators people type inside phone and card numbers.
_NUMBER_RUN = compile_pattern(r"[+(]?\d[\d ().-]{7,}\d")
_HANDLE = compile_pattern(r"@\w+")

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
CARD_MASK = "[card]"
NUMBER_MASK = "[number]"
IBAN_MASK = "[iban]"
HANDLE_MASK = "@user"
PHONE_DIGITS = range(9, 13)
INTERNATIONAL_PHONE_DIGITS = range(9, 16)
CARD_DIGITS = range(13, 20)


def _substitute(pattern: Any, text: str, replacement: Callable[[str], str]) -> str:
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        parts += [text[last:start], replacement(match.group())]
        last = end
    return "".join(parts) + text[last:] if parts else text


def _number_mask(run: str) -> str:
    digits = sum(char.isdecimal() for char in run)
    if digits in PHONE_DIGITS or (run.startswith("+") and digits in INTERNATIONAL_PHONE_DIGITS):
        return PHONE_MASK
    if digits in CARD_DIGITS:
        return CARD_MASK
    return NUMBER_MASK if digits > CARD_DIGITS.stop - 1 else run


def mask_personal_data(text: str) -> str:
    """``text`` with e-mail addresses, IBANs, phone- and card-like numbers (9 digits or
    more, separators allowed) and @handles replaced by placeholders. Deliberately
    greedy: a long order number becomes ``[phone]`` too, which costs the model nothing
    (it reads every number as the same token)."""
    text = _substitute(_EMAIL, text, lambda _: EMAIL_MASK)
    text = _substitute(_IBAN, text, lambda _: IBAN_MASK)
    text = _substitute(_NUMBER_RUN, text, _number_mask)
    return _substitute(_HANDLE, text, lambda _: HANDLE_MASK)


def personal_data_left(text: str) -> list[str]:
    """The kinds of personal data ``mask_personal_data`` would still mask in ``text``."""
    kinds = []
    if _EMAIL.search(text):
        kinds.append("an e-mail address")
    if _IBAN.search(text):
        kinds.append("an IBAN")
    if any(_number_mask(match.group()) != match.group() for match in _NUMBER_RUN.finditer(text)):
        kinds.append("a phone- or card-like number")
    without_emails = _substitute(_EMAIL, text, lambda _: EMAIL_MASK)
    if any(match.group() != HANDLE_MASK for match in _HANDLE.finditer(without_emails)):
        kinds.append("an @handle")
    return kinds


_WORDS = re.compile(r"\w+")


def text_key(text: str) -> str:
    """What makes two texts the same example: their words after the model's own
    normalisation (case, accents, links, handles, numbers and stretched letters folded),
    punctuation, emoji and spacing aside."""
    folded = normalise(text)
    # A text without words ("??", emoji) is compared whole, or all of them would be one text.
    return " ".join(_WORDS.findall(folded)) or folded


def _keys(text: str) -> set[str]:
    return {text_key(text), text_key(mask_personal_data(text))}


# --- reading records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A line or record that could not be used: where it is and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {one_line(self.reason)}"


Entry = tuple[str, Any] | Problem
"""A parsed JSON value with where it came from, or why it could not be parsed."""


def file_entries(path: Path) -> Iterator[Entry]:
    """The lines of a JSON-lines file, through the shared reader (one bad line costs one line)."""
    with path.open("rb") as stream:
        for item in read_json_lines(stream):
            where = f"{path.name} line {item.number}"
            yield Problem(where, item.reason) if isinstance(item, LineError) else (where, item.value)


def record_entry(topic: str, partition: int, offset: int, value: bytes | None) -> Entry:
    where = f"{topic} partition {partition} offset {offset}"
    if value is None:
        return Problem(where, "a record without a value")
    try:
        return where, safejson.loads(value)
    except safejson.BadJson as error:
        return Problem(where, error.reason)


@dataclass(frozen=True)
class Corrected:
    """One ``reclassified`` event: the correction, who made it and when."""

    event_id: str
    conversation_id: str
    correction: Correction
    agent: str | None
    at: datetime


@dataclass
class EventsRead:
    corrections: list[Corrected] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    other_events: int = 0


def read_corrections(entries: Iterable[Entry]) -> EventsRead:
    """The corrections among conversation events; every other event type is counted, and
    anything that is not a valid conversation event is a problem."""
    read = EventsRead()
    for entry in entries:
        if isinstance(entry, Problem):
            read.problems.append(entry)
            continue
        where, value = entry
        wrong_type = record_type_error(value, ("conversation_event",))
        if wrong_type is not None:
            read.problems.append(Problem(where, wrong_type))
            continue
        try:
            event = ConversationEvent.model_validate(value)
        except ValidationError as error:
            read.problems.append(Problem(where, f"not a valid conversation_event: {validation_summary(error)}"))
            continue
        if event.type is not ConversationEventType.RECLASSIFIED or event.correction is None:
            read.other_events += 1
            continue
        corrected = Corrected(event.event_id, event.conversation_id, event.correction, event.actor, event.at)
        read.corrections.append(corrected)
    return read


@dataclass(frozen=True)
class MessageText:
    """What a correction needs of its message."""

    message_id: str
    text: str
    platform: str
    channel: str
    language: str | None = None
    model_answer: str | None = None


@dataclass
class MessagesRead:
    messages: dict[str, MessageText] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    other_messages: int = 0


def wanted_message(value: Any, wanted: set[str] | None) -> bool:
    """Whether a parsed record may be one of the ``wanted`` messages (None: all). A record
    whose id cannot be read is kept, so that it is reported rather than passed over."""
    if wanted is None or not isinstance(value, dict):
        return True
    message_id = value.get("message_id")
    return not isinstance(message_id, str) or message_id in wanted


def read_messages(entries: Iterable[Entry], wanted: set[str] | None = None) -> MessagesRead:
    """The texts of ``message`` or ``classified`` records, by message id (only the
    ``wanted`` ones: records of other messages are counted, not validated). A classified
    record is preferred to the bare message: it also says the language and the model's answer."""
    read = MessagesRead()
    for entry in entries:
        if isinstance(entry, Problem):
            read.problems.append(entry)
            continue
        where, value = entry
        wrong_type = record_type_error(value, MESSAGE_RECORD_TYPES)
        if wrong_type is not None:
            read.problems.append(Problem(where, wrong_type))
            continue
        if not wanted_message(value, wanted):
            read.other_messages += 1
            continue
        model = ClassifiedMessage if value["record_type"] == "classified" else SocialMessage
        try:
            record = model.model_validate(value)
        except ValidationError as error:
            read.problems.append(Problem(where, f"not a valid {value['record_type']}: {validation_summary(error)}"))
            continue
        known = read.messages.get(record.message_id)
        if known is not None and known.model_answer is not None and not isinstance(record, ClassifiedMessage):
            continue
        classification = record.classification if isinstance(record, ClassifiedMessage) else None
        read.messages[record.message_id] = MessageText(
            message_id=record.message_id,
            text=record.text,
            platform=record.platform.value,
            channel=record.channel.value,
            language=classification.language if classification else None,
            model_answer=classification.issue_type.value if classification else None,
        )
    return read


# --- from corrections to corpus lines --------------------------------------------------------


def correction_id(message_id: str) -> str:
    """The corpus id of a message's correction: a hash, so the public corpus does not
    name the platform's message (hash a message id to find its line)."""
    return ID_PREFIX + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:16]


def corpus_line(corrected: Corrected, message: MessageText, lang: str | None) -> dict[str, Any]:
    """A corpus line (``data/LABELING.md``) with its provenance; the text masked."""
    correction = corrected.correction
    line: dict[str, Any] = {
        "id": correction_id(correction.message_id),
        "lang": lang or "und",
        "platform": message.platform,
        "channel": message.channel,
        "text": mask_personal_data(message.text),
        "issue_type": correction.issue_type.value,
        # null: not corrected; the sentiment head does not learn from this line
        "sentiment": correction.sentiment.value if correction.sentiment else None,
        "source": "correction",
        "agent": corrected.agent,
        "date": corrected.at.astimezone(UTC).date().isoformat(),
        "corrected_at": corrected.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "model_version": correction.model_version,
    }
    if message.model_answer is not None:
        line["model_answer"] = message.model_answer
    return line


@dataclass
class CorpusTexts:
    """The corpus's texts by key, test and train apart (raw and as the export masks them,
    since a correction's text is compared masked)."""

    test: dict[str, Example]
    train: dict[str, Example]

    @classmethod
    def of(cls, corpus: Corpus) -> "CorpusTexts":
        texts = cls({}, {})
        for example in corpus.examples:
            table = texts.test if split_of(example.id) == "test" else texts.train
            for key in _keys(example.text):
                table.setdefault(key, example)
        return texts

    def collision(self, keys: set[str], issue_type: str) -> tuple[str, str] | None:
        """Why a correction with these text keys cannot be used: (kind, reason), or None."""
        for key in keys:
            if key in self.test:
                return "in_test_split", f"its text is corpus line {self.test[key].id}, in the test split"
        for key in keys:
            if key in self.train:
                known = self.train[key]
                if known.issue_type.value == issue_type:
                    return "already_in_corpus", f"its text is already corpus line {known.id} with the same label"
                return (
                    "corpus_disagrees",
                    f"its text is corpus line {known.id}, labelled {known.issue_type.value}: "
                    "correct that line instead if the agent is right",
                )
        return None


def _when(example: Example) -> datetime:
    if example.corrected_at is not None:
        return example.corrected_at
    if example.date is not None:
        return datetime.combine(example.date, time(0), tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


@dataclass
class Export:
    """The lines to write, in the order corrected, every correction left out, with why, and
    what a written line cannot teach (a corrected lane or priority)."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    not_learned: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    corrected: Corrected
    line: dict[str, Any]
    keys: frozenset[str]


def export_corrections(
    corrections: Iterable[Corrected],
    messages: dict[str, MessageText],
    corpus: Corpus,
    *,
    since: datetime | None = None,
    exported: Iterable[Example] = (),
    languages: Callable[[list[str]], list[str | None]] | None = None,
) -> Export:
    """Join corrections with their messages and make corpus lines of them: the latest
    correction of each text, none whose text is a corpus line (so no test text is ever
    trained on), none already ``exported`` with the same labels."""
    result = Export()
    joined: list[tuple[Corrected, MessageText]] = []
    for corrected in corrections:
        if since is not None and corrected.at < since:
            result.counts["before_since"] += 1
            continue
        message = messages.get(corrected.correction.message_id)
        if message is None:
            result.counts["message_not_found"] += 1
            result.left_out.append(
                f"event {corrected.event_id}: message {corrected.correction.message_id} is not among the messages read"
            )
            continue
        joined.append((corrected, message))
    result.counts["joined"] = len(joined)
    unknown = [i for i, (_, message) in enumerate(joined) if message.language is None]
    found = (languages or _identify)([joined[i][1].text for i in unknown]) if unknown else []
    lang_of = dict(zip(unknown, found, strict=True))

    latest: dict[str, _Candidate] = {}
    by_key: dict[str, str] = {}
    # Oldest first, so that a later correction of the same text replaces an earlier one:
    # the same message corrected twice, or two messages that read the same.
    for index, (corrected, message) in sorted(enumerate(joined), key=lambda item: item[1][0].at):
        if not message.text.strip():
            result.counts["empty_text"] += 1
            result.left_out.append(f"event {corrected.event_id}: the message has no text to learn from")
            continue
        line = corpus_line(corrected, message, lang_of.get(index, message.language))
        candidate = _Candidate(corrected, line, frozenset(_keys(message.text)))
        for other_id in sorted({by_key[key] for key in candidate.keys if key in by_key}):
            older = latest.pop(other_id, None)
            if older is not None:
                result.counts["superseded"] += 1
                result.left_out.append(
                    f"event {older.corrected.event_id}: the same text was corrected again later "
                    f"(event {corrected.event_id}); the later correction decides"
                )
        latest[line["id"]] = candidate
        by_key.update(dict.fromkeys(candidate.keys, line["id"]))

    texts = CorpusTexts.of(corpus)
    done = {key: example for example in exported for key in _keys(example.text)}
    for candidate in sorted(latest.values(), key=lambda c: c.corrected.at):
        event = candidate.corrected.event_id
        issue_type = candidate.line["issue_type"]
        collision = texts.collision(set(candidate.keys), issue_type)
        if collision is not None:
            kind, reason = collision
            result.counts[kind] += 1
            result.left_out.append(f"event {event}: {reason}")
            continue
        previous = next((done[key] for key in candidate.keys if key in done), None)
        if (
            previous is not None
            and previous.issue_type.value == issue_type
            and (previous.sentiment.value if previous.sentiment else None) == candidate.line["sentiment"]
        ):
            result.counts["already_exported"] += 1
            result.left_out.append(f"event {event}: already exported as {previous.id} with the same labels")
            continue
        correction = candidate.corrected.correction
        overridden = _routing_override(correction)
        if overridden:
            answer = candidate.line.get("model_answer")
            if answer == issue_type and correction.sentiment is None:
                result.counts["lane_or_priority_only"] += 1
                result.left_out.append(
                    f"event {event}: only the {overridden} was corrected ({issue_type} kept); the model learns "
                    "issue types, the lane and priority come from the routing policy"
                )
                continue
            result.not_learned.append(
                f"event {event}: the corrected {overridden} is not learned (the model learns the issue type "
                f"{issue_type}; its lane and priority come from the routing policy)"
            )
        result.lines.append(candidate.line)
    result.counts["exported"] = len(result.lines)
    return result


def _routing_override(correction: Correction) -> str:
    """'lane', 'priority', 'lane and priority', or '' when the correction sets neither."""
    named = [name for name in ("lane", "priority") if getattr(correction, name) is not None]
    return " and ".join(named)


def _identify(texts: list[str]) -> list[str | None]:
    from triage_classifier.language import LanguagePolicy, identifier_for

    return [verdict.language for verdict in identifier_for(LanguagePolicy()).identify_batch(texts)]


def write_lines(lines: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# --- reading committed corrections for training ---------------------------------------------


def _correction_problem(example: Example) -> str | None:
    if example.source != "correction":
        return "source: a correction line says source: correction (corpus lines go in data/corpus/)"
    if example.date is None:
        return "date: a correction line needs the day it was made"
    if not example.id.startswith(ID_PREFIX):
        return f"id: a correction's id starts with {ID_PREFIX!r}, so it can never be taken for a corpus line"
    left = personal_data_left(example.text)
    if left:
        return f"text: still holds {', '.join(left)}; mask it before committing (see the README)"
    return None


def read_correction_files(files: Iterable[Path]) -> tuple[list[Example], list[CorpusProblem]]:
    """Every usable line of the correction files; every other line is a problem, by line."""
    examples: list[Example] = []
    problems: list[CorpusProblem] = []
    for path in files:
        with path.open("rb") as stream:
            for item in read_json_lines(stream):
                if isinstance(item, LineError):
                    problems.append(CorpusProblem(path, item.number, item.reason))
                    continue
                try:
                    example = Example.model_validate(item.value)
                except ValidationError as error:
                    problems.append(CorpusProblem(path, item.number, validation_summary(error, limit=1)))
                    continue
                problem = _correction_problem(example)
                if problem is not None:
                    problems.append(CorpusProblem(path, item.number, problem))
                else:
                    examples.append(example)
    return examples, problems


def with_corrections(corpus: Corpus, corrections_dir: Path) -> Corpus:
    """``corpus`` with the reviewed corrections of ``corrections_dir/*.jsonl`` added to
    train: the latest correction of each text, none whose text is a corpus line."""
    files = corpus_files(corrections_dir) if corrections_dir.is_dir() else []
    examples, problems = read_correction_files(files)
    notes: list[str] = []
    latest: dict[str, Example] = {}
    owner: dict[str, str] = {}
    # Later files and later times win; sorted() keeps file order between equal times.
    for example in sorted(examples, key=_when):
        keys = _keys(example.text)
        for key in keys:
            replaced = owner.get(key)
            if replaced is not None and replaced in latest:
                notes.append(f"{latest[replaced].id}: corrected again later ({example.id}); the later one is used")
                del latest[replaced]
        latest[example.id] = example
        owner.update(dict.fromkeys(keys, example.id))
    texts = CorpusTexts.of(corpus)
    used: list[Example] = []
    for example in latest.values():
        collision = texts.collision(_keys(example.text), example.issue_type.value)
        if collision is not None:
            notes.append(f"{example.id}: not used: {collision[1]}")
        else:
            used.append(example)
    return replace(
        corpus,
        problems=[*corpus.problems, *problems],
        corrections=used,
        correction_files=files,
        correction_notes=notes,
    )


def load_training_corpus(
    corpus_dir: Path = DEFAULT_CORPUS_DIR, corrections_dir: Path | None = DEFAULT_CORRECTIONS_DIR
) -> Corpus:
    """What ``make train`` learns from: the corpus, plus the corrections when a directory is given."""
    corpus = load_corpus(corpus_dir)
    return corpus if corrections_dir is None else with_corrections(corpus, corrections_dir)


def parse_since(text: str) -> datetime:
    """``--since``: a day (midnight UTC) or a timestamp (UTC when it has no offset)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- Kafka -------------------------------------------------------------------------------------


async def topic_entries(topic: str, keep: Callable[[Any], bool] | None = None) -> list[Entry]:
    """Every record of ``topic`` from its beginning to its end as it is now, read outside
    any consumer group (nothing committed, no member of a service's group disturbed),
    with the shared Kafka settings (``TRIAGE_KAFKA_*``); only those ``keep`` accepts
    (and every record that cannot be parsed)."""
    from aiokafka import AIOKafkaConsumer

    from triage_runtime.kafka import KafkaSettings, partitions_of, read_to_end

    kafka = KafkaSettings()
    partitions = await partitions_of(kafka, topic)
    if not partitions:
        raise LookupError(f"topic {topic} has no partitions (does it exist on {kafka.bootstrap_servers}?)")
    consumer = AIOKafkaConsumer(**kafka.admin_client_kwargs(), enable_auto_commit=False, group_id=None)
    await consumer.start()
    entries: list[Entry] = []
    try:
        async for record in read_to_end(consumer, dict.fromkeys(partitions)):
            entry = record_entry(topic, record.partition, record.offset, record.value)
            if isinstance(entry, Problem) or keep is None or keep(entry[1]):
                entries.append(entry)
    finally:
        await consumer.stop()
    return entries
