"""The demo's care team answers most on time, some late, a few never."""

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from triage_local.demo import REPLIES, SCRIPT, CareTeam, service_env
from triage_local.payloads import BRAND_IDS, ECHO, INBOUND, Customer
from triage_schemas.enums import Platform

CUSTOMER = Customer("123456789", "maya_1", "Maya Demo", 40)
AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_most_replies_are_on_time_some_late_a_few_never() -> None:
    care = CareTeam(random.Random(7))
    delays = [care.reply_after(100) for _ in range(2000)]
    on_time = sum(1 for d in delays if d is not None and d < 100)
    late = sum(1 for d in delays if d is not None and d > 100)
    never = delays.count(None)
    assert 0.65 < on_time / 2000 < 0.75
    assert 0.15 < late / 2000 < 0.25
    assert 0.05 < never / 2000 < 0.15


def test_the_script_covers_every_event_kind_and_every_platform() -> None:
    assert {kind for kind, _ in SCRIPT} == set(INBOUND)
    assert set(ECHO) <= set(INBOUND)
    assert set(ECHO) <= set(REPLIES)
    assert {builder("00ff", CUSTOMER, "hi", AT).platform for builder in INBOUND.values()} == set(Platform)


def test_services_are_told_the_demo_brand_accounts_and_policy() -> None:
    ingest = service_env("ingest")
    brands = json.loads(ingest["TRIAGE_INGEST_BRAND_ACCOUNT_IDS"])
    assert brands["messenger"] == [BRAND_IDS[Platform.MESSENGER]]
    policy = Path(service_env("router")["TRIAGE_ROUTER_POLICY_FILE"])
    assert policy.is_file()
    assert service_env("sla-monitor")["TRIAGE_SLA_MONITOR_POLICY_FILE"] == str(policy)
    assert service_env("classifier") == {}
