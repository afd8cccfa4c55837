"""The clocks on Kafka: written to the compacted state topic, read back on assignment.

Every change to a clock is written to ``social.sla-state`` before the input offsets are
committed (the shared delivery step's ``extra`` hook), in a transaction, and read back
with ``read_committed``; a fired alert is written with the clock that records it as
sent, in one transaction (see ``timers``). A restart therefore finds each clock as it
was and every alert it already sent: none is lost and none repeats.

Replicas: ``social.routed``, ``social.conversation-events`` and ``social.sla-state`` are
co-partitioned, and one consumer reads both inputs, so a conversation's inputs and its
clock live on the same partition number. A clock is written to the state partition of
the input that touched it. When the group assigns a partition, its clocks are restored
from that state partition before any of its inputs is processed; when a partition is
revoked, the clocks in hand are persisted and firing stops until the new assignment,
and clocks of partitions this replica no longer owns are dropped. Kafka's (eager)
rebalance revokes from every member before it assigns, so two replicas never fire the
same clock. aiokafka hands out records of a new assignment while the listener still
runs, so the consumer waits for ``restored`` before each batch: no input is applied to a
clock that its restore would then overwrite.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from triage_runtime.delivery import Inbound
from triage_runtime.kafka import KafkaSettings, read_to_end
from triage_runtime.logs import log_event
from triage_sla_monitor import state, volume
from triage_sla_monitor.monitor import Monitor


async def committed_state(
    kafka: KafkaSettings, topic: str, partitions: set[int]
) -> AsyncGenerator[ConsumerRecord, None]:
    """Every committed record of these state partitions, from their beginning to their end
    as it is now, read outside any consumer group: what a replica restores from. Read it
    inside ``contextlib.aclosing``, so the consumer stops at once if the reader fails."""
    wanted = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not wanted:
        return
    consumer = AIOKafkaConsumer(
        **kafka.admin_client_kwargs(),
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for record in read_to_end(consumer, dict.fromkeys(wanted)):
            yield record
    finally:
        await consumer.stop()


class ClockState:
    """Persistence and recovery of one replica's clocks."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.topic = monitor.settings.topics.sla_state
        self.volume_topic = monitor.settings.topics.sla_volume
        # set once the assigned partitions' clocks are restored: inputs wait for it
        self.restored = asyncio.Event()

    async def restore(self, partitions: set[int]) -> int:
        """Load the committed clocks of these state partitions (a killed replica's open
        transaction was aborted by our producer's start, or times out)."""
        restored = 0
        async with contextlib.aclosing(committed_state(self.monitor.settings.kafka, self.topic, partitions)) as records:
            async for record in records:
                restored += self._restore_one(record.key, record.value, record.partition)
        return restored

    def _restore_one(self, key: bytes | None, value: bytes | None, partition: int) -> int:
        monitor = self.monitor
        if key is None:
            return 0
        cid = key.decode("utf-8", errors="replace")
        if state.watch_dimension(cid) is not None:
            return 0  # a surge watch, restored by ``surge_watch``
        if value is None:
            monitor.store.forget(cid)
            monitor.partition_of.pop(cid, None)
            return 0
        try:
            monitor.store.restore(state.load(cid, value))
        except (ValueError, KeyError, TypeError) as error:
            log_event(monitor.logger, "bad_state_record", logging.WARNING, error=type(error).__name__)
            return 0
        monitor.partition_of[cid] = partition
        return 1

    async def assigned(self, partitions: set[int]) -> None:
        """The group gave us these partitions: drop the clocks of the others, restore the new ones."""
        monitor = self.monitor
        async with monitor.lock:
            for cid in [c for c, p in monitor.partition_of.items() if p not in partitions]:
                monitor.store.forget(cid)
                del monitor.partition_of[cid]
            new = partitions - monitor.owned
            await self.restore(new)
            monitor.owned = set(partitions)
            monitor.firing = True
        self.restored.set()
        log_event(
            monitor.logger, "partitions_assigned", partitions=sorted(partitions), restored=sorted(new),
            clocks=len(monitor.store),
        )  # fmt: skip

    async def revoked(self) -> None:
        """Before the group reassigns: persist what is in hand and stop firing."""
        self.restored.clear()
        await self.persist(())
        async with self.monitor.lock:
            self.monitor.firing = False

    async def persist(self, _: Sequence[Inbound]) -> None:
        """Write the touched clocks before the shared step commits the input offsets."""
        monitor = self.monitor
        if not monitor.dirty and not monitor.volumes:
            return
        async with monitor.lock:
            dirty, monitor.dirty = monitor.dirty, set()
            volumes, monitor.volumes = monitor.volumes, []
            assert monitor.producer is not None
            try:
                async with monitor.producer.transaction():
                    for cid in dirty:
                        await self.send(cid)
                    for key, value in volume.dump(volumes):
                        await monitor.producer.send(self.volume_topic, key=key.encode(), value=value)
            except BaseException:
                monitor.dirty |= dirty
                monitor.volumes[:0] = volumes
                raise
            for cid in dirty:
                clock = monitor.store.clocks.get(cid)
                if clock is not None and monitor.store.finished(clock):
                    monitor.store.forget(cid)
                    monitor.partition_of.pop(cid, None)

    async def send(self, cid: str) -> None:
        """Queue one clock's state in the open transaction."""
        monitor = self.monitor
        assert monitor.producer is not None
        clock = monitor.store.clocks.get(cid)
        # a finished conversation leaves a tombstone, so compaction drops it
        value = None if clock is None or monitor.store.finished(clock) else state.dump(clock)
        # the state partition is the input partition, whatever partitioner the producers used
        await monitor.producer.send(self.topic, key=cid.encode(), value=value, partition=monitor.partition_of.get(cid))


class ClockPartitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Restores and drops clocks as the consumer group moves partitions."""

    def __init__(self, clock_state: ClockState, topic: str) -> None:
        self.clock_state = clock_state
        self.topic = topic  # the inputs are co-partitioned: one topic's numbers stand for both

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.clock_state.revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.clock_state.assigned({tp.partition for tp in assigned if tp.topic == self.topic})
