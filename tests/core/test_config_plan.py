"""Table-driven tests of the sub-resource planner (roles, SSO, password policy), with plain values.

Live values are in the shapes the client returns; ``apply`` turns a plan's bodies into the next live state
with the sandbox's own parsers and renderers (Descope's read vocabulary, overwrite semantics, no secret), so
the idempotence tests would catch a body that does not read back as what was planned.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.config_plan import LiveConfig, make_config_plan
from controller.core.config_types import (
    ConfigPlan,
    ConfigPolicy,
    Protocol,
    SecretFingerprints,
    Stage,
    SubKind,
    SubOp,
)
from controller.core.plan_types import Cause
from controller.descope_api import PASSWORD_SETTINGS_DEFAULTS
from controller.sandbox.roles import render_role, role_fields
from controller.sandbox.sso import parse_oidc, parse_saml, render_sso
from controller.sandbox.tenant_config import password_fields

T = "acme"
ADMIN: dict[str, Any] = {
    "name": "Tenant Admin",
    "description": "Manages ACME's users",
    "permissionNames": ["users.manage"],
}
LIVE_ADMIN: dict[str, Any] = {
    "id": "ROL1",
    "name": "Tenant Admin",
    "description": "Manages ACME's users",
    "permissionNames": ["users.manage"],
    "createdTime": 1,
    "tenantId": T,
}
SAML: dict[str, Any] = {
    "idpUrl": "https://idp.example/sso",
    "entityId": "urn:idp",
    "idpCert": "CERT",
    "attributeMapping": {"email": "email", "name": "displayName"},
    "roleMappings": [{"groups": ["acme-admins", "ops"], "roleName": "Tenant Admin"}],
    "defaultSSORoles": ["Tenant Admin"],
}
OKTA: dict[str, Any] = {"ssoId": "okta", "displayName": "Okta", "domains": ["acme.com"], "saml": SAML}
LIVE_OKTA: dict[str, Any] = {  # how Descope reads OKTA back: other names, role ids, another order and case
    "tenant": {"id": T, "name": "ACME", "authType": "saml", "domains": ["ACME.com"]},
    "ssoId": "okta",
    "displayName": "Okta",
    "saml": {
        "idpSSOUrl": "https://idp.example/sso",
        "idpEntityId": "urn:idp",
        "idpCertificate": "CERT",
        "attributeMapping": {"name": "displayName", "email": "email"},
        "groupsMapping": [{"role": {"id": "ROL1", "name": "Tenant Admin"}, "groups": ["ops", "acme-admins"]}],
        "defaultSSORoles": ["Tenant Admin"],
        "spCertificate": "SPCERT",
        "lastSuccessTestTime": 5,
        "spACSUrl": "https://sp.example/acs",
    },
    "oidc": {},
}
SECRET_REF: dict[str, Any] = {"env": "ACME_GOOGLE_SECRET"}
GOOGLE: dict[str, Any] = {
    "ssoId": "google",
    "oidc": {
        "name": "Google",
        "clientId": "123.apps",
        "clientSecret": SECRET_REF,
        "issuer": "https://accounts.google.com",
    },
}
LIVE_GOOGLE: dict[str, Any] = {
    "tenant": {"id": T, "name": "ACME", "authType": "oidc"},
    "ssoId": "google",
    "displayName": "google",
    "saml": {},
    "oidc": {"name": "Google", "clientId": "123.apps", "issuer": "https://accounts.google.com", "scope": ["openid"]},
}
FP = SecretFingerprints(written={(T, "google"): "h1"}, wanted={(T, "google"): "h1"})


def plan(
    want: dict[str, Any],
    *,
    roles: list[dict[str, Any]] | None = None,
    sso: list[dict[str, Any]] | None = None,
    password: dict[str, Any] | None = None,
    **kw: Any,
) -> ConfigPlan:
    live = LiveConfig(
        roles={T: roles or []},
        sso={T: sso or []},
        password={T: password} if password is not None else {},
        project_roles=kw.pop("project_roles", frozenset()),
    )
    return make_config_plan({T: want}, live, **kw)


def ops(p: ConfigPlan) -> list[tuple[str, str, str]]:
    return [(a.kind.value, a.op.value, a.key) for a in p.actions]


# ---- the table: (desired, live, options) -> actions ------------------------------------------------------
MANAGED_ALL = frozenset({("role", T, "Tenant Admin"), ("role", T, "Old"), ("sso", T, "okta"), ("sso", T, "google")})
OLD: dict[str, Any] = {"id": "ROL2", "name": "Old", "tenantId": T}

CASES = [
    pytest.param({"roles": [ADMIN]}, {}, {}, [("role", "create", "Tenant Admin")], id="role-create"),
    pytest.param(
        {"roles": [{**ADMIN, "permissionNames": ["b", "users.manage", "b"]}]},
        {"roles": [{**LIVE_ADMIN, "permissionNames": ["users.manage", "b"]}]},
        {},
        [],
        id="role-noop-permissions-a-set",
    ),
    pytest.param(
        {"roles": [{**ADMIN, "description": "new"}]},
        {"roles": [LIVE_ADMIN]},
        {},
        [("role", "update", "Tenant Admin")],
        id="role-update",
    ),
    pytest.param({"roles": [ADMIN]}, {"roles": [LIVE_ADMIN, OLD]}, {}, [], id="delete-without-prune-is-orphan"),
    pytest.param(
        {"roles": [ADMIN]},
        {"roles": [LIVE_ADMIN, OLD]},
        {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True)},
        [("role", "delete", "Old")],
        id="delete-with-prune",
    ),
    pytest.param(
        {"roles": [ADMIN]},
        {"roles": [LIVE_ADMIN, {**OLD, "name": "Console"}]},
        {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True)},
        [],
        id="unmanaged-role-never-deleted",
    ),
    pytest.param(
        {"sso": [OKTA]},
        {"roles": [LIVE_ADMIN, OLD]},
        {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True)},
        [("sso", "create", "okta")],
        id="roles-key-absent-not-managed",
    ),
    pytest.param(
        {"roles": []},
        {"roles": [LIVE_ADMIN, OLD]},
        {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True)},
        [("role", "delete", "Old"), ("role", "delete", "Tenant Admin")],
        id="empty-list-wants-none",
    ),
    pytest.param({"sso": [OKTA]}, {"roles": [LIVE_ADMIN], "sso": [LIVE_OKTA]}, {}, [], id="saml-read-vocabulary"),
    pytest.param({"sso": [GOOGLE]}, {"sso": [LIVE_GOOGLE]}, {"secrets": FP}, [], id="secret-same-no-write"),
    pytest.param(
        {"sso": [GOOGLE]},
        {"sso": [LIVE_GOOGLE]},
        {"secrets": SecretFingerprints(written={(T, "google"): "h0"}, wanted={(T, "google"): "h1"})},
        [("sso", "update", "google")],
        id="secret-changed-write",
    ),
    pytest.param(
        {"sso": [GOOGLE]},
        {"sso": [LIVE_GOOGLE]},
        {"secrets": SecretFingerprints(wanted={(T, "google"): "h1"})},
        [("sso", "update", "google")],
        id="secret-unknown-write-once",
    ),
    pytest.param(
        {"roles": [ADMIN], "sso": [OKTA]},
        {},
        {},
        [("role", "create", "Tenant Admin"), ("sso", "create", "okta")],
        id="role-before-sso-that-names-it",
    ),
    pytest.param(
        {"sso": [OKTA]},
        {"sso": [LIVE_OKTA, LIVE_GOOGLE], "roles": [LIVE_ADMIN, OLD]},
        {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True), "secrets": FP},
        [("sso", "delete", "google")],
        id="sso-delete",
    ),
    pytest.param(
        {"roles": [ADMIN], "sso": [OKTA]},
        {"sso": [LIVE_OKTA, LIVE_GOOGLE], "roles": [LIVE_ADMIN, OLD]},
        {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True)},
        [("sso", "delete", "google"), ("role", "delete", "Old")],
        id="sso-deletes-before-role-deletes",
    ),
    pytest.param(
        {"roles": [ADMIN]},
        {"roles": [LIVE_ADMIN]},
        {"inventory_known": True},
        [("role", "adopt", "Tenant Admin")],
        id="adopt-equal",
    ),
    pytest.param(
        {"passwordPolicy": {"minLength": 12}},
        {"password": {**PASSWORD_SETTINGS_DEFAULTS, "minLength": 12.0}},
        {},
        [],
        id="password-noop",
    ),
    pytest.param(
        {"passwordPolicy": {"minLength": 12, "number": True}},
        {"password": {**PASSWORD_SETTINGS_DEFAULTS, "lock": True, "lockAttempts": 3}},
        {},
        [("password_policy", "update", "")],
        id="password-update",
    ),
]


@pytest.mark.parametrize(("want", "live", "options", "expected"), CASES)
def test_plan_table(want: dict[str, Any], live: dict[str, Any], options: dict[str, Any], expected: list[Any]) -> None:
    p = plan(want, **live, **options)
    assert ops(p) == expected
    assert not p.conflicts
    stages = [a.stage for a in p.actions]
    assert stages == sorted(stages)


def test_role_create_body_and_line() -> None:
    (action,) = plan({"roles": [ADMIN]}).actions
    assert action.line() == "+ role acme/Tenant Admin"
    assert action.body == {**ADMIN, "tenantId": T, "default": False, "private": False}
    assert action.stage is Stage.ROLES


def test_update_body_carries_unmanaged_live_keys() -> None:
    live = {**LIVE_ADMIN, "default": True}
    (action,) = plan({"roles": [{"name": "Tenant Admin", "description": "new"}]}, roles=[live]).actions
    assert action.body == {
        "name": "Tenant Admin",
        "tenantId": T,
        "description": "new",
        "permissionNames": ["users.manage"],
        "default": True,
        "private": False,
    }
    assert [(c.field, c.before, c.after) for c in action.changes] == [("description", "Manages ACME's users", "new")]


def test_saml_update_body_in_write_names_with_live_keys() -> None:
    want = {**OKTA, "saml": {**SAML, "attributeMapping": {"email": "mail"}}}
    live = {**LIVE_OKTA, "saml": {**LIVE_OKTA["saml"], "redirectUrl": "https://app/after"}}
    del want["domains"]
    (action,) = plan({"sso": [want]}, roles=[LIVE_ADMIN], sso=[live]).actions
    assert action.line() == "~ sso acme/okta saml.attributeMapping.email"
    assert action.protocol is Protocol.SAML and action.stage is Stage.SSO
    assert action.body == {
        "displayName": "Okta",
        "domains": ["ACME.com"],
        "redirectUrl": "https://app/after",
        "settings": {
            "idpUrl": "https://idp.example/sso",
            "entityId": "urn:idp",
            "idpCert": "CERT",
            "attributeMapping": {"name": "displayName", "email": "mail"},
            "roleMappings": [{"groups": ["acme-admins", "ops"], "roleName": "Tenant Admin"}],
            "defaultSSORoles": ["Tenant Admin"],
            "spACSUrl": "https://sp.example/acs",
        },
    }


def test_secret_notes_and_no_secret_in_output() -> None:
    changed = SecretFingerprints(written={(T, "google"): "h0"}, wanted={(T, "google"): "h1"})
    (action,) = plan({"sso": [GOOGLE]}, sso=[LIVE_GOOGLE], secrets=changed).actions
    assert action.notes == (
        "clientSecret {env: ACME_GOOGLE_SECRET} is re-sent because the secret its reference names changed",
    )
    assert action.body is not None and action.body["settings"]["clientSecret"] == SECRET_REF
    assert action.body["settings"]["scope"] == ["openid"]
    assert action.secret_fingerprint == "h1"
    rendered = json.dumps(action.as_dict()) + plan({"sso": [GOOGLE]}, sso=[LIVE_GOOGLE], secrets=changed).text()
    assert "h1" not in rendered and "h0" not in rendered and "ACME_GOOGLE_SECRET" in rendered
    (unknown,) = plan({"sso": [GOOGLE]}, sso=[LIVE_GOOGLE], secrets=SecretFingerprints(wanted=FP.wanted)).actions
    assert "unknown: never written by this controller" in unknown.notes[0]


def test_secret_same_other_key_changed_resends_whole_config() -> None:
    want = {**GOOGLE, "oidc": {**GOOGLE["oidc"], "issuer": "https://other"}}
    (action,) = plan({"sso": [want]}, sso=[LIVE_GOOGLE], secrets=FP).actions
    assert [c.field for c in action.changes] == ["oidc.issuer"]
    assert action.body is not None and action.body["settings"]["clientSecret"] == SECRET_REF
    assert "sent again" in action.notes[0]


@pytest.mark.parametrize(
    ("want", "live", "options", "needle"),
    [
        pytest.param({"sso": [{**OKTA, "ssoId": "google"}]}, {"sso": [LIVE_GOOGLE]}, {}, "OIDC", id="saml-to-oidc"),
        pytest.param({"sso": [{**GOOGLE, "ssoId": "okta"}]}, {"sso": [LIVE_OKTA]}, {}, "SAML", id="oidc-to-saml"),
        pytest.param({"sso": [OKTA]}, {}, {}, "'Tenant Admin'", id="role-mapping-names-unknown-role"),
        pytest.param({"roles": [{"name": "tenant admin"}]}, {"roles": [LIVE_ADMIN]}, {}, "case", id="rename-collides"),
        pytest.param({"roles": [ADMIN, {"name": "TENANT ADMIN"}]}, {}, {}, "twice", id="declared-twice"),
        pytest.param(
            {"roles": [{"name": "Viewer"}]}, {}, {"project_roles": frozenset({"viewer"})}, "project", id="project-role"
        ),
        pytest.param({"sso": [GOOGLE]}, {}, {}, "could not be resolved", id="secret-unresolved"),
        pytest.param(
            {"sso": [{**GOOGLE, "oidc": {"name": "G", "clientId": "c", "clientSecret": "hunter2"}}]},
            {},
            {},
            "literal",
            id="literal-secret",
        ),
        pytest.param(
            {"roles": [ADMIN]},
            {"roles": [LIVE_ADMIN]},
            {"inventory_known": True, "policy": ConfigPolicy(adopt=False)},
            "adopt",
            id="no-adopt",
        ),
        pytest.param(
            {"roles": [], "sso": [OKTA]},
            {"roles": [LIVE_ADMIN], "sso": [LIVE_OKTA]},
            {"managed": MANAGED_ALL, "policy": ConfigPolicy(prune=True)},
            "still names",
            id="referenced-role-not-deleted",
        ),
    ],
)
def test_conflicts(want: dict[str, Any], live: dict[str, Any], options: dict[str, Any], needle: str) -> None:
    p = plan(want, **live, **options)
    assert p.conflicts and needle in p.conflicts[0].message, p.conflicts
    assert "hunter2" not in p.text() + json.dumps(p.as_dict())


@pytest.mark.parametrize(
    ("previous", "cause"),
    [
        pytest.param(None, Cause.CHANGE, id="previous-unknown"),
        pytest.param({T: {"roles": [{**ADMIN, "description": "new"}]}}, Cause.DRIFT, id="previous-had-it"),
        pytest.param({T: {"roles": [ADMIN]}}, Cause.CHANGE, id="yaml-changed"),
        pytest.param({T: {}}, Cause.CHANGE, id="newly-managed"),
    ],
)
def test_change_or_drift(previous: dict[str, Any] | None, cause: Cause) -> None:
    p = plan({"roles": [{**ADMIN, "description": "new"}]}, roles=[LIVE_ADMIN], previous=previous)
    (action,) = p.actions
    assert action.changes[0].cause is cause and action.cause is cause
    assert p.drifted["role"] == (1 if cause is Cause.DRIFT else 0)


def test_sso_drift_inside_a_map() -> None:
    live = {**LIVE_OKTA, "saml": {**LIVE_OKTA["saml"], "attributeMapping": {"email": "upn", "name": "displayName"}}}
    p = plan({"sso": [OKTA]}, roles=[LIVE_ADMIN], sso=[live], previous={T: {"sso": [OKTA]}})
    (action,) = p.actions
    assert [(c.field, c.before, c.after, c.cause) for c in action.changes] == [
        ("saml.attributeMapping.email", "upn", "email", Cause.DRIFT)
    ]
    assert action.line() == "~ sso acme/okta saml.attributeMapping.email"


def test_orphans_reported_and_guards() -> None:
    roles = [{"name": f"r{i}", "tenantId": T} for i in range(12)]
    managed = frozenset(("role", T, f"r{i}") for i in range(12))
    orphan = plan({"roles": []}, roles=roles, managed=managed)
    assert not orphan.actions and len(orphan.orphaned) == 12 and "orphan role acme/r0" in orphan.text()
    pruned = plan({"roles": []}, roles=roles, managed=managed, policy=ConfigPolicy(prune=True))
    assert pruned.blocked_codes == ("max_deletes", "max_delete_ratio")
    lifted = plan({"roles": []}, roles=roles, managed=managed, policy=ConfigPolicy(prune=True, allow_deletes=12))
    assert not lifted.blocked and lifted.counts()[("role", "delete")] == 12
    one = plan(
        {"roles": roles[1:]}, roles=roles, managed=managed, policy=ConfigPolicy(prune=True, max_delete_ratio=0.5)
    )
    assert not one.blocked and ops(one) == [("role", "delete", "r0")]


def test_password_body_and_unknown_live() -> None:
    (action,) = plan(
        {"passwordPolicy": {"minLength": 12}}, password={**PASSWORD_SETTINGS_DEFAULTS, "lock": True}
    ).actions
    assert action.body == {**PASSWORD_SETTINGS_DEFAULTS, "lock": True, "minLength": 12}
    assert action.notes and "own password policy" in action.notes[0]
    (unknown,) = plan({"passwordPolicy": {"minLength": 8}}).actions
    assert [(c.field, c.before) for c in unknown.changes] == [("minLength", None)]


def test_metadata_round_trip_and_switch_to_manual() -> None:
    meta = {"ssoId": "okta", "saml": {"idpMetadataUrl": "https://idp/meta", "entityId": "urn:idp"}}
    live = {"ssoId": "okta", "saml": {"idpMetadataUrl": "https://idp/meta", "idpEntityId": "urn:idp", "idpSSOUrl": "x"}}
    assert not plan({"sso": [meta]}, sso=[live]).actions
    manual = {"ssoId": "okta", "saml": {"idpUrl": "x", "entityId": "urn:idp", "idpCert": "C"}}
    (action,) = plan({"sso": [manual]}, sso=[live]).actions
    assert action.protocol is Protocol.SAML
    assert action.body is not None and "idpMetadataUrl" not in action.body["settings"]
    assert {c.field for c in action.changes} == {"saml.idpCert", "saml.idpMetadataUrl"}


def test_as_dict_is_json() -> None:
    p = plan({"roles": [ADMIN], "sso": [OKTA, GOOGLE]}, secrets=SecretFingerprints(wanted=FP.wanted))
    data = json.loads(json.dumps(p.as_dict()))
    assert [a["op"] for a in data["actions"]] == ["create", "create", "create"]
    assert data["actions"][0]["changes"][0]["cause"] == "change"
    assert p.actions[1].kind is SubKind.SSO and p.actions[1].op is SubOp.CREATE


# ---- idempotence: a plan's bodies, as Descope would read them back, plan nothing -----------------------


def apply(p: ConfigPlan, live: LiveConfig) -> LiveConfig:
    """The next live state, through the sandbox's parsers and renderers (read names, omitempty, no secret)."""
    roles = {t: list(rs) for t, rs in live.roles.items()}
    sso = {t: list(es) for t, es in live.sso.items()}
    password = dict(live.password)
    for a in p.actions:
        if a.kind is SubKind.ROLE:
            kept = [r for r in roles.get(a.tenant_id, []) if r["name"] != a.key]
            if a.op is not SubOp.DELETE:
                if a.body is None:
                    continue
                record = {"id": "ROLx", "createdTime": 1, "tenantId": a.tenant_id, "name": a.body["name"]}
                kept.append(render_role({**record, **role_fields(a.body)}))
            roles[a.tenant_id] = kept
        elif a.kind is SubKind.SSO:
            kept = [e for e in sso.get(a.tenant_id, []) if (e.get("ssoId") or "") != a.key]
            if a.op is not SubOp.DELETE:
                if a.body is None:
                    continue
                body = dict(a.body)
                settings_ = dict(body["settings"])
                if "clientSecret" in settings_:
                    settings_["clientSecret"] = "the-secret"
                body["settings"] = settings_
                parsed = (
                    parse_oidc(body)
                    if a.protocol is Protocol.OIDC
                    else parse_saml(body, by_metadata=a.protocol is Protocol.SAML_METADATA)
                )
                config = {"ssoId": a.key, "displayName": body["displayName"], **parsed}
                tenant = {
                    "id": a.tenant_id,
                    "name": "ACME",
                    "selfProvisioningDomains": [],
                    "customAttributes": {},
                    "authType": "none",
                    "domains": [],
                }
                known = frozenset(r["name"] for r in roles.get(a.tenant_id, []))
                kept.append(render_sso(tenant, config, partial(_role_id, known)))
            sso[a.tenant_id] = kept
        elif a.body is not None:
            password[a.tenant_id] = {**PASSWORD_SETTINGS_DEFAULTS, **password_fields(a.body)}
    return LiveConfig(roles=roles, sso=sso, password=password, project_roles=live.project_roles)


