"""Kafka wiring of the ingest service: ``social.raw`` in; messages, brand-reply events and
dead letters out; the optional webhook receiver publishing to ``social.raw``."""

import logging
import time
from collections.abc import Sequence
from functools import partial

from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from triage_ingest.adapters.base import AutomationRules
from triage_ingest.config import IngestSettings
from triage_ingest.dedupe import BatchDedupe, RecentIds
from triage_ingest.normalize import Dedupe, Limits, Normalizer
from triage_ingest.pii import PiiDetector
from triage_ingest.seen_log import SeenMarks, restore_seen
from triage_ingest.webhooks.routes import WebhookReceiver
from triage_runtime import safejson
from triage_runtime.contract import (
    FASTSTREAM_HEADERS,
    Contract,
    Reads,
    RecordKind,
    Writes,
    dead_letters,
    record,
)
from triage_runtime.delivery import Inbound, Outbound, Rejected, Result, Stage, one_at_a_time
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime
from triage_runtime.topics import TopicSettings
from triage_schemas.enums import Platform
from triage_schemas.records import ConversationEvent, RawEnvelope, SocialMessage

RECORDS = Counter(
    "triage_ingest_records",
    "Raw records and what became of them, by platform: in, message (out to social.messages), "
    "brand_reply (out to social.conversation-events), skipped (not a message), duplicate, dead_lettered",
    ["platform", "outcome"],
)
SKIPPED = Counter(
    "triage_ingest_skipped_events", "Platform events that are not messages, by kind", ["platform", "kind"]
)


def build_normalizer(settings: IngestSettings, dedupe: Dedupe | None = None) -> Normalizer:
    """``dedupe`` defaults to marking ids at once, as the offline command needs."""
    return Normalizer(
        brand_account_ids={platform: frozenset(ids) for platform, ids in settings.brand_account_ids.items()},
        pii=PiiDetector(settings.order_number_pattern),
        recent=dedupe or RecentIds(settings.dedupe_window_seconds, settings.dedupe_max_ids),
        limits=Limits(
            settings.max_record_bytes,
            settings.max_text_chars,
            max_depth=settings.max_json_depth,
            earliest=settings.earliest_timestamp,
            max_future_seconds=settings.max_future_seconds,
        ),
        automation={
            platform: AutomationRules(
                app_ids=frozenset(settings.automation_app_ids.get(platform, [])),
                metadata_marker=settings.automation_metadata_marker,
                sources=frozenset(settings.automation_sources),
            )
            for platform in Platform
        },
    )


def sniff_platform(raw: bytes) -> str:
    """The platform a rejected record claims, for the counters (bounded: known or 'unknown')."""
    try:
        claimed = safejson.loads(raw).get("platform")
    except (safejson.BadJson, AttributeError):
        return "unknown"
    return claimed if claimed in Platform.__members__.values() else "unknown"


def process(normalizer: Normalizer, topics: TopicSettings, inbound: Inbound) -> Sequence[Outbound]:
    try:
        result = normalizer.record(inbound.value, time.time())
    except Rejected:
        platform = sniff_platform(inbound.value)
        RECORDS.labels(platform, "in").inc()
        RECORDS.labels(platform, "dead_lettered").inc()
        raise
    platform = result.platform.value
    RECORDS.labels(platform, "in").inc()
    RECORDS.labels(platform, "message").inc(len(result.messages))
    RECORDS.labels(platform, "brand_reply").inc(len(result.events))
    RECORDS.labels(platform, "duplicate").inc(result.duplicates)
    RECORDS.labels(platform, "skipped").inc(sum(result.skipped.values()))
    return [
        *(Outbound(topics.messages, m.conversation_id, m) for m in result.messages),
        *(Outbound(topics.conversation_events, e.conversation_id, e) for e in result.events),
    ]


def published_ids(outputs: Sequence[Outbound]) -> list[str]:
    """The message ids a published batch carried (dead letters carry none)."""
    return [out.record.message_id for out in outputs if isinstance(out.record, SocialMessage | ConversationEvent)
            and out.record.message_id is not None]  # fmt: skip


