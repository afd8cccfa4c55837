"""Inbound volume repartitioned by dimension: how replicas agree on a per-lane count.

The clocks' inputs are partitioned by conversation, so one lane's messages are spread
over every partition and every replica. To count a lane (a platform, an issue type) in
one place, each replica turns an inbound routed message into three small volume
records, one per dimension, keyed ``<dimension>:<value>``, and writes them to
``social.sla-volume`` in the same transaction as the clocks that message touched.
Kafka's partitioner puts all of one dimension on one partition of that topic, and the
surge detector's consumer group gives each partition to one replica: that replica sees
the whole count of its dimensions. A batch's messages are gathered into one record per
dimension value and routed partition (a record per message per dimension cost more than
the clocks themselves); each entry names the routed record it came from (partition,
offset), so a routed record read twice (after a crash before its offset was committed)
is counted once.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from triage_schemas.enums import SurgeDimension


class Volume(NamedTuple):  # a tuple: three are made per inbound message
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


def dump(volumes: Sequence[Volume]) -> list[tuple[str, bytes]]:
    """Volume records (key, value): one per dimension value and routed partition."""
    groups: dict[tuple[SurgeDimension, str, int], list[Volume]] = defaultdict(list)
    for item in volumes:
        groups[item.dimension, item.value, item.source_partition].append(item)
    records = []
    for (dimension, value, partition), items in groups.items():
        data = {
            "d": dimension.value,
            "v": value,
            "p": partition,
            "o": [item.source_offset for item in items],
            "at": [item.at for item in items],
            "it": [item.issue_type for item in items],
            "neg": [int(item.negative) for item in items],
        }
        records.append((items[0].key, json.dumps(data, separators=(",", ":")).encode()))
    return records


def load(value: bytes) -> list[Volume]:
    """Raises ``ValueError`` (or ``KeyError``/``TypeError``) for a record that is not one."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("a volume record is a JSON object")
    dimension, name, partition = SurgeDimension(data["d"]), str(data["v"]), int(data["p"])
    columns = data["o"], data["at"], data["it"], data["neg"]
    if not name or len({len(column) for column in columns}) != 1:
        raise ValueError("a volume record needs a value and columns of one length")
    volumes = [
        Volume(dimension, name, float(at), str(issue_type), bool(negative), partition, int(offset))
        for offset, at, issue_type, negative in zip(*columns, strict=True)
    ]
    if any(item.at != item.at for item in volumes):  # NaN
        raise ValueError("a volume record's times must be numbers")
    return volumes
