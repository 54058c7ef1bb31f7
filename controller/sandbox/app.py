"""The application: everything between "a request was read" and "a response is ready".

The order of a tenant-API request's checks (rate limit, latency, faults, auth, route, body), and the
control API under ``/_sandbox``. No sockets here: ``transport`` reads requests and writes answers.
"""

from __future__ import annotations

import hmac
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Final

from .attributes import catalogue_from_body, catalogue_wire
from .knobs import FaultQueue, FaultRule, KnobBox, Knobs, RateLimiter, parse_rules
from .routes import Handler, Request, json_body, route
from .stats import Stats
from .store import TenantStore
from .wire import (
    INTERNAL,
    UNAUTHORIZED,
    ApiError,
    Response,
    error_response,
    invalid,
    json_response,
    rate_limited_response,
)

_CONTROL_PREFIX: Final = "/_sandbox"


def _internal_error(exc: Exception, verbose: bool) -> Response:
    # A sandbox bug must still answer like a server would rather than drop the connection.
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    return error_response(ApiError(500, INTERNAL, "Internal sandbox error", f"{type(exc).__name__}: {exc}"))


def is_control(path: str) -> bool:
    return path == _CONTROL_PREFIX or path.startswith(_CONTROL_PREFIX + "/")


def _sleep_ms(milliseconds: float) -> None:
    if milliseconds > 0:
        time.sleep(milliseconds / 1000)


class App:
    def __init__(
        self,
        *,
        store: TenantStore,
        knobs: KnobBox,
        token: str,
        fault_random: random.Random,
        verbose: bool,
        routes: dict[str, dict[str, Handler]],
    ) -> None:
        self.routes = routes
        self.store = store
        self.knobs = knobs
        self.stats = Stats()
        self.limiter = RateLimiter()
        self.faults = FaultQueue()
        self.verbose = verbose
        self._token = token.encode("utf-8")
        self._fault_random = fault_random
        self._random_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if is_control(request.path):
            return self._control(request)
        self.stats.received(f"{request.method} {request.path}")
        response, wrote = self._api(request)
        self.stats.answered(response.status, wrote=wrote)
        return response

    # ----- tenant API ---------------------------------------------------------------------------------
    def _api(self, request: Request) -> tuple[Response, bool]:
        if request.error is not None:
            return error_response(request.error), False
        knobs = self.knobs.current()
        retry_after = self.limiter.admit(knobs.rate_limit)
        if retry_after is not None:
            self.stats.rate_limited()
            return rate_limited_response(retry_after), False
        _sleep_ms(knobs.latency_ms)
        fault = self.faults.take(request.path) or self._random_fault(knobs)
        if fault is None:
            return self._serve(request)
        self.stats.fault()
        return self._serve_with_fault(request, fault)

    def _random_fault(self, knobs: Knobs) -> FaultRule | None:
        if knobs.fail_rate <= 0:
            return None
        with self._random_lock:  # one draw per request, in arrival order, so a seed replays the same failures
            roll = self._fault_random.random()
        return FaultRule(status=knobs.fail_status) if roll < knobs.fail_rate else None

    def _serve_with_fault(self, request: Request, fault: FaultRule) -> tuple[Response, bool]:
        if fault.after_commit:
            response, wrote = self._serve(request)
            _sleep_ms(fault.delay_ms)
            return (response if fault.status is None else fault.response()), wrote
        _sleep_ms(fault.delay_ms)
        if fault.status is not None:
            return fault.response(), False
        return self._serve(request)

    def _serve(self, request: Request) -> tuple[Response, bool]:
        try:
            self._authorize(request)
            handler = route(self.routes, request)
            payload, wrote = handler(self.store, request, json_body(request))
        except ApiError as exc:
            return error_response(exc), False
        except Exception as exc:
            return _internal_error(exc, self.verbose), False
        return json_response(200, payload), wrote

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.authorization.partition(" ")
        # compare_digest: the time taken must not tell a caller how much of the key was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode("utf-8"), self._token):
            raise ApiError(
                401,
                UNAUTHORIZED,
                "Unauthorized",
                "A valid 'Authorization: Bearer <ProjectId:ManagementKey>' header is required",
            )

    # ----- control API --------------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        try:
            if request.error is not None:
                raise request.error
            action = route(_CONTROL_ROUTES, request)
            return json_response(200, action(self, json_body(request)))
        except ApiError as exc:
            return error_response(exc)
        except Exception as exc:
            return _internal_error(exc, self.verbose)

    def stats_snapshot(self, body: dict[str, Any]) -> object:
        return self.stats.snapshot()

    def stats_reset(self, body: dict[str, Any]) -> object:
        self.stats.reset()
        return {}

    def config(self, body: dict[str, Any]) -> object:
        return self.knobs.current().as_dict()

    def change_config(self, body: dict[str, Any]) -> object:
        knobs = self.knobs.change(body)
        if "rate_limit" in body:
            self.limiter.reset()
        return knobs.as_dict()

    def pending_faults(self, body: dict[str, Any]) -> object:
        return {"rules": self.faults.pending()}

    def queue_faults(self, body: dict[str, Any]) -> object:
        rules = parse_rules(body)
        self.faults.add(rules)
        return {"queued": len(rules), "rules": self.faults.pending()}

    def clear_faults(self, body: dict[str, Any]) -> object:
        self.faults.clear()
        return {}

    def all_tenants(self, body: dict[str, Any]) -> object:
        dump: dict[str, object] = {"tenants": self.store.snapshot()}
        project = self.store.project_dump()
        if project:  # the project's own roles and password settings, when it has any
            dump["project"] = project
        return dump

    def seed_tenants(self, body: dict[str, Any]) -> object:
        tenants = body.get("tenants")
        if not isinstance(tenants, list):
            raise invalid("tenants", "a list of tenant objects")
        replace = body.get("replace", False)
        if not isinstance(replace, bool):
            raise invalid("replace", "a boolean")
        seeded = self.store.seed(tenants, replace=replace, project=body.get("project"))
        return {"seeded": seeded, "total": len(self.store)}

    def attributes(self, body: dict[str, Any]) -> object:
        return {"attributes": catalogue_wire(self.store.attributes())}

    def set_attributes(self, body: dict[str, Any]) -> object:
        self.store.set_attributes(catalogue_from_body(body))
        return self.attributes({})


_CONTROL_ROUTES: Final[dict[str, dict[str, Callable[[App, dict[str, Any]], object]]]] = {
    "/_sandbox/stats": {"GET": App.stats_snapshot},
    "/_sandbox/stats/reset": {"POST": App.stats_reset},
    "/_sandbox/config": {"GET": App.config, "POST": App.change_config},
    "/_sandbox/faults": {"GET": App.pending_faults, "POST": App.queue_faults, "DELETE": App.clear_faults},
    "/_sandbox/tenants": {"GET": App.all_tenants, "POST": App.seed_tenants},
    "/_sandbox/attributes": {"GET": App.attributes, "POST": App.set_attributes},
}
