"""What a service reads and writes on Kafka, and its AsyncAPI 3 document.

Each service declares its contract in its ``app.py`` (``contract(settings)``): the
topics it reads and writes, the records on each with their key, the headers its
writes carry. ``Service.runtime(contract=...)`` keeps it, and the service serves its
document at ``/asyncapi``; ``triage-local asyncapi`` merges the four into the
pipeline's (``docs/asyncapi.yaml``).

The document is FastStream's (``faststream.specification.AsyncAPI``) for two brokers:
the service's own, whose subscribers are the ones ``Service.consume`` wired (topics,
consumer group, isolation level), and a documentation broker that carries one publisher
per record the service writes, with its record model as the schema. That broker never
connects and its publishers never send: records go out through the delivery step
(``triage_runtime.delivery``) or the SLA monitor's transactional producer, as before.
FastStream cannot know what a handler reads (the handlers take raw bytes: decoding is
the stage's job), a record's key, the headers or the logs read outside a consumer group
by plain aiokafka consumers; ``document`` adds them from the contract and the
subscribers, checks that the contract and the subscribers agree, names each channel
after its topic setting, and merges several services' parts into one document.
"""

import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.utils import move_pydantic_refs
from pydantic import BaseModel

from triage_runtime.settings import ServiceSettings
from triage_runtime.topics import TopicSettings
from triage_schemas.records import DeadLetter

JSON = dict[str, Any]
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
CLUSTER = "the Kafka cluster (TRIAGE_KAFKA_BOOTSTRAP_SERVERS, TRIAGE_KAFKA_SECURITY_PROTOCOL)"

BY_CONVERSATION = "the conversation_id: one conversation stays in order on one partition"
KEYS = {
    "raw_envelope": "chosen by the producer, e.g. `<platform>:<sender or account id>` (the webhook receiver "
    "uses `<platform>:<brand account id>`); ingest reads only the value",
    "agent": "the agent_id (compacted: the latest record per agent is the roster)",
    "surge_alert": "`<dimension>:<value>`, e.g. `lane:support`",
    "dead_letter": "the key of the record it stands for, or `<topic>-<partition>-<offset>` when that had none",
}
SUMMARIES = {
    "raw_envelope": "A platform's JSON exactly as received, in an envelope naming the platform and its arrival.",
    "message": "A customer's (inbound) or the brand's (outbound) message, normalised; personal data flagged.",
    "classified": "A message with its issue type, lane, priority, sentiment and whether a person should review it.",
    "routed": "A classified message with its owner, escalation tier, reply mode and deadlines.",
    "conversation_event": "What happened to a conversation: an agent replied, it was assigned or unassigned, "
    "paused, resumed, resolved or reopened.",
    "sla_alert": "A conversation's clock needs attention: a warning, breach, escalation, closing reply window, "
    "resolution alert or reminder.",
    "surge_alert": "The inbox as a whole is turning: a volume surge (and its end), a lane turning negative, "
    "a cluster of P1 messages.",
    "dead_letter": "A record a stage could not use: the stage, the reason, the original bytes and where it came from.",
    "agent": "An agent on the roster: teams, skills, languages, capacity and status.",
}

CORRELATION_ID: Mapping[str, Any] = {
    "type": "string",
    "description": "a random id FastStream gives every record it publishes; the pipeline does not use it",
}
TRACE_CONTEXT: Mapping[str, Mapping[str, Any]] = {
    "traceparent": {
        "type": "string",
        "description": "W3C trace context of the record's publish span, only while tracing is on (OTEL_* settings)",
    },
    "tracestate": {"type": "string", "description": "W3C trace state, when the trace has one"},
}
"""The trace context alone: what the SLA monitor's transactional producer (plain aiokafka) sets."""
FASTSTREAM_HEADERS: Mapping[str, Mapping[str, Any]] = {
    "content-type": {"type": "string", "const": "application/json"},
    "correlation_id": CORRELATION_ID,
}
"""The headers of a record published with FastStream's ``broker.publish`` and a JSON content type."""
PUBLISHED_HEADERS: Mapping[str, Mapping[str, Any]] = {**FASTSTREAM_HEADERS, **TRACE_CONTEXT}
"""The headers of a record the shared delivery step writes (``Stage.publish``)."""
NO_HEADERS: Mapping[str, Mapping[str, Any]] = {}
"""The SLA monitor's own state and volume records."""


@dataclass(frozen=True)
class RecordKind:
    """One kind of record on a topic: a record model of ``triage_schemas.records``, or an
    internal record's JSON Schema."""

    name: str
    key: str
    """What the Kafka key holds."""
    summary: str
    model: type[BaseModel] | None = None
    schema: Mapping[str, Any] | None = None
    content_type: str = "application/json"


