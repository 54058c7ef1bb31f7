"""The one place that talks to Descope's tenant Management API, turning HTTP into our errors.

``DescopeClient`` wraps an injected ``httpx.Client`` (its timeouts, pool and transport are the
caller's), sends Descope's auth and SDK headers, keeps requests under a ``RateLimiter`` (N requests
in any W seconds, Descope's own form) and retries with ``tenacity``. It decides no policy: what to
write is the engine's business.
Facts about the API are in shared/reference/descope-tenant-api.md (§ numbers below refer to it).

Error mapping (§5), decided by HTTP status, never by Descope's error code:
    401/403 → DescopeAuthError       404 → DescopeNotFound
    409, or 400 saying "already exists" → DescopeConflict
    400/422 refusing a custom attribute we sent → DescopeAttributeRefused (below)
    other 400/422 → DescopeValidationError          429 → DescopeRateLimited(retry_after)
    5xx → DescopeServerError         no HTTP answer → DescopeUnreachable
    2xx with a body that is not the JSON we expect → DescopeBadResponse
    anything else (3xx, 405, ...) → DescopeError
Custom attributes (§3.9): a 400/422 to a write that carried ``customAttributes`` is an attribute refusal
when it has one of ``descope_api``'s attribute codes, or when its text speaks of an attribute and names
one of the keys we sent (Descope's real codes are unpublished). The message names the key, and what to
do: define it in the console, or fix the value in tenants.yaml; for an answer without our codes it
quotes Descope's words and names both remedies rather than guess which one applies.
Messages carry Descope's ``errorDescription``/``errorMessage`` or a short snippet of a non-JSON
body (CDN HTML pages are reduced to their title), and never the management key: request headers
are never put into errors, and every message is scrubbed of the key as a last line of defence.

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
    Backoff between non-429 retries: 0.5 s doubling, plus up to 0.5 s jitter, capped at 10 s
    (and at ``max_retry_wait``).
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential, wait_random

from controller import __version__
from controller.adapters.ratelimit import RateLimiter
from controller.descope_api import (
    API_RATE_LIMIT,
    ATTRIBUTE_UNDEFINED_CODE,
    ATTRIBUTE_VALUE_CODE,
    EDGE_STATUSES,
    PATCH_MISSING_STATUSES,
    RATE_LIMITED_STATUS,
    RETRY_AFTER_HEADER,
    SETTINGS_TENANT_KEYS,
    TENANT_FIELDS_NOT_UPDATABLE,
    RateLimit,
)
from controller.errors import (
    DescopeAttributeRefused,
    DescopeAuthError,
    DescopeBadResponse,
    DescopeConflict,
    DescopeError,
    DescopeNotFound,
    DescopeRateLimited,
    DescopeServerError,
    DescopeUnreachable,
    DescopeValidationError,
)
from controller.redaction import Redactor

T = TypeVar("T")
E = TypeVar("E", bound=DescopeError)

DEFAULT_BASE_URL: Final = "https://api.descope.com"
SDK_NAME: Final = "descope-gitops"

TRANSIENT_STATUSES: Final[frozenset[int]] = EDGE_STATUSES
"""Statuses retried for every call: the CDN failures the SDKs retry, and 502/504 (``descope_api``)."""
READ_RETRY_STATUSES: Final[frozenset[int]] = TRANSIENT_STATUSES | {500}
"""Reads also retry 500: repeating a read cannot change anything."""

BACKOFF_FIRST: Final = 0.5
BACKOFF_CAP: Final = 10.0
BACKOFF_JITTER: Final = 0.5
SNIPPET_CHARS: Final = 160

_ALREADY_EXISTS = re.compile(r"already\s+(exists?|taken|in\s+use)|duplicate", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_ATTRIBUTE_WORD = re.compile(r"attribute", re.IGNORECASE)
_CONSOLE_ATTRIBUTES: Final = "the console (Project → Tenants → Custom attributes)"
_ERROR_TEXT_CHARS: Final = 4096

# Transport failures that mean the request never left this machine, so a create cannot have landed.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Paths (§3).
_TENANT: Final = "/v1/mgmt/tenant"
_TENANT_ALL: Final = "/v1/mgmt/tenant/all"
_TENANT_CREATE: Final = "/v1/mgmt/tenant/create"
_TENANT_UPDATE: Final = "/v1/mgmt/tenant/update"
_TENANT_PATCH: Final = "/v1/mgmt/tenant/patch"
_TENANT_DELETE: Final = "/v1/mgmt/tenant/delete"
_TENANT_SEARCH: Final = "/v1/mgmt/tenant/search"
_TENANT_SETTINGS: Final = "/v1/mgmt/tenant/settings"
_TENANT_DEFAULT_ROLES: Final = "/v1/mgmt/tenant/updateDefaultRoles"
_LICENSE: Final = "/v1/mgmt/license"


def base_url_for_project_id(project_id: str) -> str:
    """Descope's API host for a project: regional ids (32+ chars) carry the region in chars 1..4 (§1)."""
    if len(project_id) >= 32:
        return f"https://api.{project_id[1:5].lower()}.descope.com"
    return DEFAULT_BASE_URL


