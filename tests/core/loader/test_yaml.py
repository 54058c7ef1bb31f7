"""What a file means as YAML 1.1, as PyYAML's SafeLoader reads it, and the syntax it refuses, with file:line."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.model import SETTINGS_FIELDS, SUBRESOURCE_FIELDS, TENANT_FIELDS
from tests.core.loader.support import assert_problems, load, problems, tenant

# ---- the design's example loads to exactly what it says --------------------------------------

DESIGN_EXAMPLE = """\
tenants:
  - id: acme-corp                  # required, stable key; also the Descope tenant id
    name: ACME Corp                # required, unique per project
    selfProvisioningDomains: [acme.com]
    customAttributes: {plan: enterprise, seats: 50}
    enforceSSO: false
    disabled: false
    parent: holding-co             # set at create only; changing it is an error, not an update
    defaultRoles: [viewer]
    settings:                      # tenant session settings, optional
      sessionTokenExpiration: 10
      sessionTokenExpirationUnit: minutes
  - id: holding-co
    name: Holding Co
    enforceSSOExclusions: [user-1, user-2]
    federatedAppIds: [app-1]
    roleInheritance: userOnly
    customAttributes:
      tags: [gold, eu]
      score: 1.5
      note: null
      since: 2024-01-01
      active: true
    settings:
      enabled: true
      refreshTokenExpiration: 4
      refreshTokenExpirationUnit: weeks
      stepupTokenExpiration: 5
      stepupTokenExpirationUnit: minutes
      enableInactivity: true
      inactivityTime: 30
      inactivityTimeUnit: days
      JITDisabled: false
