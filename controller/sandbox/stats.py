"""Counters of tenant-API traffic, read through ``GET /_sandbox/stats`` so tests can assert on call counts."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._rate_limited = 0
        self._faults = 0
        self._writes = 0

    def received(self, key: str) -> None:
        with self._lock:
            self._requests[key] += 1

    def answered(self, status: int, *, wrote: bool) -> None:
        with self._lock:
            self._statuses[str(status)] += 1
            self._writes += wrote

    def rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    def fault(self) -> None:
        with self._lock:
            self._faults += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._requests.values()),
                "requests": dict(self._requests),
                "status": dict(self._statuses),
                "rate_limited": self._rate_limited,
                "faults": self._faults,
                "writes": self._writes,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._rate_limited = self._faults = self._writes = 0
