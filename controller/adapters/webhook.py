"""What a push webhook delivery means, decided from its headers and body alone (no sockets, no clock, no state).

Kept apart from the HTTP transport so that the whole decision (who sent it, is it genuine, does it
trigger) is a pure function that the server only calls, and that tests can drive table by table.

Verification (the secret is never logged, echoed or put in a reason; every comparison is
constant-time with ``hmac.compare_digest``):

- GitHub (``X-GitHub-Event`` present): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``.
  ``push`` triggers, ``ping`` answers 200 pong, any other event 202 ignored. Delivery id from
  ``X-GitHub-Delivery``; ``ref`` and ``after`` from the payload.
- GitLab (``X-Gitlab-Token`` or ``X-Gitlab-Event`` present): GitLab does not sign, it sends the
  secret itself in ``X-Gitlab-Token``. ``Push Hook`` and ``Tag Push Hook`` trigger, others are
  ignored. ``after`` (or ``checkout_sha``) from the payload; delivery id from ``X-Gitlab-Event-UUID``.
- Generic (anything else): ``X-Signature-256`` or ``X-Hub-Signature-256`` with the same HMAC as
  GitHub, any JSON body (``ref``/``after`` used when it is an object that has them); delivery id
  from ``X-Delivery-Id``.

The body must be ``application/json`` or ``application/x-www-form-urlencoded`` with a ``payload``
field (GitHub's form mode; the HMAC is over the raw form body). Refusals: 401 unsigned, wrongly
signed or wrong token; 415 another content type; 400 malformed body or payload. A verified push
whose ``ref`` the ``accepted_refs`` predicate rejects is ignored (202); a push without a ``ref`` is
always passed on (a trigger only makes the next poll come early).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["PushEvent", "Verdict", "decide", "sign", "verify_signature"]

JSON_TYPE: Final = "application/json"
FORM_TYPE: Final = "application/x-www-form-urlencoded"
_GITLAB_PUSH_EVENTS: Final = frozenset({"Push Hook", "Tag Push Hook"})
_MAX_FORM_FIELDS: Final = 100
MAX_DELIVERY_ID: Final = 128

Outcome = Literal["triggered", "ignored", "refused", "duplicate"]
Header = Callable[[str], "str | None"]


@dataclass(frozen=True)
class PushEvent:
    """What a verified webhook tells the daemon."""

    provider: str  # "github" | "gitlab" | "generic"
    ref: str | None  # e.g. "refs/heads/main", when the payload says
    after: str | None  # the new head sha, when the payload says
    delivery_id: str | None


@dataclass(frozen=True)
class Verdict:
    """The answer to one delivery: status, JSON body, and the push to trigger (only when ``outcome`` is triggered)."""

    code: int
    body: dict[str, object]
    outcome: Outcome
    push: PushEvent | None = None
    reason: str = ""  # for the log line of a refusal; never carries the secret
    headers: tuple[tuple[str, str], ...] = field(default=())


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``"sha256=<hex HMAC-SHA256(secret, body)>"`` (as GitHub sends)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` is ``sha256=<hex>`` of ``body`` under ``secret`` (constant-time compare)."""
    if not header_value:
        return False
    algorithm, sep, digest = header_value.strip().partition("=")
    if not sep or algorithm.strip().lower() != "sha256":
        return False
    try:
        given = digest.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = sign(secret, body).partition("=")[2].encode("ascii")
    return hmac.compare_digest(expected, given)


def short(text: str, limit: int = 64) -> str:
    """An attacker-influenced value made safe to put in a one-line answer or log line."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


def refused(code: int, reason: str) -> Verdict:
    return Verdict(code, {"error": reason}, "refused", reason=reason)


def decide(
    header: Header,
    media_type: str,
    body: bytes,
    *,
    secret: str,
    accepted_refs: Callable[[str], bool] | None = None,
) -> Verdict:
    """The verdict on one delivery; ``header`` looks a request header up by name (case-insensitive)."""
    if media_type not in (JSON_TYPE, FORM_TYPE):
        return refused(415, f"Content-Type must be {JSON_TYPE} or {FORM_TYPE}")
    provider = _authenticate(header, body, secret)
    if isinstance(provider, Verdict):
        return provider

    if provider == "github":
        event = header("X-GitHub-Event") or ""
        if event == "ping":
            return Verdict(200, {"status": "pong", "triggered": False}, "ignored")
        if event != "push":
            return Verdict(202, {"triggered": False, "reason": f"event {short(event)!r} ignored"}, "ignored")
        delivery = header("X-GitHub-Delivery")
    elif provider == "gitlab":
        event = header("X-Gitlab-Event") or ""
        if event not in _GITLAB_PUSH_EVENTS:
            return Verdict(202, {"triggered": False, "reason": f"event {short(event)!r} ignored"}, "ignored")
        delivery = header("X-Gitlab-Event-UUID")
    else:
        delivery = header("X-Delivery-Id")

    payload = _decode_payload(media_type, body)
    if isinstance(payload, Verdict):
        return payload
    if provider != "generic" and not isinstance(payload, dict):
        return refused(400, "payload must be a JSON object")
    after = _str_or_none(payload, "after")
    if provider == "gitlab" and after is None:
        after = _str_or_none(payload, "checkout_sha")
    delivery = delivery.strip() if delivery else None
    push = PushEvent(
        provider=provider,
        ref=_str_or_none(payload, "ref"),
        after=after,
        delivery_id=short(delivery, MAX_DELIVERY_ID) if delivery else None,
    )
    if push.ref is not None and accepted_refs is not None and not accepted_refs(push.ref):
        reason = f"ref {short(push.ref, 200)!r} not followed"
        return Verdict(202, {"triggered": False, "reason": reason}, "ignored")
    return Verdict(202, {"triggered": True}, "triggered", push=push)


def _authenticate(header: Header, body: bytes, secret: str) -> str | Verdict:
    """Which provider sent this, once its credential checks out; a 401 verdict otherwise."""
    token = header("X-Gitlab-Token")
    if token is not None or header("X-Gitlab-Event") is not None:
        if token is None:
            return refused(401, "missing X-Gitlab-Token")
        if not _token_matches(secret, token):
            return refused(401, "X-Gitlab-Token does not match")
        return "gitlab"
    if header("X-GitHub-Event") is not None:
        signature = header("X-Hub-Signature-256")
        if signature is None:
            return refused(401, "missing X-Hub-Signature-256")
        if not verify_signature(secret, body, signature):
            return refused(401, "X-Hub-Signature-256 does not match the body")
        return "github"
    signature = header("X-Signature-256") or header("X-Hub-Signature-256")
    if signature is None:
        return refused(401, "missing X-Signature-256 (or X-Hub-Signature-256)")
    if not verify_signature(secret, body, signature):
        return refused(401, "signature does not match the body")
    return "generic"


def _token_matches(secret: str, token: str) -> bool:
    """Constant-time comparison of GitLab's plain ``X-Gitlab-Token`` with the configured secret."""
    try:
        given = token.strip().encode("latin-1")  # WSGI decodes header bytes as latin-1; this restores them
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), given)


def _decode_payload(media_type: str, body: bytes) -> object:
    """The JSON document of a webhook body, raw JSON or GitHub's form-encoded ``payload=`` field."""
    try:
        if media_type == FORM_TYPE:
            fields = urllib.parse.parse_qs(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS
            )
            if not fields.get("payload"):
                return refused(400, "form body has no payload field")
            return json.loads(fields["payload"][0])
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return refused(400, "body is not valid JSON")


def _str_or_none(payload: object, key: str) -> str | None:
    if isinstance(payload, dict):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None