class IngestStep:
    """The decision logic over a batch, with the dedupe that moves only after publishing."""

    def __init__(self, settings: IngestSettings, broker: KafkaBroker, logger: logging.Logger) -> None:
        self.topics = settings.topics
        self.broker = broker
        self.logger = logger
        self.recent = RecentIds(settings.dedupe_window_seconds, settings.dedupe_max_ids)
        self.dedupe = BatchDedupe(self.recent)
        self.marks = SeenMarks(broker, settings.topics.ingest_seen, logger, settings.seen_mark_delay_ms / 1000)
        self._one = one_at_a_time(partial(process, build_normalizer(settings, self.dedupe), settings.topics))

    def process(self, batch: Sequence[Inbound]) -> Sequence[Result]:
        self.dedupe.begin_batch()
        return self._one(batch)

    async def published(self, outputs: Sequence[Outbound]) -> None:
        """Every output is acknowledged: from now on their ids are seen. The marks that
        carry them across a restart are sent without holding up the commit (see seen_log)."""
        ids = published_ids(outputs)
        now = time.time()
        self.dedupe.published(ids, now)
        self.marks.add(ids, now)


def ingest_stage(settings: IngestSettings, broker: KafkaBroker, logger: logging.Logger) -> tuple[Stage, IngestStep]:
    """The delivery step and the decision step, sharing the dedupe (tests drive these two)."""
    step = IngestStep(settings, broker, logger)
    return Stage("ingest", broker, settings.topics.dlq, logger, on_published=step.published), step


def build(settings: IngestSettings) -> ServiceRuntime:
    service = Service.create("ingest", settings)
    stage, step = ingest_stage(settings, service.broker, service.logger)
    service.consume(settings.topics.raw, step.process, stage=stage, max_records=settings.batch_size)

    async def restore() -> None:
        restored = await restore_seen(settings.kafka, settings.topics, step.recent, service.logger)
        log_event(service.logger, "dedupe_restored", ids=restored, window_seconds=settings.dedupe_window_seconds)

    routes = []
    if settings.webhooks.enabled:

        async def publish(envelope: RawEnvelope, key: str) -> None:
            await service.broker.publish(
                envelope.to_json_bytes(),
                topic=settings.topics.raw,
                key=key.encode("utf-8"),
                headers={"content-type": "application/json"},
            )

        routes = WebhookReceiver(settings.webhooks, publish).routes()
        log_event(service.logger, "webhooks_enabled", path="/webhooks/{platform}")
    return service.runtime(
        routes=routes, before_start=[restore], before_stop=[step.marks.close], contract=contract(settings)
    )


SEEN_MARK = RecordKind(
    "seen_mark",
    key="a unique id per record (no record replaces another)",
    summary="Message ids ingest has published, seen at one moment: its dedupe window across restarts "
    "(internal to ingest).",
    schema={
        "type": "object",
        "required": ["at", "ids"],
        "properties": {
            "at": {"type": "number", "description": "when they were seen, epoch seconds"},
            "ids": {"type": "array", "items": {"type": "string"}, "description": "the message ids"},
        },
    },
)


def contract(settings: IngestSettings) -> Contract:
    """What ingest reads and writes (its AsyncAPI document, ``triage_runtime.contract``)."""
    topics = settings.topics
    return Contract(
        reads=[
            Reads(
                topics.raw,
                [record(RawEnvelope)],
                "Platform events in envelopes: each becomes messages, "
                "brand-reply events, nothing (an event that is not a message, a duplicate) or a dead letter.",
            ),
            Reads(
                topics.ingest_seen,
                [SEEN_MARK],
                "At start, before consuming: the ids seen within the dedupe "
                "window (TRIAGE_INGEST_DEDUPE_WINDOW_SECONDS).",
                outside_group=True,
            ),
        ],
        writes=[
            Writes(topics.messages, [record(SocialMessage)], "Normalised, deduplicated messages."),
            Writes(
                topics.conversation_events,
                [record(ConversationEvent)],
                "The brand's own replies seen on the platforms (echoes), as `agent_replied` events.",
            ),
            Writes(
                topics.ingest_seen,
                [SEEN_MARK],
                "The message ids of every published batch, after its "
                "acknowledgements, gathered for TRIAGE_INGEST_SEEN_MARK_DELAY_MS.",
                headers=FASTSTREAM_HEADERS,
            ),
            Writes(
                topics.raw,
                [record(RawEnvelope)],
                "Only with the webhook receiver on "
                "(TRIAGE_INGEST_WEBHOOKS__ENABLED): each accepted POST /webhooks/{platform}, as an envelope.",
                headers=FASTSTREAM_HEADERS,
            ),
            dead_letters(topics.dlq),
        ],
    )
