"""How every service connects to Kafka: settings, the broker, topic administration."""

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from triage_runtime.topics import TopicSettings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


# A fetch held for gathering returns early once this much is there: a full batch's worth.
GATHER_BYTES = 1_048_576


class KafkaSettings(BaseSettings):
    """Connection to the Kafka cluster (env ``TRIAGE_KAFKA_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix="TRIAGE_KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="comma-separated host:port list")
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: SaslMechanism | None = Field(default=None, description="with SASL_PLAINTEXT or SASL_SSL")
    sasl_username: str | None = Field(default=None, description="SASL user (from a Secret in Kubernetes)")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (from a Secret in Kubernetes)")
    ssl_cafile: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates")
    ssl_certfile: Path | None = Field(default=None, description="client certificate, for mutual TLS")
    ssl_keyfile: Path | None = Field(default=None, description="client private key, for mutual TLS")
    request_timeout_ms: int = Field(default=30_000, ge=1_000, description="Kafka request timeout")
    # Latency knobs: a lone message should cross a stage in milliseconds while a burst is
    # still sent and fetched in large batches. aiokafka keeps one produce request in
    # flight per broker, so records produced while one is out are batched anyway; a
    # linger only delays a quiet stream (1 ms of linger cost about 3 ms per hop here).
    linger_ms: int = Field(
        default=0,
        ge=0,
        le=1_000,
        description=(
            "how long the producer waits to fill a batch before sending it"
            " (0: batches still form while a request is in flight)"
        ),
    )
    max_batch_bytes: int = Field(
        default=262_144, ge=16_384, le=1_000_000, description="largest producer batch per partition (bytes)"
    )
    fetch_max_wait_ms: int = Field(
        default=25,
        ge=1,
        le=5_000,
        description="how long the broker may hold a fetch while it has no new records; it also bounds how long "
        "a just-read partition waits to be fetched again (aiokafka keeps one fetch in flight per broker)",
    )
    batch_timeout_ms: int = Field(
        default=200,
        ge=1,
        le=5_000,
        description=(
            "how long one poll waits for records before the stage polls again;"
            " records are handed over as soon as they arrive"
        ),
    )

    @model_validator(mode="after")
    def _check_security(self) -> "KafkaSettings":
        if self.security_protocol.startswith("SASL"):
            missing = [
                name for name in ("sasl_mechanism", "sasl_username", "sasl_password") if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"security_protocol {self.security_protocol} needs "
                    + ", ".join(f"TRIAGE_KAFKA_{m.upper()}" for m in missing)
                )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together (mutual TLS)")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        if self.ssl_certfile and self.ssl_keyfile:
            context.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile))
        return context

    def security(self) -> BaseSecurity | None:
        context = self.ssl_context()
        if not self.security_protocol.startswith("SASL"):
            return BaseSecurity(ssl_context=context, use_ssl=True) if context else None
        assert self.sasl_username is not None and self.sasl_password is not None
        password = self.sasl_password.get_secret_value()
        use_ssl = context is not None
        match self.sasl_mechanism:
            case "PLAIN":
                return SASLPlaintext(self.sasl_username, password, ssl_context=context, use_ssl=use_ssl)
            case "SCRAM-SHA-256":
                return SASLScram256(self.sasl_username, password, ssl_context=context, use_ssl=use_ssl)
            case _:
                return SASLScram512(self.sasl_username, password, ssl_context=context, use_ssl=use_ssl)

    def consumer_options(self, gather_ms: int = 0) -> dict[str, int]:
        """The latency knobs of a stage's batch subscriber; with ``gather_ms`` the broker
        holds each fetch until that much time passes or a full batch's bytes are there."""
        if gather_ms <= 0:
            return {"fetch_max_wait_ms": self.fetch_max_wait_ms, "batch_timeout_ms": self.batch_timeout_ms}
        return {
            "fetch_max_wait_ms": gather_ms,
            "fetch_min_bytes": GATHER_BYTES,
            "batch_timeout_ms": max(self.batch_timeout_ms, gather_ms),
        }

    def admin_client_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.security_protocol.startswith("SASL"):
            assert self.sasl_password is not None
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value()
        return kwargs


def make_broker(settings: KafkaSettings, client_id: str, logger: logging.Logger) -> KafkaBroker:
    """A FastStream broker whose producer waits for every in-sync replica (``acks=all``)
    and is idempotent, so a retried publish never writes a record twice."""
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.request_timeout_ms,
        linger_ms=settings.linger_ms,
        max_batch_size=settings.max_batch_bytes,
        security=settings.security(),
        logger=logger,
        # No dependency injection: the handlers take no injected arguments, and resolving
        # the message parameter ran a worker-thread hop per batch.
        apply_types=False,
        # Per-message "received/processed" lines would drown the structured logs.
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    kafka: KafkaSettings,
    topics: TopicSettings,
    names: list[str] | None = None,
) -> list[str]:
    """Create the pipeline's topics that do not exist yet; returns the ones created."""
    wanted = names if names is not None else list(topics.all_topics().values())
    configs = topics.topic_configs()
    admin = AIOKafkaAdminClient(**kafka.admin_client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=name,
                num_partitions=topics.partitions,
                replication_factor=topics.replication_factor,
                topic_configs=configs.get(name, {}),
            )
            for name in wanted
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another replica was first
                await admin.create_topics(new)
        return [topic.name for topic in new]
    finally:
        await admin.close()


async def read_to_end(
    consumer: AIOKafkaConsumer, starts: Mapping[TopicPartition, int | None]
) -> AsyncIterator["ConsumerRecord[bytes, bytes]"]:
    """Every record from each partition's start (None: its beginning) up to its end as it
    was when called: how a changelog is read back into memory. ``consumer`` is started and
    not in a group; the caller chooses its isolation level."""
    partitions = list(starts)
    consumer.assign(partitions)
    from_beginning = [tp for tp, start in starts.items() if start is None]
    if from_beginning:
        await consumer.seek_to_beginning(*from_beginning)
    for tp, start in starts.items():
        if start is not None:
            consumer.seek(tp, start)
    ends = await consumer.end_offsets(partitions)
    remaining = {tp for tp, start in starts.items() if (start or 0) < ends[tp]}
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for records in batches.values():
            for record in records:
                yield record
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)


async def partitions_of(kafka: KafkaSettings, topic: str) -> list[TopicPartition]:
    """The topic's partitions, from the cluster (a topic created a moment ago included)."""
    admin = AIOKafkaAdminClient(**kafka.admin_client_kwargs())
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])
