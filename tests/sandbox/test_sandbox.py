"""The sandbox, over real HTTP on loopback, as a Descope client would see it."""

from __future__ import annotations

import json
import re
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.descope_api import SETTINGS_POST_KEYS, SETTINGS_SESSION_KEYS, SETTINGS_TENANT_KEYS, RateLimit
from controller.sandbox import SandboxServer, SandboxStateError
from controller.sandbox.knobs import RateLimiter

PROJECT = "P2aAc4T2V93bddihGEx2Ryhc8e5Z"
KEY = "K-secret-management-key"
AUTH = {"Authorization": f"Bearer {PROJECT}:{KEY}"}

ALL = "/v1/mgmt/tenant/all"
LOAD = "/v1/mgmt/tenant"
CREATE = "/v1/mgmt/tenant/create"
UPDATE = "/v1/mgmt/tenant/update"
PATCH = "/v1/mgmt/tenant/patch"
DELETE = "/v1/mgmt/tenant/delete"
SEARCH = "/v1/mgmt/tenant/search"
SETTINGS = "/v1/mgmt/tenant/settings"
DEFAULT_ROLES = "/v1/mgmt/tenant/updateDefaultRoles"


def sandbox(**kwargs: Any) -> SandboxServer:
    return SandboxServer(project_id=PROJECT, management_key=KEY, **kwargs)


# Built once: every httpx.Client would otherwise load the CA bundle again (about 0.1 s each); the sandbox is
# plain HTTP, so it is never used anyway.
_TLS = ssl.create_default_context()


def client(url: str, *, auth: bool = True, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=url, headers=AUTH if auth else (headers or {}), verify=_TLS, timeout=5)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with sandbox() as running:
        yield running


@pytest.fixture
def api(server: SandboxServer) -> Iterator[httpx.Client]:
    with client(server.url) as api_client:
        yield api_client


@pytest.fixture
def control(server: SandboxServer) -> Iterator[httpx.Client]:
    with client(server.url, auth=False) as control_client:
        yield control_client


def create(api: httpx.Client, **body: Any) -> str:
    response = api.post(CREATE, json=body)
    assert response.status_code == 200, response.text
    tenant_id: str = response.json()["id"]
    return tenant_id


def load(api: httpx.Client, tenant_id: str) -> dict[str, Any]:
    response = api.get(LOAD, params={"id": tenant_id})
    assert response.status_code == 200, response.text
    tenant: dict[str, Any] = response.json()
    return tenant


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [tenant["id"] for tenant in response.json()["tenants"]]


def assert_error(response: httpx.Response, status: int, code: str, message_part: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"errorCode", "errorDescription", "errorMessage"}
    assert body["errorCode"] == code
    assert message_part in body["errorMessage"]


# ----- auth -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {PROJECT}:wrong"},
        {"Authorization": f"Bearer Pother:{KEY}"},
        {"Authorization": f"Basic {PROJECT}:{KEY}"},
        {"Authorization": f"Bearer {KEY}"},
    ],
)
def test_requests_without_the_right_key_are_refused_and_change_nothing(
    server: SandboxServer, headers: dict[str, str]
) -> None:
    with client(server.url, auth=False, headers=headers) as anonymous:
        response = anonymous.post(CREATE, json={"name": "Acme"})
    assert_error(response, 401, "E000401-sandbox")
    assert KEY not in response.text
    assert server.tenants() == []


def test_control_endpoints_need_no_key(control: httpx.Client) -> None:
    assert control.get("/_sandbox/stats").status_code == 200


# ----- create, load, all --------------------------------------------------------------------------------
def test_create_load_and_all_round_trip(api: httpx.Client) -> None:
    # The python SDK's own create request (reference §3.1).
    body = {
        "name": "name",
        "id": "t1",
        "selfProvisioningDomains": ["domain.com"],
        "customAttributes": {"k1": "v1"},
        "enforceSSO": True,
        "enforceSSOExclusions": ["user1", "user2"],
        "federatedAppIds": ["app1", "app2"],
        "disabled": True,
    }
    before = int(time.time())
    response = api.post(CREATE, json=body)
    assert response.status_code == 200
    assert response.json() == {"id": "t1"}

    tenant = load(api, "t1")
    assert {key: tenant[key] for key in body} == body
    assert tenant["authType"] == "none"
    assert tenant["parent"] == ""
    assert before <= tenant["createdTime"] <= int(time.time())
    assert api.get(ALL).json() == {"tenants": [{key: value for key, value in tenant.items() if key != "parent"}]}


