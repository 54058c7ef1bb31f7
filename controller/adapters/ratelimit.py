"""A client-side rate limiter, so our writes stay under Descope's limits instead of provoking 429 storms.

``RateLimiter`` is a thread-safe token bucket in its GCRA form (one "theoretical arrival time"
instead of a token count): ``acquire()`` reserves the next free slot under a lock and sleeps
outside it, so concurrent callers are spaced ``1/rate`` seconds apart after an initial ``burst``.
``pause_until(deadline)`` is a shared cooldown: after a 429 with ``Retry-After`` every thread
that calls ``acquire()`` waits until the deadline, and a slot reserved before the pause is
given up and taken again after it. ``rate=None`` means no pacing, only the cooldown.

Why hand-written rather than ``pyrate-limiter``: its limiter sleeps with ``time.sleep``/asyncio
itself (no way to inject ``sleep``, so tests would have to sleep for real), its clock is an
integer-millisecond class hierarchy, its rates are whole counts per window (2.5 req/s must
be re-expressed), and it has no cooldown operation; it would also be a new runtime dependency
for about forty lines of code.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Paces ``acquire()`` calls to ``rate`` per second (bursts of ``burst``) and honours cooldowns."""

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of requests per second or None, not {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate if rate is not None else 0.0
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = -math.inf  # theoretical arrival time of the next request at an even pace
        self._paused_until = -math.inf

    def acquire(self) -> float:
        """Block until this caller may send one request; return the seconds waited."""
        waited = 0.0
        reserved = False
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                    reserved = False  # a slot taken before the pause is void; take a fresh one after it
                elif reserved or self.rate is None:
                    return waited
                else:
                    start = max(now, self._tat - self._tolerance)
                    self._tat = max(self._tat, now) + self._interval
                    wait = start - now
                    if wait <= 0:
                        return waited
                    reserved = True
            self._sleep(wait)
            waited += wait

    def pause_until(self, deadline: float) -> None:
        """Hold every ``acquire()`` until ``deadline`` (same clock); a later deadline wins."""
        with self._lock:
            self._paused_until = max(self._paused_until, deadline)

    def paused_for(self) -> float:
        """Seconds left in the current cooldown (0 when none)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate!r}, burst={self.burst})"
