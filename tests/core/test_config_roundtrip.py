"""Sub-resource differences between two versions of a tenant, as history, drills and restore warnings show them."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.config_roundtrip import config_differences

ROLE = {"name": "Member", "description": "a", "permissionNames": ["users.read", "users.write"]}
OKTA = {"ssoId": "okta", "displayName": "Okta", "domains": ["acme.com"], "saml": {"idpMetadataUrl": "https://x"}}
GOOGLE = {"ssoId": "google", "oidc": {"clientId": "123", "clientSecret": {"env": "SECRET_VAR"}}}


@pytest.mark.parametrize(
    ("before", "after", "lines"),
    [
        ({"roles": [ROLE]}, {"roles": [{**ROLE, "description": "b"}]}, ['role acme/Member: description "a" → "b"']),
        ({"roles": [ROLE]}, {"roles": [ROLE, {"name": "Auditor"}]}, ["+ role acme/Auditor"]),
        ({"roles": [ROLE, {"name": "Old"}]}, {"roles": [ROLE]}, ["- role acme/Old"]),
        ({"sso": []}, {"sso": [OKTA]}, ["+ sso acme/okta"]),
        (
            {"sso": [OKTA]},
            {"sso": [{**OKTA, "saml": {"idpMetadataUrl": "https://y"}}]},
            ['sso acme/okta: saml.idpMetadataUrl "https://x" → "https://y"'],
        ),
        ({"sso": [{**OKTA, "ssoId": ""}]}, {"sso": []}, ["- sso acme/(default)"]),
        (
            {"passwordPolicy": {"minLength": 8}},
            {"passwordPolicy": {"minLength": 12, "number": True}},
            ["password_policy acme: minLength 8 → 12", "password_policy acme: number false → true"],
        ),
        # sets compare as sets, domains ignoring case, and empty reads as absent
        ({"roles": [ROLE]}, {"roles": [{**ROLE, "permissionNames": ["users.write", "users.read"]}]}, []),
        ({"sso": [OKTA]}, {"sso": [{**OKTA, "domains": ["ACME.com"]}]}, []),
        ({"passwordPolicy": {"lowercase": False}}, {"passwordPolicy": {}}, []),
        # a kind one side did not read is not compared, never "all deleted"
        ({"roles": [ROLE]}, {}, []),
        ({}, {"sso": [OKTA]}, []),
        # a secret is never compared nor shown
        ({"sso": [GOOGLE]}, {"sso": [{**GOOGLE, "oidc": {"clientId": "123"}}]}, []),
    ],
)
def test_differences_name_kind_key_field_and_both_values(
    before: dict[str, Any], after: dict[str, Any], lines: list[str]
) -> None:
    assert [d.line() for d in config_differences("acme", before, after)] == lines


def test_an_added_sso_configuration_never_carries_its_secret() -> None:
    (added,) = config_differences("acme", {"sso": []}, {"sso": [GOOGLE]})
    assert added.after == {"ssoId": "google", "oidc": {"clientId": "123"}}
    assert "SECRET_VAR" not in str(added.as_dict())


@pytest.mark.parametrize(
    ("restored", "enforced", "lines"),
    [
        # tenants.yaml writes the description with another value: reverted
        (
            {"roles": [ROLE]},
            {"roles": [{"name": "Member", "description": "b"}]},
            ['role acme/Member: description "a" → "b"'],
        ),
        # a field tenants.yaml does not write is not managed: kept
        ({"roles": [ROLE]}, {"roles": [{"name": "Member", "description": "a"}]}, []),
        # a restored role tenants.yaml does not declare
        ({"roles": [ROLE]}, {"roles": []}, ["- role acme/Member"]),
        # a role only tenants.yaml declares reverts nothing the restore wrote
        ({"roles": []}, {"roles": [ROLE]}, []),
        # tenants.yaml manages no SSO for the tenant: left alone
        ({"sso": [OKTA]}, {"roles": []}, []),
        (
            {"passwordPolicy": {"minLength": 8, "number": True}},
            {"passwordPolicy": {"minLength": 12}},
            ["password_policy acme: minLength 8 → 12"],
        ),
    ],
)
def test_managed_by_after_counts_only_what_tenants_yaml_writes(
    restored: dict[str, Any], enforced: dict[str, Any], lines: list[str]
) -> None:
    assert [d.line() for d in config_differences("acme", restored, enforced, managed_by_after=True)] == lines
