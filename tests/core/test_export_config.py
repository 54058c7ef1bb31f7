"""``export`` of roles, SSO configurations and password policy: it loads, plans as no change, holds no secret."""

from __future__ import annotations

from typing import Any

from controller.core.config_plan import LiveConfig, make_config_plan
from controller.core.config_types import SecretFingerprints
from controller.core.export import ExportOptions, build_export
from controller.core.export_config import ExportConfig
from controller.core.loader import parse_tenant_files

OPTIONS = ExportOptions(project_id="P2test", exported_at="2026-01-02T03:04:05Z", version="9.9")
ROLES: list[dict[str, Any]] = [
    {"id": "r1", "name": "Tenant Admin", "tenantId": "acme", "description": "Manages ACME's users"},
    {"id": "r2", "name": "Member", "tenantId": "acme", "permissionNames": ["read", "write"]},
]
SSO: list[dict[str, Any]] = [
    {
        "ssoId": "okta",
        "displayName": "Okta",
        "tenant": {"id": "acme", "domains": ["acme.com"], "authType": "saml"},
        "saml": {
            "idpMetadataUrl": "https://acme.okta.com/app/x/sso/saml/metadata",
            "idpEntityId": "urn:okta",
            "attributeMapping": {"email": "email", "group": "groups"},
            "groupsMapping": [{"role": {"id": "r1", "name": "Tenant Admin"}, "groups": ["acme-admins"]}],
            "defaultSSORoles": ["Member"],
        },
    },
    {
        "ssoId": "google",
        "displayName": "google",
        "oidc": {"name": "Google", "clientId": "123.apps", "issuer": "https://accounts.google.com"},
    },
]
PROJECT_POLICY: dict[str, Any] = {
    "enabled": True,
    "minLength": 8,
    "lowercase": False,
    "expiration": False,
    "expirationWeeks": 0,
}
ACME_POLICY = {**PROJECT_POLICY, "minLength": 12, "lowercase": True}
LIVE = [
    {"id": "acme", "name": "ACME"},
    {"id": "plain", "name": "Plain"},
    {"id": "sub", "name": "Sub", "parent": "acme"},
]
CONFIG = ExportConfig(
    by_id={
        "acme": {"roles": ROLES, "sso": SSO, "passwordPolicy": ACME_POLICY},
        "plain": {"roles": [], "sso": [], "passwordPolicy": PROJECT_POLICY},
        "sub": {"roles": [], "sso": [], "passwordPolicy": ACME_POLICY},  # inherits acme's: nothing of its own
    },
    project_password=PROJECT_POLICY,
)


def test_export_round_trips_through_the_loader_and_plans_no_change() -> None:
    result = build_export(LIVE, OPTIONS, config=CONFIG)
    text = result.files["tenants.yaml"]
    assert not result.partial and result.tenants == 3
    desired = parse_tenant_files({"tenants.yaml": text.encode()})
    fields: dict[str, Any] = {t.id: t.fields for t in desired.tenants}
    assert [r["name"] for r in fields["acme"]["roles"]] == ["Member", "Tenant Admin"]
    assert fields["acme"]["passwordPolicy"] == {"minLength": 12, "lowercase": True}
    for quiet in ("plain", "sub"):  # nothing of their own: no key, so nothing managed
        assert not {"roles", "sso", "passwordPolicy"} & set(fields[quiet]), quiet
    oidc = fields["acme"]["sso"][1]["oidc"]
    assert oidc["clientSecret"] == {"env": "DESCOPE_SSO_SECRET_ACME_GOOGLE"}
    assert "# not exported: sso.google.oidc.clientSecret: Descope never returns it" in text
    assert "DESCOPE_SSO_SECRET_ACME_GOOGLE; set it" in text

    wanted: dict[str, dict[str, Any]] = {"acme": {k: fields["acme"][k] for k in ("roles", "sso", "passwordPolicy")}}
    live = LiveConfig(roles={"acme": ROLES}, sso={"acme": SSO}, password={"acme": ACME_POLICY})
    secrets = SecretFingerprints(written={("acme", "google"): "fp"}, wanted={("acme", "google"): "fp"})
    plan = make_config_plan(wanted, live, secrets=secrets)
    assert plan.actions == () and plan.conflicts == (), plan.text()


def test_unreadable_sub_resources_are_named_and_make_the_export_partial() -> None:
    config = ExportConfig(by_id={}, unreadable={"acme": "HTTP 503"})
    result = build_export([{"id": "acme", "name": "ACME"}], OPTIONS, config=config)
    assert "# not exported: roles, sso, passwordPolicy: not read from Descope: HTTP 503" in result.files["tenants.yaml"]
    assert result.partial


def test_without_config_nothing_of_it_is_written() -> None:
    text = build_export(LIVE, OPTIONS).files["tenants.yaml"]
    assert "roles" not in text and "sso" not in text and "passwordPolicy" not in text
