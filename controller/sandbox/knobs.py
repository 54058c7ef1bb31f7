"""How the sandbox misbehaves on purpose: latency, a rate limit, random failures and queued exact faults."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from controller.descope_api import EDGE_STATUSES, RateLimit

from .wire import (
    HTML_TYPE,
    INTERNAL,
    JSON_TYPE,
    VALIDATION_FAILURE,
    ApiError,
    Response,
    encode,
    invalid,
    rate_limited_response,
)


@dataclass(frozen=True)
class Knobs:
    latency_ms: float = 0.0
    rate_limit: RateLimit | None = None
    fail_rate: float = 0.0
    fail_status: int = 503

    def as_dict(self) -> dict[str, Any]:
        """The knobs as the control API shows them: ``rate_limit`` in Descope's form, ``"20/4s"``."""
        values = dataclasses.asdict(self)
        values["rate_limit"] = None if self.rate_limit is None else str(self.rate_limit)
        return values


def _number(value: object, name: str, *, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(name, "a number")
    if value > high or value < low:
        raise invalid(name, f"a number >= {low:g}" + (f" and <= {high:g}" if high != math.inf else ""))
    return float(value)


def _rate_limit(value: object, name: str) -> RateLimit | None:
    if value is None:
        return None
    try:
        return RateLimit.parse(value)
    except ValueError as exc:
        raise ApiError(400, VALIDATION_FAILURE, "Validation failure", f"The {name} field {exc}, or null") from None


def _status(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 599:
        raise invalid(name, f"an HTTP status from {low} to 599")
    return value


_KNOB_CHECKS: Final[dict[str, Callable[[object, str], object]]] = {
    "latency_ms": lambda value, name: _number(value, name, low=0),
    "rate_limit": _rate_limit,
    "fail_rate": lambda value, name: _number(value, name, low=0, high=1),
    "fail_status": lambda value, name: _status(value, name, 400),
}


def changed_knobs(base: Knobs, changes: Mapping[str, object]) -> Knobs:
    """``base`` with the keys present in ``changes`` applied; an unknown key or bad value is a 400."""
    # the typed values (not as_dict()'s display form, nor asdict()'s, which turns the RateLimit into a dict)
    values: dict[str, Any] = {field.name: getattr(base, field.name) for field in dataclasses.fields(base)}
    for name, value in changes.items():
        check = _KNOB_CHECKS.get(name)
        if check is None:
            raise invalid(name, "one of the sandbox knobs: " + ", ".join(_KNOB_CHECKS))
        values[name] = check(value, name)
    return Knobs(**values)


class KnobBox:
    """The current knobs, swapped whole so a request always sees one consistent set."""

    def __init__(self, knobs: Knobs) -> None:
        self._lock = threading.Lock()
        self._knobs = knobs

    def current(self) -> Knobs:
        with self._lock:
            return self._knobs

    def change(self, changes: Mapping[str, object]) -> Knobs:
        with self._lock:
            self._knobs = changed_knobs(self._knobs, changes)
            return self._knobs


class RateLimiter:
    """Descope's rule: at most N arrivals in any W seconds (a sliding-window log); the one request too many
    blocks the client for W seconds from then, during which every request is refused.

    Refused requests are not recorded and do not extend the block (a choice: see the server docstring).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
        self._blocked_until = -math.inf
        self._clock = clock

    def admit(self, limit: RateLimit | None) -> int | None:
        """None when admitted, else ``Retry-After``: the whole seconds (>= 1) left in the block."""
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                return max(1, math.ceil(self._blocked_until - now))
            while self._admitted and self._admitted[0] <= now - limit.window_s:
                self._admitted.popleft()
            if len(self._admitted) < limit.count:
                self._admitted.append(now)
                return None
            self._blocked_until = now + limit.window_s
            self._admitted.clear()  # all older than a window once the block is over
            return max(1, math.ceil(limit.window_s))

    def reset(self) -> None:
        """Forget what was admitted and any block: a newly set limit starts with a full budget."""
        with self._lock:
            self._admitted.clear()
            self._blocked_until = -math.inf


@dataclass
class FaultRule:
    """One queued fault; ``status`` None means "only slow", ``after_commit`` means the change is applied first."""

    path: str | None = None
    status: int | None = None
    count: int = 1
    body: str | None = None
    delay_ms: float = 0.0
    after_commit: bool = False
    retry_after: int | None = 1  # the Retry-After header of a 429; None sends none

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def response(self) -> Response:
        if self.status is None:
            raise ValueError("a delay-only fault has no response of its own")
        return fault_response(self.status, self.body, self.retry_after)


def fault_response(status: int, body: str | None, retry_after: int | None) -> Response:
    """A plausible failure: the real 429 body, an edge HTML page for 5xx from the edge, else a Descope error."""
    headers = {"Retry-After": str(retry_after)} if status == 429 and retry_after is not None else {}
    if body is not None:
        return Response(status, body.encode("utf-8"), JSON_TYPE if _is_json(body) else HTML_TYPE, headers)
    if status == 429:
        return rate_limited_response(retry_after)
    if status in EDGE_STATUSES:
        page = f"<html><head><title>{status} Service Unavailable</title></head><body>error code: {status}</body></html>"
        return Response(status, page.encode("utf-8"), HTML_TYPE, headers)
    payload = {"errorCode": INTERNAL, "errorDescription": "Injected sandbox fault", "errorMessage": f"HTTP {status}"}
    return Response(status, encode(payload), JSON_TYPE, headers)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_RULE_KEYS: Final = frozenset(field.name for field in dataclasses.fields(FaultRule))


def parse_rules(body: Mapping[str, Any]) -> list[FaultRule]:
    rules = body.get("rules")
    if not isinstance(rules, list):
        raise invalid("rules", "a list of fault rules")
    return [_parse_rule(raw, f"rules[{index}]") for index, raw in enumerate(rules)]


def _parse_rule(raw: object, where: str) -> FaultRule:
    if not isinstance(raw, dict):
        raise invalid(where, "an object")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise invalid(f"{where}.{unknown[0]}", "one of " + ", ".join(sorted(_RULE_KEYS)))
    path = raw.get("path")
    if path is not None and not (isinstance(path, str) and path.startswith("/")):
        raise invalid(f"{where}.path", "a path starting with '/'")
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise invalid(f"{where}.count", "an integer >= 1")
    body = raw.get("body")
    if body is not None and not isinstance(body, str):
        raise invalid(f"{where}.body", "a string")
    after_commit = raw.get("after_commit", False)
    if not isinstance(after_commit, bool):
        raise invalid(f"{where}.after_commit", "a boolean")
    retry_after = raw.get("retry_after", 1)
    if retry_after is not None and (
        isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0
    ):
        raise invalid(f"{where}.retry_after", "an integer >= 0 or null")
    status = raw.get("status")
    return FaultRule(
        path=path,
        status=None if status is None else _status(status, f"{where}.status", 400),
        count=count,
        body=body,
        delay_ms=_number(raw.get("delay_ms", 0), f"{where}.delay_ms", low=0),
        after_commit=after_commit,
        retry_after=retry_after,
    )


class FaultQueue:
    """Queued faults, consumed in order: the first pending rule whose path matches takes the request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def take(self, path: str) -> FaultRule | None:
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.path is None or rule.path == path:
                    rule.count -= 1
                    if rule.count == 0:
                        del self._rules[index]
                    return dataclasses.replace(rule, count=1)
        return None
