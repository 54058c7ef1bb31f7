"""Restore planning for roles, SSO and password policy, table-driven over what the backup and Descope hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest

from controller.core.model import DesiredTenant
from controller.engine.config_cycle import ConfigClient
from controller.engine.restore_config import parse_secret_refs, plan_config, unused_refs, with_secret_refs
from controller.errors import UsageError

ADMIN = {"name": "Admin", "tenantId": "acme", "description": "Admins"}
MEMBER = {"name": "Member", "tenantId": "acme", "description": "Members"}
SAML = {
    "ssoId": "okta",
    "displayName": "Okta",
    "saml": {
        "idpMetadataUrl": "https://idp.example/m",
        "groupsMapping": [{"role": {"name": "Admin"}, "groups": ["g"]}],
    },
}
OIDC = {"ssoId": "google", "displayName": "Google", "oidc": {"name": "Google", "clientId": "123"}}
POLICY = {"minLength": 12, "lowercase": True}


class Live:
    """A fake client answering the reads from fixed data."""

    def __init__(self, roles: Sequence[dict[str, Any]] = (), sso: Sequence[dict[str, Any]] = (), password: Any = None):
        self.roles, self.sso = list(roles), list(sso)
        self.password = password or {"minLength": 8}

    def load_roles(self, tenant_ids: Sequence[str], *, include_project_roles: bool = False) -> list[dict[str, Any]]:
        return self.roles

    def load_sso_all(self, tenant_id: str) -> list[dict[str, Any]]:
        return self.sso

    def load_password_settings(self, tenant_id: str) -> dict[str, Any]:
        return self.password


def restored(config: dict[str, Any], refs: dict[tuple[str, str], dict[str, str]] | None = None) -> list[DesiredTenant]:
    from controller.core.config_desired import desired_config

    tenant = DesiredTenant("acme", {"name": "ACME", **desired_config("acme", config)})
    return with_secret_refs([tenant], refs or {})


CASES = [
    pytest.param(
        {"roles": [ADMIN, MEMBER], "sso": [SAML], "passwordPolicy": POLICY},
        Live(),
        False,
        None,
        ["+ role acme/Admin", "+ role acme/Member", "+ sso acme/okta"],
        ["password_policy acme"],
        [],
        id="a deleted tenant: everything is created, roles before the SSO that names them",
    ),
    pytest.param(
        {"roles": [ADMIN, MEMBER]},
        Live(roles=[ADMIN, {**MEMBER, "description": "broken"}, {"name": "New", "tenantId": "acme"}]),
        True,
        None,
        ["~ role acme/Member description"],
        [],
        [],
        id="a live tenant: only what differs is written, a role made since is not deleted",
    ),
    pytest.param(
        {"sso": [OIDC]},
        Live(),
        False,
        None,
        [],
        [],
        ["! sso acme/google: not restored: an OIDC configuration needs its clientSecret"],
        id="OIDC without --secret: not restored, the option is named",
    ),
    pytest.param(
        {"sso": [OIDC]},
        Live(),
        False,
        {("acme", "google"): {"env": "RESTORE_TEST_SECRET"}},
        ["+ sso acme/google"],
        [],
        [],
        id="OIDC with --secret: created with the reference",
    ),
    pytest.param(
        {"sso": [OIDC]},
        Live(sso=[OIDC]),
        True,
        None,
        [],
        [],
        [],
        id="OIDC that already matches needs no secret",
    ),
]


@pytest.mark.parametrize(("config", "live", "exists", "refs", "lines", "somewhere", "conflicts"), CASES)
def test_restore_plan(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    live: Live,
    exists: bool,
    refs: dict[tuple[str, str], dict[str, str]] | None,
    lines: list[str],
    somewhere: list[str],
    conflicts: list[str],
) -> None:
    monkeypatch.setenv("RESTORE_TEST_SECRET", "the-secret-value")
    cycle = plan_config(cast(ConfigClient, live), restored(config, refs), {"acme"} if exists else set(), [])
    assert cycle is not None
    plan = cycle.plan
    text = plan.text()
    assert [a.line() for a in plan.actions if a.kind.value != "password_policy"] == lines
    for label in somewhere:
        assert any(a.label() == label for a in plan.actions)
    assert [c.line()[: len(want)] for c, want in zip(plan.conflicts, conflicts, strict=False)] == conflicts
    assert len(plan.conflicts) == len(conflicts)
    assert all(a.op.value != "delete" for a in plan.actions) and plan.orphaned == ()
    assert "the-secret-value" not in text and "the-secret-value" not in repr(plan.as_dict())


def test_nothing_backed_up_plans_nothing() -> None:
    assert plan_config(cast(ConfigClient, Live()), [DesiredTenant("acme", {"name": "ACME"})], {"acme"}, []) is None


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (["acme/google=env:G_SECRET"], {("acme", "google"): {"env": "G_SECRET"}}),
        (["acme/=file:/run/secrets/x"], {("acme", ""): {"file": "/run/secrets/x"}}),
        ([], {}),
    ],
)
def test_secret_options(values: list[str], want: dict[tuple[str, str], dict[str, str]]) -> None:
    assert parse_secret_refs(values) == want


@pytest.mark.parametrize("value", ["acme/google=s3cret", "acme=env:X", "acme/google=env:1X", "acme/g=file:rel/path"])
def test_a_bad_secret_option_is_refused_without_repeating_it(value: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_secret_refs([value])
    assert "s3cret" not in str(info.value)


def test_a_secret_option_naming_no_oidc_configuration_is_reported() -> None:
    tenants = restored({"sso": [OIDC, SAML]})
    assert unused_refs(tenants, {("acme", "google"): {"env": "A"}, ("acme", "okta"): {"env": "B"}}) == ["acme/okta"]


RESTORED_ROLES = [{"name": "Member", "description": "a"}, {"name": "Auditor", "description": "Reads"}]


@pytest.mark.parametrize(
    ("yaml", "warned"),
    [
        pytest.param({}, [], id="tenants.yaml manages no roles for acme: left alone"),
        pytest.param(
            {"roles": [{"name": "Member", "description": "a"}, {"name": "Auditor"}]},
            [],
            id="declared alike (a key it does not write is not managed)",
        ),
        pytest.param(
            {"roles": [{"name": "Member", "description": "b"}, {"name": "Auditor"}]},
            ["role acme/Member description"],
            id="declared differently: reverted",
        ),
        pytest.param(
            {"roles": [{"name": "Member", "description": "a"}]},
            ["role acme/Auditor (not declared there: deleted if prune is on)"],
            id="not declared: pruned",
        ),
        pytest.param(
            {"name": "Other", "passwordPolicy": {"minLength": 8}},
            ["name", "password_policy acme minLength"],
            id="with the tenant record's own fields",
        ),
    ],
)
def test_the_restore_warns_of_sub_resources_the_daemon_would_revert(yaml: dict[str, Any], warned: list[str]) -> None:
    from controller.core.model import DesiredState
    from controller.engine.restore import revert_fields

    restored = DesiredTenant(
        "acme", {"name": "ACME", "roles": RESTORED_ROLES, "passwordPolicy": {"minLength": 12, "number": True}}
    )
    enforced = DesiredState((DesiredTenant("acme", {"name": "ACME", **yaml}),))
    assert revert_fields([restored], enforced).get("acme", []) == warned
