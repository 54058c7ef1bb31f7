"""The client's SSO, role and password-settings calls: request shapes, retries, errors, secrets, hooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from controller.adapters.descope import DescopeClient
from controller.errors import (
    DescopeBadResponse,
    DescopeConflict,
    DescopeNotFound,
    DescopeServerError,
    DescopeValidationError,
)
from tests.adapters.descope.support import FakeTime, descope_error, rate_limited, sent_json

SSO_ALL = "/v2/mgmt/sso/settings/all"
SSO_LOAD = "/v2/mgmt/sso/settings"
SSO_NEW = "/v1/mgmt/sso/settings/new"
SSO_SETTINGS = "/v1/mgmt/sso/settings"
SAML = "/v1/mgmt/sso/saml"
SAML_METADATA = "/v1/mgmt/sso/saml/metadata"
OIDC = "/v1/mgmt/sso/oidc"
ROLE_CREATE = "/v1/mgmt/role/create"
ROLE_UPDATE = "/v1/mgmt/role/update"
ROLE_DELETE = "/v1/mgmt/role/delete"
ROLE_SEARCH = "/v1/mgmt/role/search"
ROLE_ALL = "/v1/mgmt/role/all"
PASSWORD = "/v1/mgmt/password/settings"

SECRET = "oidc-Client-Secret-9f2Kq-do-not-log"
LOADED = {"tenant": {"id": "acme", "name": "ACME", "authType": "saml"}, "saml": {"idpSSOUrl": "u"}, "oidc": {}}
OK = httpx.Response(200, json={})


def server_error(status: int = 503) -> httpx.Response:
    return httpx.Response(status, json=descope_error("E000500", "Server error"))


# ----- request shapes -------------------------------------------------------------------------------------------
def test_sso_reads_send_the_tenant_and_answer_descopes_shape(api: respx.MockRouter, client: DescopeClient) -> None:
    every = api.get(SSO_ALL).mock(return_value=httpx.Response(200, json={"SSOSettings": [LOADED]}))
    one = api.get(SSO_LOAD).mock(return_value=httpx.Response(200, json=LOADED))
    assert client.load_sso_all("acme") == [LOADED]
    assert every.calls.last.request.url.params["tenantId"] == "acme"
    assert client.load_sso("acme") == LOADED
    assert "ssoId" not in one.calls.last.request.url.params  # the default configuration
    client.load_sso("acme", "okta")
    assert dict(one.calls.last.request.url.params) == {"tenantId": "acme", "ssoId": "okta"}
    every.mock(return_value=httpx.Response(200, json={}))
    assert client.load_sso_all("acme") == []  # Go omitempty: no configurations, no key


def test_sso_writes_send_descopes_bodies(api: respx.MockRouter, client: DescopeClient) -> None:
    new = api.post(SSO_NEW).mock(return_value=httpx.Response(200, json={**LOADED, "ssoId": "okta"}))
    saml = api.post(SAML).mock(return_value=OK)
    metadata = api.post(SAML_METADATA).mock(return_value=OK)
    oidc = api.post(OIDC).mock(return_value=OK)
    delete = api.delete(SSO_SETTINGS).mock(return_value=OK)
    assert client.new_sso("acme", "okta", "Okta")["ssoId"] == "okta"
    assert sent_json(new) == {"tenantId": "acme", "ssoId": "okta", "displayName": "Okta"}
    client.configure_saml("acme", {"idpUrl": "u", "entityId": "e", "idpCert": "c"}, sso_id="okta", domains=["acme.com"])
    assert sent_json(saml) == {
        "tenantId": "acme",
        "settings": {"idpUrl": "u", "entityId": "e", "idpCert": "c"},
        "domains": ["acme.com"],
        "redirectUrl": "",
        "ssoId": "okta",
    }
    client.configure_saml("acme", {"idpMetadataUrl": "m"}, by_metadata=True)
    assert sent_json(metadata) == {
        "tenantId": "acme",
        "settings": {"idpMetadataUrl": "m"},
        "domains": [],
        "redirectUrl": "",
    }
    client.configure_oidc("acme", {"name": "G", "clientId": "c", "clientSecret": SECRET})
    assert sent_json(oidc) == {
        "tenantId": "acme",
        "settings": {"name": "G", "clientId": "c", "clientSecret": SECRET},
        "domains": [],
    }
    assert client.delete_sso("acme", "okta") is True
    assert dict(delete.calls.last.request.url.params) == {"tenantId": "acme", "ssoId": "okta"}


def test_role_and_password_calls(api: respx.MockRouter, client: DescopeClient) -> None:
    role = {"id": "ROL1", "name": "Admin", "tenantId": "acme"}
    search = api.post(ROLE_SEARCH).mock(return_value=httpx.Response(200, json={"roles": [role]}))
    every = api.get(ROLE_ALL).mock(return_value=httpx.Response(200, json={"roles": [role]}))
    create = api.post(ROLE_CREATE).mock(return_value=OK)
    update = api.post(ROLE_UPDATE).mock(return_value=OK)
    delete = api.post(ROLE_DELETE).mock(return_value=OK)
    password_get = api.get(PASSWORD).mock(return_value=httpx.Response(200, json={"minLength": 8}))
    password_post = api.post(PASSWORD).mock(return_value=OK)
    assert client.load_roles(["acme", "beta"]) == [role]
    assert sent_json(search) == {"tenantIds": ["acme", "beta"]}
    client.load_roles(["acme"], include_project_roles=True)
    assert sent_json(search) == {"tenantIds": ["acme"], "includeProjectRoles": True}
    assert client.load_all_roles() == [role] and every.call_count == 1
    client.create_role({"name": "Admin", "tenantId": "acme", "permissionNames": ["p"]})
    assert sent_json(create) == {"name": "Admin", "tenantId": "acme", "permissionNames": ["p"]}
    client.update_role("Admin", {"name": "Admins", "tenantId": "acme", "description": "d"})
    assert sent_json(update) == {"name": "Admin", "newName": "Admins", "tenantId": "acme", "description": "d"}
    assert client.delete_role("Admins", "acme") is True
    assert sent_json(delete) == {"name": "Admins", "tenantId": "acme"}
    assert client.load_password_settings("acme") == {"minLength": 8}
    assert password_get.calls.last.request.url.params["tenantId"] == "acme"
    client.update_password_settings("acme", {"minLength": 12})
    assert sent_json(password_post) == {"minLength": 12, "tenantId": "acme"}


# ----- retries --------------------------------------------------------------------------------------------------
def test_reads_retry_500_and_overwrites_retry_only_edge_statuses(api: respx.MockRouter, client: DescopeClient) -> None:
    read = api.get(PASSWORD).mock(side_effect=[server_error(500), httpx.Response(200, json={"minLength": 8})])
    assert client.load_password_settings("acme") == {"minLength": 8}
    assert read.call_count == 2
    write = api.post(SAML).mock(side_effect=[server_error(503), OK])
    client.configure_saml("acme", {"idpUrl": "u", "entityId": "e", "idpCert": "c"})
    assert write.call_count == 2
    refused = api.post(PASSWORD).mock(return_value=server_error(500))
    with pytest.raises(DescopeServerError):
        client.update_password_settings("acme", {})
    assert refused.call_count == 1  # a write is never retried on 500


def test_a_429_pauses_then_retries(api: respx.MockRouter, client: DescopeClient, ft: FakeTime) -> None:
    route = api.post(ROLE_SEARCH).mock(side_effect=[rate_limited("3"), httpx.Response(200, json={"roles": []})])
    assert client.load_roles(["acme"]) == []
    assert route.call_count == 2 and ft.sleeps == [3]


def test_new_sso_whose_answer_was_lost_is_settled_by_a_load(api: respx.MockRouter, client: DescopeClient) -> None:
    new = api.post(SSO_NEW).mock(
        side_effect=[server_error(503), httpx.Response(409, json=descope_error("E1", "exists"))]
    )
    api.get(SSO_LOAD).mock(return_value=httpx.Response(200, json={**LOADED, "ssoId": "okta"}))
    assert client.new_sso("acme", "okta", "Okta")["ssoId"] == "okta"
    assert new.call_count == 2


def test_a_create_refused_at_once_is_a_conflict(api: respx.MockRouter, client: DescopeClient) -> None:
    api.post(ROLE_CREATE).mock(return_value=httpx.Response(409, json=descope_error("E1", "Role already exists")))
    with pytest.raises(DescopeConflict, match="role 'Admin' of tenant 'acme' already exists"):
        client.create_role({"name": "Admin", "tenantId": "acme"})


def test_create_role_after_a_lost_answer_checks_by_search(api: respx.MockRouter, client: DescopeClient) -> None:
    api.post(ROLE_CREATE).mock(side_effect=[server_error(502), httpx.Response(409, json=descope_error("E1", "exists"))])
    api.post(ROLE_SEARCH).mock(
        return_value=httpx.Response(200, json={"roles": [{"name": "Admin", "tenantId": "acme"}]})
    )
    client.create_role({"name": "Admin", "tenantId": "acme"})


def test_deletes_of_what_is_gone(api: respx.MockRouter, client: DescopeClient) -> None:
    api.delete(SSO_SETTINGS).mock(return_value=httpx.Response(404, json=descope_error("E404", "Not found")))
    api.post(ROLE_DELETE).mock(
        side_effect=[server_error(503), httpx.Response(404, json=descope_error("E404", "Not found"))]
    )
    assert client.delete_sso("acme", "okta") is False
    assert client.delete_role("Admin", "acme") is True  # the first attempt may have done it


# ----- errors and secrets ---------------------------------------------------------------------------------------
def test_errors_name_the_resource(api: respx.MockRouter, client: DescopeClient) -> None:
    api.get(SSO_LOAD).mock(return_value=httpx.Response(404, json=descope_error("E404", "SSO configuration not found")))
    with pytest.raises(DescopeNotFound, match="SSO configuration 'okta' of tenant 'acme' not found"):
        client.load_sso("acme", "okta")
    api.post(ROLE_UPDATE).mock(return_value=httpx.Response(400, json=descope_error("E011002", "newName is required")))
    with pytest.raises(DescopeValidationError, match="role 'Admin' of the project rejected"):
        client.update_role("Admin", {"name": ""})
    api.get(ROLE_ALL).mock(return_value=httpx.Response(200, json={"roles": "nope"}))
    with pytest.raises(DescopeBadResponse):
        client.load_all_roles()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json=descope_error("E011003", "Invalid client secret", f"secret {SECRET} is too short")),
        httpx.Response(500, text=f"<html><title>echo {SECRET}</title></html>"),
        httpx.Response(200, text=f"not json {SECRET}"),
    ],
)
def test_a_client_secret_never_appears_in_an_error_or_a_hook(
    api: respx.MockRouter, make_client: Callable[..., DescopeClient], answer: httpx.Response
) -> None:
    seen: list[Any] = []
    notices: list[str] = []
    client = make_client(on_request=lambda *args: seen.append(args), on_notice=notices.append, max_retries=0)
    api.post(OIDC).mock(return_value=answer)
    with pytest.raises(Exception) as info:
        client.configure_oidc("acme", {"name": "G", "clientId": "c", "clientSecret": SECRET})
    texts = [str(info.value), repr(info.value), str(info.value.args), json.dumps(seen), *notices]
    assert all(SECRET not in text for text in texts)
    assert "***" in str(info.value) or answer.status_code == 500
