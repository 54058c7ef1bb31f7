"""The metrics seam sees every attempt, and one client serves many threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
from tests.adapters.descope.support import (
    ALL,
    BODY,
    CREATE,
    MISSING,
    ONE,
    PATCH,
    FakeTime,
    rate_limited,
)

# --------------------------------------------------------------------------- on_request seam


def test_on_request_reports_every_attempt(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    seen: list[tuple[str, str, float]] = []
    client = make_client(on_request=lambda op, code, secs: seen.append((op, code, secs)))
    api.get(ALL).mock(side_effect=[rate_limited("2"), httpx.Response(200, json={"tenants": []})])
    api.post(CREATE).mock(side_effect=[httpx.ReadTimeout("timed out"), httpx.Response(200, json={"id": "acme"})])
    api.get(ONE).mock(return_value=MISSING)
    client.load_all()
    client.create(BODY)
    assert [(op, code) for op, code, _ in seen] == [
        ("tenant.load_all", "429"),
        ("tenant.load_all", "200"),
        ("tenant.create", "ReadTimeout"),
        ("tenant.load", "404"),
        ("tenant.create", "200"),
    ]
    assert all(isinstance(secs, float) and secs >= 0 for _, _, secs in seen)


def test_on_request_measures_the_request_with_the_injected_clock(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    seen: list[float] = []
    client = make_client(on_request=lambda op, code, secs: seen.append(secs))

    def slow(request: httpx.Request) -> httpx.Response:
        ft.now += 0.25
        return httpx.Response(200, json={"tenants": []})

    api.get(ALL).mock(side_effect=slow)
    client.load_all()
    assert seen == [pytest.approx(0.25)]


def test_a_failing_on_request_hook_does_not_fail_the_call(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    def broken(op: str, code: str, secs: float) -> None:
        raise RuntimeError("metrics down")

    client = make_client(on_request=broken)
    api.post(CREATE).respond(200, json={"id": "acme"})
    assert client.create(BODY) == "acme"


# --------------------------------------------------------------------------- threads


def test_the_client_can_be_shared_between_threads(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.patch(PATCH).respond(200, json={})
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            client.patch(f"t{i}", {"disabled": True})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(json.loads(c.request.content)["id"] for c in route.calls) == sorted(f"t{i}" for i in range(16))


def test_a_stopping_daemon_does_not_sit_out_the_rate_window(api: respx.MockRouter, http: httpx.Client) -> None:
    """With Descope's "N per W" budget spent, SIGTERM must not wait up to a minute: the request is not sent."""
    from controller.descope_api import RateLimit
    from controller.errors import ShuttingDown
    from tests.adapters.descope.support import BASE, KEY, PID

    stop = threading.Event()
    client = DescopeClient(
        http, project_id=PID, management_key=KEY, base_url=BASE, rate_limit=RateLimit.parse("1/60s"), stop=stop
    )
    route = api.get(ALL).mock(return_value=httpx.Response(200, json={"tenants": []}))
    client.load_all()
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            client.load_all()
            outcome.append(None)
        except ShuttingDown as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive()  # waiting for the next window
    stop.set()
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert isinstance(outcome[0], ShuttingDown)
    assert route.call_count == 1  # the second request never left