def record(model: type[BaseModel]) -> RecordKind:
    """A record of the contract (``triage_schemas.records``), named by its ``record_type``;
    one key and summary per record type, whichever service declares it."""
    name = str(model.model_fields["record_type"].default)
    return RecordKind(name, KEYS.get(name, BY_CONVERSATION), SUMMARIES.get(name, name), model)


@dataclass(frozen=True)
class Reads:
    """A topic the service reads: by a subscriber ``Service.consume`` wired, in the
    service's consumer group or in ``group`` (a second subscription's); or, with
    ``outside_group``, by a plain consumer outside any consumer group (a table read
    whole, a restore of the service's own state)."""

    topic: str
    records: Sequence[RecordKind]
    description: str
    group: str | None = None
    outside_group: bool = False


@dataclass(frozen=True)
class Writes:
    topic: str
    records: Sequence[RecordKind]
    description: str
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(PUBLISHED_HEADERS))
    """Each header's JSON Schema."""
    transactional: bool = False


@dataclass(frozen=True)
class Contract:
    reads: Sequence[Reads]
    writes: Sequence[Writes]


def dead_letters(topic: str, note: str = "") -> Writes:
    """The dead-letter topic every stage writes through the delivery step."""
    description = (
        "Every input the stage cannot use (rejected, failed, or whose output cannot be written) as one "
        "dead letter: the stage, a reason a person can act on, the original bytes and headers and where "
        "it came from."
    )
    return Writes(topic, [record(DeadLetter)], f"{description} {note}".strip())


# --- one service's part -------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    service: str
    action: str  # "receive" or "send"
    topic: str
    records: Sequence[RecordKind]
    description: str
    group: str | None = None
    read_committed: bool = False
    main_group: bool = True
    """In the service's own consumer group (not a second subscription's)."""
    outside_group: bool = False
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    transactional: bool = False

    def id(self, channel: str) -> str:
        if self.outside_group:
            return f"{self.service}.read.{channel}"
        if self.action == "receive" and not self.main_group:
            return f"{self.service}.receive.{channel}.{self.group}"
        return f"{self.service}.{self.action}.{channel}"


@dataclass(frozen=True)
class Part:
    """One service's operations: its subscriptions (read from its broker), its plain reads
    and its writes (from its contract); FastStream's servers and schemas of what it writes."""

    service: str
    topics: TopicSettings
    servers: JSON
    security_schemes: JSON
    schemas: JSON
    """Payload schemas by name: FastStream's, for the records the service writes."""
    operations: Sequence[Operation]


class ContractError(ValueError):
    """The contract and the service's wiring disagree."""


def part(service: str, settings: ServiceSettings, broker: KafkaBroker, contract: Contract) -> Part:
    """The service's subscriptions, read from its broker, and its declared writes, in
    FastStream's document of a documentation broker: checked against the contract and
    described by it."""
    docs = KafkaBroker(settings.kafka.bootstrap_servers, security=settings.kafka.security(), apply_types=False)
    for writes in contract.writes:
        for kind in writes.records:
            title = f"{service}.send.{writes.topic}.{kind.name}"
            docs.publisher(writes.topic, title=title, description=writes.description, schema=kind.model)
    spec: JSON = AsyncAPI(docs, schema_version=ASYNCAPI_VERSION).to_specification().to_jsonable()
    components = spec.get("components", {})

    # the subscriptions as Service.consume wired them: topics, group, isolation level
    subscribed: dict[tuple[str, str], bool] = {}
    for sub in broker.subscribers:
        group = str(getattr(sub, "group_id", None))
        committed = getattr(sub, "_connection_args", {}).get("isolation_level") == "read_committed"
        for topic in getattr(sub.specification, "topics", ()):
            subscribed[(topic, group)] = committed
    reads = {(r.topic, r.group or settings.consumer_group): r for r in contract.reads if not r.outside_group}
    if unread := sorted(set(subscribed) - set(reads)):
        listed = ", ".join(f"{topic} (group {group})" for topic, group in unread)
        raise ContractError(f"{service} subscribes to {listed}, which its contract does not read")
    if unsubscribed := sorted(set(reads) - set(subscribed)):
        listed = ", ".join(f"{topic} (group {group})" for topic, group in unsubscribed)
        raise ContractError(f"{service}'s contract reads {listed}, but nothing subscribes")

    operations = [
        Operation(service, "receive", topic, r.records, r.description, group, subscribed[(topic, group)],
                  main_group=group == settings.consumer_group)
        for (topic, group), r in reads.items()
    ]  # fmt: skip
    # what FastStream cannot see: the plain consumers' reads; the writes' headers and transactions
    operations += [
        Operation(service, "receive", r.topic, r.records, r.description, outside_group=True)
        for r in contract.reads
        if r.outside_group
    ]
    operations += [
        Operation(service, "send", w.topic, w.records, w.description, headers=w.headers, transactional=w.transactional)
        for w in contract.writes
    ]
    servers, schemes = spec.get("servers", {}), components.get("securitySchemes", {})
    return Part(service, settings.topics, servers, schemes, dict(components.get("schemas", {})), operations)


