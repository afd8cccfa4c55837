"""Surge detection live, without Kafka: watches that survive a restart, volume counted
once however often it is delivered, and the alert records a surge becomes."""

import logging
from datetime import UTC, datetime

import pytest

from triage_runtime.delivery import Inbound, Rejected
from triage_schemas.enums import IssueType, Severity, SurgeDimension, SurgeKind
from triage_schemas.policy import ClockPolicy, SurgePolicy
from triage_schemas.records import SurgeAlert, parse_record
from triage_sla_monitor import state, volume
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.monitor import Monitor
from triage_sla_monitor.surge_watch import SurgeWatch, surge_alert
from triage_sla_monitor.surges import Signal, SurgeDetector

from .test_surges import BURST_FROM, BURST_TO, MONDAY, run, stream


def burst_week() -> list[tuple[float, str, str, IssueType]]:
    return list(stream(MONDAY, BURST_FROM + 3 * 3_600, seed=3, boost=("x", 5.0, BURST_FROM, BURST_TO)))


def test_a_detector_restored_from_its_state_mid_burst_raises_what_one_uninterrupted_run_does() -> None:
    events = burst_week()
    cut = next(i for i, e in enumerate(events) if e[0] > BURST_FROM + 120)  # inside the burst, before it is raised
    whole = run(SurgeDetector(SurgePolicy()), iter(events))
    assert [s.kind for s in whole] == [SurgeKind.SURGE, SurgeKind.SURGE_RESOLVED]

    first = SurgeDetector(SurgePolicy())
    before = run(first, iter(events[:cut]))
    saved = {state.watch_key(d): state.dump_watch(w) for d, w in first.watches.items()}
    second = SurgeDetector(SurgePolicy())
    for key, value in saved.items():
        dimension = state.watch_dimension(key)
        assert dimension is not None
        second.watches[dimension] = state.load_watch(value)
    after = run(second, iter(events[cut:]))
    assert before + after == whole  # nothing raised twice, nothing lost, the baseline kept


def test_a_surging_watch_restored_does_not_raise_again() -> None:
    events = burst_week()
    cut = next(i for i, e in enumerate(events) if e[0] > BURST_FROM + 600)  # after it was raised
    first = SurgeDetector(SurgePolicy())
    assert [s.kind for s in run(first, iter(events[:cut]))] == [SurgeKind.SURGE]
    second = SurgeDetector(SurgePolicy())
    second.watches = {d: state.load_watch(state.dump_watch(w)) for d, w in first.watches.items()}
    assert [s.kind for s in run(second, iter(events[cut:]))] == [SurgeKind.SURGE_RESOLVED]


def test_state_keys_of_watches_never_read_as_conversations() -> None:
    assert state.watch_dimension(state.watch_key(("platform", "x"))) == ("platform", "x")
    assert state.watch_dimension("instagram:conv-1") is None
    assert state.watch_dimension("surge|") is None


def watch_of(rules: SurgePolicy) -> SurgeWatch:
    settings = SlaMonitorSettings()
    monitor = Monitor(settings, ClockPolicy.model_validate({"sla": {"surges": rules.model_dump()}}),
                      logging.getLogger("test"))  # fmt: skip
    return SurgeWatch(monitor, source_partitions=3)


def volume_inbound(at: float, offset: int, platform: str = "x", source_partition: int = 0) -> Inbound:
    item = volume.Volume(SurgeDimension.PLATFORM, platform, at, "safety_threat", True, source_partition, offset)
    [(key, value)] = volume.dump([item])
    return Inbound(value, key=key.encode(), topic="social.sla-volume", partition=1, offset=offset)


def test_a_volume_record_delivered_twice_is_counted_once() -> None:
    watch = watch_of(SurgePolicy())
    now = datetime.now(UTC).timestamp()
    for offset in range(5):
        watch.on_volume(volume_inbound(now, offset))
    for offset in range(5):  # redelivered after a crash before the offsets were committed
        watch.on_volume(volume_inbound(now, offset))
    watch.on_volume(volume_inbound(now, 3, source_partition=2))  # another routed partition's offset 3
    assert [w.count for w in watch.detector.watches[("platform", "x")].windows.values()] == [6]
    assert watch.partition_of[("platform", "x")] == 1  # its state goes to the volume partition's number


