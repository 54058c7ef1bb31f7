"""When a failed call to Descope is tried again, and how long to wait first.

Private to ``controller.adapters.descope``: ``DescopeClient`` inherits ``RetryLoop``, whose methods
use the client's attributes declared on it.

Retry policy (``max_retries`` retries after the first attempt; tenacity drives the loop):
    * 429 on any call: the limiter's shared cooldown holds *every* thread until ``Retry-After``
      (integer seconds or HTTP-date; when missing, as from the CDN, the limit's window, which is the
      backoff Descope publishes: 60 s for the default and when no limit is set; capped at
      ``max_retry_wait``) has passed, then the call is retried. Every 429, retried or not, is
      reported to ``on_request``. The last 429 is raised as DescopeRateLimited.
    * Reads (load, load_all, settings, search): retried on transport errors and 5xx, including
      500 (a read cannot do harm twice).
    * Writes: retried on transport errors and ``descope_api.EDGE_STATUSES``: the statuses the SDKs
      retry (503, 520, 521, 522, 524, 530) plus 502 and 504, which the SDKs do not retry (our
      choice, reasoned there); never on 500 or 4xx.
    * create is not idempotent. After an attempt that may have reached Descope (a 5xx or a
      transport error other than a failed connect), the next attempt first loads the tenant by
      id: if it exists with the requested name the create succeeded and its id is returned; if it
      exists with another name that is a DescopeConflict. A 409/"already exists" answer after
      such an attempt gets the same check. A create without an id is retried only when the
      request surely did not reach the server (429, connect errors).
    * delete: a 404 on the first attempt returns False (it was already gone); a 404 after an
      attempt that may have landed returns True.
    * Bad 2xx bodies are not retried (a proxy or wrong base URL; retrying rarely helps).
    Backoff between non-429 retries (``controller.core.backoff.Backoff``): 0.5 s doubling, capped at
    10 s (and at ``max_retry_wait``), plus up to 0.5 s jitter; the sum is capped at ``max_retry_wait``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from controller.core.backoff import Backoff
from controller.descope_api import EDGE_STATUSES
from controller.errors import DescopeRateLimited, DescopeServerError, DescopeUnreachable

T = TypeVar("T")

TRANSIENT_STATUSES: Final[frozenset[int]] = EDGE_STATUSES
"""Statuses retried for every call: the CDN failures the SDKs retry, and 502/504 (``descope_api``)."""
READ_RETRY_STATUSES: Final[frozenset[int]] = TRANSIENT_STATUSES | {500}
"""Reads also retry 500: repeating a read cannot change anything."""

BACKOFF_FIRST: Final = 0.5
BACKOFF_CAP: Final = 10.0
BACKOFF_JITTER: Final = 0.5

# Transport failures that mean the request never left this machine, so a create cannot have landed.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RetryLoop:
    """``DescopeClient``'s retry loop: ``max_retries`` more attempts while a predicate allows."""

    max_retries: int
    max_retry_wait: float
    _sleep: Callable[[float], None]

    def _retry(self, statuses: frozenset[int], fn: Callable[[], T]) -> T:
        return self._retry_if(lambda exc: _retryable(exc, statuses), fn)

    def _retry_if(self, predicate: Callable[[BaseException], bool], fn: Callable[[], T]) -> T:
        backoff = Backoff(first=BACKOFF_FIRST, cap=min(BACKOFF_CAP, self.max_retry_wait), jitter=BACKOFF_JITTER)

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and isinstance(outcome.exception(), DescopeRateLimited):
                return 0.0  # the limiter's cooldown (set by _send) holds this thread and all others
            return min(backoff.delay(state.attempt_number), self.max_retry_wait)

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            retry=retry_if_exception(predicate),
            wait=wait,
            sleep=self._sleep_some,
            reraise=True,
        )
        return retrying(fn)

    def _sleep_some(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)


def _retryable(exc: BaseException, statuses: frozenset[int]) -> bool:
    if isinstance(exc, DescopeRateLimited | DescopeUnreachable):
        return True
    return isinstance(exc, DescopeServerError) and exc.status in statuses


def _may_have_landed(exc: BaseException) -> bool:
    """Whether a failed attempt may still have been carried out by Descope."""
    if isinstance(exc, DescopeServerError):
        return True
    if isinstance(exc, DescopeUnreachable):
        return not isinstance(exc.__cause__, _NOT_SENT)
    return False
