"""The client speaks the tenant API as the SDKs do: base URL, headers, paths and bodies, read-modify-write."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from controller import __version__
from controller.adapters.descope import DescopeClient, base_url_for_project_id
from controller.errors import (
    DescopeNotFound,
)
from tests.adapters.descope.support import (
    ALL,
    CREATE,
    DELETE,
    KEY,
    LICENSE,
    LIVE_SETTINGS,
    ONE,
    PATCH,
    PID,
    ROLES,
    SEARCH,
    SETTINGS,
    UPDATE,
    descope_error,
    sent_json,
)

# --------------------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    ("project_id", "url"),
    [
        ("Puse12aAc4T2V93bddihGEx2Ryhc8e5Z", "https://api.use1.descope.com"),
        ("Peuc12gotLL7ZROo6LTAOK1XGv0cqsqX", "https://api.euc1.descope.com"),
        ("P2aAc4T2V93bddihGEx2Ryhc8e5Z", "https://api.descope.com"),
        ("PUSE12aAc4T2V93bddihGEx2Ryhc8e5Z", "https://api.use1.descope.com"),  # region is lower-cased
        ("P" + "x" * 30, "https://api.descope.com"),  # 31 chars: not regional
    ],
)
def test_base_url_for_project_id(project_id: str, url: str) -> None:
    assert base_url_for_project_id(project_id) == url


# --------------------------------------------------------------------------- headers


def test_sends_descope_auth_and_sdk_headers(api: respx.MockRouter, client: DescopeClient) -> None:
    get = api.get(ALL).respond(200, json={"tenants": []})
    post = api.post(ROLES).respond(200, json={})
    client.load_all()
    client.update_default_roles("t1", ["viewer"])
    for route in (get, post):
        headers = route.calls.last.request.headers
        assert headers["Authorization"] == f"Bearer {PID}:{KEY}"
        assert headers["x-descope-project-id"] == PID
        assert headers["x-descope-sdk-name"] == "descope-gitops"
        assert headers["x-descope-sdk-version"] == __version__
        assert "x-descope-license" not in headers
    assert post.calls.last.request.headers["Content-Type"] == "application/json"


def test_license_tier_is_sent_once_known(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(LICENSE).respond(200, json={"rateLimitTier": "tier3"})
    route = api.get(ALL).respond(200, json={"tenants": []})
    assert client.license_tier() == "tier3"
    client.load_all()
    assert route.calls.last.request.headers["x-descope-license"] == "tier3"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, json=descope_error("E000000", "Not found")),
        httpx.Response(500, text="oops"),
        httpx.Response(401, json=descope_error("E011003", "Unauthorized")),
        httpx.Response(200, text="<html>proxy</html>"),
        httpx.Response(200, json={"rateLimitTier": 3}),
        httpx.ConnectError("refused"),
    ],
)
def test_license_tier_is_none_on_any_failure_and_not_retried(
    api: respx.MockRouter, client: DescopeClient, response: httpx.Response | Exception
) -> None:
    route = api.get(LICENSE).mock(side_effect=[response])
    assert client.license_tier() is None
    assert route.call_count == 1


def test_repr_does_not_show_the_key(client: DescopeClient) -> None:
    assert KEY not in repr(client)
    assert PID in repr(client)


# --------------------------------------------------------------------------- paths, methods, bodies

TENANT = {"id": "t1", "name": "tenant1", "selfProvisioningDomains": ["domain1.com"], "createdTime": 172606520}

CALLS: list[tuple[str, Callable[[DescopeClient], Any], str, str, dict[str, str], Any, Any, Any]] = [
    # name, call, method, path, query, body sent (None = no body), response json, return value
    ("load_all", lambda c: c.load_all(), "GET", ALL, {}, None, {"tenants": [TENANT]}, [TENANT]),
    ("load", lambda c: c.load("t1"), "GET", ONE, {"id": "t1"}, None, TENANT, TENANT),
    (
        "create",
        lambda c: c.create({"id": "t1", "name": "ACME", "selfProvisioningDomains": ["acme.com"]}),
        "POST",
        CREATE,
        {},
        {"id": "t1", "name": "ACME", "selfProvisioningDomains": ["acme.com"]},
        {"id": "t1"},
        "t1",
    ),
    (
        "update",
        lambda c: c.update({"id": "t1", "name": "new-name", "enforceSSO": True, "disabled": True}),
        "POST",
        UPDATE,
        {},
        {"id": "t1", "name": "new-name", "enforceSSO": True, "disabled": True},
        {},
        None,
    ),
    (
        "patch",
        lambda c: c.patch("t1", {"name": "ACME 2", "customAttributes": {"plan": "pro"}}),
        "PATCH",
        PATCH,
        {},
        {"id": "t1", "name": "ACME 2", "customAttributes": {"plan": "pro"}},
        {},
        None,
    ),
    ("delete", lambda c: c.delete("t1"), "POST", DELETE, {}, {"id": "t1", "cascade": False}, {}, True),
    (
        "delete cascade",
        lambda c: c.delete("t1", cascade=True),
        "POST",
        DELETE,
        {},
        {"id": "t1", "cascade": True},
        {},
        True,
    ),
    (
        "load_settings",
        lambda c: c.load_settings("t1"),
        "GET",
        SETTINGS,
        {"id": "t1"},
        None,
        {"enabled": True, "sessionTokenExpiration": 11, "JITDisabled": True},
        {"enabled": True, "sessionTokenExpiration": 11, "JITDisabled": True},
    ),
    (
        "update_default_roles",
        lambda c: c.update_default_roles("t1", ("role1", "role2")),
        "POST",
        ROLES,
        {},
        {"id": "t1", "defaultRoles": ["role1", "role2"]},
        {},
        None,
    ),
    (
        "search all filters",
        lambda c: c.search(tenant_ids=["id1"], names=["name1"], domains=["spd1"], custom_attributes={"k1": "v1"}),
        "POST",
        SEARCH,
        {},
        {
            "tenantIds": ["id1"],
            "tenantNames": ["name1"],
            "tenantSelfProvisioningDomains": ["spd1"],
            "customAttributes": {"k1": "v1"},
        },
        {"tenants": [TENANT]},
        [TENANT],
    ),
    ("search no filter", lambda c: c.search(), "POST", SEARCH, {}, {}, {"tenants": []}, []),
    ("license", lambda c: c.license_tier(), "GET", LICENSE, {}, None, {"rateLimitTier": "tier2"}, "tier2"),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "body", "answer", "expected"),
    [c[1:] for c in CALLS],
    ids=[c[0] for c in CALLS],
)
def test_each_method_sends_the_documented_request(
    api: respx.MockRouter,
    client: DescopeClient,
    call: Callable[[DescopeClient], Any],
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    answer: Any,
    expected: Any,
) -> None:
    route = api.route(method=method, path=path).respond(200, json=answer)
    assert call(client) == expected
    assert route.call_count == 1
    request = route.calls.last.request
    assert dict(request.url.params) == query
    if body is None:
        assert request.content == b""
    else:
        assert json.loads(request.content) == body


def test_patch_and_settings_keep_the_id_they_were_given(api: respx.MockRouter, client: DescopeClient) -> None:
    patch = api.patch(PATCH).respond(200, json={})
    api.get(SETTINGS).respond(200, json={**LIVE_SETTINGS, "tenantId": "t1"})
    settings = api.post(SETTINGS).respond(200, json={})
    client.patch("t1", {"id": "other", "disabled": True})
    client.update_settings("t1", {"tenantId": "other", "enabled": False})
    assert sent_json(patch) == {"id": "t1", "disabled": True}
    assert sent_json(settings)["tenantId"] == "t1"


# ------------------------------------------------- full-overwrite endpoints are read-modify-write


def test_a_settings_write_sends_the_live_settings_with_the_managed_keys_laid_over(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    """Descope's settings POST resets what it omits: domains, SSO and console-set values must be sent back."""
    read = api.get(SETTINGS).respond(200, json=LIVE_SETTINGS)
    write = api.post(SETTINGS).respond(200, json={})
    tenant = api.get(ONE).respond(200, json=TENANT)
    client.update_settings("t1", {"enabled": True, "sessionTokenExpiration": 5})
    assert dict(read.calls.last.request.url.params) == {"id": "t1"}
    assert sent_json(write) == {"tenantId": "t1", **LIVE_SETTINGS, "enabled": True, "sessionTokenExpiration": 5}
    assert tenant.call_count == 0  # the settings answer carried every tenant field


