"""How Descope's answers become our errors: status mapping, attribute refusals, ``Retry-After``, details.

Private to ``controller.adapters.descope``: ``DescopeClient`` inherits ``ErrorMapping``, whose
methods use the client's attributes declared on it.

Error mapping, decided by HTTP status, never by Descope's error code:
    401/403 → DescopeAuthError       404 → DescopeNotFound
    409, or 400 saying "already exists" → DescopeConflict
    400/422 refusing a custom attribute we sent → DescopeAttributeRefused (below)
    other 400/422 → DescopeValidationError          429 → DescopeRateLimited(retry_after)
    5xx → DescopeServerError         no HTTP answer → DescopeUnreachable
    2xx with a body that is not the JSON we expect → DescopeBadResponse
    anything else (3xx, 405, ...) → DescopeError
Custom attributes: a 400/422 to a write that carried ``customAttributes`` is an attribute refusal
when it has one of ``descope_api``'s attribute codes, or when its text speaks of an attribute and names
one of the keys we sent (Descope's real codes are unpublished). The message names the key, and what to
do: define it in the console, or fix the value in tenants.yaml; for an answer without our codes it
quotes Descope's words and names both remedies rather than guess which one applies.
Messages carry Descope's ``errorDescription``/``errorMessage`` or a short snippet of a non-JSON
body (CDN HTML pages are reduced to their title), and never the management key: request headers
are never put into errors, and every message is scrubbed of the key as a last line of defence.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import repeat
from typing import Any, Final, TypeVar

import httpx

from controller.adapters.ratelimit import RateLimiter
from controller.descope_api import (
    ATTRIBUTE_UNDEFINED_CODE,
    ATTRIBUTE_VALUE_CODE,
    RATE_LIMITED_STATUS,
    RETRY_AFTER_HEADER,
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
    DescopeValidationError,
)
from controller.redaction import Redactor

E = TypeVar("E", bound=DescopeError)

SNIPPET_CHARS: Final = 160

_ALREADY_EXISTS = re.compile(r"already\s+(exists?|taken|in\s+use)|duplicate", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_ATTRIBUTE_WORD = re.compile(r"attribute", re.IGNORECASE)
_CONSOLE_ATTRIBUTES: Final = "the console (Project → Tenants → Custom attributes)"
_ERROR_TEXT_CHARS: Final = 4096


class ErrorMapping:
    """``DescopeClient``'s methods that turn an answer into our errors, or check a 2xx body's shape."""

    project_id: str
    host: str
    base_url: str
    max_retry_wait: float
    limiter: RateLimiter
    default_retry_after: float
    _clock: Callable[[], float]
    _redact: Redactor

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
            name = body.get("name") if body is not None else None
            if op in ("tenant.update", "tenant.patch") and isinstance(name, str):
                # the tenant exists (it is being updated): what is taken is the name
                message = (
                    f"{what} cannot take the name {name!r}: another tenant already has it "
                    f"(Descope tenant names are unique, ignoring case) ({detail})"
                )
                return self._error(DescopeConflict, message, op, status, code)
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
        # at C speed (a loop over 100k tenants cost an idle cycle 9 ms); the first bad one is found for the message
        if not all(map(dict.__instancecheck__, tenants)) or not all(
            map(str.__instancecheck__, map(dict.get, tenants, repeat("id")))
        ):
            bad = next(t for t in tenants if not isinstance(t, dict) or not isinstance(t.get("id"), str))
            raise self._bad_response(op, "a tenant is not an object with a string 'id'", bad)
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
