"""The router's handler, built by ``triage_router.app.build``: classified in, routed or a
dead letter out. Each case runs in memory and on the real broker (see conftest.py)."""

from datetime import timedelta

import pytest

from tests.factories import RECEIVED, classified
from tests.handlers.conftest import Start
from tests.handlers.harness import Outputs, ServiceSpec, open_gate
from triage_router.app import build
from triage_router.config import RouterSettings
from triage_router.correction_step import CorrectionStep
from triage_router.tables import AssignmentTables


def _no_kafka_tables(monkeypatch: pytest.MonkeyPatch, _: Outputs) -> None:
    # Kafka only: before consuming, the router reads the roster and assignment logs in full.
    async def nothing(self: AssignmentTables) -> None:
        return None

    monkeypatch.setattr(AssignmentTables, "start", nothing)
    monkeypatch.setattr(AssignmentTables, "stop", nothing)
    open_gate(monkeypatch, CorrectionStep, "refilled")


ROUTER = ServiceSpec(
    "router",
    settings=RouterSettings,
    build=build,
    outputs=lambda topics: [topics.routed, topics.dlq],
    memory_patches=_no_kafka_tables,
)


class TestRouterHandler:
    async def test_a_payment_issue_with_card_details_goes_to_the_support_lead_by_dm_within_the_hour(
        self, start: Start
    ) -> None:
        async with start(ROUTER) as router:
            topics = router.topics
            record = classified("payment_issue", conversation_id="c-pay", text="charged twice", pii=["card_number"])
            await router.send(topics.classified, record, key="c-pay")

            [out] = await router.outputs.wait_for(topics.routed)
        assert out.key == "c-pay"  # keyed by conversation: its clock's partition downstream
        routed = out.json()
        assert routed["record_type"] == "routed"
        assert {k: routed[k] for k in ("message_id", "conversation_id", "text", "pii")} == {
            "message_id": "instagram:1", "conversation_id": "c-pay", "text": "charged twice", "pii": ["card_number"]
        }  # fmt: skip
        assert routed["classification"] == record.classification.model_dump(mode="json")
        routing = routed["routing"]
        assert (routing["team"], routing["owner"], routing["tier"], routing["reply_mode"]) == (
            "support", "support-lead", 1, "dm"
        )  # fmt: skip
        assert routing["first_response_target_seconds"] == 3600
        assert routing["first_response_due_at"] == (RECEIVED + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        assert routing["policy_version"] == "2026-11-default"
        assert any("payment_issue has specialist owner support-lead" in reason for reason in routing["reasons"])
        assert router.outputs.on(topics.dlq) == []

    async def test_a_regulatory_complaint_escalates_to_legal_at_tier_2(self, start: Start) -> None:
        async with start(ROUTER) as router:
            topics = router.topics
            record = classified("legal_regulatory", conversation_id="c-legal", text="je vais saisir la CNIL")
            await router.send(topics.classified, record, key="c-legal")

            [out] = await router.outputs.wait_for(topics.routed)
        routing = out.json()["routing"]
        assert (routing["owner"], routing["tier"]) == ("legal", 2)
        assert any("risk-regulatory" in reason for reason in routing["reasons"]), routing["reasons"]

    async def test_a_broken_record_is_dead_lettered_and_the_next_one_still_routed(self, start: Start) -> None:
        async with start(ROUTER) as router:
            topics = router.topics
            await router.send(topics.classified, b"{broken", key="c-1", headers={"x-connector": "test"})
            await router.send(topics.classified, classified("feedback", conversation_id="c-1"), key="c-1")

            [letter] = await router.outputs.wait_for(topics.dlq)
            [routed] = await router.outputs.wait_for(topics.routed)
        dead = letter.json()
        assert (dead["stage"], dead["original"], dead["original_encoding"]) == ("router", "{broken", "utf-8")
        assert dead["error"].startswith("record is not JSON"), dead["error"]
        assert dead["headers"]["x-connector"] == "test"
        assert dead["source_topic"] == topics.classified
        assert routed.json()["conversation_id"] == "c-1"
