"""``triage-router bench``: routing throughput of the decision logic, offline.

Routes synthetic classified messages with a policy (the shipped default unless told) and
prints messages per second, JSON encoding of the routed record included, and peak RSS.
No Kafka: the figures are the decision logic's, not the broker's.
"""

import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from triage_router.policy import RoutingPolicy, load_policy
from triage_router.routing import route
from triage_schemas.enums import IssueType
from triage_schemas.records import ClassifiedMessage

LANES = {
    "account_compromise": ("support", "P1"),
    "safety_threat": ("risk", "P1"),
    "harassment": ("risk", "P1"),
    "legal_regulatory": ("risk", "P1"),
    "payment_issue": ("support", "P2"),
    "order_shipping": ("support", "P2"),
    "technical_issue": ("support", "P3"),
    "product_question": ("community", "P3"),
    "sales_lead": ("sales", "P3"),
    "partnership": ("sales", "P3"),
    "feedback": ("community", "P3"),
    "spam": ("community", "P3"),
}
TEXTS = [
    "where is my order? it has been two weeks and nobody answers",
    "¿cuál es el presupuesto mínimo para un contrato de exclusividad?",
    "mon compte est bloqué et je vois un achat que je n'ai pas fait",
    "love the new colour, thanks!",
]


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def messages(count: int) -> list[ClassifiedMessage]:
    """``count`` classified messages cycling through every issue type, channel and text."""
    now = datetime.now(UTC)
    types = list(IssueType)
    result = []
    for i in range(count):
        issue_type = types[i % len(types)]
        lane, priority = LANES[issue_type]
        result.append(
            ClassifiedMessage.model_validate(
                {
                    "message_id": f"x:{i}",
                    "conversation_id": f"c{i}",
                    "platform": "x",
                    "channel": "public_comment" if i % 3 else "direct_message",
                    "direction": "inbound",
                    "author": {"id": "a", "followers": (i * 7919) % 300_000},
                    "text": TEXTS[i % len(TEXTS)],
                    "created_at": now,
                    "received_at": now,
                    "classification": {
                        "issue_type": issue_type,
                        "lane": lane,
                        "priority": priority,
                        "confidence": 0.9,
                        "needs_review": False,
                        "sentiment": {"label": "neutral", "score": 0.9},
                        "scores": {issue_type: 0.9},
                        "model_version": "bench",
                    },
                }
            )
        )
    return result


def measure(policy: RoutingPolicy, batch: list[ClassifiedMessage]) -> Throughput:
    """Route every message of ``batch`` and encode the routed record, timed."""
    start = time.perf_counter()
    for message in batch:
        route(message, policy).model_dump_json()
    return Throughput(len(batch), time.perf_counter() - start)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(count: int, policy_path: Path) -> int:
    """The ``bench`` subcommand: route ``count`` synthetic messages, print the figures."""
    policy = load_policy(policy_path)
    figure = measure(policy, messages(count))
    print(
        f"router: routed {figure.messages} messages in {figure.seconds:.2f}s"
        f" = {figure.per_second:,.0f} msg/s (incl. JSON encoding)"
    )
    print(f"router: peak RSS {peak_rss_mib():.0f} MiB")
    return 0