class DescopeClient:
    """Descope tenant Management API over an injected ``httpx.Client``; safe to share between threads."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        project_id: str,
        management_key: str,
        base_url: str,
        rate_limit: RateLimit | None = None,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_request: Callable[[str, str, float], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, not {max_retries!r}")
        self._http = http
        self.project_id = project_id
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc or self.base_url
        self.max_retries = max_retries
        self.max_retry_wait = max(0.0, max_retry_wait)
        self._redact = Redactor([management_key, f"{project_id}:{management_key}"])
        self._sleep = sleep
        self._clock = clock
        self._on_request = on_request
        self._on_notice = on_notice
        self._patch_missing = False  # set once Descope has shown it has no PATCH endpoint
        self._patch_lock = threading.Lock()
        self.limiter = RateLimiter(rate_limit, clock=clock, sleep=sleep)
        # a 429 without a usable Retry-After: wait the backoff Descope publishes, one window
        self.default_retry_after = (rate_limit or API_RATE_LIMIT).window_s
        self._license_tier: str | None = None
        self._headers: Final = {
            "Authorization": f"Bearer {project_id}:{management_key}",
            "x-descope-project-id": project_id,
            "x-descope-sdk-name": SDK_NAME,
            "x-descope-sdk-version": __version__,
        }

    def __repr__(self) -> str:
        return (
            f"DescopeClient(project_id={self.project_id!r}, base_url={self.base_url!r}, "
            f"rate_limit={self.limiter.limit}, max_retries={self.max_retries})"
        )

    # ------------------------------------------------------------------ reads

    def load_all(self) -> list[dict[str, Any]]:
        """Every tenant of the project, from one ``GET /v1/mgmt/tenant/all`` (no pagination, §7)."""
        op = "tenant.load_all"
        data = self._retry(READ_RETRY_STATUSES, lambda: self._send(op, "GET", _TENANT_ALL))
        return self._tenant_list(op, data)

    def load(self, tenant_id: str) -> dict[str, Any]:
        """One tenant (Descope returns it flat, §3.5); raises DescopeNotFound when it does not exist."""
        return self._retry(READ_RETRY_STATUSES, lambda: self._load_once(tenant_id))

    def find(self, tenant_id: str) -> dict[str, Any] | None:
        """Like ``load`` but ``None`` when the tenant does not exist."""
        try:
            return self.load(tenant_id)
        except DescopeNotFound:
            return None

    def search(
        self,
        *,
        tenant_ids: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        domains: Sequence[str] | None = None,
        custom_attributes: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Tenants matching the given filters (``POST /v1/mgmt/tenant/search``); unset filters are omitted."""
        op = "tenant.search"
        body: dict[str, Any] = {}
        if tenant_ids is not None:
            body["tenantIds"] = list(tenant_ids)
        if names is not None:
            body["tenantNames"] = list(names)
        if domains is not None:
            body["tenantSelfProvisioningDomains"] = list(domains)
        if custom_attributes is not None:
            body["customAttributes"] = dict(custom_attributes)
        data = self._retry(READ_RETRY_STATUSES, lambda: self._send(op, "POST", _TENANT_SEARCH, body=body))
        return self._tenant_list(op, data)

    def load_settings(self, tenant_id: str) -> dict[str, Any]:
        """A tenant's session settings (``GET /v1/mgmt/tenant/settings?id=``, §3.7)."""
        op = "tenant.settings.load"
        subject = f"tenant {tenant_id!r}"

        def once() -> dict[str, Any]:
            data = self._send(op, "GET", _TENANT_SETTINGS, params={"id": tenant_id}, subject=subject)
            return self._expect_object(op, data)

        return self._retry(READ_RETRY_STATUSES, once)

    def license_tier(self) -> str | None:
        """The project's rate-limit tier (``GET /v1/mgmt/license``), or None on any failure (optional, §1).

        On success the tier is sent as ``x-descope-license`` on later requests, as the SDKs do.
        One attempt only: this is informational and must not delay start-up.
        """
        op = "license.load"
        try:
            data = self._send(op, "GET", _LICENSE)
        except DescopeError:
            return None
        tier = data.get("rateLimitTier") if isinstance(data, dict) else None
        if not isinstance(tier, str) or not tier:
            return None
        self._license_tier = tier
        return tier

    # ----------------------------------------------------------------- writes

    def create(self, body: Mapping[str, Any]) -> str:
        """Create a tenant (``POST /v1/mgmt/tenant/create``); returns its id. Never creates it twice.

        See the module docstring for how an attempt whose outcome is unknown is settled by a
        load-by-id before anything is sent again.
        """
        op = "tenant.create"
        raw_id = body.get("id")
        tenant_id = raw_id if isinstance(raw_id, str) and raw_id else None
        name = body.get("name")
        subject = f"tenant {tenant_id!r}" if tenant_id else f"tenant named {name!r}"
        payload = dict(body)
        may_have_landed = False

        def once() -> str:
            nonlocal may_have_landed
            if may_have_landed and tenant_id is not None and self._created_already(op, tenant_id, name):
                return tenant_id
            try:
                data = self._send(op, "POST", _TENANT_CREATE, body=payload, subject=subject)
            except DescopeConflict:
                if may_have_landed and tenant_id is not None and self._created_already(op, tenant_id, name):
                    return tenant_id
                raise
            except (DescopeServerError, DescopeUnreachable) as exc:
                may_have_landed = may_have_landed or _may_have_landed(exc)
                raise
            created = data.get("id") if isinstance(data, dict) else None
            if not isinstance(created, str) or not created:
                raise self._bad_response(op, "the create response has no tenant id", data)
            return created

        def retryable(exc: BaseException) -> bool:
            if tenant_id is None and _may_have_landed(exc):
                return False  # cannot check by id whether it landed, so do not risk a duplicate
            return _retryable(exc, TRANSIENT_STATUSES)

        return self._retry_if(retryable, once)

    def update(self, body: Mapping[str, Any]) -> None:
        """Overwrite a whole tenant (``POST /v1/mgmt/tenant/update``); the caller builds the full body.

        Descope resets every field the body omits (``descope_api.TENANT_UPDATE_FIELDS``): to change
        some fields and keep the rest, use ``patch``, which falls back to a read-modify-write update.
        """
        tenant_id = body.get("id")
        if not isinstance(tenant_id, str) or not tenant_id:
            raise ValueError("update needs the tenant id in the body")
        self._write("tenant.update", "POST", _TENANT_UPDATE, dict(body), f"tenant {tenant_id!r}")

    def patch(self, tenant_id: str, fields: Mapping[str, Any]) -> None:
        """Change only ``fields`` of a tenant (``PATCH /v1/mgmt/tenant/patch``, §3.3a).

        A Descope without PATCH (404 for a tenant that exists, or 405) gets a read-modify-write
        ``update`` instead: the live tenant with ``fields`` laid over it, so nothing else is reset. The
        client notes that once and uses the fallback from then on.
        """
        changes = {k: v for k, v in fields.items() if k != "id"}
        subject = f"tenant {tenant_id!r}"
        if not self._patch_missing:
            try:
                self._write("tenant.patch", "PATCH", _TENANT_PATCH, {"id": tenant_id, **changes}, subject)
                return
            except DescopeError as exc:
                if exc.status not in PATCH_MISSING_STATUSES:
                    raise
                if exc.status == 404:
                    self.load(tenant_id)  # DescopeNotFound here: it is the tenant that is missing
                with self._patch_lock:  # concurrent writers may all find out at once: say it once
                    first = not self._patch_missing
                    self._patch_missing = True
                if first:
                    self._notice(
                        f"{self.host} has no PATCH /v1/mgmt/tenant/patch (HTTP {exc.status}); tenant changes "
                        "are sent as read-modify-write updates from now on (one extra read per change)"
                    )
        live = self.load(tenant_id)
        body = {k: v for k, v in live.items() if k not in TENANT_FIELDS_NOT_UPDATABLE}
        self.update({**body, **changes, "id": tenant_id})

    def update_settings(self, tenant_id: str, settings: Mapping[str, Any]) -> None:
        """Set the given settings of a tenant and keep every other one (``POST /v1/mgmt/tenant/settings``).

        Descope's settings POST overwrites the whole object and resets what it omits, self-provisioning
        and SSO domains included (``descope_api.SETTINGS_POST_KEYS``), so this reads the live settings,
        lays ``settings`` over them and sends the whole object. A tenant field the settings answer
        leaves out (an empty list may be omitted) is taken from the tenant itself.
        """
        live = dict(self.load_settings(tenant_id))
        if any(key not in live for key in SETTINGS_TENANT_KEYS):
            tenant = self.load(tenant_id)
            for key in SETTINGS_TENANT_KEYS:
                if key not in live and key in tenant:
                    live[key] = tenant[key]
        live.pop("tenantId", None)
        changes = {k: v for k, v in settings.items() if k != "tenantId"}
        body = {"tenantId": tenant_id, **live, **changes}
        self._write("tenant.settings.update", "POST", _TENANT_SETTINGS, body, f"tenant {tenant_id!r}")

    def update_default_roles(self, tenant_id: str, roles: Sequence[str]) -> None:
        """Set the roles new users of a tenant get (``POST /v1/mgmt/tenant/updateDefaultRoles``, §3.8)."""
        body = {"id": tenant_id, "defaultRoles": list(roles)}
        self._write("tenant.default_roles.update", "POST", _TENANT_DEFAULT_ROLES, body, f"tenant {tenant_id!r}")

    def delete(self, tenant_id: str, *, cascade: bool = False) -> bool:
        """Delete a tenant; False if it was already gone. ``cascade`` also deletes its own users/keys."""
        op = "tenant.delete"
        subject = f"tenant {tenant_id!r}"
        body = {"id": tenant_id, "cascade": cascade}
        may_have_landed = False

        def once() -> bool:
            nonlocal may_have_landed
            try:
                self._send(op, "POST", _TENANT_DELETE, body=body, subject=subject)
            except DescopeNotFound:
                return may_have_landed  # gone: by our earlier attempt, or it never existed
            except (DescopeServerError, DescopeUnreachable) as exc:
                may_have_landed = may_have_landed or _may_have_landed(exc)
                raise
            return True

        return self._retry(TRANSIENT_STATUSES, once)

    # --------------------------------------------------------------- plumbing

    def _write(self, op: str, method: str, path: str, body: dict[str, Any], subject: str) -> None:
        self._retry(TRANSIENT_STATUSES, lambda: self._send(op, method, path, body=body, subject=subject))

    def _load_once(self, tenant_id: str) -> dict[str, Any]:
        op = "tenant.load"
        data = self._send(op, "GET", _TENANT, params={"id": tenant_id}, subject=f"tenant {tenant_id!r}")
        tenant = self._expect_object(op, data)
        wrapped = tenant.get("tenant")
        if "id" not in tenant and isinstance(wrapped, dict):
            tenant = wrapped  # the OpenAPI spec's shape, in case the server ever follows it
        tenant.setdefault("id", tenant_id)
        return tenant

    def _created_already(self, op: str, tenant_id: str, name: object) -> bool:
        """After an uncertain create: did it land? True if the tenant exists with our name."""
        try:
            # a read, retried on its own: under a 503 storm the check must not use up the create's attempts
            existing = self._retry(READ_RETRY_STATUSES, lambda: self._load_once(tenant_id))
        except DescopeNotFound:
            return False
        if existing.get("name") == name:
            return True
        raise self._error(
            DescopeConflict,
            f"tenant id {tenant_id!r} already exists with name {existing.get('name')!r}, not {name!r}",
            op,
            None,
            None,
        )

    def _retry(self, statuses: frozenset[int], fn: Callable[[], T]) -> T:
        return self._retry_if(lambda exc: _retryable(exc, statuses), fn)

    def _retry_if(self, predicate: Callable[[BaseException], bool], fn: Callable[[], T]) -> T:
        cap = min(BACKOFF_CAP, self.max_retry_wait)
        backoff = wait_exponential(multiplier=BACKOFF_FIRST, max=cap) + wait_random(0, BACKOFF_JITTER)

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and isinstance(outcome.exception(), DescopeRateLimited):
                return 0.0  # the limiter's cooldown (set by _send) holds this thread and all others
            return min(backoff(state), self.max_retry_wait)

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

    def _send(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        subject: str = "",
    ) -> Any:
        """One attempt: wait for the limiter, send, report, and return the parsed JSON (None if empty)."""
        headers = dict(self._headers)
        if self._license_tier:
            headers["x-descope-license"] = self._license_tier
        with self.limiter.acquire():  # the ticket is held until the answer (or the error) is back
            started = self._clock()
            try:
                response = self._http.request(
                    method,
                    self.base_url + path,
                    params=dict(params) if params is not None else None,
                    json=dict(body) if body is not None else None,
                    headers=headers,
                )
            except httpx.TransportError as exc:  # includes every httpx.TimeoutException
                self._report(op, type(exc).__name__, started)
                reason = _SPACES.sub(" ", str(exc)).strip()[:SNIPPET_CHARS] or "no detail"
                what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                message = f"request to {self.host} for {op} {what} ({type(exc).__name__}: {reason})"
                raise self._error(DescopeUnreachable, message, op, None, None) from exc
        self._report(op, str(response.status_code), started)
        if 200 <= response.status_code < 300:
            return self._parse_ok(op, response)
        raise self._error_for(op, response, subject, body)

    def _notice(self, message: str) -> None:
        """Tell the operator something worth knowing once (the engine decides how to log it)."""
        if self._on_notice is not None:
            with contextlib.suppress(Exception):
                self._on_notice(self._scrub(message))

    def _report(self, op: str, code: str, started: float) -> None:
        if self._on_request is not None:
            # A metrics hook must never turn a request that happened into a failure.
            with contextlib.suppress(Exception):
                self._on_request(op, code, max(0.0, self._clock() - started))

    def _parse_ok(self, op: str, response: httpx.Response) -> Any:
        text = response.text
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise self._bad_response(op, "the body is not JSON", text) from exc

    def _error_for(
        self, op: str, response: httpx.Response, subject: str, body: Mapping[str, Any] | None = None
    ) -> DescopeError:
        status = response.status_code
        code, detail = _describe(response)
        what = subject or "the request"
        if status in (401, 403):
            message = (
                f"authentication failed ({detail}); check the project id {self.project_id!r} and the "
                "management key: is the key correct, active, and allowed to manage tenants?"
            )
            return self._error(DescopeAuthError, message, op, status, code)
        if status == 404:
            return self._error(DescopeNotFound, f"{what} not found ({detail})", op, status, code)
        if status == 409 or (status == 400 and _ALREADY_EXISTS.search(detail)):
            return self._error(DescopeConflict, f"{what} already exists ({detail})", op, status, code)
        if status in (400, 422):
            sent = body.get("customAttributes") if body is not None else None
            if isinstance(sent, Mapping) and sent:
                refused = self._attribute_refusal(op, response, status, code, detail, what, sent)
                if refused is not None:
                    return refused
            return self._error(DescopeValidationError, f"{what} rejected: {detail}", op, status, code)
        if status == RATE_LIMITED_STATUS:
            retry_after = self._retry_after(response)
            self.limiter.pause_until(self._clock() + retry_after)
            message = f"rate limited; retry after {retry_after:g} s ({detail})"
            return DescopeRateLimited(
                self._scrub(message), retry_after=retry_after, operation=op, status=status, code=code
            )
        if 500 <= status < 600:
            return self._error(DescopeServerError, f"server error for {what}: {detail}", op, status, code)
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            message = f"unexpected redirect to {location!r} ({detail}); check the base URL {self.base_url!r}"
            return self._error(DescopeError, message, op, status, code)
        return self._error(DescopeError, f"unexpected answer for {what}: {detail}", op, status, code)

    def _attribute_refusal(
        self,
        op: str,
        response: httpx.Response,
        status: int,
        code: str | None,
        detail: str,
        what: str,
        sent: Mapping[str, Any],
    ) -> DescopeAttributeRefused | None:
        """The refusal of a custom attribute we sent, naming its key, or None if the 400 is about something else.

        Only the codes of ``descope_api`` say which refusal it is; any other answer that speaks of an
        attribute and names a key we sent is a refusal of that key, told with Descope's own words.
        """
        text = _error_text(response)
        key = _named_attribute(text, sent)
        named = f"custom attribute {key!r}" if key is not None else f"a custom attribute ({detail})"
        if code == ATTRIBUTE_UNDEFINED_CODE:
            reason = "undefined"
            message = (
                f"{what} rejected: {named} is not defined in the Descope project; define it in "
                f"{_CONSOLE_ATTRIBUTES} or remove it from tenants.yaml"
            )
        elif key is None or _ATTRIBUTE_WORD.search(text) is None:
            return None
        elif code == ATTRIBUTE_VALUE_CODE:
            reason = "value"
            message = (
                f"{what} rejected: {named} has a value its type in the Descope project does not take "
                f"({detail}); fix the value in tenants.yaml, or the attribute's definition in {_CONSOLE_ATTRIBUTES}"
            )
        else:
            reason = "refused"
            message = (
                f"{what} rejected: Descope refused {named} ({detail}); check that {_CONSOLE_ATTRIBUTES} defines "
                "it with a type that takes the value in tenants.yaml"
            )
        return DescopeAttributeRefused(
            self._scrub(message), attribute=key, reason=reason, operation=op, status=status, code=code
        )

    def _retry_after(self, response: httpx.Response) -> float:
        """Seconds to wait after a 429: ``Retry-After`` seconds or HTTP-date, else the limit's window; capped."""
        seconds = _parse_retry_after(response.headers.get(RETRY_AFTER_HEADER), response.headers.get("Date"))
        if seconds is None:
            seconds = self.default_retry_after
        return min(max(0.0, seconds), self.max_retry_wait)

    def _tenant_list(self, op: str, data: Any) -> list[dict[str, Any]]:
        if not isinstance(data, dict) and data is not None:
            raise self._bad_response(op, "expected a JSON object with 'tenants'", data)
        tenants = (data or {}).get("tenants")
        if tenants is None:
            return []  # Go-style omitempty: no tenants → no key
        if not isinstance(tenants, list):
            raise self._bad_response(op, "'tenants' is not a list", data)
        for tenant in tenants:
            if not isinstance(tenant, dict) or not isinstance(tenant.get("id"), str):
                raise self._bad_response(op, "a tenant is not an object with a string 'id'", tenant)
        return tenants

    def _expect_object(self, op: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self._bad_response(op, "expected a JSON object", data)
        return data

    def _bad_response(self, op: str, why: str, data: Any) -> DescopeBadResponse:
        shown = data if isinstance(data, str) else json.dumps(data, default=str)
        message = f"unexpected response from {self.host}: {why}: {_snippet(shown) or '(empty)'}"
        return self._error(DescopeBadResponse, message, op, None, None)

    def _error(self, cls: type[E], message: str, op: str, status: int | None, code: str | None) -> E:
        return cls(self._scrub(message), operation=op, status=status, code=code)

    def _scrub(self, text: str) -> str:
        """Remove the management key from any text, in case a server or proxy echoes it back."""
        return self._redact(text)


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


def _parse_retry_after(value: str | None, date: str | None) -> float | None:
    """``Retry-After`` as seconds; an HTTP-date counts from the response's ``Date`` (or now)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        reference = _http_date(date) if date else None
        seconds = (when - (reference or datetime.now(UTC))).total_seconds()
    return seconds if math.isfinite(seconds) else None


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _describe(response: httpx.Response) -> tuple[str | None, str]:
    """Descope's error code and a readable one-line detail from an error response."""
    text = response.text
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict) and any(k in data for k in ("errorCode", "errorDescription", "errorMessage")):
        code = data.get("errorCode")
        parts: list[str] = []
        for key in ("errorDescription", "errorMessage"):
            part = data.get(key)
            if isinstance(part, str) and part.strip() and part.strip() not in parts:
                parts.append(part.strip())
        detail = _snippet(": ".join(parts)) or response.reason_phrase or f"HTTP {response.status_code}"
        return (str(code) if code else None), detail
    if data is None and "<" in text:
        title = _HTML_TITLE.search(text)
        if title:
            text = title.group(1)
    return None, _snippet(text) or response.reason_phrase or f"HTTP {response.status_code}"


