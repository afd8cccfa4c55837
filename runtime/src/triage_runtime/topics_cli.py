"""``triage-topics``: create or list the pipeline's topics from the settings."""

import argparse
import asyncio
import sys

from triage_runtime.kafka import KafkaSettings, ensure_topics
from triage_runtime.topics import TopicSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage-topics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create", help="create every topic that does not exist yet (idempotent)")
    sub.add_parser("list", help="print every topic name from the settings")
    args = parser.parse_args(argv)
    topics = TopicSettings()
    if args.command == "list":
        for key, name in topics.all_topics().items():
            print(f"{key}\t{name}")
        return 0
    kafka = KafkaSettings()
    try:
        created = asyncio.run(ensure_topics(kafka, topics))
    except Exception as error:
        print(f"triage-topics: cannot reach Kafka at {kafka.bootstrap_servers}: {error}", file=sys.stderr)
        return 1
    for name in topics.all_topics().values():
        state = "created" if name in created else "exists"
        print(f"{state}\t{name}\t{topics.partitions} partitions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