def test_a_p1_cluster_becomes_one_pending_critical_alert() -> None:
    watch = watch_of(SurgePolicy(cluster_count=3))
    now = datetime.now(UTC).timestamp()
    for offset in range(4):
        item = volume.Volume(SurgeDimension.ISSUE_TYPE, "safety_threat", now + offset, "safety_threat", True, 0, offset)
        watch.on_volume(Inbound(volume.dump([item])[0][1], partition=0, offset=offset))
    [alert] = watch.pending
    assert (alert.kind, alert.severity, alert.dimension, alert.value, alert.count) == (
        SurgeKind.P1_CLUSTER, Severity.CRITICAL, SurgeDimension.ISSUE_TYPE, "safety_threat", 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        b"{",
        b"[]",
        b'{"d": "colour", "v": "red"}',
        b'{"d": "lane"}',
        b'{"d": "lane", "v": "support", "p": 0, "o": [1, 2], "at": [1.0], "it": ["spam"], "neg": [0]}',
    ],
)
def test_a_record_that_is_not_volume_is_rejected_with_a_reason(value: bytes) -> None:
    with pytest.raises(Rejected, match="not a volume record"):
        watch_of(SurgePolicy()).on_volume(Inbound(value, partition=0, offset=0))


def test_a_message_stamped_far_in_the_future_does_not_close_every_window() -> None:
    watch = watch_of(SurgePolicy())
    now = datetime.now(UTC).timestamp()
    watch.on_volume(volume_inbound(now, 0, platform="instagram"))
    watch.on_volume(volume_inbound(4_102_444_800.0, 1))  # 2100
    watch.idle_advance(now + 1)
    assert watch.detector.watches[("platform", "instagram")].windows


def test_windows_wait_for_every_routed_partition_so_a_backlog_read_out_of_order_counts_right() -> None:
    watch = watch_of(SurgePolicy(window=60))
    watch.source_partitions = 2
    start = datetime.now(UTC).timestamp() // 60 * 60 - 600
    # after a restart, routed partition 0's backlog comes first, then partition 1's
    for source in (0, 1):
        for window in range(5):
            for i in range(3 + source):
                watch.on_volume(volume_inbound(start + window * 60 + i, window * 10 + i, source_partition=source))
    x = watch.detector.watches[("platform", "x")]
    # four windows closed once both partitions had passed them, each with 3 + 4 messages
    assert x.baseline.windows == 4 and x.baseline.overall == pytest.approx(7)
    assert [w.count for w in x.windows.values()] == [7]


def test_a_surge_signal_as_a_record() -> None:
    signal = Signal(SurgeKind.SURGE, ("platform", "x"), 150, 30.0, MONDAY, MONDAY + 200,
                    (("order_shipping", 90), ("not_an_issue_type", 3)))  # fmt: skip
    alert = surge_alert(signal, SurgePolicy(), ["launch"])
    parsed = parse_record(alert.to_json_bytes())
    assert isinstance(parsed, SurgeAlert) and parsed == alert
    assert alert.alert_id == f"surge:platform:x:{int(MONDAY)}"
    assert [(t.issue_type, t.count) for t in alert.top_issue_types] == [(IssueType.ORDER_SHIPPING, 90)]
    assert (alert.severity, alert.window_seconds, alert.campaigns) == (Severity.CRITICAL, 300, ["launch"])


def test_a_batch_becomes_one_record_per_dimension_value_and_routed_partition_and_reads_back() -> None:
    items = [
        *volume.volumes_of(100.0, "support", "x", "payment_issue", True, 0, 7),
        *volume.volumes_of(101.0, "support", "instagram", "payment_issue", False, 0, 8),
        *volume.volumes_of(102.0, "support", "x", "order_shipping", False, 1, 3),
    ]
    records = dict(volume.dump(items))
    assert sorted(records) == ["issue_type:order_shipping", "issue_type:payment_issue", "lane:support",
                               "platform:instagram", "platform:x"]  # fmt: skip
    support = [volume.load(value) for key, value in volume.dump(items) if key == "lane:support"]
    assert [[(v.source_partition, v.source_offset, v.at, v.negative) for v in r] for r in support] == [
        [(0, 7, 100.0, True), (0, 8, 101.0, False)],
        [(1, 3, 102.0, False)],
    ]


def test_a_dimension_waits_for_its_own_records_not_those_of_a_dimension_sharing_its_partition() -> None:
    """A clock batch's volume is written one dimension after another: on a volume partition,
    one dimension's records of a routed partition can come before another's of the same
    routed partition. Each dimension's windows wait for its own records."""
    watch = watch_of(SurgePolicy(window=60))
    watch.source_partitions = 3
    start = datetime.now(UTC).timestamp() // 60 * 60 - 600
    for source in (0, 1, 2):  # the clock consumer's batches: one routed partition's backlog each
        for platform in ("instagram", "tiktok"):  # written one dimension after the other
            items = [
                volume.Volume(
                    SurgeDimension.PLATFORM, platform, start + w * 60 + i, "feedback", False, source, w * 10 + i
                )
                for w in range(6)
                for i in range(2)
            ]
            [(key, value)] = volume.dump(items)
            watch.on_volume(Inbound(value, key=key.encode(), topic="social.sla-volume", partition=1, offset=0))
    for platform in ("instagram", "tiktok"):
        learned = watch.detector.watches[("platform", platform)].baseline
        assert (learned.windows, learned.overall) == (5, pytest.approx(6))  # 2 a window from each of 3
