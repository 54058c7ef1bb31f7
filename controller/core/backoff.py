"""The one backoff policy: how long to wait before the n-th retry, for requests, tenants and cycles.

Exponential from ``first``, capped at ``cap``, plus jitter so many waiters do not retry in step.
The three users differ only in their numbers (a request retries in seconds, a failing tenant waits
interval-sized steps, a failed cycle retries sooner than the next tick), not in the formula.
Pure: the random draw is a parameter, so a test can pin it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

MAX_TENANT_BACKOFF: Final = 3600.0
"""A failing tenant (its own write or one of its roles, SSO or password policy) waits at most this long."""


@dataclass(frozen=True)
class Backoff:
    first: float  # the wait before the first retry
    cap: float  # no wait is longer than this (before jitter)
    jitter: float = 0.0  # added at random: a share of the wait when ``relative``, else seconds
    relative: bool = False

    def delay(self, attempt: int, draw: float | None = None) -> float:
        """The wait before retry number ``attempt`` (1-based); ``draw`` in [0, 1) picks the jitter."""
        base = min(self.first * 2 ** min(max(0, attempt - 1), 62), self.cap) if self.first > 0 else 0.0
        if draw is None:
            draw = random.random()  # noqa: S311 - jitter, not security
        spread = base * self.jitter if self.relative else self.jitter
        return base + spread * draw