# --- the document ---------------------------------------------------------------------------


def model_schemas(model: type[BaseModel]) -> tuple[str, JSON]:
    """A model's JSON Schema as FastStream renders a publisher's: its definitions moved
    to ``components/schemas``. Returns its name and every schema it needs."""
    body: JSON = move_pydantic_refs(model.model_json_schema(), "$defs")
    definitions: JSON = body.pop("$defs", {})
    name = str(body["title"])
    return name, {**definitions, name: body}


def document(parts: Sequence[Part], *, title: str, version: str, description: str) -> JSON:
    """One AsyncAPI 3 document for the parts: a channel per topic (named after its topic
    setting), each service's operations on it, a message per kind of record."""
    if not parts:
        raise ValueError("no service to document")
    topics = parts[0].topics
    names = {name: key for key, name in topics.all_topics().items()}
    servers: JSON = {}
    security: JSON = {}
    for p in parts:
        if p.topics != topics:
            raise ContractError(f"{p.service} has other topic settings than {parts[0].service}")
        for i, server in enumerate(p.servers.values()):
            described = {key: value for key, value in server.items() if key != "pathname"} | {"description": CLUSTER}
            _merge(servers, "kafka" if i == 0 else f"kafka-{i + 1}", described, "server")
        for name, scheme in p.security_schemes.items():
            _merge(security, name, scheme, "security scheme")
    server_refs = [{"$ref": f"#/servers/{name}"} for name in servers]

    kinds: dict[str, RecordKind] = {}
    channel_messages: dict[str, set[str]] = {}
    operations: JSON = {}
    writers: dict[str, list[tuple[str, Mapping[str, Mapping[str, Any]]]]] = {}
    readers: dict[str, list[str]] = {}
    schemas: JSON = {}
    for p in parts:
        for name, schema in p.schemas.items():
            schemas.setdefault(name, schema)
    for p in parts:
        for op in p.operations:
            if op.topic not in names:
                raise ContractError(f"{op.service} uses {op.topic}, which is not a topic of TopicSettings")
            channel = names[op.topic]
            for kind in op.records:
                if kinds.setdefault(kind.name, kind) != kind:
                    raise ContractError(f"the record kind {kind.name!r} is declared twice, differently")
                channel_messages.setdefault(channel, set()).add(kind.name)
                if op.action == "send":
                    writers.setdefault(kind.name, []).append((op.service, op.headers))
                elif op.service not in readers.setdefault(kind.name, []):
                    readers[kind.name].append(op.service)
            op_id = op.id(channel)
            if op_id in operations:
                raise ContractError(f"{op.service} declares {op_id} twice")
            operations[op_id] = _operation(op, channel)

    messages: JSON = {}
    for name, kind in kinds.items():
        if kind.model is not None:
            schema_name, needed = model_schemas(kind.model)
            for key, schema in needed.items():
                if schemas.setdefault(key, schema) != schema:
                    raise ContractError(f"two different schemas are named {key!r}")
            payload: JSON = {"$ref": f"#/components/schemas/{schema_name}"}
        else:
            payload = dict(kind.schema or {})
        messages[name] = _message(kind, payload, writers.get(name, []), readers.get(name, []))

    channels: JSON = {}
    for key, name in topics.all_topics().items():
        if key not in channel_messages:
            continue
        channels[key] = {
            "address": name,
            "title": name,
            "description": _topic_description(topics, key),
            "servers": [dict(r) for r in server_refs],
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in sorted(channel_messages[key])},
            "bindings": {"kafka": _channel_binding(topics, name)},
        }
    doc: JSON = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "defaultContentType": "application/json",
        "servers": servers,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _reachable(schemas, messages)},
    }
    if security:
        doc["components"]["securitySchemes"] = security
    return doc


def _merge(into: JSON, key: str, value: Any, what: str) -> None:
    if into.setdefault(key, value) != value:
        raise ContractError(f"two different {what}s are named {key!r}")