def _role_id(known: frozenset[str], name: str) -> str | None:
    return "ROL1" if name in known else None


names = st.text("abcXYZ _-", min_size=1, max_size=8)
perms = st.lists(st.sampled_from(["a", "b", "users.manage"]), max_size=3)


@st.composite
def desired_configs(draw: st.DrawFn) -> dict[str, Any]:
    role_names = draw(st.lists(names, min_size=1, max_size=4, unique_by=str.casefold))
    roles = [
        {"name": n, **({"description": draw(names)} if draw(st.booleans()) else {}), "permissionNames": draw(perms)}
        for n in role_names
    ]
    saml = {
        "idpUrl": "https://idp/" + draw(names),
        "entityId": draw(names),
        "idpCert": draw(names),
        "attributeMapping": draw(st.dictionaries(st.sampled_from(["email", "name", "phone"]), names, max_size=3)),
        "roleMappings": [{"groups": draw(st.lists(names, max_size=2)), "roleName": draw(st.sampled_from(role_names))}],
        "defaultSSORoles": draw(st.lists(st.sampled_from(role_names), max_size=2)),
    }
    if draw(st.booleans()):
        saml["redirectUrl"] = "https://app/" + draw(names)
    oidc = {"name": draw(names), "clientId": draw(names), "clientSecret": SECRET_REF, "scope": draw(perms)}
    sso = [
        {"ssoId": "okta", "domains": draw(st.lists(st.sampled_from(["a.com", "B.com"]), max_size=2)), "saml": saml},
        {"ssoId": "google", "displayName": "Google", "oidc": oidc},  # displayName: set at create only
    ]
    policy = draw(st.dictionaries(st.sampled_from(sorted(PASSWORD_SETTINGS_DEFAULTS)), st.integers(1, 30), max_size=3))
    policy = {k: (bool(v % 2) if isinstance(PASSWORD_SETTINGS_DEFAULTS[k], bool) else v) for k, v in policy.items()}
    return {"roles": roles, "sso": sso, "passwordPolicy": policy}