def test_create_without_an_id_generates_one(api: httpx.Client) -> None:
    generated = [create(api, name="A"), create(api, name="B", id=None), create(api, name="C", id="")]
    for tenant_id in generated:
        assert re.fullmatch(r"T[A-Za-z0-9]{27}", tenant_id)
    assert len(set(generated)) == 3
    assert sorted(ids(api.get(ALL))) == sorted(generated)


def test_duplicate_id_or_name_is_a_conflict_and_creates_nothing(api: httpx.Client) -> None:
    create(api, id="acme", name="ACME Corp")
    assert_error(api.post(CREATE, json={"id": "acme", "name": "Other"}), 409, "E000409-sandbox", "acme")
    assert_error(api.post(CREATE, json={"id": "acme2", "name": "acme corp"}), 409, "E000409-sandbox", "acme corp")
    assert ids(api.get(ALL)) == ["acme"]


def test_create_requires_a_name(api: httpx.Client) -> None:
    assert_error(api.post(CREATE, json={"id": "t1"}), 400, "E011002", "The name field is required")
    assert_error(api.post(CREATE, json={"id": "t1", "name": ""}), 400, "E011002", "The name field is required")
    assert ids(api.get(ALL)) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": "A", "selfProvisioningDomains": "a.com"}, "selfProvisioningDomains"),
        ({"name": "A", "enforceSSO": "yes"}, "enforceSSO"),
        ({"name": "A", "customAttributes": ["x"]}, "customAttributes"),
        ({"name": "A", "customAttributes": {"k": {"nested": 1}}}, "customAttributes.k"),
        ({"name": "A", "roleInheritance": "sometimes"}, "roleInheritance"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_validation_error_naming_it(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    assert_error(api.post(CREATE, json=body), 400, "E011003", f"The {field} field")


def test_a_body_that_is_not_json_is_a_bad_request(api: httpx.Client) -> None:
    response = api.post(CREATE, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "E011001")
    assert_error(api.post(CREATE, json=["a", "list"]), 400, "E011001")


def test_load_of_an_unknown_tenant_is_404(api: httpx.Client) -> None:
    assert_error(api.get(LOAD, params={"id": "ghost"}), 404, "E000404-sandbox", "ghost")
    assert_error(api.get(LOAD), 400, "E011002", "The id field is required")


def test_answers_omit_empty_fields_but_load_keeps_an_empty_parent(api: httpx.Client) -> None:
    create(api, id="t1", name="Plain", selfProvisioningDomains=[], customAttributes={}, disabled=False)
    listed = api.get(ALL).json()["tenants"][0]
    assert set(listed) == {"id", "name", "createdTime", "authType"}
    assert set(load(api, "t1")) == {"id", "name", "createdTime", "authType", "parent"}
    assert load(api, "t1")["parent"] == ""


def test_unknown_paths_and_wrong_methods(api: httpx.Client) -> None:
    assert_error(api.get("/v1/mgmt/tenant/nope"), 404, "E000404-sandbox")
    wrong = api.get(CREATE)
    assert_error(wrong, 405, "E000405-sandbox")
    assert wrong.headers["allow"] == "POST"
    assert_error(api.post(PATCH, json={"id": "t1"}), 405, "E000405-sandbox")


def test_a_body_over_10_mib_is_refused(api: httpx.Client) -> None:
    big = b'{"name":"' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert_error(api.post(CREATE, content=big), 413, "E000413-sandbox")
    assert ids(api.get(ALL)) == []


def test_license_tier(api: httpx.Client) -> None:
    assert api.get("/v1/mgmt/license").json() == {"rateLimitTier": "tier1"}


# ----- update, patch, delete ---------------------------------------------------------------------------
def test_update_overwrites_every_field_and_resets_the_omitted_ones(api: httpx.Client) -> None:
    create(api, id="parent", name="Parent")
    create(
        api,
        id="t1",
        name="Old",
        parent="parent",
        selfProvisioningDomains=["a.com"],
        customAttributes={"plan": "pro"},
        enforceSSO=True,
        federatedAppIds=["app"],
    )
    assert api.post(DEFAULT_ROLES, json={"id": "t1", "defaultRoles": ["viewer"]}).status_code == 200

    response = api.post(UPDATE, json={"id": "t1", "name": "New", "disabled": True})
    assert response.status_code == 200
    assert response.json() == {}

    tenant = load(api, "t1")
    assert tenant["name"] == "New"
    assert tenant["disabled"] is True
    for reset in ("selfProvisioningDomains", "customAttributes", "enforceSSO", "federatedAppIds"):
        assert reset not in tenant  # omitted in the answer: empty/false now
    assert tenant["parent"] == "parent"  # not an update field: kept
    assert tenant["defaultRoles"] == ["viewer"]  # has its own endpoint: kept


def test_update_accepts_a_body_built_from_a_load_result(api: httpx.Client) -> None:
    create(api, id="p", name="P")
    create(api, id="t1", name="T1", parent="p", customAttributes={"a": 1})
    body = {**load(api, "t1"), "name": "T1 renamed"}
    assert api.post(UPDATE, json=body).status_code == 200
    assert load(api, "t1") == body


def test_update_errors(api: httpx.Client) -> None:
    create(api, id="t1", name="One")
    create(api, id="t2", name="Two")
    assert_error(api.post(UPDATE, json={"id": "ghost", "name": "X"}), 404, "E000404-sandbox")
    assert_error(api.post(UPDATE, json={"id": "t2", "name": "ONE"}), 409, "E000409-sandbox")
    assert_error(api.post(UPDATE, json={"name": "X"}), 400, "E011002", "The id field is required")
    assert_error(api.post(UPDATE, json={"id": "t2"}), 400, "E011002", "The name field is required")
    assert load(api, "t2")["name"] == "Two"
    # A new case of its own name is not a clash with itself.
    assert api.post(UPDATE, json={"id": "t1", "name": "ONE"}).status_code == 200


def test_patch_changes_only_the_given_fields(api: httpx.Client) -> None:
    create(
        api,
        id="t1",
        name="Acme",
        selfProvisioningDomains=["acme.com"],
        customAttributes={"plan": "pro", "seats": 5},
        enforceSSO=True,
    )
    response = api.patch(PATCH, json={"id": "t1", "disabled": True, "customAttributes": {"plan": "free"}})
    assert response.status_code == 200
    assert response.json() == {}
    tenant = load(api, "t1")
    assert tenant["disabled"] is True
    assert tenant["customAttributes"] == {"plan": "free"}  # the map is replaced, not merged
    assert tenant["selfProvisioningDomains"] == ["acme.com"]
    assert tenant["enforceSSO"] is True
    assert tenant["name"] == "Acme"


def test_patch_errors(api: httpx.Client) -> None:
    create(api, id="t1", name="One")
    create(api, id="t2", name="Two")
    assert_error(api.patch(PATCH, json={"id": "ghost", "disabled": True}), 404, "E000404-sandbox")
    assert_error(api.patch(PATCH, json={"id": "t2", "name": "one"}), 409, "E000409-sandbox")
    assert_error(api.patch(PATCH, json={"id": "t2", "parent": "t1"}), 400, "E011003", "parent")
    assert_error(api.patch(PATCH, json={"id": "t2", "disabled": "true"}), 400, "E011003", "disabled")
    assert load(api, "t2") == {**load(api, "t2"), "name": "Two", "parent": ""}
    assert "disabled" not in load(api, "t2")


def test_delete_then_the_tenant_is_gone(api: httpx.Client) -> None:
    create(api, id="t1", name="One")
    create(api, id="t2", name="Two")
    response = api.post(DELETE, json={"id": "t1", "cascade": True})
    assert response.status_code == 200
    assert response.json() == {}
    assert_error(api.get(LOAD, params={"id": "t1"}), 404, "E000404-sandbox")
    assert_error(api.post(DELETE, json={"id": "t1"}), 404, "E000404-sandbox")
    assert ids(api.get(ALL)) == ["t2"]
    create(api, id="t3", name="One")  # the name is free again


def test_children_link_to_their_parent_and_block_its_delete(api: httpx.Client) -> None:
    create(api, id="holding", name="Holding")
    create(api, id="child", name="Child", parent="holding")
    assert load(api, "holding")["successors"] == ["child"]
    assert load(api, "child")["parent"] == "holding"
    assert_error(api.post(CREATE, json={"name": "Orphan", "parent": "ghost"}), 400, "E000400-sandbox", "ghost")

    refused = api.post(DELETE, json={"id": "holding", "cascade": True})
    assert_error(refused, 400, "E000400-sandbox", "child tenants")
    assert "child" in refused.json()["errorMessage"]

    assert api.post(DELETE, json={"id": "child"}).status_code == 200
    assert "successors" not in load(api, "holding")
    assert api.post(DELETE, json={"id": "holding"}).status_code == 200


# ----- settings, default roles --------------------------------------------------------------------------
def test_settings_post_overwrites_everything_it_omits(api: httpx.Client) -> None:
    """As Descope's (the node SDK: "Update will override all fields as is"): a partial POST wipes the rest."""
    create(api, id="t1", name="One", selfProvisioningDomains=["one.com"], enforceSSO=True, federatedAppIds=["a1"])
    defaults = api.get(SETTINGS, params={"id": "t1"}).json()
    assert defaults["enabled"] is False
    assert defaults["sessionTokenExpiration"] == 10
    assert defaults["selfProvisioningDomains"] == ["one.com"]
    assert set(defaults) >= set(SETTINGS_POST_KEYS), "a settings answer carries every key"

    whole = {**defaults, "tenantId": "t1", "enabled": True, "sessionTokenExpiration": 5, "domains": ["sso.one.com"]}
    assert api.post(SETTINGS, json=whole).json() == {}
    settings = api.get(SETTINGS, params={"id": "t1"}).json()
    assert (settings["enabled"], settings["sessionTokenExpiration"]) == (True, 5)
    assert settings["selfProvisioningDomains"] == ["one.com"]
    assert load(api, "t1")["domains"] == ["sso.one.com"]  # a settings key that is a tenant field

    partial = {"tenantId": "t1", "JITDisabled": True, "refreshTokenExpiration": None}
    assert api.post(SETTINGS, json=partial).status_code == 200
    settings = api.get(SETTINGS, params={"id": "t1"}).json()
    assert settings["JITDisabled"] is True
    assert settings["enabled"] is False, "omitted: back to the default"
    assert settings["sessionTokenExpiration"] == defaults["sessionTokenExpiration"]
    assert settings["refreshTokenExpiration"] == defaults["refreshTokenExpiration"]  # null: the default too
    tenant = load(api, "t1")
    assert "selfProvisioningDomains" not in tenant and "domains" not in tenant, "domains wiped"
    assert "enforceSSO" not in tenant and "federatedAppIds" not in tenant
    assert tenant["authType"] == "none"


def test_settings_keys_are_the_ones_descope_documents() -> None:
    from controller.sandbox.fields import SESSION_SETTINGS, SHARED_SETTINGS
    from controller.sandbox.store import DEFAULT_SETTINGS

    assert tuple(SHARED_SETTINGS) == SETTINGS_TENANT_KEYS
    assert tuple(SESSION_SETTINGS) == SETTINGS_SESSION_KEYS == tuple(DEFAULT_SETTINGS)


def test_settings_errors(api: httpx.Client) -> None:
    create(api, id="t1", name="One")
    assert_error(api.get(SETTINGS, params={"id": "ghost"}), 404, "E000404-sandbox")
    assert_error(api.post(SETTINGS, json={"tenantId": "ghost", "enabled": True}), 404, "E000404-sandbox")
    assert_error(api.post(SETTINGS, json={"id": "t1", "enabled": True}), 400, "E011002", "tenantId")
    assert_error(api.post(SETTINGS, json={"tenantId": "t1", "inactivityTime": "10"}), 400, "E011003", "inactivityTime")
    assert_error(api.post(SETTINGS, json={"tenantId": "t1", "inactivityTimeUnit": "years"}), 400, "E011003")


def test_default_roles(api: httpx.Client) -> None:
    create(api, id="t1", name="One")
    assert api.post(DEFAULT_ROLES, json={"id": "t1", "defaultRoles": ["viewer", "editor"]}).json() == {}
    assert load(api, "t1")["defaultRoles"] == ["viewer", "editor"]
    assert api.post(DEFAULT_ROLES, json={"id": "t1", "defaultRoles": []}).status_code == 200
    assert "defaultRoles" not in load(api, "t1")
    assert_error(api.post(DEFAULT_ROLES, json={"id": "ghost", "defaultRoles": []}), 404, "E000404-sandbox")


# ----- search -----------------------------------------------------------------------------------------------
@pytest.fixture
def three(api: httpx.Client) -> httpx.Client:
    create(api, id="a", name="Alpha", selfProvisioningDomains=["Alpha.com"], customAttributes={"plan": "pro"})
    create(api, id="b", name="Beta", customAttributes={"plan": "free", "vip": True}, parent="a")
    create(api, id="c", name="Gamma", customAttributes={"plan": "pro", "vip": 1})
    return api


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ["a", "b", "c"]),
        # What the python SDK sends when no filter is set.
        (
            {"tenantIds": None, "tenantNames": None, "tenantSelfProvisioningDomains": None, "customAttributes": None},
            ["a", "b", "c"],
        ),
        ({"tenantIds": [], "authType": "", "topLevelOnly": False}, ["a", "b", "c"]),
        ({"tenantIds": ["a", "c", "ghost"]}, ["a", "c"]),
        ({"tenantNames": ["Beta"]}, ["b"]),
        ({"tenantNames": ["beta"]}, []),
        ({"tenantSelfProvisioningDomains": ["alpha.COM"]}, ["a"]),
        ({"customAttributes": {"plan": "pro"}}, ["a", "c"]),
        ({"customAttributes": {"plan": ["free", "pro"]}}, ["a", "b", "c"]),
        ({"customAttributes": {"vip": True}}, ["b"]),
        ({"customAttributes": {"plan": "pro", "vip": 1}}, ["c"]),
        ({"tenantIds": ["a", "b"], "customAttributes": {"plan": "pro"}}, ["a"]),
        ({"parentTenantId": "a"}, ["b"]),
        ({"topLevelOnly": True}, ["a", "c"]),
        ({"authType": "none"}, ["a", "b", "c"]),
        ({"authType": "saml"}, []),
    ],
)
def test_search_or_within_a_filter_and_across_filters(
    three: httpx.Client, body: dict[str, Any], expected: list[str]
) -> None:
    assert ids(three.post(SEARCH, json=body)) == expected


