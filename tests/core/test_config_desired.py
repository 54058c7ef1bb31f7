"""Live sub-resources → tenants.yaml's form: what export writes and restore plans back, planned as no change."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.config_desired import desired_config, desired_password, oidc_without_secret, secret_env_name
from controller.core.config_plan import LiveConfig, make_config_plan
from controller.core.config_types import SecretFingerprints

ROLES: list[dict[str, Any]] = [
    {"id": "r2", "name": "Member", "tenantId": "acme", "createdTime": 1, "description": "A member"},
    {"id": "r1", "name": "Admin", "tenantId": "acme", "permissionNames": ["b", "a"], "default": True},
]
SAML_BY_METADATA = {
    "ssoId": "okta",
    "displayName": "Okta",
    "tenant": {"id": "acme", "domains": ["ACME.com"], "authType": "saml"},
    "saml": {
        "idpMetadataUrl": "https://idp.example/metadata",
        "idpSSOUrl": "https://idp.example/sso",  # read back from the metadata: not written with it
        "idpEntityId": "urn:idp",
        "spCertificate": "MIIC...",  # read-only
        "attributeMapping": {"email": "mail"},
        "groupsMapping": [{"role": {"id": "r1", "name": "Admin"}, "groups": ["admins"]}],
        "redirectUrl": "https://app.example/after",
    },
}
OIDC = {"ssoId": "google", "displayName": "google", "oidc": {"name": "Google", "clientId": "123", "scope": []}}


@pytest.mark.parametrize(
    ("config", "want"),
    [
        pytest.param(
            {"roles": ROLES},
            {
                "roles": [
                    {"name": "Admin", "permissionNames": ["a", "b"], "default": True},
                    {"name": "Member", "description": "A member"},
                ]
            },
            id="roles: sorted, derived keys and empty fields left out",
        ),
        pytest.param(
            {"sso": [SAML_BY_METADATA]},
            {
                "sso": [
                    {
                        "ssoId": "okta",
                        "displayName": "Okta",
                        "domains": ["acme.com"],
                        "saml": {
                            "idpMetadataUrl": "https://idp.example/metadata",
                            "entityId": "urn:idp",
                            "attributeMapping": {"email": "mail"},
                            "roleMappings": [{"groups": ["admins"], "roleName": "Admin"}],
                            "redirectUrl": "https://app.example/after",
                        },
                    }
                ]
            },
            id="saml by metadata: write names, no IdP fields the metadata gives, no read-only keys",
        ),
        pytest.param(
            {"sso": [OIDC]},
            {"sso": [{"ssoId": "google", "displayName": "google", "oidc": {"name": "Google", "clientId": "123"}}]},
            id="oidc: no clientSecret (Descope never returns it)",
        ),
        pytest.param(
            {"passwordPolicy": {"minLength": 12, "lowercase": True, "tenantId": "acme"}},
            {"passwordPolicy": {"minLength": 12, "lowercase": True}},
            id="password policy: only its keys",
        ),
        pytest.param({}, {}, id="nothing backed up: nothing managed"),
    ],
)
def test_live_to_desired(config: dict[str, Any], want: dict[str, Any]) -> None:
    assert desired_config("acme", config) == want


def test_a_secret_reference_is_put_where_the_secret_was() -> None:
    got = desired_config("acme", {"sso": [OIDC]}, {("acme", "google"): {"env": "G"}})
    assert got["sso"][0]["oidc"]["clientSecret"] == {"env": "G"}
    assert oidc_without_secret("acme", got) == []
    assert oidc_without_secret("acme", desired_config("acme", {"sso": [OIDC]})) == ["google"]


def test_what_it_says_plans_as_no_change_against_what_it_was_made_from() -> None:
    policy = {"minLength": 12, "lowercase": True}
    config: dict[str, Any] = {"roles": ROLES, "sso": [SAML_BY_METADATA], "passwordPolicy": policy}
    live = LiveConfig(roles={"acme": ROLES}, sso={"acme": [SAML_BY_METADATA]}, password={"acme": policy})
    plan = make_config_plan({"acme": desired_config("acme", config)}, live, secrets=SecretFingerprints())
    assert plan.actions == () and plan.conflicts == ()


def test_password_against_a_base_keeps_only_what_differs() -> None:
    assert desired_password({"minLength": 12, "lowercase": False}, base={"minLength": 8}) == {"minLength": 12}
    assert desired_password({"minLength": 8}, base={"minLength": 8}) == {}


@pytest.mark.parametrize(
    ("tenant", "sso", "name"),
    [("acme", "google", "DESCOPE_SSO_SECRET_ACME_GOOGLE"), ("a-b.c", "", "DESCOPE_SSO_SECRET_A_B_C_DEFAULT")],
)
def test_secret_env_names_are_variable_names(tenant: str, sso: str, name: str) -> None:
    assert secret_env_name(tenant, sso) == name
