"""Kafka wiring of the ingest service: ``social.raw`` in; messages, brand-reply events and
dead letters out; the optional webhook receiver publishing to ``social.raw``."""

import json
import time
from collections.abc import Sequence
from functools import partial

from prometheus_client import Counter

from triage_ingest.config import IngestSettings
from triage_ingest.dedupe import RecentIds
from triage_ingest.normalize import Limits, Normalizer
from triage_ingest.pii import PiiDetector
from triage_ingest.webhooks.routes import WebhookReceiver
from triage_schemas.delivery import Inbound, Outbound, Rejected, Stage, one_at_a_time, subscribe
from triage_schemas.enums import Platform
from triage_schemas.kafka import make_broker
from triage_schemas.logs import configure_logging, log_event
from triage_schemas.records import RawEnvelope
from triage_schemas.service import ServiceRuntime
from triage_schemas.topics import TopicSettings

RECORDS = Counter(
    "triage_ingest_records",
    "Raw records and what became of them, by platform: in, message (out to social.messages), "
    "brand_reply (out to social.conversation-events), skipped (not a message), duplicate, dead_lettered",
    ["platform", "outcome"],
)
SKIPPED = Counter(
    "triage_ingest_skipped_events", "Platform events that are not messages, by kind", ["platform", "kind"]
)


def build_normalizer(settings: IngestSettings) -> Normalizer:
    return Normalizer(
        brand_account_ids={platform: frozenset(ids) for platform, ids in settings.brand_account_ids.items()},
        pii=PiiDetector(settings.order_number_pattern),
        recent=RecentIds(settings.dedupe_window_seconds, settings.dedupe_max_ids),
        limits=Limits(settings.max_record_bytes, settings.max_text_chars),
    )


def sniff_platform(raw: bytes) -> str:
    """The platform a rejected record claims, for the counters (bounded: known or 'unknown')."""
    try:
        claimed = json.loads(raw).get("platform")
    except (ValueError, AttributeError):
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


def build(settings: IngestSettings) -> ServiceRuntime:
    logger = configure_logging("ingest", settings.log_level)
    broker = make_broker(settings.kafka, client_id="triage-ingest", logger=logger)
    stage = Stage("ingest", broker, settings.topics.dlq, logger)
    normalizer = build_normalizer(settings)
    subscribe(
        broker,
        stage,
        settings.topics.raw,
        settings.consumer_group,
        one_at_a_time(partial(process, normalizer, settings.topics)),
        batch=True,
        max_records=settings.batch_size,
    )
    routes = []
    if settings.webhooks.enabled:

        async def publish(envelope: RawEnvelope, key: str) -> None:
            await broker.publish(
                envelope.to_json_bytes(),
                topic=settings.topics.raw,
                key=key.encode("utf-8"),
                headers={"content-type": "application/json"},
            )

        routes = WebhookReceiver(settings.webhooks, publish).routes()
        log_event(logger, "webhooks_enabled", path="/webhooks/{platform}")
    return ServiceRuntime("ingest", settings, broker, logger, routes=routes)