"""


def test_design_example_loads_to_the_written_fields(backend: str) -> None:
    state = load(DESIGN_EXAMPLE)
    assert [t.id for t in state.tenants] == ["acme-corp", "holding-co"]
    acme, holding = state.tenants
    assert dict(acme.fields) == {
        "name": "ACME Corp",
        "selfProvisioningDomains": ["acme.com"],
        "customAttributes": {"plan": "enterprise", "seats": 50},
        "enforceSSO": False,
        "disabled": False,
        "parent": "holding-co",
        "defaultRoles": ["viewer"],
        "settings": {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"},
    }
    assert list(acme.fields)[:3] == ["name", "selfProvisioningDomains", "customAttributes"]  # written order
    assert (acme.file, acme.line, acme.where) == ("tenants.yaml", 2, "tenants.yaml:2")
    assert holding.line == 13
    assert holding.fields["customAttributes"] == {
        "tags": ["gold", "eu"],
        "score": 1.5,
        "note": None,
        "since": "2024-01-01",  # a date stays the string written, not a datetime
        "active": True,
    }
    assert holding.fields["roleInheritance"] == "userOnly"
    assert holding.fields["enforceSSOExclusions"] == ["user-1", "user-2"]
    assert set(acme.fields["settings"]) | set(holding.fields["settings"]) == set(SETTINGS_FIELDS)
    assert state.files == ("tenants.yaml",)


def test_every_catalogue_field_is_accepted() -> None:
    """The loader and the field catalogue agree: nothing in TENANT_FIELDS is refused as unknown."""
    state = load(DESIGN_EXAMPLE)
    written = set(state.tenants[0].fields) | set(state.tenants[1].fields)
    assert written == set(TENANT_FIELDS) - set(SUBRESOURCE_FIELDS)  # tests/core/loader/test_subresources.py


VALID_CASES = [
    pytest.param("tenants: []\n", [], id="empty-list-is-zero-tenants"),
    pytest.param("tenants: [{id: a, name: A}]\n", [("a", {"name": "A"})], id="flow-style"),
    pytest.param('tenants:\n  - id: "123"\n    name: "2024"\n', [("123", {"name": "2024"})], id="quoted-numbers"),
    pytest.param("tenants:\n  - id: !!str 123\n    name: A\n", [("123", {"name": "A"})], id="str-tag"),
    pytest.param("\ufefftenants:\n  - {id: a, name: A}\n", [("a", {"name": "A"})], id="utf8-bom"),
    pytest.param("---\ntenants:\n  - {id: a, name: A}\n...\n", [("a", {"name": "A"})], id="explicit-document-markers"),
    pytest.param(
        tenant("    enforceSSO: yes\n    disabled: Off\n"),
        [("acme", {"name": "ACME", "enforceSSO": True, "disabled": False})],
        id="yaml-1.1-booleans",
    ),
    pytest.param(
        tenant("    parent: ''\n    roleInheritance: ''\n"),
        [("acme", {"name": "ACME", "parent": "", "roleInheritance": ""})],
        id="explicit-empty-parent-and-inheritance",
    ),
    pytest.param(
        tenant("    selfProvisioningDomains: []\n    customAttributes: {}\n    settings: {}\n"),
        [("acme", {"name": "ACME", "selfProvisioningDomains": [], "customAttributes": {}, "settings": {}})],
        id="empty-collections-are-managed-as-empty",
    ),
    pytest.param(
        "tenants:\n"
        "  - &base {id: a, name: A, enforceSSO: true, defaultRoles: [viewer]}\n"
        "  - <<: *base\n"
        "    id: b\n"
        "    name: B\n",
        [
            ("a", {"name": "A", "enforceSSO": True, "defaultRoles": ["viewer"]}),
            ("b", {"name": "B", "enforceSSO": True, "defaultRoles": ["viewer"]}),
        ],
        id="merge-key-explicit-keys-win",
    ),
    pytest.param(
        "tenants:\n  - {id: a, name: A, customAttributes: {hex: 0x1f, big: 1_000, neg: -3, exp: 1e3}}\n",
        [("a", {"name": "A", "customAttributes": {"hex": 31, "big": 1000, "neg": -3, "exp": "1e3"}})],
        id="yaml-1.1-numbers-as-pyyaml",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID_CASES)
def test_valid_files(backend: str, text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    state = load(text)
    assert [(t.id, dict(t.fields)) for t in state.tenants] == expected


def test_aliased_values_are_not_shared_between_tenants() -> None:
    state = load("tenants:\n  - {id: a, name: A, defaultRoles: &r [viewer]}\n  - {id: b, name: B, defaultRoles: *r}\n")
    a, b = state.tenants
    assert a.fields["defaultRoles"] == b.fields["defaultRoles"] == ["viewer"]
    assert a.fields["defaultRoles"] is not b.fields["defaultRoles"]


# ---- every rule, with the message and line a user sees -----------------------------------------

PROBLEM_CASES = [
    # syntax
    pytest.param("tenants:\n  - id: a\n    name: [A\n  - id: b\n", [(4, "YAML syntax error: ")], id="unclosed-flow"),
    pytest.param("tenants:\n\t- id: a\n", [(2, "YAML syntax error: ")], id="tab-indent"),
    pytest.param("tenants:\n  - id: a\n   name: A\n", [(3, "YAML syntax error: ")], id="bad-indent"),
    pytest.param("tenants: [a, *nope]\n", [(1, "alias *nope is not defined (no &nope before it)")], id="undef-alias"),
    pytest.param(
        'tenants:\n  - id: a\n    name: "A\x01"\n',
        [(3, "character #x0001 is not allowed in YAML")],
        id="control-character",
    ),
    pytest.param(
        b"tenants:\n  - id: a\n    name: caf\xe9\n",
        [(3, "file is not valid UTF-8 (byte 0xe9 at line 3); save it as UTF-8")],
        id="latin-1",
    ),
    # tags: nothing is ever constructed
    pytest.param(
        "tenants:\n  - !!python/object/apply:os.system ['echo owned']\n",
        [(2, "the YAML tag !!python/object/apply:os.system is not allowed; tenants files hold only plain")],
        id="python-tag",
    ),
    pytest.param(
        tenant("    customAttributes: {blob: !!binary aGVsbG8=, s: !!set {a: null}, r: !Ref x}\n"),
        [(4, "!!binary is not allowed"), (4, "!!set is not allowed"), (4, "!Ref is not allowed")],
        id="other-tags",
    ),
    pytest.param(
        tenant("    settings: {inactivityTime: !!int ten}\n"), [(4, "'ten' is not a valid !!int")], id="bad-int-tag"
    ),
    pytest.param(
        "tenants:\n  - <<: [a]\n    id: a\n    name: A\n",
        [(2, "the merge key '<<' needs a mapping (like *defaults) or a list of mappings, not a list")],
        id="merge-non-mapping",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEM_CASES)
def test_problem_cases(backend: str, text: str | bytes, expected: list[tuple[int | None, str]]) -> None:
    assert_problems(problems(text), expected)
