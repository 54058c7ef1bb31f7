"""tenants.yaml's sub-resources (roles, sso, passwordPolicy): what the loader keeps for the planner, and each refusal.

The planner of sub-resources reads ``DesiredTenant.fields["roles" | "sso" | "passwordPolicy"]`` as plain JSON
values (``controller.core.schema_config`` states the contract); these tests pin that shape, every refusal with
its line and message, that a literal secret is never repeated, and that the tenant planner ignores the keys.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from controller.core.model import SUBRESOURCE_FIELDS, TENANT_FIELDS, DesiredState, DesiredTenant, WritePath
from controller.core.plan import PlanPolicy, make_plan
from controller.errors import TenantsFileInvalid
from tests.core.loader.support import assert_problems, load, problems, tenant

ISSUE_EXAMPLE = """\
tenants:
  - id: acme
    name: ACME
    roles:
      - name: Tenant Admin
        description: Manages ACME's users
        permissionNames: [users.manage]
    sso:
      - ssoId: okta
        displayName: Okta
        domains: [acme.com]
        saml:
          idpMetadataUrl: https://acme.okta.com/app/x/sso/saml/metadata
          attributeMapping: {email: email, name: displayName, group: groups}
          roleMappings: [{groups: [acme-admins], roleName: Tenant Admin}]
          defaultSSORoles: [viewer]
      - ssoId: google
        oidc:
          name: Google
          clientId: 123.apps.googleusercontent.com
          clientSecret: {env: ACME_GOOGLE_SECRET}
          issuer: https://accounts.google.com
    passwordPolicy: {minLength: 12, lowercase: true, number: true, expiration: true, expirationWeeks: 26}
