"""What we know of Descope's Management API, with its sources: the one place the client and the sandbox take it from.

Each fact names where it comes from: Descope's SDKs (py = descope/python-sdk, go = descope/go-sdk,
node = descope/node-sdk, net = descope-dotnet), docs.descope.com, or shared/reference/descope-tenant-api.md
(§ numbers). A fact marked *choice* is not published; we picked the stricter reading, and this is
the only place that says so. The sandbox behaves as these facts say; the client copes with them.
A leaf module: any layer (and the sandbox) may import it; it imports nothing of ours.
"""

from __future__ import annotations

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
