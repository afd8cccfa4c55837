"""One stage of the benchmark's plain aiokafka chain, in a process of its own.

The services' delivery semantics with nothing else: a batch from ``getmany`` (500 records,
200 ms, as the services' subscriber asks), ``json.loads`` and ``json.dumps`` of each
record, every output handed to an idempotent ``acks=all`` producer and all the
acknowledgements awaited together, then the offsets committed.

Protocol with the benchmark, one JSON object a line: the stage prints ``{"ready": true}``
once its partitions are assigned and its producer is connected, waits for ``go`` on stdin,
then drains ``--count`` records and prints when it finished and the CPU seconds it used
from ``go`` to its last commit.

    python -m tests.bench.plain_stage --bootstrap H:P --source T1 --target T2 --group G --count N
"""

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

BATCH = 500
BATCH_TIMEOUT_MS = 200
HEADERS = [("content-type", b"application/json")]


class Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned:
            self.event.set()


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def run(args: argparse.Namespace) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    assigned = Assigned()
    await consumer.start()
    await producer.start()
    try:
        consumer.subscribe([args.source], listener=assigned)
        await assigned.event.wait()  # the coordinator joins the group in the background
        say(ready=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if line.strip() != "go":
            return
        cpu_at_go = time.process_time()
        done = 0
        while done < args.count:
            batches = await consumer.getmany(timeout_ms=BATCH_TIMEOUT_MS, max_records=BATCH)
            records = [record for batch in batches.values() for record in batch]
            if not records:
                continue
            acks = []
            for record in records:
                value = json.dumps(json.loads(record.value)).encode()
                acks.append(await producer.send(args.target, value, key=record.key, headers=HEADERS))
            await asyncio.gather(*acks)
            await consumer.commit()
            done += len(records)
        say(done=done, finished_at=time.time(), cpu_seconds=time.process_time() - cpu_at_go)
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--count", type=int, required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
