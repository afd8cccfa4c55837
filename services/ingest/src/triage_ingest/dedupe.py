"""Platforms retry webhooks: a message id seen again within the window is a duplicate.

Memory is bounded twice: ids older than the window are forgotten, and beyond
``max_entries`` the oldest are forgotten first. Time is passed in, never read here.
"""

from collections import OrderedDict


class RecentIds:
    def __init__(self, window_seconds: float, max_entries: int) -> None:
        self.window = window_seconds
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, key: str, now: float) -> bool:
        """True the first time ``key`` is seen within the window (and remember it)."""
        self._forget_before(now - self.window)
        if key in self._seen:
            return False
        self._seen[key] = now
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True

    def _forget_before(self, cutoff: float) -> None:
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                return
            del self._seen[oldest_key]