def test_tenant_fields_a_settings_answer_leaves_out_are_taken_from_the_tenant(
    api: respx.MockRouter, client: DescopeClient
) -> None:
    """Go's omitempty may drop empty or false keys from the settings answer; the tenant record has them."""
    api.get(SETTINGS).respond(200, json={"enabled": True, "sessionTokenExpiration": 11})
    api.get(ONE).respond(
        200, json={"id": "t1", "name": "ACME", "selfProvisioningDomains": ["acme.com"], "domains": ["sso.acme.com"]}
    )
    write = api.post(SETTINGS).respond(200, json={})
    client.update_settings("t1", {"sessionTokenExpiration": 5})
    assert sent_json(write) == {
        "tenantId": "t1",
        "enabled": True,
        "sessionTokenExpiration": 5,
        "selfProvisioningDomains": ["acme.com"],
        "domains": ["sso.acme.com"],
    }


def test_a_settings_write_that_cannot_read_first_sends_nothing(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(SETTINGS).respond(404, json=descope_error("E404", "Tenant not found"))
    write = api.post(SETTINGS).respond(200, json={})
    with pytest.raises(DescopeNotFound):
        client.update_settings("t1", {"enabled": True})
    assert write.call_count == 0


LIVE_TENANT: dict[str, Any] = {
    "id": "t1",
    "name": "ACME",
    "selfProvisioningDomains": ["acme.com"],
    "customAttributes": {"plan": "pro", "seats": 5},
    "createdTime": 1726067547,
    "authType": "saml",
    "domains": ["sso.acme.com"],
    "enforceSSO": True,
    "federatedAppIds": ["app1"],
    "defaultRoles": ["viewer"],
    "parent": "holding",
    "successors": ["child"],
    "roleInheritance": "userOnly",
    "someNewerField": {"kept": True},
}


@pytest.mark.parametrize("status", [404, 405])
def test_without_patch_a_change_is_a_read_modify_write_update_from_then_on(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], status: int
) -> None:
    notices: list[str] = []
    client = make_client(on_notice=notices.append)
    patch = api.patch(PATCH).respond(status, json=descope_error("E404", "Not found"))
    load = api.get(ONE).respond(200, json=LIVE_TENANT)
    update = api.post(UPDATE).respond(200, json={})

    client.patch("t1", {"name": "ACME 2", "customAttributes": {"plan": "enterprise", "seats": 5}})
    client.patch("t1", {"disabled": True})

    assert patch.call_count == 1, "PATCH is not tried again once Descope has shown it has none"
    assert dict(load.calls.last.request.url.params) == {"id": "t1"}
    sent = sent_json(update, 0)
    # every field the update overwrites comes from the live tenant, so nothing unmanaged is reset ...
    assert sent == {
        "id": "t1",
        "name": "ACME 2",
        "selfProvisioningDomains": ["acme.com"],
        "customAttributes": {"plan": "enterprise", "seats": 5},
        "enforceSSO": True,
        "federatedAppIds": ["app1"],
        "roleInheritance": "userOnly",
        "someNewerField": {"kept": True},
    }
    # ... and what update does not take (parent, SSO domains, read-only fields) is not sent
    assert sent_json(update, 1)["disabled"] is True and update.call_count == 2
    assert len(notices) == 1 and "PATCH" in notices[0] and "read-modify-write" in notices[0]