def _operation(op: Operation, channel: str) -> JSON:
    verb = "reads" if op.action == "receive" else "writes"
    notes: list[str] = []
    binding: JSON = {"bindingVersion": KAFKA_BINDING}
    if op.group is not None:
        binding["groupId"] = {"type": "string", "enum": [op.group]}
        notes.append(f"Consumer group `{op.group}` (its replicas share the partitions).")
    if op.read_committed:
        notes.append("Reads with `isolation.level=read_committed`.")
    if op.outside_group:
        notes.append("Read by a plain consumer outside any consumer group: no offsets are committed.")
    if op.action == "send":
        if op.transactional:
            notes.append("Written in Kafka transactions: read it with `isolation.level=read_committed`.")
        headers = ", ".join(f"`{h}`" for h in sorted(op.headers)) or "none"
        notes.append(f"Headers: {headers}.")
    result: JSON = {
        "action": op.action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{op.service} {verb} {op.topic}" + _where(op),
        "description": " ".join([op.description, *notes]),
        "messages": [{"$ref": f"#/channels/{channel}/messages/{k.name}"} for k in op.records],
        "tags": [{"name": op.service}],
    }
    if len(binding) > 1:
        result["bindings"] = {"kafka": binding}
    return result


def _where(op: Operation) -> str:
    if op.outside_group:
        return ", outside a consumer group"
    if op.action == "receive" and not op.main_group:
        return f", in {op.group}"
    return ""


def _message(
    kind: RecordKind,
    payload: JSON,
    writers: Sequence[tuple[str, Mapping[str, Mapping[str, Any]]]],
    readers: Sequence[str],
) -> JSON:
    services = list(dict.fromkeys(service for service, _ in writers))
    who = [
        f"Written by {', '.join(services)}." if services else "",
        f"Read by {', '.join(readers)}." if readers else "",
    ]
    message: JSON = {
        "name": kind.name,
        "title": kind.name,
        "summary": kind.summary,
        "description": " ".join(w for w in who if w),
        "contentType": kind.content_type,
        "payload": payload,
        "bindings": {"kafka": {"key": {"type": "string", "description": kind.key}, "bindingVersion": KAFKA_BINDING}},
    }
    headers: JSON = {}
    for _, declared in writers:
        for header, schema in declared.items():
            if headers.setdefault(header, dict(schema)) != schema:
                raise ContractError(f"{kind.name}: writers set the {header} header differently")
    for header, schema in headers.items():
        without = [service for service, declared in writers if header not in declared]
        if without:
            note = f"not set by {', '.join(dict.fromkeys(without))}"
            schema["description"] = f"{schema['description']} ({note})" if "description" in schema else note
    if headers:
        message["headers"] = {"type": "object", "properties": headers}
    return message


def _topic_description(topics: TopicSettings, key: str) -> str:
    about = TopicSettings.model_fields[key].description or key
    text = f"{about[0].upper()}{about[1:]}. Setting `TRIAGE_TOPIC_{key.upper()}`."
    if topics.all_topics()[key] in topics.compacted() and "compacted" not in about.lower():
        text += " Compacted: the latest record per key is what counts."
    return text


def _channel_binding(topics: TopicSettings, name: str) -> JSON:
    configuration: JSON = {}
    for option, value in topics.topic_configs().get(name, {}).items():
        if option == "cleanup.policy":
            configuration[option] = value.split(",")
        else:
            configuration[option] = int(value) if value.lstrip("-").isdigit() else value
    binding: JSON = {
        "topic": name,
        "partitions": topics.partitions,
        "replicas": topics.replication_factor,
        "bindingVersion": KAFKA_BINDING,
    }
    if configuration:
        binding["topicConfiguration"] = configuration
    return binding


def _reachable(schemas: JSON, roots: Any) -> JSON:
    """The schemas the messages refer to, directly or through other schemas."""
    found: JSON = {}
    pending = list(_refs(roots))
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = schemas[name]
        pending.extend(_refs(schemas[name]))
    return {name: found[name] for name in sorted(found)}


def _refs(value: Any) -> Iterable[str]:
    prefix = "#/components/schemas/"
    if isinstance(value, dict):
        target = value.get("$ref")
        if isinstance(target, str) and target.startswith(prefix):
            yield target.removeprefix(prefix)
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def service_document(service: str, settings: ServiceSettings, broker: KafkaBroker, contract: Contract) -> JSON:
    """The service's own part of the pipeline's document, served at ``/asyncapi``."""
    description = (
        f"The {service} service of social-triage: the topics it reads and writes with this service's "
        "settings. The whole pipeline's document is `docs/asyncapi.yaml` in the repository (`make asyncapi`)."
    )
    return document(
        [part(service, settings, broker, contract)],
        title=f"social-triage {service}",
        version=version_of(f"triage-{service}"),
        description=description,
    )