@settings(max_examples=60, deadline=None)
@given(desired_configs(), desired_configs())
def test_idempotent_after_apply(first: dict[str, Any], second: dict[str, Any]) -> None:
    """Apply ``first`` from nothing, then ``second`` over it: each time, planning again gives no actions."""
    live = LiveConfig()
    secrets = SecretFingerprints(wanted={(T, "google"): "h1"})
    managed: set[tuple[str, str, str]] = set()
    for want in (first, second):
        options: dict[str, Any] = {
            "secrets": secrets,
            "managed": frozenset(managed),
            "policy": ConfigPolicy(prune=True, max_deletes=99, max_delete_ratio=1.0),
        }
        p = make_config_plan({T: want}, live, **options)
        assert not p.conflicts and not p.blocked, p.conflicts
        live = apply(p, live)
        managed |= {a.ident for a in p.actions if a.op is not SubOp.DELETE}
        secrets = SecretFingerprints(written={(T, "google"): "h1"}, wanted=secrets.wanted)
        again = make_config_plan({T: want}, live, secrets=secrets, managed=frozenset(managed), previous={T: want})
        assert not again.actions, again.text()


def test_stages_order_roles_sso_then_deletes_in_reverse() -> None:
    p = plan(
        {"roles": [ADMIN, {"name": "New"}], "sso": [{**OKTA, "saml": {**SAML, "defaultSSORoles": ["New"]}}]},
        roles=[LIVE_ADMIN, OLD],
        sso=[LIVE_OKTA, LIVE_GOOGLE],
        managed=MANAGED_ALL,
        policy=ConfigPolicy(prune=True),
    )
    staged = [(a.kind.value, a.op.value, int(a.stage)) for a in p.actions]
    assert staged == [
        ("role", "create", 0),
        ("sso", "update", 1),
        ("sso", "delete", 2),
        ("role", "delete", 3),
    ]


def test_lines_name_the_default_sso_and_the_password_policy() -> None:
    default = {"ssoId": "", "saml": {"idpUrl": "u", "entityId": "e", "idpCert": "c"}}
    p = plan({"sso": [default], "passwordPolicy": {"minLength": 9}}, password=dict(PASSWORD_SETTINGS_DEFAULTS))
    assert [a.line() for a in p.actions] == ["~ password_policy acme minLength", "+ sso acme/(default)"]