def test_a_404_from_patch_for_a_tenant_that_is_gone_is_not_found(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient]
) -> None:
    notices: list[str] = []
    client = make_client(on_notice=notices.append)
    patch = api.patch(PATCH).respond(404, json=descope_error("E404", "Tenant not found"))
    api.get(ONE).respond(404, json=descope_error("E404", "Tenant not found"))
    update = api.post(UPDATE).respond(200, json={})
    with pytest.raises(DescopeNotFound):
        client.patch("t1", {"disabled": True})
    with pytest.raises(DescopeNotFound):
        client.patch("t1", {"disabled": True})
    assert patch.call_count == 2, "PATCH exists: it is still used"
    assert update.call_count == 0 and notices == []


def test_void_writes_accept_an_empty_body(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.patch(PATCH).respond(200, content=b"")
    assert client.patch("t1", {"disabled": True}) is None
    assert route.call_count == 1  # an empty 200 is success, not a bad response to retry


# --------------------------------------------------------------------------- response shapes


def test_load_reads_the_flat_object_and_tolerates_omitted_fields(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(ONE, params={"id": "t1"}).respond(200, json={"id": "t1", "name": "abc"})
    assert client.load("t1") == {"id": "t1", "name": "abc"}


def test_load_also_understands_the_openapi_wrapped_shape(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(ONE).respond(200, json={"tenant": {"id": "t1", "name": "abc"}})
    assert client.load("t1") == {"id": "t1", "name": "abc"}


def test_load_all_keeps_tenants_as_sent_with_missing_fields(api: respx.MockRouter, client: DescopeClient) -> None:
    fixture = {
        "id": "t1",
        "name": "abc",
        "selfProvisioningDomains": ["domain.com"],
        "createdTime": 1726067547,
        "disabled": True,
        "enforceSSO": True,
    }
    api.get(ALL).respond(200, json={"tenants": [fixture, {"id": "t2", "name": "bare"}]})
    assert client.load_all() == [fixture, {"id": "t2", "name": "bare"}]


@pytest.mark.parametrize("answer", [{}, {"tenants": None}])
def test_load_all_reads_an_omitted_list_as_empty(
    api: respx.MockRouter, client: DescopeClient, answer: dict[str, Any]
) -> None:
    api.get(ALL).respond(200, json=answer)
    assert client.load_all() == []


def test_find_returns_none_on_404(api: respx.MockRouter, client: DescopeClient) -> None:
    route = api.get(ONE).respond(404, json=descope_error("E0xxxxx", "Tenant not found"))
    assert client.find("ghost") is None
    assert route.call_count == 1  # a 404 is an answer, not retried
