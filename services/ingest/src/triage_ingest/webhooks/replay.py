"""Signed deliveries accepted recently, so a replayed one is not published twice.

A signature never expires for Meta, X, LinkedIn or Telegram, and TikTok's lasts
``tiktok_tolerance_seconds``: whoever captured a delivery could post it again. The key
is a digest of the platform and the raw body: for Meta, X and LinkedIn the signature is
a function of the body alone, Telegram's token is the same on every delivery, and a
TikTok retry re-signs the same body with a new timestamp, so the body is what identifies
the delivery. Every platform's body carries the event's own ids and times, so two
distinct deliveries never share one.

A key is claimed before publishing and kept only once publishing succeeded: a delivery
whose publishing failed can be retried, and a copy arriving while the first is still
being published is told to retry later instead of being counted as accepted.

Memory is bounded twice: keys older than the window are forgotten, and beyond
``max_entries`` the oldest are forgotten first. Time is passed in, never read here.
"""

import enum
import hashlib
from collections import OrderedDict

from triage_schemas.enums import Platform


class Seen(enum.Enum):
    NEW = "new"
    """Not seen within the window: now claimed, to be accepted or released."""
    IN_FLIGHT = "in_flight"
    """The same delivery is being published right now."""
    ACCEPTED = "accepted"
    """Accepted within the window: a replay (or a retry whose 200 was lost)."""


def delivery_key(platform: Platform, body: bytes) -> bytes:
    return hashlib.sha256(platform.value.encode("ascii") + b"\0" + body).digest()


class ReplayWindow:
    def __init__(self, window_seconds: float, max_entries: int) -> None:
        self.window = window_seconds
        self.max_entries = max_entries
        self._accepted: OrderedDict[bytes, float] = OrderedDict()
        # Bounded by the requests in progress, each one already authenticated.
        self._in_flight: set[bytes] = set()

    def __len__(self) -> int:
        return len(self._accepted)

    def claim(self, key: bytes, now: float) -> Seen:
        """``Seen.NEW`` (and the key is claimed) unless the delivery is in flight or was
        accepted within the window."""
        self._forget_before(now - self.window)
        if key in self._in_flight:
            return Seen.IN_FLIGHT
        if key in self._accepted:
            return Seen.ACCEPTED
        self._in_flight.add(key)
        return Seen.NEW

    def accept(self, key: bytes, now: float) -> None:
        """The claimed delivery was published: repeats within the window are replays."""
        self._in_flight.discard(key)
        self._accepted[key] = now
        self._accepted.move_to_end(key)
        while len(self._accepted) > self.max_entries:
            self._accepted.popitem(last=False)

    def release(self, key: bytes) -> None:
        """The claimed delivery was not published: the platform's retry must get through."""
        self._in_flight.discard(key)

    def _forget_before(self, cutoff: float) -> None:
        while self._accepted:
            oldest_key, accepted_at = next(iter(self._accepted.items()))
            if accepted_at >= cutoff:
                return
            del self._accepted[oldest_key]
