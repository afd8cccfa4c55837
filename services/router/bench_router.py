"""Routing throughput of the decision logic on synthetic classified messages.

Usage: python services/router/bench_router.py [COUNT]; prints messages per second and peak RSS.
"""

import resource
import sys
import time
from datetime import UTC, datetime

from triage_router.policy import DEFAULT_POLICY, load_policy
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


def messages(count: int) -> list[ClassifiedMessage]:
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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    policy = load_policy(DEFAULT_POLICY)
    batch = messages(count)
    start = time.perf_counter()
    for message in batch:
        route(message, policy).model_dump_json()
    elapsed = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"router: routed {count} messages in {elapsed:.2f}s = {count / elapsed:,.0f} msg/s (incl. JSON encoding)")
    print(f"router: peak RSS {rss_mb:.0f} MiB")


if __name__ == "__main__":
    main()
