"""Throughput of classification, one message at a time versus in batches."""

import time
from dataclasses import dataclass

from triage_classifier.classify import Classifier


@dataclass(frozen=True)
class Throughput:
    mode: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def measure(classifier: Classifier, texts: list[str], batch_size: int, single_count: int) -> list[Throughput]:
    """Classify ``texts`` in batches of ``batch_size`` and the first ``single_count`` one by one."""
    classifier.classify(texts[:batch_size])  # warm caches before timing
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        classifier.classify(texts[start : start + batch_size])
    batched = Throughput(f"batched ({batch_size})", len(texts), time.perf_counter() - started)
    singles = texts[:single_count]
    started = time.perf_counter()
    for text in singles:
        classifier.classify([text])
    single = Throughput("single", len(singles), time.perf_counter() - started)
    return [single, batched]
