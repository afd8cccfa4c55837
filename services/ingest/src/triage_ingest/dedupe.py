"""Platforms retry webhooks: a message id seen again within the window is a duplicate.

Memory is bounded twice: ids older than the window are forgotten, and beyond
``max_entries`` the oldest are forgotten first. Time is passed in, never read here.

In the service an id counts as seen only once the records it produced are
acknowledged by Kafka (``BatchDedupe``): a batch whose publish fails is redelivered
and processed as new, never dropped as a duplicate of itself. The offline
``normalize`` command writes as it goes, so it marks ids at once (``first_time``).
"""

from collections import OrderedDict
from collections.abc import Iterable


class RecentIds:
    def __init__(self, window_seconds: float, max_entries: int) -> None:
        self.window = window_seconds
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, key: str, now: float) -> bool:
        """Whether ``key`` was remembered within the window (remembers nothing)."""
        self._forget_before(now - self.window)
        return key in self._seen

    def remember(self, key: str, seen_at: float) -> None:
        self._seen[key] = seen_at
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def first_time(self, key: str, now: float) -> bool:
        """True the first time ``key`` is seen within the window (and remember it)."""
        if self.seen(key, now):
            return False
        self.remember(key, now)
        return True

    def _forget_before(self, cutoff: float) -> None:
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                return
            del self._seen[oldest_key]


class BatchDedupe:
    """Dedupe for one batch at a time, committed only after the batch is published.

    ``first_time`` answers for ids remembered from earlier, published batches and for
    ids met earlier in the current batch, without remembering anything; ``published``
    remembers the ids whose records Kafka acknowledged.
    """

    def __init__(self, recent: RecentIds) -> None:
        self.recent = recent
        self._batch: set[str] = set()

    def begin_batch(self) -> None:
        self._batch.clear()

    def first_time(self, key: str, now: float) -> bool:
        if key in self._batch or self.recent.seen(key, now):
            return False
        self._batch.add(key)
        return True

    def published(self, keys: Iterable[str], now: float) -> None:
        for key in keys:
            self.recent.remember(key, now)