def test_search_with_an_empty_body_and_a_bad_filter(three: httpx.Client) -> None:
    assert ids(three.post(SEARCH)) == ["a", "b", "c"]
    assert_error(three.post(SEARCH, json={"tenantIds": "a"}), 400, "E011003", "tenantIds")


# ----- knobs: rate limit, latency, random failures, queued faults -----------------------------------------
def test_rate_limit_answers_429_with_retry_after_and_changes_nothing(
    server: SandboxServer, api: httpx.Client, control: httpx.Client
) -> None:
    configured = control.post("/_sandbox/config", json={"rate_limit": "2/30s"})
    assert configured.status_code == 200 and configured.json()["rate_limit"] == "2/30s"
    create(api, id="t1", name="One")
    assert api.get(ALL).status_code == 200

    limited = api.post(CREATE, json={"id": "t2", "name": "Two"})
    assert limited.status_code == 429
    assert limited.json() == {
        "errorCode": "E130429",
        "errorDescription": "https://docs.descope.com/rate-limit",
        "errorMessage": "API rate limit exceeded.",
    }
    retry_after = limited.headers["retry-after"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 30
    assert [tenant["id"] for tenant in server.tenants()] == ["t1"]
    assert server.stats()["rate_limited"] == 1

    control.post("/_sandbox/config", json={"rate_limit": None})
    assert api.get(ALL).status_code == 200


def test_rate_limit_blocks_for_the_window_then_frees_up() -> None:
    with (
        sandbox(rate_limit="1/0.2s") as limited,
        client(limited.url) as limited_api,
    ):
        assert limited_api.get(ALL).status_code == 200
        assert limited_api.get(ALL).status_code == 429
        time.sleep(0.25)
        assert limited_api.get(ALL).status_code == 200


def test_rate_limit_as_descope_once_exceeded_everything_is_refused_for_a_window() -> None:
    ft = FakeClock()
    limiter = RateLimiter(clock=ft)
    limit = RateLimit.parse("3/10s")
    assert [limiter.admit(limit) for _ in range(3)] == [None, None, None]  # a full burst
    ft.now = 104.0
    assert limiter.admit(limit) == 10  # one too many at 104: blocked until 114
    ft.now = 110.5
    # a plain sliding window would admit again at 110 (the burst is 10 s old); Descope blocks a whole window
    assert limiter.admit(limit) == 4  # Retry-After: whole seconds left, rounded up
    ft.now = 113.9
    assert limiter.admit(limit) == 1  # at least 1
    ft.now = 114.0  # refusals at 110.5 and 113.9 did not extend the block
    assert [limiter.admit(limit) for _ in range(3)] == [None, None, None]  # a fresh window
    assert limiter.admit(limit) == 10


def test_rate_limit_sliding_window_admits_n_in_any_span() -> None:
    ft = FakeClock()
    limiter = RateLimiter(clock=ft)
    limit = RateLimit.parse("2/10s")
    assert limiter.admit(limit) is None  # 100
    ft.now = 105.0
    assert limiter.admit(limit) is None  # 105
    ft.now = 110.0
    assert limiter.admit(limit) is None  # the one at 100 has left the span [100.x, 110]
    ft.now = 114.0
    assert limiter.admit(limit) == 10  # 105 and 110 are both within 10 s: blocked


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("value", "shown"),
    [("20/4s", "20/4s"), (" 1000 / 10s ", "1000/10s"), (5, "5/1s"), (2.5, "2/0.8s"), ("50", "50/1s"), (None, None)],
)
def test_rate_limit_knob_takes_descopes_form_or_a_number_per_second(
    control: httpx.Client, value: object, shown: str | None
) -> None:
    answer = control.post("/_sandbox/config", json={"rate_limit": value})
    assert answer.status_code == 200
    assert answer.json()["rate_limit"] == shown
    assert control.get("/_sandbox/config").json()["rate_limit"] == shown


