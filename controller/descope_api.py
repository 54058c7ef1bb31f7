"""What we know of Descope's Management API, with its sources: the one place the client and the sandbox take it from.

Each fact names where it comes from: Descope's SDKs (py = descope/python-sdk, go = descope/go-sdk,
node = descope/node-sdk, net = descope-dotnet), docs.descope.com, or shared/reference/descope-tenant-api.md
(§ numbers). A fact marked *choice* is not published; we picked the stricter reading, and this is
the only place that says so. The sandbox behaves as these facts say; the client copes with them.
A leaf module: any layer (and the sandbox) may import it; it imports nothing of ours.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

# ----- transient failures and retries (§5) ------------------------------------------------------------

SDK_RETRY_STATUSES: Final[frozenset[int]] = frozenset({503, 520, 521, 522, 524, 530})
"""What every Descope SDK retries by itself (py ``_RETRY_STATUS_CODES``, go ``retryableStatusCodes``,
net ``DescopeErrorResponseHandler``), 3 times after 0.1 s, 5 s, 5 s. Never 429, 500, 502 or 504."""

GATEWAY_STATUSES: Final[frozenset[int]] = frozenset({502, 504})
"""*Choice*: gateway failures we retry too, although the SDKs do not. A write we retry is idempotent
(patch, update, settings and default roles set values) or checked by id first (create), so repeating
it after a gateway lost the answer cannot do harm."""

EDGE_STATUSES: Final[frozenset[int]] = SDK_RETRY_STATUSES | GATEWAY_STATUSES
"""Statuses answered by Cloudflare in front of Descope, with an HTML page rather than a Descope error body."""

# ----- rate limits (§6) -----------------------------------------------------------------------------

_RATE_FORM: Final = re.compile(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s")
RATE_FORM_HINT: Final = 'must be "N/Ws" (at most N requests in any W seconds, e.g. "100/60s") or requests per second'


@dataclass(frozen=True)
class RateLimit:
    """A limit as Descope states its own: at most ``count`` requests in any ``window_s``-second span.

    Descope counts the requests that *arrive* in a sliding window and, once a client has sent one
    too many, refuses everything it sends for one whole window (docs.descope.com/rate-limiting:
    "100 requests / 60 s" with "a backoff of 60 s").
    """

    count: int
    window_s: float

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError('must allow at least 1 request per window ("N/Ws" with N >= 1)')
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError('the window must be longer than 0 seconds ("N/Ws" with W > 0)')

    @classmethod
    def parse(cls, value: object) -> RateLimit:
        """``"N/Ws"`` (Descope's form), or a number of requests per second (``10``, ``"2.5"``).

        A fractional rate keeps its rate with a whole count: 2.5 per second is 2 per 0.8 s.
        Raises ValueError with a one-line reason that does not repeat ``value``.
        """
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, str):
            form = _RATE_FORM.fullmatch(value.strip())
            if form is not None:
                return cls(int(form[1]), float(form[2]))
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(RATE_FORM_HINT) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(RATE_FORM_HINT)
        if not math.isfinite(value):
            raise ValueError('must be a finite number of requests per second (or "N/Ws", e.g. "100/60s")')
        if value <= 0:
            raise ValueError('must be more than 0 requests per second (or "N/Ws", e.g. "100/60s")')
        count = max(1, math.floor(value))
        return cls(count, count / value)

    def __str__(self) -> str:
        window = int(self.window_s) if self.window_s.is_integer() else self.window_s
        return f"{self.count}/{window}s"


API_RATE_LIMIT: Final = RateLimit(100, 60.0)
"""Descope's published limit for plain API traffic, per IP: "100 requests / 60 s", and once it is
exceeded a backoff of 60 s (docs.descope.com/rate-limiting; §6). No tenant-specific limit is published.
*Choice*: the tenant Management API is held to this one, the stricter of the two published limits, and
it is our default ``[descope] rate_limit``."""

SDK_RATE_LIMIT: Final = RateLimit(1000, 10.0)
"""Descope's published limit for backend SDK traffic, per IP: "1000 requests / 10 s", backoff 10 s
(docs.descope.com/rate-limiting). Which limit a project gets depends on its license tier (§6, inferred),
which ``GET /v1/mgmt/license`` answers as ``rateLimitTier`` and the SDKs send back as ``x-descope-license``."""

RATE_LIMITED_STATUS: Final = 429
"""Descope's answer to a client over its limit (docs; py, go, java), with body code ``E130429``."""

RETRY_AFTER_HEADER: Final = "Retry-After"
"""Whole seconds to wait after a 429 (py ``API_RATE_LIMIT_RETRY_AFTER_HEADER``, go, java). A 429 may come
without it when the CDN in front of Descope answers (java treats any 429 as rate limited and then waits
60 s); the client then waits its limit's window, the backoff Descope publishes."""
