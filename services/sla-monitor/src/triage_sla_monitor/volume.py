"""Inbound volume repartitioned by dimension: how replicas agree on a per-lane count.

The clocks' inputs are partitioned by conversation, so one lane's messages are spread
over every partition and every replica. To count a lane (a platform, an issue type) in
one place, each replica turns an inbound routed message into three small volume
records, one per dimension, keyed ``<dimension>:<value>``, and writes them to
``social.sla-volume`` in the same transaction as the clocks that message touched.
Kafka's partitioner puts all of one dimension on one partition of that topic, and the
surge detector's consumer group gives each partition to one replica: that replica sees
the whole count of its dimensions. Each record names the routed record it came from
(partition, offset), so a routed record read twice (after a crash before its offset was
committed) is counted once.
"""

import json
from dataclasses import dataclass

from triage_schemas.enums import SurgeDimension


@dataclass(frozen=True, slots=True)
class Volume:
    dimension: SurgeDimension
    value: str
    at: float  # the message's time
    issue_type: str
    negative: bool
    source_partition: int
    source_offset: int

    @property
    def key(self) -> str:
        return f"{self.dimension.value}:{self.value}"


def volumes_of(
    at: float, lane: str, platform: str, issue_type: str, negative: bool, source_partition: int, source_offset: int
) -> list[Volume]:
    """One inbound message as the three volume records that count it."""
    return [
        Volume(dimension, value, at, issue_type, negative, source_partition, source_offset)
        for dimension, value in (
            (SurgeDimension.LANE, lane),
            (SurgeDimension.PLATFORM, platform),
            (SurgeDimension.ISSUE_TYPE, issue_type),
        )
    ]


def dump(volume: Volume) -> bytes:
    data = {
        "d": volume.dimension.value,
        "v": volume.value,
        "at": volume.at,
        "it": volume.issue_type,
        "neg": volume.negative,
        "p": volume.source_partition,
        "o": volume.source_offset,
    }
    return json.dumps(data, separators=(",", ":")).encode()


def load(value: bytes) -> Volume:
    """Raises ``ValueError`` (or ``KeyError``/``TypeError``) for a record that is not one."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("a volume record is a JSON object")
    volume = Volume(
        SurgeDimension(data["d"]),
        str(data["v"]),
        float(data["at"]),
        str(data["it"]),
        bool(data["neg"]),
        int(data["p"]),
        int(data["o"]),
    )
    if not volume.value or volume.at != volume.at:  # empty value or NaN time
        raise ValueError("a volume record needs a value and a time")
    return volume
