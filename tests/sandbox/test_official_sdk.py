"""Descope's official Python SDK (``descope`` on PyPI) against the sandbox: its own calls for SSO, roles and
password settings must work, as they would against Descope, and see the same overwrite semantics."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controller.sandbox import SandboxServer
from tests.sandbox.test_sandbox import KEY, PROJECT, sandbox

descope = pytest.importorskip("descope", reason="the official SDK is in the test extras")
from descope import AuthException, DescopeClient  # noqa: E402
from descope.management.sso_settings import (  # noqa: E402
    AttributeMapping,
    RoleMapping,
    SSOOIDCSettings,
    SSOSAMLSettings,
    SSOSAMLSettingsByMetadata,
)

SECRET = "sdk-oidc-secret-that-must-not-come-back"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with sandbox() as running:
        yield running


@pytest.fixture
def sdk(server: SandboxServer) -> DescopeClient:
    client = DescopeClient(project_id=PROJECT, management_key=KEY, base_url=server.url)
    client.mgmt.tenant.create(name="ACME", id="acme")
    return client


def test_sdk_roles(sdk: DescopeClient) -> None:
    sdk.mgmt.role.create("Tenant Admin", description="admins", permission_names=["users.manage"], tenant_id="acme")
    sdk.mgmt.role.create("Everyone")
    roles = sdk.mgmt.role.search(tenant_ids=["acme"])["roles"]
    assert [(r["name"], r["tenantId"], r["permissionNames"]) for r in roles] == [
        ("Tenant Admin", "acme", ["users.manage"])
    ]
    with pytest.raises(AuthException) as duplicate:
        sdk.mgmt.role.create("tenant admin", tenant_id="acme")
    assert duplicate.value.status_code == 409
    sdk.mgmt.role.update("Tenant Admin", "Admins", tenant_id="acme")  # the SDK's full overwrite
    (admins,) = sdk.mgmt.role.search(tenant_ids=["acme"], role_names=["Admins"])["roles"]
    assert "description" not in admins and "permissionNames" not in admins  # omitted: reset
    sdk.mgmt.role.update_by_id(admins["id"], "Admins", description="back", tenant_id="acme")
    assert sdk.mgmt.role.search(role_ids=[admins["id"]])["roles"][0]["description"] == "back"
    names = [r["name"] for r in sdk.mgmt.role.load_all()["roles"]]
    assert names == ["Everyone", "Admins"]
    sdk.mgmt.role.delete("Admins", tenant_id="acme")
    with pytest.raises(AuthException) as gone:
        sdk.mgmt.role.delete("Admins", tenant_id="acme")
    assert gone.value.status_code == 404
    assert sdk.mgmt.role.search(tenant_ids=["acme"], include_project_roles=True)["roles"][0]["name"] == "Everyone"


def test_sdk_sso_saml_oidc_and_several_configurations(sdk: DescopeClient, server: SandboxServer) -> None:
    sdk.mgmt.role.create("Tenant Admin", tenant_id="acme")
    saml = SSOSAMLSettings(
        idp_url="https://idp.acme.com/sso",
        idp_entity_id="urn:acme",
        idp_cert="MIIC",
        attribute_mapping=AttributeMapping(email="mail", group="groups"),
        role_mappings=[RoleMapping(["acme-admins"], "Tenant Admin")],
    )
    sdk.mgmt.sso.configure_saml_settings("acme", saml, redirect_url="https://app", domains=["acme.com"])
    loaded = sdk.mgmt.sso.load_settings("acme")
    assert loaded["saml"]["idpSSOUrl"] == "https://idp.acme.com/sso"
    assert loaded["saml"]["groupsMapping"][0]["role"]["name"] == "Tenant Admin"
    assert loaded["tenant"]["domains"] == ["acme.com"]

    sdk.mgmt.sso.configure_saml_settings_by_metadata("acme", SSOSAMLSettingsByMetadata("https://idp/metadata"))
    loaded = sdk.mgmt.sso.load_settings("acme")
    assert loaded["saml"] == {"idpMetadataUrl": "https://idp/metadata"}  # everything else was reset
    assert "domains" not in loaded["tenant"]

    created = sdk.mgmt.sso.new_settings("acme", "Google", "google")
    assert created["ssoId"] == "google"
    oidc = SSOOIDCSettings(
        name="Google", client_id="123.apps", client_secret=SECRET, issuer="https://accounts.google.com"
    )
    body = sdk.mgmt.sso._compose_configure_oidc_settings_body("acme", oidc, ["g.acme.com"])
    body["ssoId"] = "google"  # 2.16's configure_oidc_settings has no sso_id argument: its own body, with one
    sdk._mgmt._http.post("/v1/mgmt/sso/oidc", body=body)
    everything = sdk.mgmt.sso.load_all_settings("acme")
    assert [entry.get("ssoId", "") for entry in everything["SSOSettings"]] == ["", "google"]
    assert everything["SSOSettings"][1]["oidc"]["clientId"] == "123.apps"
    assert SECRET not in json.dumps(everything) and "clientSecret" not in json.dumps(everything)
    assert SECRET not in json.dumps(server.tenants())
    sdk.mgmt.sso.delete_settings("acme", "google")
    assert [entry.get("ssoId", "") for entry in sdk.mgmt.sso.load_all_settings("acme")["SSOSettings"]] == [""]
    with pytest.raises(AuthException) as missing:
        sdk.mgmt.sso.load_settings("nope")
    assert missing.value.status_code == 404


def test_sdk_password_settings(sdk: DescopeClient) -> None:
    sdk.mgmt.password.configure_settings("acme", {"minLength": 12, "lowercase": True})
    settings = sdk.mgmt.password.get_settings("acme")
    assert (settings["minLength"], settings["lowercase"], settings["uppercase"]) == (12, True, False)
    sdk.mgmt.password.configure_settings("acme", {"uppercase": True})  # the SDK sends only this: the rest resets
    settings = sdk.mgmt.password.get_settings("acme")
    assert (settings["minLength"], settings["lowercase"], settings["uppercase"]) == (8, False, True)