def test_changing_another_knob_keeps_the_rate_limit_working(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/_sandbox/config", json={"rate_limit": "2/30s"})
    assert control.post("/_sandbox/config", json={"fail_rate": 0.0}).json()["rate_limit"] == "2/30s"
    assert [api.get(ALL).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("value", ["100/0s", "0/60s", "abc", 0, -1, True, [20, 4]])
def test_a_bad_rate_limit_knob_is_refused(control: httpx.Client, value: object) -> None:
    assert_error(control.post("/_sandbox/config", json={"rate_limit": value}), 400, "E011003", "rate_limit")
    assert control.get("/_sandbox/config").json()["rate_limit"] is None


def test_setting_the_rate_limit_starts_a_full_budget(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/_sandbox/config", json={"rate_limit": "1/60s"})
    assert api.get(ALL).status_code == 200
    assert api.get(ALL).status_code == 429  # blocked for a minute ...
    control.post("/_sandbox/config", json={"rate_limit": "1/60s"})
    assert api.get(ALL).status_code == 200  # ... until the limit is set again


def test_latency_delays_each_request_and_requests_overlap(control: httpx.Client, server: SandboxServer) -> None:
    control.post("/_sandbox/config", json={"latency_ms": 200})

    def timed_get(_: int) -> float:
        started = time.perf_counter()
        with client(server.url) as own:  # its own connection, so the requests really are concurrent
            assert own.get(ALL).status_code == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:
        durations = list(pool.map(timed_get, range(5)))
    assert min(durations) >= 0.2
    assert time.perf_counter() - started < 0.2 * 5 * 0.8  # overlapping, not queued behind one lock
    assert control.get("/_sandbox/stats").status_code == 200  # control endpoints are not delayed


def failure_pattern(seed: int) -> list[int]:
    with sandbox(fail_rate=0.5, seed=seed) as flaky, client(flaky.url) as flaky_api:
        return [flaky_api.get(ALL).status_code for _ in range(24)]


def test_random_failures_are_repeatable_with_a_seed() -> None:
    first = failure_pattern(7)
    assert first == failure_pattern(7)
    assert set(first) == {200, 503}
    assert first != failure_pattern(8)


def test_a_random_failure_changes_nothing_and_looks_like_the_edge(server: SandboxServer, control: httpx.Client) -> None:
    control.post("/_sandbox/config", json={"fail_rate": 1.0, "fail_status": 503})
    with client(server.url) as api:
        response = api.post(CREATE, json={"name": "Acme"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert server.tenants() == []
    assert server.stats()["faults"] == 1


def test_queued_faults_hit_the_matching_path_count_times(api: httpx.Client, control: httpx.Client) -> None:
    rules = [{"path": CREATE, "status": 500, "count": 2, "body": "<html>oops</html>"}]
    assert control.post("/_sandbox/faults", json={"rules": rules}).json()["queued"] == 1

    assert api.get(ALL).status_code == 200  # another path is not affected
    for _ in range(2):
        failed = api.post(CREATE, json={"id": "t1", "name": "One"})
        assert failed.status_code == 500
        assert failed.text == "<html>oops</html>"
    assert ids(api.get(ALL)) == []  # the failed creates did not happen
    assert api.post(CREATE, json={"id": "t1", "name": "One"}).status_code == 200
    assert control.get("/_sandbox/faults").json() == {"rules": []}


def test_an_after_commit_fault_applies_the_change_and_loses_the_answer(
    api: httpx.Client, control: httpx.Client
) -> None:
    control.post("/_sandbox/faults", json={"rules": [{"path": CREATE, "status": 503, "after_commit": True}]})
    assert api.post(CREATE, json={"id": "t1", "name": "One"}).status_code == 503
    assert load(api, "t1")["name"] == "One"
    assert_error(api.post(CREATE, json={"id": "t1", "name": "One"}), 409, "E000409-sandbox")


def test_a_delay_fault_times_the_client_out(api: httpx.Client, control: httpx.Client) -> None:
    rules = [
        {"path": CREATE, "delay_ms": 400, "after_commit": True},  # slow, but the create lands
        {"path": UPDATE, "delay_ms": 400, "status": 504},  # slow, then fails: nothing changes
    ]
    control.post("/_sandbox/faults", json={"rules": rules})
    with pytest.raises(httpx.ReadTimeout):
        api.post(CREATE, json={"id": "t1", "name": "One"}, timeout=0.1)
    with pytest.raises(httpx.ReadTimeout):
        api.post(UPDATE, json={"id": "t1", "name": "Renamed"}, timeout=0.1)
    time.sleep(0.4)
    assert load(api, "t1")["name"] == "One"


def test_a_queued_429_carries_its_retry_after(api: httpx.Client, control: httpx.Client) -> None:
    control.post(
        "/_sandbox/faults", json={"rules": [{"status": 429, "retry_after": 7}, {"status": 429, "retry_after": None}]}
    )
    first = api.get(ALL)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "7"
    assert first.json()["errorCode"] == "E130429"
    assert "retry-after" not in api.get(ALL).headers
    assert api.get(ALL).status_code == 200


def test_faults_can_be_cleared_and_bad_rules_are_refused(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/_sandbox/faults", json={"rules": [{"status": 500, "count": 3}]})
    assert control.delete("/_sandbox/faults").status_code == 200
    assert api.get(ALL).status_code == 200
    assert_error(control.post("/_sandbox/faults", json={"rules": [{"status": "500"}]}), 400, "E011003", "status")
    assert_error(control.post("/_sandbox/faults", json={"rules": [{"stauts": 500}]}), 400, "E011003", "stauts")


def test_config_is_validated(control: httpx.Client) -> None:
    assert_error(control.post("/_sandbox/config", json={"fail_rate": 2}), 400, "E011003", "fail_rate")
    assert_error(control.post("/_sandbox/config", json={"latency": 5}), 400, "E011003", "latency")
    assert control.get("/_sandbox/config").json()["fail_rate"] == 0.0
    with pytest.raises(ValueError, match="rate_limit"):
        sandbox(rate_limit=0)


# ----- stats and seeding -----------------------------------------------------------------------------------
def test_stats_count_every_api_request_and_nothing_else(
    server: SandboxServer, api: httpx.Client, control: httpx.Client
) -> None:
    create(api, id="t1", name="One")
    api.post(CREATE, json={"id": "t1", "name": "One"})  # 409
    api.patch(PATCH, json={"id": "t1", "disabled": True})
    api.get(ALL)
    control.get(ALL)  # 401: control has no key
    api.get("/v1/nope")  # 404
    control.get("/_sandbox/tenants")

    stats = control.get("/_sandbox/stats").json()
    assert stats == server.stats()
    assert stats["total"] == 6
    assert stats["requests"] == {
        f"POST {CREATE}": 2,
        f"PATCH {PATCH}": 1,
        f"GET {ALL}": 2,
        "GET /v1/nope": 1,
    }
    assert stats["status"] == {"200": 3, "409": 1, "401": 1, "404": 1}
    assert stats["writes"] == 2
    assert (stats["rate_limited"], stats["faults"]) == (0, 0)

    control.post("/_sandbox/stats/reset")
    assert control.get("/_sandbox/stats").json() == {
        "total": 0,
        "requests": {},
        "status": {},
        "rate_limited": 0,
        "faults": 0,
        "writes": 0,
    }


def test_seeding_merges_records_without_counting(
    server: SandboxServer, api: httpx.Client, control: httpx.Client
) -> None:
    create(api, id="keep", name="Keep")
    control.post("/_sandbox/stats/reset")
    seed = [
        {"id": "root", "name": "Root", "customAttributes": {"n": 1}, "settings": {"enabled": True}},
        {"id": "leaf", "name": "Leaf", "parent": "root", "createdTime": 1726067547},
    ]
    assert control.post("/_sandbox/tenants", json={"tenants": seed}).json() == {"seeded": 2, "total": 3}
    assert server.stats()["total"] == 0

    assert load(api, "root")["successors"] == ["leaf"]
    assert load(api, "leaf")["createdTime"] == 1726067547
    assert api.get(SETTINGS, params={"id": "root"}).json()["enabled"] is True
    records = {record["id"]: record for record in control.get("/_sandbox/tenants").json()["tenants"]}
    assert set(records) == {"keep", "root", "leaf"}
    assert records["keep"]["disabled"] is False  # full records: nothing omitted
    assert records["root"]["settings"]["enabled"] is True


def test_a_bad_seed_changes_nothing(server: SandboxServer, control: httpx.Client) -> None:
    control.post("/_sandbox/tenants", json={"tenants": [{"id": "a", "name": "Same"}]})
    clash = control.post("/_sandbox/tenants", json={"tenants": [{"id": "b", "name": "same"}, {"id": "c", "name": "C"}]})
    assert_error(clash, 409, "E000409-sandbox")
    orphan = control.post("/_sandbox/tenants", json={"tenants": [{"id": "d", "name": "D", "parent": "ghost"}]})
    assert_error(orphan, 400, "E000400-sandbox")
    assert [tenant["id"] for tenant in server.tenants()] == ["a"]
    replaced = control.post("/_sandbox/tenants", json={"tenants": [{"id": "z", "name": "Z"}], "replace": True})
    assert replaced.json()["total"] == 1


def test_tenants_returns_a_copy(server: SandboxServer, api: httpx.Client) -> None:
    create(api, id="t1", name="One", selfProvisioningDomains=["one.com"])
    server.tenants()[0]["selfProvisioningDomains"].append("evil.com")
    assert load(api, "t1")["selfProvisioningDomains"] == ["one.com"]


# ----- concurrency ------------------------------------------------------------------------------------------
def test_concurrent_creates_of_one_name_make_exactly_one_tenant(server: SandboxServer) -> None:
    def attempt(index: int) -> int:
        with client(server.url) as own:
            return own.post(CREATE, json={"id": f"t{index}", "name": "Same"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(16)))
    assert statuses == [200] + [409] * 15
    assert len(server.tenants()) == 1


# ----- state file and lifecycle ---------------------------------------------------------------------------
def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with sandbox(state_file=state) as first, client(first.url) as api:
        create(api, id="p", name="Parent", customAttributes={"plan": "pro"})
        create(api, id="c", name="Child", parent="p")
        api.post(SETTINGS, json={"tenantId": "p", "enabled": True, "sessionTokenExpiration": 3})
        api.post(DEFAULT_ROLES, json={"id": "c", "defaultRoles": ["viewer"]})
        before = first.tenants()
    assert json.loads(state.read_text())["version"] == 3
    assert [path.name for path in tmp_path.iterdir()] == ["sandbox.json"]  # no temp files left behind

    with sandbox(state_file=state) as second, client(second.url) as api:
        assert second.tenants() == before
        assert load(api, "p")["successors"] == ["c"]
        assert api.get(SETTINGS, params={"id": "p"}).json()["sessionTokenExpiration"] == 3


def test_the_state_file_is_written_on_every_change(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with sandbox(state_file=state) as running, client(running.url) as api:
        create(api, id="t1", name="One")
        assert [entry["id"] for entry in json.loads(state.read_text())["tenants"]] == ["t1"]
        api.post(DELETE, json={"id": "t1"})
        assert json.loads(state.read_text())["tenants"] == []


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"format": "descope-sandbox-state", "version": 99, "tenants": []}', "version 99"),
        ('{"format": "descope-sandbox-state", "version": 1, "tenants": [{"id": "x"}]}', "name"),
        ('["a list"]', "not a descope-sandbox-state document"),
    ],
)
def test_a_corrupt_state_file_is_an_error_naming_it(tmp_path: Path, content: str, complaint: str) -> None:
    state = tmp_path / "broken.json"
    state.write_text(content)
    with pytest.raises(SandboxStateError, match=complaint) as caught:
        sandbox(state_file=state)
    assert str(state) in str(caught.value)
    assert state.read_text() == content  # never silently replaced


def test_stop_is_idempotent_and_closes_the_port() -> None:
    running = sandbox().start()
    url = running.url
    with client(url) as api:
        assert api.get("/_sandbox/stats").status_code == 200
        running.stop()
        running.stop()
        with pytest.raises(httpx.TransportError):  # the kept-alive connection is closed too
            api.get("/_sandbox/stats")
    with client(url) as fresh, pytest.raises(httpx.ConnectError):
        fresh.get("/_sandbox/stats")


def test_stop_from_a_signal_handler_ends_serve_forever() -> None:
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        pytest.skip("needs SIGALRM on the main thread")
    running = sandbox()
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: running.stop())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        started = time.perf_counter()
        running.serve_forever()  # returns once the handler has called stop()
        assert time.perf_counter() - started < 3
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
