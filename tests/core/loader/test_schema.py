"""What a tenants file may hold: top-level shape, tenant keys and every field's check, with the message a user sees."""

from __future__ import annotations

import pytest

from controller.core.loader import suggest
from controller.core.model import SETTINGS_FIELDS, TENANT_FIELDS
from controller.errors import TenantsFileInvalid
from tests.core.loader.support import assert_problems, load, problems, tenant

# ---- every rule, with the message and line a user sees -----------------------------------------

PROBLEM_CASES = [
    # the file as a whole
    pytest.param("", [(None, "file is empty (no tenants list); write `tenants: []`")], id="empty-file"),
    pytest.param("# only a comment\n\n", [(None, "write `tenants: []`")], id="comments-only"),
    pytest.param("---\n", [(None, "file is empty")], id="empty-document"),
    pytest.param("tenants:\n", [(1, "`tenants:` has no value; list the tenants under it, or write")], id="null-list"),
    pytest.param(
        "- id: a\n  name: A\n",
        [(1, "the top level must be a mapping with the key `tenants:`, found a list; did you forget `tenants:`")],
        id="top-level-list",
    ),
    pytest.param("just text\n", [(1, "found the string 'just text'")], id="top-level-scalar"),
    pytest.param(
        "tenant: []\n",
        [(1, "unknown top-level key 'tenant'; did you mean 'tenants'?"), (1, "missing the top-level key `tenants:`")],
        id="top-level-typo",
    ),
    pytest.param(
        "tenants: []\nextra: 1\n", [(2, "unknown top-level key 'extra'; expected one of: tenants")], id="extra-key"
    ),
    pytest.param("tenants: {a: 1}\n", [(1, "`tenants:` must be a list of tenants")], id="tenants-mapping"),
    pytest.param(
        "tenants:\n  - acme\n",
        [(2, "each tenant must be a mapping (`- id: ...` then `name: ...`), found the string 'acme'")],
        id="tenant-scalar",
    ),
    pytest.param("tenants:\n  -\n", [(2, "each tenant must be a mapping")], id="tenant-null"),
    pytest.param(
        "tenants: []\n---\ntenants: []\n",
        [(2, "a second YAML document ('---') starts here; a tenants file holds one document")],
        id="two-documents",
    ),
    # unknown keys with suggestions
    pytest.param(
        tenant("    selfProvisoningDomains: [acme.com]\n"),
        [(4, "unknown tenant key 'selfProvisoningDomains'; did you mean 'selfProvisioningDomains'?")],
        id="typo-suggestion",
    ),
    pytest.param(
        tenant("    enforceSso: true\n"),
        [(4, "unknown tenant key 'enforceSso'; did you mean 'enforceSSO'?")],
        id="case-suggestion",
    ),
    pytest.param(
        tenant("    colour: blue\n"),
        [(4, "unknown tenant key 'colour'; expected one of: id, name, selfProvisioningDomains")],
        id="unknown-no-suggestion",
    ),
    pytest.param(
        tenant("    settings:\n      sessionTokenExpirationUnits: minutes\n"),
        [(5, "unknown settings key 'sessionTokenExpirationUnits'; did you mean 'sessionTokenExpirationUnit'?")],
        id="settings-typo",
    ),
    pytest.param(
        tenant("    settings: {jitDisabled: true}\n"),
        [(4, "unknown settings key 'jitDisabled'; did you mean 'JITDisabled'?")],
        id="settings-case",
    ),
    pytest.param(
        tenant("    domains: [acme.com]\n"), [(4, "unknown tenant key 'domains'")], id="server-only-field-refused"
    ),
    # id
    pytest.param("tenants:\n  - name: A\n", [(2, "tenant has no `id:`")], id="id-missing"),
    pytest.param(
        "tenants:\n  - id: 123\n    name: A\n",
        [(2, "id must be a string, but YAML reads '123' as the number 123; quote it: id: \"123\"")],
        id="id-number",
    ),
    pytest.param(
        "tenants:\n  - id: 0123\n    name: A\n",
        [(2, "YAML reads '0123' as the number 83; quote it: id: \"0123\"")],
        id="id-octal",
    ),
    pytest.param(
        "tenants:\n  - id: 1.5\n    name: A\n", [(2, "YAML reads '1.5' as the number 1.5; quote it")], id="id-float"
    ),
    pytest.param(
        "tenants:\n  - id: yes\n    name: A\n", [(2, "YAML reads 'yes' as the boolean true; quote it")], id="id-bool"
    ),
    pytest.param("tenants:\n  - id:\n    name: A\n", [(2, "id is empty")], id="id-null"),
    pytest.param("tenants:\n  - id: ''\n    name: A\n", [(2, "id is empty")], id="id-empty-string"),
    pytest.param(
        "tenants:\n  - id: acme corp\n    name: A\n",
        [(2, "id 'acme corp' contains whitespace or control characters")],
        id="id-space",
    ),
    pytest.param(
        'tenants:\n  - id: "acme\\tcorp"\n    name: A\n',
        [(2, "contains whitespace or control characters")],
        id="id-tab",
    ),
    pytest.param(
        'tenants:\n  - id: "acme\\u200b"\n    name: A\n',
        [(2, "contains whitespace or control characters")],
        id="id-zero-width-space",
    ),
    pytest.param(
        f"tenants:\n  - id: {'a' * 257}\n    name: A\n",
        [(2, "id is 257 characters long, over the limit of 256")],
        id="id-too-long",
    ),
    pytest.param("tenants:\n  - id: [a]\n    name: A\n", [(2, "id must be a string, found a list")], id="id-list"),
    # name
    pytest.param(
        "tenants:\n  - id: a\n", [(2, "tenant 'a' has no `name:` (required, unique per project)")], id="no-name"
    ),
    pytest.param(
        "tenants:\n  - id: a\n    name: 2024\n",
        [(3, "name must be a string, found the number 2024; quote it")],
        id="name-number",
    ),
    pytest.param(
        "tenants:\n  - id: no\n    name: no\n",
        [(2, "YAML reads 'no' as the boolean false"), (3, "name must be a string, found the boolean false")],
        id="norway",
    ),
    pytest.param("tenants:\n  - id: a\n    name: '  '\n", [(3, "name is empty")], id="name-blank"),
    pytest.param("tenants:\n  - id: a\n    name:\n", [(3, "name has no value")], id="name-null"),
    pytest.param(
        f"tenants:\n  - id: a\n    name: {'n' * 300}\n",
        [(3, "name is 300 characters long, over the limit of 256")],
        id="name-too-long",
    ),
    # domains
    pytest.param(
        tenant("    selfProvisioningDomains: acme.com\n"),
        [(4, "selfProvisioningDomains must be a list, e.g. `selfProvisioningDomains: [acme.com]`")],
        id="domains-not-list",
    ),
    pytest.param(
        tenant("    selfProvisioningDomains:\n      - acme.com\n      - acme\n      - -x.com\n      - a_b.com\n"),
        [
            (6, "'acme' is not a valid domain name"),
            (7, "'-x.com' is not a valid domain name"),
            (8, "'a_b.com' is not a valid domain name"),
        ],
        id="domains-invalid-hostnames",
    ),
    pytest.param(
        tenant("    selfProvisioningDomains: [bob@acme.com, münchen.de, acme.com., 10.0.0.1, 42]\n"),
        [
            (4, "'bob@acme.com' looks like an e-mail address"),
            (4, "'münchen.de' is not an ASCII domain name; write internationalised domains in punycode"),
            (4, "'acme.com.' is not a valid domain name"),
            (4, "'10.0.0.1' is not a domain name (the last label is all digits)"),
            (4, "a domain must be a string, found the number 42"),
        ],
        id="domains-other-mistakes",
    ),
    pytest.param(
        tenant("    selfProvisioningDomains:\n      - acme.com\n      - Acme.COM\n"),
        [(6, "duplicate domain 'Acme.COM' (already listed at line 5; domains ignore case)")],
        id="domains-duplicate-case-insensitive",
    ),
    # custom attributes
    pytest.param(
        tenant("    customAttributes: [plan]\n"),
        [(4, "customAttributes must be a mapping of attribute name to value, found a list")],
        id="attributes-not-mapping",
    ),
    pytest.param(
        tenant("    customAttributes:\n      plan: {tier: 1}\n      tags: [a, 2]\n      ratio: .nan\n"),
        [
            (5, "customAttributes.plan must be a string, number, boolean, null or list of strings, not a mapping"),
            (6, "customAttributes.tags: list values must be strings (a multi-select), found the number 2"),
            (7, "customAttributes.ratio must be a finite number, found nan"),
        ],
        id="attributes-bad-values",
    ),
    pytest.param(
        tenant("    customAttributes:\n      on: true\n      1: x\n"),
        [
            (5, "the key 'on' is read by YAML as the boolean true, not a string; quote it: \"on\":"),
            (6, "the key '1' is read by YAML as the number 1, not a string"),
        ],
        id="attributes-non-string-keys",
    ),
    pytest.param(
        tenant("    customAttributes: {'': x}\n"), [(4, "an attribute name cannot be empty")], id="attributes-empty-key"
    ),
    pytest.param(
        tenant("    customAttributes: {? [a, b] : x}\n"),
        [(4, "a mapping key must be a plain string, not a list")],
        id="complex-key",
    ),
    # booleans and string lists
    pytest.param(
        tenant("    enforceSSO: 'true'\n    disabled: 1\n"),
        [(4, "enforceSSO must be true or false, found the string 'true'"), (5, "disabled must be true or false")],
        id="booleans-must-be-real",
    ),
    pytest.param(tenant("    disabled:\n"), [(4, "disabled has no value; give it one or remove the key")], id="null"),
    pytest.param(
        tenant("    defaultRoles: viewer\n"),
        [(4, "defaultRoles must be a list, e.g. `defaultRoles: [a, b]`, found the string 'viewer'")],
        id="roles-not-list",
    ),
    pytest.param(
        tenant("    federatedAppIds: [app, 7]\n    enforceSSOExclusions: ['']\n"),
        [
            (4, "federatedAppIds items must be non-empty strings, found the number 7"),
            (5, "enforceSSOExclusions items must be non-empty strings, found the string ''"),
        ],
        id="string-list-items",
    ),
    pytest.param(
        tenant("    roleInheritance: userOnl\n"),
        [
            (
                4,
                "roleInheritance must be one of '', 'none', 'userOnly', "
                "found the string 'userOnl'; did you mean 'userOnly'?",
            )
        ],
        id="choice",
    ),
    # settings
    pytest.param(
        tenant("    settings: true\n"), [(4, "settings must be a mapping of session settings")], id="settings-scalar"
    ),
    pytest.param(
        tenant(
            "    settings:\n"
            "      sessionTokenExpiration: 0\n"
            "      refreshTokenExpiration: -5\n"
            "      stepupTokenExpiration: true\n"
            "      inactivityTime: 1.5\n"
            "      enabled: 'yes'\n"
            "      sessionTokenExpirationUnit: minute\n"
            "      refreshTokenExpirationUnit: fortnights\n"
        ),
        [
            (5, "settings.sessionTokenExpiration must be a positive whole number, found the number 0"),
            (6, "settings.refreshTokenExpiration must be a positive whole number, found the number -5"),
            (7, "settings.stepupTokenExpiration must be a positive whole number, found the boolean true"),
            (8, "settings.inactivityTime must be a positive whole number, found the number 1.5"),
            (9, "settings.enabled must be true or false, found the string 'yes'"),
            (10, "settings.sessionTokenExpirationUnit must be one of seconds, minutes, hours, days, weeks, "),
            (11, "found the string 'fortnights'"),
        ],
        id="settings-values",
    ),
    pytest.param(
        tenant("    settings:\n      sessionTokenExpirationUnit: minute\n"),
        [(5, "found the string 'minute'; did you mean 'minutes'?")],
        id="settings-unit-suggestion",
    ),
    # parents
    pytest.param(tenant("    parent: acme\n"), [(4, "tenant 'acme' cannot be its own parent")], id="parent-self"),
    pytest.param(
        tenant("    parent: holding\n"),
        [(4, "parent 'holding' is not declared in the tenants files; declare that tenant too")],
        id="parent-undeclared",
    ),
    pytest.param(
        tenant("    parent: 7\n"), [(4, "parent must be a tenant id (a string), found the number 7")], id="p7"
    ),
    pytest.param(
        "tenants:\n"
        "  - {id: a, name: A, parent: b}\n"
        "  - {id: b, name: B, parent: c}\n"
        "  - {id: c, name: C, parent: a}\n"
        "  - {id: d, name: D, parent: a}\n",
        [(2, "parent cycle 'a' → 'b' → 'c' → 'a' (see 'b' at tenants.yaml:3, 'c' at tenants.yaml:4)")],
        id="parent-cycle",
    ),
    pytest.param(
        "tenants:\n  - {id: a, name: A, parent: b}\n  - {id: b, name: B, parent: a}\n",
        [(2, "parent cycle 'a' → 'b' → 'a'")],
        id="parent-two-cycle",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEM_CASES)
def test_problem_cases(backend: str, text: str | bytes, expected: list[tuple[int | None, str]]) -> None:
    assert_problems(problems(text), expected)


def test_problem_is_rendered_as_file_colon_line() -> None:
    with pytest.raises(TenantsFileInvalid) as info:
        load(tenant("    enforceSSO: maybe\n"), name="teams/eu.yaml")
    assert str(info.value) == (
        "1 problem in tenants file(s):\n  teams/eu.yaml:4: enforceSSO must be true or false, found the string 'maybe'"
    )


def test_all_problems_are_reported_at_once_sorted_by_line() -> None:
    text = (
        "tenants:\n"
        "  - id: 1\n"  # 2
        "    name: A\n"
        "    name: B\n"  # 4 (found while parsing, reported in line order)
        "  - id: b\n"
        "    name: 3\n"  # 6
        "    colour: x\n"  # 7
    )
    found = problems(text)
    assert [p.line for p in found] == [2, 4, 6, 7]


def test_suggest() -> None:
    assert suggest("selfProvisoningDomains", TENANT_FIELDS) == "selfProvisioningDomains"
    assert suggest("JitDisabled", SETTINGS_FIELDS) == "JITDisabled"
    assert suggest("colour", TENANT_FIELDS) is None
    assert suggest("x" * 1000, TENANT_FIELDS) is None
