"""The sandbox's SSO configurations, roles and password settings, over HTTP, as Descope's SDKs call them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.descope_api import PASSWORD_SETTINGS_DEFAULTS
from controller.sandbox import SandboxServer
from tests.sandbox.test_sandbox import SETTINGS, assert_error, client, create, load, sandbox

SSO_ALL = "/v2/mgmt/sso/settings/all"
SSO_LOAD = "/v2/mgmt/sso/settings"
SSO_NEW = "/v1/mgmt/sso/settings/new"
SSO_DELETE = "/v1/mgmt/sso/settings"
SAML = "/v1/mgmt/sso/saml"
SAML_METADATA = "/v1/mgmt/sso/saml/metadata"
OIDC = "/v1/mgmt/sso/oidc"
ROLE_CREATE = "/v1/mgmt/role/create"
ROLE_UPDATE = "/v1/mgmt/role/update"
ROLE_DELETE = "/v1/mgmt/role/delete"
ROLE_SEARCH = "/v1/mgmt/role/search"
ROLE_ALL = "/v1/mgmt/role/all"
PASSWORD = "/v1/mgmt/password/settings"

SECRET = "oidc-client-secret-never-returned-7Qx"
SAML_SETTINGS = {
    "idpUrl": "https://idp.acme.com/sso",
    "entityId": "urn:acme",
    "idpCert": "MIIC-cert",
    "attributeMapping": {"email": "mail", "name": "displayName"},
    "roleMappings": [{"groups": ["acme-admins"], "roleName": "Tenant Admin"}],
    "defaultSSORoles": ["Viewer"],
}
OIDC_SETTINGS = {
    "name": "Google",
    "clientId": "123.apps.googleusercontent.com",
    "clientSecret": SECRET,
    "issuer": "https://accounts.google.com",
    "scope": ["openid", "email"],
}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with sandbox() as running:
        yield running


@pytest.fixture
def api(server: SandboxServer) -> Iterator[httpx.Client]:
    with client(server.url) as api_client:
        create(api_client, id="acme", name="ACME")
        for name in ("Tenant Admin", "Viewer"):
            ok(api_client.post(ROLE_CREATE, json={"name": name, "tenantId": "acme"}))
        yield api_client


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def sso(api: httpx.Client, sso_id: str = "") -> dict[str, Any]:
    params = {"tenantId": "acme", **({"ssoId": sso_id} if sso_id else {})}
    answer: dict[str, Any] = ok(api.get(SSO_LOAD, params=params))
    return answer


# ----- SSO ----------------------------------------------------------------------------------------------------
def test_saml_is_answered_in_the_read_vocabulary_and_sets_the_tenants_sso_fields(api: httpx.Client) -> None:
    body = {"tenantId": "acme", "settings": SAML_SETTINGS, "domains": ["acme.com"], "redirectUrl": "https://app"}
    assert ok(api.post(SAML, json=body)) == {}
    loaded = sso(api)
    role_id = ok(api.post(ROLE_SEARCH, json={"tenantIds": ["acme"], "roleNames": ["Tenant Admin"]}))["roles"][0]["id"]
    assert loaded["saml"] == {
        "idpSSOUrl": "https://idp.acme.com/sso",
        "idpEntityId": "urn:acme",
        "idpCertificate": "MIIC-cert",
        "attributeMapping": {"email": "mail", "name": "displayName"},
        "groupsMapping": [{"role": {"id": role_id, "name": "Tenant Admin"}, "groups": ["acme-admins"]}],
        "defaultSSORoles": ["Viewer"],
        "redirectUrl": "https://app",
    }
    assert loaded["oidc"] == {}
    assert loaded["tenant"] == {"id": "acme", "name": "ACME", "authType": "saml", "domains": ["acme.com"]}
    assert "ssoId" not in loaded  # the default configuration
    tenant = load(api, "acme")
    assert (tenant["authType"], tenant["domains"]) == ("saml", ["acme.com"])


def test_a_saml_write_resets_what_it_omits(api: httpx.Client) -> None:
    full = {"tenantId": "acme", "settings": SAML_SETTINGS, "domains": ["acme.com"], "redirectUrl": "https://app"}
    ok(api.post(SAML, json=full))
    only_idp = {key: SAML_SETTINGS[key] for key in ("idpUrl", "entityId", "idpCert")}
    ok(api.post(SAML, json={"tenantId": "acme", "settings": only_idp}))
    loaded = sso(api)
    assert loaded["saml"] == {
        "idpSSOUrl": "https://idp.acme.com/sso",
        "idpEntityId": "urn:acme",
        "idpCertificate": "MIIC-cert",
    }
    assert "domains" not in loaded["tenant"]  # domains omitted: reset, on the tenant too
    assert "domains" not in load(api, "acme")


def test_a_tenant_settings_post_that_omits_domains_clears_the_default_ssos(api: httpx.Client) -> None:
    ok(api.post(SAML, json={"tenantId": "acme", "settings": SAML_SETTINGS, "domains": ["acme.com"]}))
    ok(api.post(SETTINGS, json={"tenantId": "acme", "enabled": True}))
    assert sso(api)["tenant"]["authType"] == "none"  # one value, two views
    assert "domains" not in sso(api)["tenant"]


def test_saml_by_metadata_and_missing_required_fields(api: httpx.Client) -> None:
    body = {"tenantId": "acme", "settings": {"idpMetadataUrl": "https://idp/metadata", "entityId": "urn:x"}}
    ok(api.post(SAML_METADATA, json=body))
    assert sso(api)["saml"] == {"idpMetadataUrl": "https://idp/metadata", "idpEntityId": "urn:x"}
    assert_error(api.post(SAML_METADATA, json={"tenantId": "acme", "settings": {}}), 400, "E011002", "idpMetadataUrl")
    assert_error(
        api.post(SAML, json={"tenantId": "acme", "settings": {"idpUrl": "u", "entityId": "e"}}),
        400,
        "E011002",
        "idpCert",
    )
    assert_error(api.post(SAML, json={"tenantId": "acme"}), 400, "E011002", "settings")
    assert_error(api.post(SAML, json={"settings": SAML_SETTINGS}), 400, "E011002", "tenantId")
    bad = {**SAML_SETTINGS, "roleMappings": [{"groups": "g", "roleName": "Viewer"}]}
    assert_error(api.post(SAML, json={"tenantId": "acme", "settings": bad}), 400, "E011003", "roleMappings[0].groups")


def test_role_mappings_must_name_existing_roles(api: httpx.Client) -> None:
    bad = {**SAML_SETTINGS, "defaultSSORoles": ["Ghost"]}
    assert_error(api.post(SAML, json={"tenantId": "acme", "settings": bad}), 400, "E000400-sandbox", "'Ghost'")
    ok(api.post(ROLE_CREATE, json={"name": "Ghost"}))  # a project role will do
    ok(api.post(SAML, json={"tenantId": "acme", "settings": bad}))


def test_oidc_never_returns_the_client_secret_anywhere(server: SandboxServer, api: httpx.Client) -> None:
    ok(api.post(SSO_NEW, json={"tenantId": "acme", "ssoId": "google", "displayName": "Google"}))
    ok(
        api.post(
            OIDC, json={"tenantId": "acme", "ssoId": "google", "settings": OIDC_SETTINGS, "domains": ["g.acme.com"]}
        )
    )
    loaded = sso(api, "google")
    assert loaded["oidc"] == {key: value for key, value in OIDC_SETTINGS.items() if key != "clientSecret"}
    assert (loaded["ssoId"], loaded["displayName"], loaded["tenant"]["authType"]) == ("google", "Google", "oidc")
    assert loaded["tenant"]["domains"] == ["g.acme.com"]
    assert "domains" not in load(api, "acme")  # another configuration's domains are its own
    with client(server.url, auth=False) as control:
        answers = [
            api.get(SSO_ALL, params={"tenantId": "acme"}).text,
            api.get(SSO_LOAD, params={"tenantId": "acme", "ssoId": "google"}).text,
            control.get("/_sandbox/tenants").text,
            json.dumps(server.tenants()),
        ]
    assert all(SECRET not in text and "clientSecret" not in text for text in answers)


def test_oidc_overwrites_and_replaces_a_saml_configuration(api: httpx.Client) -> None:
    ok(api.post(SAML, json={"tenantId": "acme", "settings": SAML_SETTINGS}))
    ok(api.post(OIDC, json={"tenantId": "acme", "settings": OIDC_SETTINGS}))
    loaded = sso(api)
    assert (loaded["saml"], loaded["tenant"]["authType"]) == ({}, "oidc")
    ok(api.post(OIDC, json={"tenantId": "acme", "settings": {"name": "G", "clientId": "c"}}))
    assert sso(api)["oidc"] == {"name": "G", "clientId": "c"}  # issuer, scope: reset
    assert_error(api.post(OIDC, json={"tenantId": "acme", "settings": {"name": "G"}}), 400, "E011002", "clientId")


def test_several_configurations_list_load_and_delete(api: httpx.Client) -> None:
    assert ok(api.get(SSO_ALL, params={"tenantId": "acme"})) == {"SSOSettings": []}
    created = ok(api.post(SSO_NEW, json={"tenantId": "acme", "ssoId": "okta", "displayName": "Okta"}))
    assert (created["ssoId"], created["displayName"], created["saml"], created["oidc"]) == ("okta", "Okta", {}, {})
    generated = ok(api.post(SSO_NEW, json={"tenantId": "acme", "displayName": "Other"}))["ssoId"]
    assert generated.startswith("SSO") and len(generated) == 28
    ok(api.post(SAML, json={"tenantId": "acme", "ssoId": "okta", "settings": SAML_SETTINGS}))
    ok(api.post(SAML, json={"tenantId": "acme", "settings": SAML_SETTINGS}))
    listed = ok(api.get(SSO_ALL, params={"tenantId": "acme"}))["SSOSettings"]
    assert [entry.get("ssoId", "") for entry in listed] == ["", "okta", generated]  # the default first
    assert ok(api.delete(SSO_DELETE, params={"tenantId": "acme", "ssoId": "okta"})) == {}
    assert_error(api.get(SSO_LOAD, params={"tenantId": "acme", "ssoId": "okta"}), 404, "E000404-sandbox", "okta")
    ok(api.delete(SSO_DELETE, params={"tenantId": "acme"}))  # the default: reset
    assert load(api, "acme")["authType"] == "none"
    assert [entry["ssoId"] for entry in ok(api.get(SSO_ALL, params={"tenantId": "acme"}))["SSOSettings"]] == [generated]


def test_sso_errors(api: httpx.Client) -> None:
    ok(api.post(SSO_NEW, json={"tenantId": "acme", "ssoId": "okta", "displayName": "Okta"}))
    assert_error(
        api.post(SSO_NEW, json={"tenantId": "acme", "ssoId": "okta", "displayName": "x"}), 409, "E000409-sandbox"
    )
    assert_error(api.post(SSO_NEW, json={"tenantId": "acme", "ssoId": "x"}), 400, "E011002", "displayName")
    assert_error(
        api.post(SSO_NEW, json={"tenantId": "nope", "displayName": "x"}), 404, "E000404-sandbox", "Tenant nope"
    )
    assert_error(
        api.post(SAML, json={"tenantId": "acme", "ssoId": "never", "settings": SAML_SETTINGS}),
        404,
        "E000404-sandbox",
        "never",
    )
    assert_error(api.get(SSO_ALL, params={"tenantId": "nope"}), 404, "E000404-sandbox", "Tenant nope")
    assert_error(api.get(SSO_ALL), 400, "E011002", "tenantId")
    assert_error(api.delete(SSO_DELETE, params={"tenantId": "acme", "ssoId": "never"}), 404, "E000404-sandbox")
    assert_error(api.post(SSO_DELETE, json={"tenantId": "acme"}), 405, "E000405-sandbox")


# ----- roles -----------------------------------------------------------------------------------------------------
def test_roles_create_update_overwrite_search_and_delete(api: httpx.Client) -> None:
    create(api, id="other", name="Other")
    body = {
        "name": "Auditor",
        "tenantId": "acme",
        "description": "reads",
        "permissionNames": ["audit.read"],
        "default": True,
    }
    ok(api.post(ROLE_CREATE, json=body))
    ok(api.post(ROLE_CREATE, json={"name": "Auditor", "tenantId": "other"}))  # unique per tenant only
    ok(api.post(ROLE_CREATE, json={"name": "Project Role"}))
    found = ok(api.post(ROLE_SEARCH, json={"tenantIds": ["acme"], "roleNames": ["Auditor"]}))["roles"]
    assert len(found) == 1
    auditor = found[0]
    assert {k: v for k, v in auditor.items() if k not in ("id", "createdTime")} == {
        "name": "Auditor",
        "description": "reads",
        "permissionNames": ["audit.read"],
        "tenantId": "acme",
        "default": True,
    }
    assert auditor["id"].startswith("ROL")
    ok(api.post(ROLE_UPDATE, json={"name": "Auditor", "tenantId": "acme", "newName": "Auditors"}))
    updated = ok(api.post(ROLE_SEARCH, json={"roleIds": [auditor["id"]]}))["roles"][0]
    assert updated == {
        "id": auditor["id"],
        "name": "Auditors",
        "createdTime": auditor["createdTime"],
        "tenantId": "acme",
    }
    names = [(role["name"], role.get("tenantId", "")) for role in ok(api.get(ROLE_ALL))["roles"]]
    assert names == [
        ("Project Role", ""),
        ("Tenant Admin", "acme"),
        ("Viewer", "acme"),
        ("Auditors", "acme"),
        ("Auditor", "other"),
    ]
    scoped = ok(api.post(ROLE_SEARCH, json={"tenantIds": ["acme"], "includeProjectRoles": True}))["roles"]
    assert [role["name"] for role in scoped] == ["Project Role", "Tenant Admin", "Viewer", "Auditors"]
    assert [r["name"] for r in ok(api.post(ROLE_SEARCH, json={"roleNameLike": "AUDIT"}))["roles"]] == [
        "Auditors",
        "Auditor",
    ]
    ok(api.post(ROLE_DELETE, json={"id": auditor["id"], "tenantId": "acme"}))
    ok(api.post(ROLE_DELETE, json={"name": "Auditor", "tenantId": "other"}))
    assert [role["name"] for role in ok(api.post(ROLE_SEARCH, json={"roleNameLike": "audit"}))["roles"]] == []


def test_role_errors(api: httpx.Client) -> None:
    assert_error(api.post(ROLE_CREATE, json={"name": "viewer", "tenantId": "acme"}), 409, "E000409-sandbox", "'Viewer'")
    assert_error(api.post(ROLE_CREATE, json={"tenantId": "acme"}), 400, "E011002", "name")
    assert_error(api.post(ROLE_CREATE, json={"name": "x", "tenantId": "nope"}), 404, "E000404-sandbox", "Tenant nope")
    assert_error(api.post(ROLE_UPDATE, json={"name": "Viewer", "tenantId": "acme"}), 400, "E011002", "newName")
    assert_error(
        api.post(ROLE_UPDATE, json={"name": "Viewer", "tenantId": "acme", "newName": "tenant admin"}),
        409,
        "E000409-sandbox",
    )
    assert_error(
        api.post(ROLE_UPDATE, json={"name": "Ghost", "tenantId": "acme", "newName": "x"}),
        404,
        "E000404-sandbox",
        "Ghost",
    )
    assert_error(api.post(ROLE_DELETE, json={"name": "Viewer"}), 404, "E000404-sandbox", "the project")
    assert_error(api.post(ROLE_CREATE, json={"name": "x", "permissionNames": "a"}), 400, "E011003", "permissionNames")


def test_deleting_a_tenant_deletes_its_roles_and_sso(api: httpx.Client) -> None:
    ok(api.post(SAML, json={"tenantId": "acme", "settings": SAML_SETTINGS}))
    ok(api.post("/v1/mgmt/tenant/delete", json={"id": "acme"}))
    assert ok(api.get(ROLE_ALL)) == {"roles": []}
    create(api, id="acme", name="ACME")
    assert ok(api.get(SSO_ALL, params={"tenantId": "acme"})) == {"SSOSettings": []}


# ----- password settings ----------------------------------------------------------------------------------------
def test_password_settings_overwrite_and_inherit(api: httpx.Client) -> None:
    create(api, id="child", name="Child", parent="acme")
    assert ok(api.get(PASSWORD, params={"tenantId": "acme"})) == PASSWORD_SETTINGS_DEFAULTS
    ok(
        api.post(
            PASSWORD, json={"tenantId": "acme", "minLength": 12, "lowercase": True, "lock": True, "lockAttempts": 5}
        )
    )
    expected = {**PASSWORD_SETTINGS_DEFAULTS, "minLength": 12, "lowercase": True, "lock": True, "lockAttempts": 5}
    assert ok(api.get(PASSWORD, params={"tenantId": "acme"})) == expected
    assert ok(api.get(PASSWORD, params={"tenantId": "child"})) == expected  # a sub-tenant inherits
    ok(api.post(PASSWORD, json={"tenantId": "acme", "minLength": 10}))
    assert ok(api.get(PASSWORD, params={"tenantId": "acme"})) == {**PASSWORD_SETTINGS_DEFAULTS, "minLength": 10}
    ok(api.post(PASSWORD, json={"tenantId": "", "uppercase": True}))  # the project's
    assert ok(api.get(PASSWORD, params={"tenantId": ""}))["uppercase"] is True
    create(api, id="plain", name="Plain")
    assert ok(api.get(PASSWORD, params={"tenantId": "plain"}))["uppercase"] is True


def test_password_errors(api: httpx.Client) -> None:
    assert_error(api.post(PASSWORD, json={"tenantId": "acme", "minLength": "12"}), 400, "E011003", "minLength")
    assert_error(api.post(PASSWORD, json={"tenantId": "acme", "lock": 1}), 400, "E011003", "lock")
    assert_error(api.post(PASSWORD, json={"tenantId": "nope"}), 404, "E000404-sandbox")
    assert_error(api.get(PASSWORD, params={"tenantId": "nope"}), 404, "E000404-sandbox")


# ----- the same pipeline as the tenant API: auth, faults, rate limits, stats ------------------------------------
def test_new_endpoints_need_the_key_and_count_as_api_requests(server: SandboxServer, api: httpx.Client) -> None:
    with client(server.url, auth=False) as anonymous:
        assert_error(anonymous.get(ROLE_ALL), 401, "E000401-sandbox")
        anonymous.post("/_sandbox/stats/reset")
        ok(api.post(PASSWORD, json={"tenantId": "acme", "minLength": 9}))
        ok(api.get(ROLE_ALL))
        stats = anonymous.get("/_sandbox/stats").json()
        assert stats["writes"] == 1
        assert stats["requests"] == {f"POST {PASSWORD}": 1, f"GET {ROLE_ALL}": 1}
        anonymous.post("/_sandbox/faults", json={"rules": [{"path": OIDC, "status": 503, "count": 1}]})
        body = {"tenantId": "acme", "settings": OIDC_SETTINGS}
        assert api.post(OIDC, json=body).status_code == 503
        assert sso(api)["oidc"] == {}  # the fault changed nothing
        ok(api.post(OIDC, json=body))
        anonymous.post("/_sandbox/config", json={"rate_limit": "1/60s"})
        ok(api.get(ROLE_ALL))
        limited = api.post(ROLE_SEARCH, json={})
        assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_state_file_seed_and_dump_keep_the_configuration(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with sandbox(state_file=state) as first, client(first.url) as api:
        create(api, id="acme", name="ACME")
        ok(api.post(ROLE_CREATE, json={"name": "Viewer", "tenantId": "acme"}))
        ok(api.post(ROLE_CREATE, json={"name": "Everyone"}))
        ok(
            api.post(
                SAML,
                json={
                    "tenantId": "acme",
                    "settings": {**SAML_SETTINGS, "roleMappings": [], "defaultSSORoles": []},
                    "domains": ["acme.com"],
                },
            )
        )
        ok(api.post(SSO_NEW, json={"tenantId": "acme", "ssoId": "google", "displayName": "Google"}))
        ok(api.post(OIDC, json={"tenantId": "acme", "ssoId": "google", "settings": OIDC_SETTINGS}))
        ok(api.post(PASSWORD, json={"tenantId": "acme", "minLength": 14}))
        before = (first.tenants(), ok(api.get(SSO_ALL, params={"tenantId": "acme"})), ok(api.get(ROLE_ALL)))
        dump = client(first.url, auth=False).get("/_sandbox/tenants").json()
    assert SECRET not in state.read_text()
    with sandbox(state_file=state) as second, client(second.url) as api:
        after = (second.tenants(), ok(api.get(SSO_ALL, params={"tenantId": "acme"})), ok(api.get(ROLE_ALL)))
        assert after == before
        assert ok(api.get(PASSWORD, params={"tenantId": "acme"}))["minLength"] == 14
    with sandbox() as third, client(third.url, auth=False) as control, client(third.url) as api:
        assert control.post("/_sandbox/tenants", json=dump).status_code == 200  # a dump seeds back as it is
        assert ok(api.get(SSO_ALL, params={"tenantId": "acme"})) == before[1]
        assert ok(api.get(ROLE_ALL)) == before[2]
        bad = {"tenants": [{"id": "x", "name": "X", "roles": [{"name": "a"}, {"name": "A"}]}]}
        assert control.post("/_sandbox/tenants", json=bad).status_code == 409
        assert [t["id"] for t in third.tenants()] == ["acme"]  # a bad seed changes nothing


def test_seeding_tenants_without_configuration_keeps_the_old_dump_shape() -> None:
    with sandbox() as server, client(server.url, auth=False) as control:
        control.post("/_sandbox/tenants", json={"tenants": [{"id": "a", "name": "A"}]})
        dump = control.get("/_sandbox/tenants").json()
        assert set(dump) == {"tenants"}
        assert not {"ssoSettings", "roles", "passwordSettings"} & set(dump["tenants"][0])


def test_the_sandbox_reads_the_keys_descope_api_lists() -> None:
    from controller.descope_api import SSO_OIDC_KEYS, SSO_SAML_METADATA_WRITE_KEYS, SSO_SAML_WRITE_KEYS
    from controller.sandbox.sso import _OIDC_SETTINGS, _SAML_SETTINGS

    assert set(_SAML_SETTINGS) == set(SSO_SAML_WRITE_KEYS) | set(SSO_SAML_METADATA_WRITE_KEYS)
    assert set(_OIDC_SETTINGS) == set(SSO_OIDC_KEYS)
