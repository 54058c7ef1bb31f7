"""Remembers webhook delivery ids for a while, so a replayed or redelivered push triggers nothing more.

Git hosts retry deliveries and let anyone with access press "Redeliver"; an attacker who captured a
signed delivery can also send it again (the signature stays valid). Memory is bounded twice: ids
older than ``window`` seconds are forgotten, and at most ``capacity`` ids are kept (oldest first out).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_WINDOW_SECONDS", "RecentDeliveries"]

DEFAULT_WINDOW_SECONDS: Final = 600.0
DEFAULT_CAPACITY: Final = 4096


class RecentDeliveries:
    """A thread-safe set of delivery keys seen within the last ``window`` seconds, at most ``capacity`` of them."""

    def __init__(
        self,
        *,
        window: float = DEFAULT_WINDOW_SECONDS,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window <= 0 or capacity < 1:
            raise ValueError("window must be positive and capacity at least 1")
        self._window = window
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> first seen, oldest first
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True (and remember ``key``) the first time within the window; False for a replay."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        """Forget ``key``: its delivery failed on our side, so a redelivery must get through."""
        with self._lock:
            self._seen.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def _expire(self, now: float) -> None:
        cutoff = now - self._window
        while self._seen:
            key, first_seen = next(iter(self._seen.items()))
            if first_seen > cutoff:
                break
            del self._seen[key]
