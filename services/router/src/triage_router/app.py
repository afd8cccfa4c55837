"""Kafka wiring of the router service."""

import time
from collections.abc import Callable, Sequence

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from triage_router.assignment import AgentBook, DecisionLog, place_routed
from triage_router.config import RouterSettings
from triage_router.correction_step import consume_corrections
from triage_router.policy import RoutingPolicy, load_policy
from triage_router.records_io import decode_classified, routed
from triage_router.tables import ASSIGNMENTS, AssignmentTables, how_of
from triage_runtime.contract import Contract, Reads, Writes, dead_letters, record
from triage_runtime.delivery import Inbound, Outbound, Result, one_at_a_time
from triage_runtime.logs import log_event
from triage_runtime.service import Service, ServiceRuntime
from triage_runtime.topics import TopicSettings
from triage_schemas.records import Agent, ClassifiedMessage, ConversationEvent, RoutedMessage

ROUTED = Counter(
    "triage_router_routed",
    "Messages routed, by lane, escalation tier and reply mode",
    ["lane", "tier", "reply_mode"],
)


class RouterStep:
    """Route each classified message and place its conversation with an agent.

    The assignment decisions of a batch are applied to the book at once and kept only
    when the batch's outputs are acknowledged; a batch that failed to publish is undone
    before the next one (which is the same batch, redelivered)."""

    def __init__(
        self,
        policy: RoutingPolicy,
        topics: TopicSettings,
        book: AgentBook | None,
        assigner: Callable[[], bool] = lambda: True,
    ) -> None:
        self.policy = policy
        self.topics = topics
        self.book = book
        self.assigner = assigner
        self.log: DecisionLog = []
        self._one = one_at_a_time(self.route_one)

    def process(self, batch: Sequence[Inbound]) -> Sequence[Result]:
        if self.book is not None and self.log:
            self.book.undo(self.log)
        return self._one(batch)

    def route_one(self, inbound: Inbound) -> list[Outbound]:
        message = routed(decode_classified(inbound.value), self.policy)
        outputs = []
        if self.book is not None:
            message, events = place_routed(self.book, message, time.time(), self.log, self.assigner())
            outputs = [Outbound(self.topics.conversation_events, e.conversation_id, e) for e in events]
        routing, classification = message.routing, message.classification
        ROUTED.labels(str(classification.lane), str(int(routing.tier)), str(routing.reply_mode)).inc()
        return [Outbound(self.topics.routed, message.conversation_id, message), *outputs]

    async def published(self, outputs: Sequence[Outbound]) -> None:
        if self.book is not None:
            for out in outputs:
                if isinstance(out.record, ConversationEvent):
                    ASSIGNMENTS.labels(str(out.record.type), how_of(out.record)).inc()
            self.book.acknowledged(self.log)


def build(settings: RouterSettings, policy: RoutingPolicy | None = None) -> ServiceRuntime:
    service = Service.create("router", settings)
    # Loaded before connecting so a broken policy stops the service at start.
    policy = policy or load_policy(settings.policy_file)
    log_event(service.logger, "policy_loaded", version=policy.version, file=str(settings.policy_file))
    book = AgentBook.for_policy(policy)
    tables = AssignmentTables(settings, book, service.broker, service.logger)
    step = RouterStep(policy, settings.topics, book, lambda: tables.assigner)
    service.consume(
        settings.topics.classified,
        step.process,
        max_records=settings.batch_size,
        on_published=step.published,
        listener=tables,
    )

    consume_corrections(service, settings, policy)

    async def agents(_: Request) -> JSONResponse:
        return JSONResponse({"assigner": tables.assigner, **book.view(time.time())})

    return service.runtime(
        routes=[Route("/agents", agents)], before_start=[tables.start], before_stop=[tables.stop],
        contract=contract(settings),
    )  # fmt: skip


def contract(settings: RouterSettings) -> Contract:
    """What the router reads and writes (its AsyncAPI document, ``triage_runtime.contract``)."""
    topics = settings.topics
    table = "Read from the beginning by every replica before consuming, then followed: the assignment book's "
    corrections = "Corrections, co-partitioned with the other input: "
    return Contract(
        reads=[
            Reads(topics.classified, [record(ClassifiedMessage)], "Classified messages to route and assign."),
            Reads(
                topics.routed,
                [record(RoutedMessage)],
                corrections + "the routed messages, remembered by conversation.",
                group=settings.corrections_group,
            ),
            Reads(
                topics.conversation_events,
                [record(ConversationEvent)],
                corrections + "a `reclassified` event routes its conversation's message again.",
                group=settings.corrections_group,
            ),
            Reads(
                topics.routed,
                [record(RoutedMessage)],
                "When corrections partitions are assigned: their last "
                "TRIAGE_ROUTER_CORRECTIONS_MEMORY_HOURS of routed messages, read back.",
                outside_group=True,
            ),
            Reads(topics.agents, [record(Agent)], table + "roster.", outside_group=True),
            Reads(
                topics.conversation_events,
                [record(ConversationEvent)],
                table + "open assignments, replies and resolutions.",
                outside_group=True,
            ),
        ],
        writes=[
            Writes(
                topics.routed,
                [record(RoutedMessage)],
                "Each message with its owner, tier, reply mode and deadlines; routed again after a correction.",
            ),
            Writes(
                topics.conversation_events,
                [record(ConversationEvent)],
                "`assigned` and `unassigned` events, written only by the assigner: the replica that owns "
                f"partition 0 of {topics.classified}.",
            ),
            dead_letters(topics.dlq),
        ],
    )