def _error_text(response: httpx.Response) -> str:
    """Descope's whole description and message (not a snippet): where an error names what it refused."""
    text = response.text[:_ERROR_TEXT_CHARS]
    try:
        data = json.loads(response.text) if response.text.strip() else None
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    parts = (data.get(key) for key in ("errorDescription", "errorMessage"))
    return " ".join(part for part in parts if isinstance(part, str))[:_ERROR_TEXT_CHARS]


def _named_attribute(text: str, sent: Mapping[str, Any]) -> str | None:
    """Which of the attribute keys we sent the error text names: quoted first, then as a whole word.

    Longer keys are tried first, so ``seats`` is not taken for ``seatsMax``.
    """
    keys = sorted((key for key in sent if isinstance(key, str) and key), key=len, reverse=True)
    for key in keys:
        if any(form in text for form in (f"'{key}'", f'"{key}"', f"`{key}`", f"customAttributes.{key}")):
            return key
    for key in keys:
        if re.search(rf"(?<![\w.-]){re.escape(key)}(?![\w-])", text):
            return key
    return None


def _snippet(text: str) -> str:
    """A short single line of ``text``: markup stripped, whitespace collapsed, truncated."""
    text = _HTML_DROP.sub(" ", text)
    text = html.unescape(_HTML_TAG.sub(" ", text))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > SNIPPET_CHARS:
        text = text[: SNIPPET_CHARS - 1].rstrip() + "…"
    return text
