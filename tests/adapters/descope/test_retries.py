"""429s pause the whole client; transient failures are retried with bounded backoff; others are not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
from controller.adapters.metrics import Metrics
from controller.descope_api import RateLimit
from controller.errors import (
    DescopeError,
    DescopeRateLimited,
    DescopeServerError,
)
from tests.adapters.descope.support import (
    ALL,
    CREATE,
    DELETE,
    LIVE_SETTINGS,
    ONE,
    PATCH,
    ROLES,
    SETTINGS,
    UPDATE,
    FakeTime,
    descope_error,
    rate_limited,
)

# --------------------------------------------------------------------------- 429 and retries


def test_429_waits_retry_after_then_succeeds(api: respx.MockRouter, client: DescopeClient, ft: FakeTime) -> None:
    route = api.get(ALL).mock(side_effect=[rate_limited("7"), httpx.Response(200, json={"tenants": []})])
    assert client.load_all() == []
    assert route.call_count == 2
    assert ft.sleeps == [7]


def test_429_retries_are_bounded_then_rate_limited(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=2)
    route = api.post(CREATE).mock(return_value=rate_limited("4"))
    with pytest.raises(DescopeRateLimited) as info:
        client.create({"id": "t1", "name": "ACME"})
    assert route.call_count == 3
    assert ft.sleeps == [4, 4]  # waited exactly Retry-After each time, nothing added on top
    assert info.value.retry_after == 4
    assert info.value.code == "E130429"
    assert info.value.retryable


@pytest.mark.parametrize(
    ("headers", "limit", "expected"),
    [
        ({"Retry-After": "7"}, "20/4s", 7),
        ({}, "20/4s", 4),  # missing (a CDN 429): the configured window, Descope's published backoff
        ({"Retry-After": "soon"}, "20/4s", 4),  # unparseable: the same
        ({}, "100/60s", 60),  # the default limit
        ({}, None, 60),  # no limit configured: the published API window
        ({}, "1/600s", 90),  # a longer window is capped by max_retry_wait
        ({"Retry-After": "600"}, None, 90),  # capped by max_retry_wait
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}, None, 30),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT", "Date": "Wed, 21 Oct 2015 07:29:00 GMT"}, None, 0),
    ],
)
def test_retry_after_forms(
    api: respx.MockRouter,
    make_client: Callable[..., DescopeClient],
    headers: dict[str, str],
    limit: str | None,
    expected: float,
) -> None:
    rate_limit = None if limit is None else RateLimit.parse(limit)
    client = make_client(max_retries=0, max_retry_wait=90, rate_limit=rate_limit)
    api.get(ALL).respond(429, headers=headers, text="Too Many Requests")
    with pytest.raises(DescopeRateLimited) as info:
        client.load_all()
    assert info.value.retry_after == pytest.approx(expected)


def test_a_429_pauses_other_threads_for_retry_after(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=0)
    api.get(ALL).mock(return_value=rate_limited("5"))
    api.get(ONE).respond(200, json={"id": "t1", "name": "A"})
    with pytest.raises(DescopeRateLimited):
        client.load_all()
    assert ft.sleeps == []  # the thread that got the 429 gave up (no retries left) ...
    other = threading.Thread(target=client.load, args=("t1",))
    other.start()
    other.join()
    assert ft.sleeps == [5]  # ... but another thread still waited out the cooldown


def test_the_rate_limit_sends_a_burst_then_waits_a_window_after_the_first_answer(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(rate_limit=RateLimit.parse("2/10s"))

    def answer_after_a_second(request: httpx.Request) -> httpx.Response:
        ft.now += 1.0
        return httpx.Response(200, json={})

    api.patch(PATCH).mock(side_effect=answer_after_a_second)
    for _ in range(3):
        client.patch("t1", {"disabled": True})
    # two at once (each takes 1 s), then the third 10 s after the first answer came back (at 1001)
    assert ft.sleeps == pytest.approx([9.0])


def test_a_429_without_retry_after_pauses_the_whole_client_for_the_window(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=0, rate_limit=RateLimit.parse("20/4s"))
    api.get(ALL).respond(429, text="<html><title>429 Too Many Requests</title></html>")
    api.get(ONE).respond(200, json={"id": "t1", "name": "A"})
    with pytest.raises(DescopeRateLimited):
        client.load_all()
    assert client.limiter.paused_for() == pytest.approx(4)
    other = threading.Thread(target=client.load, args=("t1",))
    other.start()
    other.join()
    assert ft.sleeps == [4]


def test_every_429_is_counted_in_metrics_including_retried_ones(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    metrics = Metrics()
    client = make_client(max_retries=3, on_request=metrics.on_request)
    api.get(ALL).mock(side_effect=[rate_limited("1"), rate_limited(None), httpx.Response(200, json={"tenants": []})])
    api.post(CREATE).mock(return_value=rate_limited("2"))
    assert client.load_all() == []  # two 429s, retried
    with pytest.raises(DescopeRateLimited):
        client.create({"id": "t1", "name": "ACME"})  # four 429s: the first try and 3 retries
    assert metrics.registry.get_sample_value("descope_gitops_descope_rate_limited_total") == 6
    create_429s = {"operation": "tenant.create", "code": "429"}
    assert metrics.registry.get_sample_value("descope_gitops_descope_requests_total", create_429s) == 4


@pytest.mark.parametrize(
    ("name", "call", "method", "path"),
    [
        ("patch", lambda c: c.patch("t1", {"disabled": True}), "PATCH", PATCH),
        ("update", lambda c: c.update({"id": "t1", "name": "A"}), "POST", UPDATE),
        ("settings", lambda c: c.update_settings("t1", {"enabled": True}), "POST", SETTINGS),
        ("roles", lambda c: c.update_default_roles("t1", ["r"]), "POST", ROLES),
        ("load_all", lambda c: c.load_all(), "GET", ALL),
    ],
)
@pytest.mark.parametrize("status", [502, 503, 504, 520, 521, 522, 524, 530])
def test_transient_statuses_are_retried_then_succeed(
    api: respx.MockRouter,
    client: DescopeClient,
    ft: FakeTime,
    name: str,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    status: int,
) -> None:
    ok: dict[str, Any] = {"tenants": []} if name == "load_all" else {}
    api.get(SETTINGS).respond(200, json=LIVE_SETTINGS)  # the read before a settings write
    route = api.route(method=method, path=path).mock(
        side_effect=[httpx.Response(status, text="busy"), httpx.Response(200, json=ok)]
    )
    call(client)
    assert route.call_count == 2
    assert len(ft.sleeps) == 1
    assert 0.5 <= ft.sleeps[0] <= 1.0


def test_backoff_grows_exponentially_with_jitter_and_is_bounded(
    api: respx.MockRouter, client: DescopeClient, ft: FakeTime
) -> None:
    route = api.patch(PATCH).respond(503, text="Service Unavailable")
    with pytest.raises(DescopeServerError):
        client.patch("t1", {"disabled": True})
    assert route.call_count == 4  # 1 + max_retries=3
    assert len(ft.sleeps) == 3
    for wait, low in zip(ft.sleeps, [0.5, 1.0, 2.0], strict=True):
        assert low <= wait <= low + 0.5


@pytest.mark.parametrize(
    ("max_retries", "max_retry_wait", "draw", "expected"),
    [
        (3, 60.0, 0.0, [0.5, 1.0, 2.0]),  # 0.5 s doubling, no jitter drawn
        (3, 60.0, 0.5, [0.75, 1.25, 2.25]),  # plus draw * 0.5 s of jitter
        (6, 60.0, 0.0, [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]),  # capped at 10 s before the jitter
        (6, 60.0, 0.5, [0.75, 1.25, 2.25, 4.25, 8.25, 10.25]),
        (4, 3.0, 0.5, [0.75, 1.25, 2.25, 3.0]),  # max_retry_wait caps the base and the sum
        (2, 0.0, 0.5, [0.0, 0.0]),  # no wait at all: nothing is slept
    ],
)
def test_backoff_numbers_are_exact(
    api: respx.MockRouter,
    make_client: Callable[..., DescopeClient],
    ft: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
    max_retries: int,
    max_retry_wait: float,
    draw: float,
    expected: list[float],
) -> None:
    monkeypatch.setattr("random.random", lambda: draw)  # the jitter's one draw per wait
    client = make_client(max_retries=max_retries, max_retry_wait=max_retry_wait)
    route = api.get(ALL).respond(503, text="busy")
    with pytest.raises(DescopeServerError):
        client.load_all()
    assert route.call_count == max_retries + 1
    assert ft.sleeps == [wait for wait in expected if wait > 0]


def test_backoff_is_capped_by_max_retry_wait(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], ft: FakeTime
) -> None:
    client = make_client(max_retries=5, max_retry_wait=1.0)
    api.get(ALL).respond(503, text="busy")
    with pytest.raises(DescopeServerError):
        client.load_all()
    assert len(ft.sleeps) == 5
    assert max(ft.sleeps) <= 1.0


@pytest.mark.parametrize(
    ("name", "call", "method", "path"),
    [
        ("patch", lambda c: c.patch("t1", {"disabled": True}), "PATCH", PATCH),
        ("create", lambda c: c.create({"id": "t1", "name": "A"}), "POST", CREATE),
        ("delete", lambda c: c.delete("t1"), "POST", DELETE),
        ("settings", lambda c: c.update_settings("t1", {"enabled": True}), "POST", SETTINGS),
    ],
)
@pytest.mark.parametrize("status", [500, 400, 409])
def test_500_and_4xx_on_a_write_are_not_retried(
    api: respx.MockRouter,
    client: DescopeClient,
    ft: FakeTime,
    name: str,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    status: int,
) -> None:
    api.get(SETTINGS).respond(200, json=LIVE_SETTINGS)  # the read before a settings write
    route = api.route(method=method, path=path).respond(status, json=descope_error("E1", "nope"))
    lookup = api.get(ONE).respond(404, json=descope_error("E2", "not found"))
    with pytest.raises(DescopeError):
        call(client)
    assert route.call_count == 1
    # only a refused create is looked up, once, to name its cause (the id or the name is taken)
    assert lookup.call_count == (1 if (name, status) == ("create", 409) else 0)
    assert ft.sleeps == []


def test_500_on_a_read_is_retried(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.get(ALL).mock(side_effect=[httpx.Response(500, text="boom"), httpx.Response(200, json={})])
    assert client.load_all() == []
    assert route.call_count == 2


def test_zero_retries_means_one_attempt(api: respx.MockRouter, make_client: Callable[..., DescopeClient]) -> None:
    client = make_client(max_retries=0)
    route = api.get(ALL).respond(503, text="busy")
    with pytest.raises(DescopeServerError):
        client.load_all()
    assert route.call_count == 1