"""


def test_the_issue_example_loads_into_plain_json_for_the_planner() -> None:
    (acme,) = load(ISSUE_EXAMPLE).tenants
    assert dict(acme.fields) == {
        "name": "ACME",
        "roles": [{"name": "Tenant Admin", "description": "Manages ACME's users", "permissionNames": ["users.manage"]}],
        "sso": [
            {
                "ssoId": "okta",
                "displayName": "Okta",
                "domains": ["acme.com"],
                "saml": {
                    "idpMetadataUrl": "https://acme.okta.com/app/x/sso/saml/metadata",
                    "attributeMapping": {"email": "email", "name": "displayName", "group": "groups"},
                    "roleMappings": [{"groups": ["acme-admins"], "roleName": "Tenant Admin"}],
                    "defaultSSORoles": ["viewer"],
                },
            },
            {
                "ssoId": "google",
                "oidc": {
                    "name": "Google",
                    "clientId": "123.apps.googleusercontent.com",
                    "clientSecret": {"env": "ACME_GOOGLE_SECRET"},
                    "issuer": "https://accounts.google.com",
                },
            },
        ],
        "passwordPolicy": {
            "minLength": 12,
            "lowercase": True,
            "number": True,
            "expiration": True,
            "expirationWeeks": 26,
        },
    }
    # plain JSON all the way down: the planner never sees the loader's tree
    _assert_plain(dict(acme.fields))


def _assert_plain(value: Any) -> None:
    assert type(value) in (dict, list, str, int, float, bool, type(None)), type(value)
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain(item)


def test_the_catalogue_marks_the_three_keys_as_sub_resources() -> None:
    assert SUBRESOURCE_FIELDS == ("roles", "sso", "passwordPolicy")
    assert all(TENANT_FIELDS[name].write is WritePath.SUBRESOURCE for name in SUBRESOURCE_FIELDS)


VALID = [
    pytest.param("", {}, id="absent-keys-are-unmanaged"),
    pytest.param("    roles: []\n    sso: []\n", {"roles": [], "sso": []}, id="empty-lists-manage-none"),
    pytest.param("    passwordPolicy: {}\n", {"passwordPolicy": {}}, id="empty-password-policy"),
    pytest.param(
        "    sso:\n      - saml: {idpUrl: 'https://idp.example/sso', entityId: urn:x, idpCert: CERT}\n",
        {"sso": [{"ssoId": "", "saml": {"idpUrl": "https://idp.example/sso", "entityId": "urn:x", "idpCert": "CERT"}}]},
        id="no-ssoId-is-the-default-configuration",
    ),
    pytest.param(
        "    sso:\n      - ssoId: ''\n        oidc: {clientId: x}\n",
        {"sso": [{"ssoId": "", "oidc": {"clientId": "x"}}]},
        id="empty-ssoId-is-the-default-configuration",
    ),
    pytest.param(
        "    sso:\n      - ssoId: gh\n        oidc: {clientSecret: {file: /run/secrets/gh}}\n",
        {"sso": [{"ssoId": "gh", "oidc": {"clientSecret": {"file": "/run/secrets/gh"}}}]},
        id="secret-from-a-file",
    ),
    pytest.param(
        "    sso:\n      - ssoId: okta\n        saml: {idpMetadataUrl: 'https://m.example/x', entityId: urn:x}\n",
        {"sso": [{"ssoId": "okta", "saml": {"idpMetadataUrl": "https://m.example/x", "entityId": "urn:x"}}]},
        id="metadata-with-entityId",
    ),
    pytest.param(
        "    roles: [{name: Admin}]\n    sso:\n      - ssoId: o\n"
        "        saml: {idpMetadataUrl: 'http://m.example', roleMappings: [{groups: [g], roleName: Admin}], "
        "defaultSSORoles: [Project Viewer]}\n",
        {
            "roles": [{"name": "Admin"}],
            "sso": [
                {
                    "ssoId": "o",
                    "saml": {
                        "idpMetadataUrl": "http://m.example",
                        "roleMappings": [{"groups": ["g"], "roleName": "Admin"}],
                        "defaultSSORoles": ["Project Viewer"],
                    },
                }
            ],
        },
        id="declared-role-and-project-role",
    ),
    pytest.param(
        "    sso:\n      - ssoId: o\n        saml: {idpMetadataUrl: 'http://m.example', defaultSSORoles: [admin]}\n",
        {"sso": [{"ssoId": "o", "saml": {"idpMetadataUrl": "http://m.example", "defaultSSORoles": ["admin"]}}]},
        id="any-case-when-no-roles-declared",
    ),
    pytest.param(
        "    roles: [{name: A, default: true, private: false, permissionNames: []}]\n",
        {"roles": [{"name": "A", "default": True, "private": False, "permissionNames": []}]},
        id="role-flags",
    ),
]


@pytest.mark.parametrize(("body", "expected"), VALID)
def test_valid_documents(body: str, expected: dict[str, Any]) -> None:
    (acme,) = load(tenant(body)).tenants
    assert {k: v for k, v in acme.fields.items() if k != "name"} == expected


def test_a_sub_tenant_may_have_its_own_sso_and_password_policy() -> None:
    text = (
        "tenants:\n  - id: holding\n    name: Holding\n    passwordPolicy: {minLength: 10}\n"
        "  - id: acme\n    name: ACME\n    parent: holding\n    passwordPolicy: {minLength: 14}\n"
        "    sso: [{ssoId: o, oidc: {clientId: c}}]\n"
    )
    _holding, acme = load(text).tenants
    assert acme.fields["passwordPolicy"] == {"minLength": 14}
    assert acme.fields["sso"] == [{"ssoId": "o", "oidc": {"clientId": "c"}}]


PROBLEMS = [
    # roles
    pytest.param("    roles: {name: A}\n", [(4, "roles must be a list of roles")], id="roles-not-a-list"),
    pytest.param("    roles: [Admin]\n", [(4, "each role must be a mapping")], id="role-not-a-mapping"),
    pytest.param("    roles: [{description: x}]\n", [(4, "role #1 has no `name:`")], id="role-without-name"),
    pytest.param(
        "    roles: [{name: '  '}]\n", [(4, "a role's name must be a non-empty string")], id="role-blank-name"
    ),
    pytest.param(
        "    roles:\n      - name: Admin\n      - name: admin\n",
        [(6, "duplicate role 'admin': also declared at line 5 as 'Admin'")],
        id="role-duplicate-ignoring-case",
    ),
    pytest.param(
        "    roles: [{name: A, permisionNames: [x]}]\n",
        [(4, "unknown role key 'permisionNames'; did you mean 'permissionNames'?")],
        id="role-unknown-key",
    ),
    pytest.param(
        "    roles:\n      - name: A\n        permissionNames: [x, 5]\n",
        [(6, "role 'A': permissionNames items must be non-empty strings, found the number 5")],
        id="permissionNames-not-strings",
    ),
    pytest.param(
        "    roles: [{name: A, permissionNames: x}]\n",
        [(4, "role 'A': permissionNames must be a list of strings")],
        id="permissionNames-not-a-list",
    ),
    pytest.param(
        "    roles: [{name: A, default: 'yes please'}]\n",
        [(4, "role 'A': default must be true or false, found the string 'yes please'")],
        id="role-default-not-bool",
    ),
    # sso entries
    pytest.param("    sso: {ssoId: x}\n", [(4, "sso must be a list of SSO configurations")], id="sso-not-a-list"),
    pytest.param(
        "    sso:\n      - ssoId: okta\n        displayName: Okta\n",
        [(5, "SSO configuration 'okta' needs `saml:` or `oidc:` (exactly one)")],
        id="sso-no-protocol",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc: {clientId: c}\n        saml: {idpMetadataUrl: 'https://m.example'}\n",
        [(7, "SSO configuration 'x' has both saml and oidc")],
        id="sso-both-protocols",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc: {clientId: c}\n      - ssoId: x\n        oidc: {clientId: d}\n",
        [(7, "duplicate ssoId 'x': also declared at line 5")],
        id="ssoId-duplicate",
    ),
    pytest.param(
        "    sso:\n      - oidc: {clientId: c}\n      - ssoId: ''\n        oidc: {clientId: d}\n",
        [(6, "duplicate the default SSO configuration (no ssoId): also declared at line 5")],
        id="default-configuration-twice",
    ),
    pytest.param(
        "    sso:\n      - displayName: Main\n        oidc: {clientId: c}\n",
        [(5, "the default SSO configuration (no ssoId) takes no displayName")],
        id="default-configuration-displayName",
    ),
    pytest.param(
        "    sso: [{ssoId: 12, oidc: {clientId: c}}]\n",
        [(4, "ssoId must be a string, found the number 12; quote it")],
        id="ssoId-number",
    ),
    pytest.param(
        "    sso: [{ssoId: 'a b', oidc: {clientId: c}}]\n",
        [(4, "ssoId 'a b' contains whitespace or control characters")],
        id="ssoId-space",
    ),
    pytest.param(
        "    sso: [{ssoId: x, domain: [acme.com], oidc: {clientId: c}}]\n",
        [(4, "unknown SSO key 'domain'; did you mean 'domains'?")],
        id="sso-unknown-key",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        domains: [acme.com, it@acme.com]\n        oidc: {clientId: c}\n",
        [(6, "domains: 'it@acme.com' looks like an e-mail address")],
        id="sso-domain-checked-like-tenant-domains",
    ),
    # saml
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpUrl: 'https://idp.example'\n          entityId: e\n",
        [
            (
                7,
                "SSO configuration 'x': saml needs idpMetadataUrl, or all of idpUrl + entityId + idpCert "
                "(missing: idpCert)",
            )
        ],
        id="saml-partial",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n"
        "          idpMetadataUrl: 'https://m.example'\n          idpCert: C\n",
        [(8, "has idpMetadataUrl and idpCert: give either idpMetadataUrl")],
        id="saml-both-modes",
    ),
    pytest.param(
        "    sso: [{ssoId: x, saml: {}}]\n",
        [(4, "saml needs idpMetadataUrl, or all of idpUrl + entityId + idpCert (missing: idpUrl, entityId, idpCert)")],
        id="saml-empty",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataURL: 'https://m.example'\n",
        [
            (7, "unknown SAML key 'idpMetadataURL'; did you mean 'idpMetadataUrl'?"),
            (7, "saml needs idpMetadataUrl"),
        ],
        id="saml-unknown-key",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataUrl: ftp://m.example/x\n",
        [(7, "SSO configuration 'x': saml.idpMetadataUrl must be an http(s) URL with a host")],
        id="saml-url-scheme",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataUrl: 'https:///path'\n",
        [(7, "must be an http(s) URL with a host")],
        id="saml-url-no-host",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataUrl: 'https://m.example'\n"
        "          attributeMapping: {email: 5}\n",
        [(8, "saml.attributeMapping.email must be a string, found the number 5")],
        id="attributeMapping-not-strings",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataUrl: 'https://m.example'\n"
        "          roleMappings: [{groups: acme-admins, roleName: A}]\n",
        [(8, "saml.roleMappings[0].groups must be a list of strings")],
        id="roleMappings-groups-not-a-list",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataUrl: 'https://m.example'\n"
        "          roleMappings:\n            - groups: [g]\n",
        [(9, "saml.roleMappings[0] needs roleName")],
        id="roleMappings-no-roleName",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        saml:\n          idpMetadataUrl: 'https://m.example'\n"
        "          roleMappings: [{groups: [g], role: A}]\n",
        [
            (8, "unknown role mapping key 'role'; did you mean 'roleName'?"),
            (8, "saml.roleMappings[0] needs roleName"),
        ],
        id="roleMappings-unknown-key",
    ),
    # role references
    pytest.param(
        "    roles: [{name: Tenant Admin}]\n    sso:\n      - ssoId: x\n        saml:\n"
        "          idpMetadataUrl: 'https://m.example'\n"
        "          roleMappings: [{groups: [g], roleName: tenant admin}]\n",
        [(9, "roleMappings[0].roleName names the role 'tenant admin', but this tenant declares 'Tenant Admin'")],
        id="roleName-differs-by-case",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          defaultSSORoles: [ADMIN]\n    roles: [{name: Admin}]\n",
        [(7, "oidc.defaultSSORoles names the role 'ADMIN', but this tenant declares 'Admin'")],
        id="defaultSSORoles-differs-by-case-roles-declared-later",
    ),
    # oidc and secrets
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          clientID: c\n",
        [(7, "unknown OIDC key 'clientID'; did you mean 'clientId'?")],
        id="oidc-unknown-key",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          clientSecret: {env: 1BAD}\n",
        [(7, "oidc.clientSecret.env must be an environment variable's name ([A-Za-z_][A-Za-z0-9_]*), found '1BAD'")],
        id="secret-env-name",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          clientSecret: {file: secrets/gh}\n",
        [(7, "oidc.clientSecret.file must be an absolute path to the file holding the secret, found 'secrets/gh'")],
        id="secret-relative-path",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          clientSecret: {env: A, file: /b}\n",
        [(7, "must be a secret reference with exactly one of env or file, found both env and file")],
        id="secret-both",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          manageProviderTokens: 'no thanks'\n",
        [(7, "oidc.manageProviderTokens must be true or false")],
        id="oidc-bool",
    ),
    pytest.param(
        "    sso:\n      - ssoId: x\n        oidc:\n          scope: openid\n",
        [(7, "oidc.scope must be a list of strings")],
        id="oidc-scope-not-a-list",
    ),
    # password policy
    pytest.param(
        "    passwordPolicy: {minLenght: 12}\n",
        [(4, "unknown passwordPolicy key 'minLenght'; did you mean 'minLength'?")],
        id="password-unknown-key",
    ),
    pytest.param(
        "    passwordPolicy: {minLength: 0}\n",
        [(4, "passwordPolicy.minLength must be a whole number from 1 to 128, found the number 0")],
        id="password-minLength-zero",
    ),
    pytest.param(
        "    passwordPolicy:\n      expirationWeeks: 10000\n",
        [(5, "passwordPolicy.expirationWeeks must be a whole number from 0 to 520, found the number 10000")],
        id="password-weeks-too-many",
    ),
    pytest.param(
        "    passwordPolicy: {lockAttempts: true}\n",
        [(4, "passwordPolicy.lockAttempts must be a whole number from 0 to 100, found the boolean true")],
        id="password-int-as-bool",
    ),
    pytest.param(
        "    passwordPolicy: {lowercase: 1}\n",
        [(4, "passwordPolicy.lowercase must be true or false, found the number 1")],
        id="password-bool-as-int",
    ),
    pytest.param(
        "    passwordPolicy: [minLength]\n", [(4, "passwordPolicy must be a mapping")], id="password-not-a-map"
    ),
]


@pytest.mark.parametrize(("body", "expected"), PROBLEMS)
def test_each_refusal_names_the_line(body: str, expected: list[tuple[int, str]]) -> None:
    found = problems(tenant(body))
    assert_problems(found, expected)
    assert all(p.file == "tenants.yaml" for p in found)


SECRET = "s3cr3t-Do-Not-Echo-9f8e7d"


@pytest.mark.parametrize(
    "written",
    [
        f"clientSecret: {SECRET}",
        f"clientSecret: '{SECRET}'",
        f"clientSecret: [{SECRET}]",
        f"clientSecret: {{value: {SECRET}}}",
        f"clientSecret: {{env: {{name: {SECRET}}}}}",
    ],
)
def test_a_literal_secret_is_refused_and_never_repeated(
    written: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tenant(f"    sso:\n      - ssoId: g\n        oidc:\n          {written}\n")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TenantsFileInvalid) as info:
        load(text)
    shown = str(info.value) + "".join(f"{p.file}:{p.line}: {p.message}" for p in info.value.problems)
    assert [p.line for p in info.value.problems] == [7], shown
    assert "clientSecret" in shown
    out, err = capsys.readouterr()
    assert SECRET not in shown + caplog.text + out + err, shown


def test_a_literal_secret_message_says_what_to_write() -> None:
    (problem,) = problems(tenant(f"    sso: [{{ssoId: g, oidc: {{clientSecret: {SECRET}}}}}]\n"))
    assert "literal secret" in problem.message
    assert "{env: VARIABLE}" in problem.message and "{file: /absolute/path}" in problem.message
    assert SECRET not in problem.message and SECRET[:6] not in problem.message


def test_the_validate_command_does_not_print_a_literal_secret(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main

    path = tmp_path / "tenants.yaml"
    path.write_text(tenant(f"    sso: [{{ssoId: g, oidc: {{clientSecret: {SECRET}}}}}]\n"))
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "clientSecret" in out + err
    assert SECRET not in out + err


# ---- the tenant planner ignores the sub-resources --------------------------------------------------


def _plan(fields: dict[str, Any], live: list[dict[str, Any]]) -> Any:
    desired = DesiredState(tenants=(DesiredTenant("acme", fields, file="t.yaml", line=2),))
    return make_plan(desired, live, inventory={"acme"}, policy=PlanPolicy())


@pytest.mark.parametrize(
    "live",
    [
        pytest.param([], id="create"),
        pytest.param([{"id": "acme", "name": "Old"}], id="update"),
        pytest.param([{"id": "acme", "name": "ACME"}], id="no-change"),
    ],
)
def test_the_tenant_planner_plans_exactly_as_without_the_sub_resources(live: list[dict[str, Any]]) -> None:
    (loaded,) = load(ISSUE_EXAMPLE).tenants
    assert set(SUBRESOURCE_FIELDS) <= set(loaded.fields)
    without = {k: v for k, v in loaded.fields.items() if k not in SUBRESOURCE_FIELDS}
    assert _plan(dict(loaded.fields), live) == _plan(without, live)
    for action in _plan(dict(loaded.fields), live).actions:
        assert not any(change.field.partition(".")[0] in SUBRESOURCE_FIELDS for change in action.changes)
        assert not set(action.create_body or {}) & set(SUBRESOURCE_FIELDS)
        assert not set(action.patch or {}) & set(SUBRESOURCE_FIELDS)
