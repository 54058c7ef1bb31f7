"""A client-side limit in Descope's own form, N requests in any W seconds, so Descope never blocks us.

Descope counts the requests that *arrive* from us in a sliding window of W seconds, and once N+1
have arrived within one, it refuses everything for a whole window (``descope_api.RateLimit``).
We cannot see arrivals, only that each one happens somewhere between the moment we start sending
a request and the moment its answer (or its error) is back. Spacing *send* times W apart is not
enough: a request that is slow to arrive followed by a fast one puts N+1 arrivals into one span.

The rule. Number the requests in the order they are granted, 1, 2, …; let ``e_i`` be the time
request i finished (answered or failed). Request j may start only once requests 1..j-N have all
finished, and only at ::

    s_j >= max(e_1, …, e_{j-N}) + W

Why that is enough: take any N+1 requests; the lowest-numbered, i, and the highest-numbered, j,
have j >= i + N, so their arrivals satisfy a_j >= s_j >= e_i + W >= a_i + W. Those two arrive at
least W apart, so no W-second span holds all N+1, whatever the network delays, the order of
arrivals or the threads' scheduling.

So ``acquire()`` hands out a ``Ticket``, and the caller holds it while the request is out: ``with
limiter.acquire(): send()``; leaving the block records the end. After an idle window a full burst
of N goes at once; request j then waits for request j-N to have finished (only a request still in
flight N places back makes a caller wait on it), and for W after it. The cost against the ideal
is one round trip per window. The limiter is thread-safe and is the client's one budget, shared
by every thread (the cycle's writers and the snapshot job).

``pause_until(deadline)`` is the shared cooldown after a 429: every ``acquire()`` waits until the
deadline, including a caller whose ticket was granted before the pause. ``limit=None`` means no
pacing, only the cooldown. ``should_stop``: a caller still waiting when it turns true gets
``ShuttingDown`` (pair it with a ``sleep`` that wakes on the same stop, e.g. ``Event.wait``).

Hand-written rather than ``pyrate-limiter``: its limiters count *send* times (the flaw above),
sleep with ``time.sleep`` themselves (tests would sleep for real) and have no cooldown.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from controller.descope_api import RateLimit
from controller.errors import ShuttingDown


class Ticket:
    """Leave to send one request; held (``with``) while the request is out, finished when it is back."""

    __slots__ = ("_limiter", "end", "not_before", "waited")

    def __init__(self, limiter: RateLimiter | None, not_before: float) -> None:
        self._limiter = limiter
        self.not_before = not_before
        self.end: float | None = None  # when the request finished; None while it is out
        self.waited = 0.0  # seconds the caller waited for this ticket

    def finish(self) -> None:
        """Record that the request is back (an answer or an error); calling it again does nothing."""
        if self._limiter is not None:
            self._limiter._finish(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish()


class RateLimiter:
    """At most ``limit.count`` requests arrive at the server in any ``limit.window_s`` seconds; honours cooldowns."""

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.limit = limit
        self._should_stop = should_stop
        self._clock = clock
        self._sleep = sleep
        self._changed = threading.Condition()
        self._recent: deque[Ticket] = deque()  # the last `count` tickets granted, oldest first
        self._floor = -math.inf  # the latest end among the tickets granted before those
        self._paused_until = -math.inf

    def acquire(self) -> Ticket:
        """Block until one more request may start; return its ticket (use it as a context manager)."""
        ticket: Ticket | None = None
        waited = 0.0
        try:
            while True:
                if self._should_stop():
                    raise ShuttingDown()
                with self._changed:
                    now = self._clock()
                    if now < self._paused_until:
                        wait = self._paused_until - now
                    elif ticket is not None:
                        wait = ticket.not_before - now
                    elif self.limit is None:
                        ticket = Ticket(None, now)
                        wait = 0.0
                    else:
                        ticket = self._grant()
                        if ticket is None:
                            self._changed.wait()  # request j-N is still out: its end sets our start
                            continue
                        wait = ticket.not_before - now
                    if wait <= 0:
                        assert ticket is not None
                        ticket.waited = waited
                        return ticket
                self._sleep(wait)
                waited += wait
        except BaseException:
            if ticket is not None:
                ticket.finish()  # never sent: it must not hold up request j+N for ever
            raise

    def _grant(self) -> Ticket | None:
        """The next ticket, or None while the request ``count`` places back is still out (lock held)."""
        assert self.limit is not None
        if len(self._recent) >= self.limit.count:
            oldest = self._recent[0]
            if oldest.end is None:
                return None
            self._floor = max(self._floor, oldest.end)
            self._recent.popleft()
        ticket = Ticket(self, self._floor + self.limit.window_s)
        self._recent.append(ticket)
        return ticket

    def _finish(self, ticket: Ticket) -> None:
        with self._changed:
            if ticket.end is None:
                ticket.end = self._clock()
                self._changed.notify_all()

    def pause_until(self, deadline: float) -> None:
        """Hold every ``acquire()`` until ``deadline`` (same clock); a later deadline wins."""
        with self._changed:
            self._paused_until = max(self._paused_until, deadline)

    def paused_for(self) -> float:
        """Seconds left in the current cooldown (0 when none)."""
        with self._changed:
            return max(0.0, self._paused_until - self._clock())

    def __repr__(self) -> str:
        return f"RateLimiter({self.limit})"
