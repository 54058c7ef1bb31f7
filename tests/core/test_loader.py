"""Table-driven tests of tenants.yaml loading: what a user sees (message and line) for every rule.

Each problem case is a plain YAML string with the exact (line, message fragment) pairs expected and
nothing else, run on both libyaml's parser and PyYAML's pure-Python one. Hostile inputs must be
refused quickly with a clear message; a property test round-trips generated valid tenants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core import loader
from controller.core.confusables import lookalike_key, mixed_script_words
from controller.core.loader import LoadLimits, parse_tenant_files, source_digest, suggest
from controller.core.model import SETTINGS_FIELDS, TENANT_FIELDS, TIME_UNITS, DesiredState
from controller.errors import Problem, TenantsFileInvalid

BACKENDS = ["libyaml", "python"] if yaml.__with_libyaml__ else ["python"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test once per YAML parser the loader can use."""
    if request.param == "python":
        monkeypatch.setattr(loader, "_LOADER", yaml.SafeLoader)
    yield request.param


def load(text: str | bytes, name: str = "tenants.yaml", **limits: int) -> DesiredState:
    data = text.encode() if isinstance(text, str) else text
    return parse_tenant_files({name: data}, limits=LoadLimits(**limits))


def problems_of(files: Mapping[str, str | bytes], **limits: int) -> list[Problem]:
    encoded = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    with pytest.raises(TenantsFileInvalid) as info:
        parse_tenant_files(encoded, limits=LoadLimits(**limits))
    return info.value.problems


def problems(text: str | bytes, **limits: int) -> list[Problem]:
    return problems_of({"tenants.yaml": text}, **limits)


def assert_problems(found: list[Problem], expected: list[tuple[int | None, str]]) -> None:
    """Exactly the expected problems, in order: same line, message containing the fragment."""
    shown = "\n".join(str(p) for p in found)
    assert len(found) == len(expected), f"expected {len(expected)} problem(s), got:\n{shown}"
    for problem, (line, fragment) in zip(found, expected, strict=True):
        assert problem.line == line, f"wrong line for {fragment!r}:\n{shown}"
        assert fragment in problem.message, f"{fragment!r} not in:\n{shown}"


def tenant(body: str) -> str:
    """A file with one tenant: id on line 2, name on line 3, ``body`` from line 4 on."""
    return "tenants:\n  - id: acme\n    name: ACME\n" + body


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
    assert written == set(TENANT_FIELDS)


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
    # duplicate keys, which PyYAML would silently accept
    pytest.param(
        "tenants:\n  - id: a\n    name: A\n    name: B\n",
        [(4, "duplicate key 'name' (first written at line 3)")],
        id="duplicate-tenant-key",
    ),
    pytest.param(
        "tenants: []\ntenants: []\n", [(2, "duplicate key 'tenants' (first written at line 1)")], id="duplicate-top"
    ),
    pytest.param(
        tenant("    settings:\n      enabled: true\n      enabled: false\n"),
        [(6, "duplicate key 'enabled' (first written at line 5)")],
        id="duplicate-settings-key",
    ),
    pytest.param(
        tenant("    customAttributes: {plan: a, plan: b}\n"),
        [(4, "duplicate key 'plan' (first written at line 4)")],
        id="duplicate-attribute-key",
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
    # duplicates within a file
    pytest.param(
        "tenants:\n  - {id: a, name: A}\n  - {id: a, name: B}\n",
        [(3, "duplicate tenant id 'a': also declared at tenants.yaml:2")],
        id="duplicate-id",
    ),
    pytest.param(
        "tenants:\n  - {id: a, name: Same}\n  - {id: b, name: Same}\n",
        [(3, "duplicate tenant name 'Same': also used at tenants.yaml:2 (names are unique per project)")],
        id="duplicate-name",
    ),
    pytest.param(
        "tenants:\n  - {id: a, name: ACME Corp}\n  - {id: b, name: Acme corp}\n",
        [
            (
                3,
                "duplicate tenant name 'Acme corp': also used at tenants.yaml:2 as 'ACME Corp' "
                "(names are unique per project, whatever the case)",
            )
        ],
        id="duplicate-name-ignores-case",
    ),
    pytest.param(
        "tenants:\n  - &t {id: a, name: A}\n  - *t\n",
        [(3, "duplicate tenant id 'a': also declared at tenants.yaml:2"), (3, "duplicate tenant name 'A'")],
        id="aliased-tenant-is-a-duplicate",
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


def test_problem_collection_stops_at_max_problems() -> None:
    text = "tenants:\n" + "".join(f"  - {{id: t{i}, name: N{i}, enforceSSO: nope}}\n" for i in range(150))
    found = problems(text, max_problems=100)
    assert len(found) == 101
    assert all("enforceSSO must be true or false" in p.message for p in found[:100])
    assert found[-1].message == "stopped after 100 problems; fix these and validate again"


@pytest.mark.parametrize("count", [99, 100, 101])
def test_problem_limit_boundary(count: int) -> None:
    text = "tenants:\n" + "".join(f"  - {{id: t{i}, name: N{i}, disabled: 0}}\n" for i in range(count))
    found = problems(text, max_problems=100)
    if count <= 100:
        assert [p.line for p in found] == list(range(2, count + 2))
    else:
        assert len(found) == 101 and found[-1].message.startswith("stopped after 100 problems")


def test_hostile_long_key_is_clipped_in_the_message() -> None:
    found = problems(tenant(f"    {'k' * 1000}: 1\n"))
    assert len(found) == 1 and len(found[0].message) < 400
    assert "unknown tenant key 'kkkk" in found[0].message and "...'" in found[0].message


# ---- several files -------------------------------------------------------------------------------


def test_files_load_in_sorted_name_order_and_tenants_keep_file_order() -> None:
    state = parse_tenant_files(
        {
            "tenants/us.yaml": b"tenants:\n  - {id: us-2, name: US2}\n  - {id: us-1, name: US1, parent: eu-1}\n",
            "tenants/eu.yaml": b"tenants:\n  - {id: eu-1, name: EU1}\n",
        }
    )
    assert [(t.id, t.where) for t in state.tenants] == [
        ("eu-1", "tenants/eu.yaml:2"),
        ("us-2", "tenants/us.yaml:2"),
        ("us-1", "tenants/us.yaml:3"),
    ]
    assert state.files == ("tenants/eu.yaml", "tenants/us.yaml")


def test_duplicate_id_and_name_across_files_name_both_locations() -> None:
    found = problems_of(
        {
            "tenants/a.yaml": "tenants:\n  - id: acme\n    name: ACME\n",
            "tenants/b.yaml": "tenants:\n  - id: other\n    name: ACME\n  - id: acme\n    name: Acme again\n",
        }
    )
    assert [str(p) for p in found] == [
        "tenants/b.yaml:3: duplicate tenant name 'ACME': also used at tenants/a.yaml:2 (names are unique per project)",
        "tenants/b.yaml:4: duplicate tenant id 'acme': also declared at tenants/a.yaml:2",
    ]


def test_problems_from_several_files_are_all_reported() -> None:
    found = problems_of({"b.yaml": "tenants:\n  - {id: b}\n", "a.yaml": "", "c.yaml": "tenants: [\n"})
    assert [(p.file, p.line) for p in found] == [("a.yaml", None), ("b.yaml", 2), ("c.yaml", 2)]


def test_undeclared_parent_is_not_claimed_when_another_file_failed_to_parse() -> None:
    """The parent may be in the broken file: report only the real problem."""
    found = problems_of(
        {"a.yaml": "tenants:\n  - {id: child, name: C, parent: root}\n", "b.yaml": "tenants:\n  - {id: root\n"}
    )
    assert len(found) == 1 and found[0].file == "b.yaml" and "YAML syntax error" in found[0].message


def test_source_digest_covers_names_and_contents() -> None:
    base = {"a.yaml": b"tenants: []\n", "b.yaml": b"tenants: []\n"}
    digest = source_digest(base)
    assert digest == source_digest(dict(reversed(base.items())))  # order of the mapping does not matter
    assert len(digest) == 64
    assert digest != source_digest({**base, "b.yaml": b"tenants: [] \n"})
    assert digest != source_digest({"a.yaml": b"tenants: []\n", "c.yaml": b"tenants: []\n"})
    # the boundary between name and content is unambiguous
    assert source_digest({"ab": b"c"}) != source_digest({"a": b"bc"})


def test_suggest() -> None:
    assert suggest("selfProvisoningDomains", TENANT_FIELDS) == "selfProvisioningDomains"
    assert suggest("JitDisabled", SETTINGS_FIELDS) == "JITDisabled"
    assert suggest("colour", TENANT_FIELDS) is None
    assert suggest("x" * 1000, TENANT_FIELDS) is None


# ---- hostile input: refused quickly, with a clear message ----------------------------------------

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "tenants: [*i]\n"
)


def refused_fast(text: str | bytes, **limits: int) -> list[Problem]:
    started = time.perf_counter()
    found = problems(text, **limits)
    assert time.perf_counter() - started < 2.0, "hostile input took too long to refuse"
    return found


def test_alias_bomb_is_refused(backend: str) -> None:
    found = refused_fast(BILLION_LAUGHS)
    assert_problems(found, [(7, "alias *f expands the document beyond 5,000,000 nodes; aliases that multiply content")])


def test_alias_expansion_counts_against_a_lower_limit() -> None:
    text = "tenants:\n  - &t {id: a, name: A, defaultRoles: [r1, r2, r3]}\n" + "  - *t\n" * 20
    assert_problems(problems(text, max_nodes=50), [(6, "alias *t expands the document beyond 50 nodes")])


def test_recursive_alias_is_refused() -> None:
    assert_problems(problems("tenants: &x [*x]\n"), [(1, "alias *x refers to its own enclosing node")])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("tenants: " + "[" * 100_000 + "]" * 100_000 + "\n", id="flow-sequences"),
        pytest.param("tenants: " + "{a: " * 100_000 + "x" + "}" * 100_000 + "\n", id="flow-mappings"),
        pytest.param("tenants:\n" + "- " * 100_000 + "x\n", id="block-sequences"),
    ],
)
def test_deep_nesting_is_refused_without_recursion(backend: str, text: str) -> None:
    found = refused_fast(text)
    assert_problems(found, [(found[0].line, "nesting is deeper than 32 levels")])


def test_a_parser_that_bounds_nesting_itself_gets_the_loaders_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML 6.0.4's libyaml refuses deep flow nesting before the loader's own check: same message."""

    class RefusingLoader(yaml.SafeLoader):
        def get_event(self) -> Any:
            event = super().get_event()
            if isinstance(event, yaml.SequenceStartEvent) and event.start_mark.column > 10:
                mark = yaml.Mark("tenants.yaml", 0, 2, 0, None, None)  # as libyaml reports it: line 3
                raise yaml.parser.ParserError(
                    "while increasing flow level", None, "exceeded maximum nesting depth", mark
                )
            return event

    monkeypatch.setattr(loader, "_LOADER", RefusingLoader)
    assert_problems(problems("tenants: [[[]]]\n", max_depth=8), [(3, "nesting is deeper than 8 levels")])


def test_nesting_limit_is_configurable() -> None:
    text = tenant("    customAttributes: {tags: [a]}\n")
    assert load(text, max_depth=5).tenants  # root, tenants, tenant, attributes, list
    assert_problems(problems(text, max_depth=4), [(4, "nesting is deeper than 4 levels")])


def test_oversized_file_is_refused_before_parsing() -> None:
    big = b"tenants: [" + b"{id: a, name: A}," * 2_000_000 + b"]\n"  # 34 MB of valid YAML
    found = refused_fast(big)
    assert_problems(found, [(None, f"file is {len(big):,} bytes, over the limit of 33,554,432 bytes; not parsed")])


def test_total_size_limit_across_files() -> None:
    files = {f"{i}.yaml": "tenants: []\n" + "#" * 100 for i in range(5)}
    found = problems_of(files, max_total_bytes=300)
    assert_problems(found, [(None, "the tenants files add up to more than the limit of 300 bytes")])
    assert found[0].file == "2.yaml"


def test_tenant_count_limit() -> None:
    text = "tenants:\n" + "".join(f"  - {{id: t{i}, name: N{i}}}\n" for i in range(11))
    assert len(load(text, max_tenants=11).tenants) == 11
    assert_problems(
        problems(text, max_tenants=10), [(12, "more than 10 tenants in the tenants files; refusing to load them")]
    )


def test_python_tags_construct_nothing(tmp_path: Any) -> None:
    marker = tmp_path / "owned"
    text = f"tenants:\n  - !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n"
    found = problems(text)
    assert "!!python/object/apply:pathlib.Path.touch is not allowed" in found[0].message
    assert not marker.exists()


# ---- properties ----------------------------------------------------------------------------------

_ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=16)
# NEL (U+0085) is left out: PyYAML's own emitter does not round-trip it (safe_dump('0\x85') loads as '0 ')
_CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x85")
_TEXT = st.text(_CHARS, min_size=1, max_size=20)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_DOMAIN = st.builds(lambda a, b: f"{a}.{b}", _LABEL, st.from_regex(r"[a-z]{2,6}", fullmatch=True))
_ATTRIBUTE = st.one_of(
    st.text(_CHARS, max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # the loader refuses numbers beyond 64 bits
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(_CHARS, max_size=10), max_size=3),
)
_SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        name: (
            st.booleans()
            if kind is bool
            else st.integers(min_value=1, max_value=10**6)
            if kind is int
            else st.sampled_from(TIME_UNITS)
        )
        for name, kind in SETTINGS_FIELDS.items()
    },
)
_FIELDS = st.fixed_dictionaries(
    {"name": _TEXT.filter(lambda s: s.strip() != "")},
    optional={
        "selfProvisioningDomains": st.lists(_DOMAIN, max_size=3, unique_by=str.lower),
        "customAttributes": st.dictionaries(_TEXT, _ATTRIBUTE, max_size=4),
        "enforceSSO": st.booleans(),
        "disabled": st.booleans(),
        "enforceSSOExclusions": st.lists(_TEXT, max_size=3),
        "federatedAppIds": st.lists(_TEXT, max_size=3),
        "defaultRoles": st.lists(_TEXT, max_size=3),
        "roleInheritance": st.sampled_from(TENANT_FIELDS["roleInheritance"].choices),
        "settings": _SETTINGS,
    },
)


def _one_script(text: str) -> str:
    """``text`` without the characters that would mix scripts into it (the loader refuses mixed scripts)."""
    kept = ""
    for char in text:
        if mixed_script_words(kept + char) is None:
            kept += char
    return kept


# any characters a name may hold, in one script; unique as the loader compares names (case and lookalikes)
_NAMES = st.lists(
    _TEXT.map(_one_script).filter(lambda s: s.strip() != ""),
    max_size=8,
    unique_by=lambda s: lookalike_key(s, ignore_case=True),
)


@st.composite
def tenant_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(_NAMES)
    ids = draw(st.lists(_ID, min_size=len(names), max_size=len(names), unique=True))
    out: list[dict[str, Any]] = []
    for i, (tenant_id, name) in enumerate(zip(ids, names, strict=True)):
        fields = draw(_FIELDS)
        fields["name"] = name
        if i and draw(st.booleans()):
            fields["parent"] = ids[draw(st.integers(0, i - 1))]  # earlier tenants only: never a cycle
        out.append({"id": tenant_id, **fields})
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenants=tenant_lists(), flow=st.booleans())
def test_dumped_valid_tenants_load_back_to_the_same_fields(tenants: list[dict[str, Any]], flow: bool) -> None:
    text = yaml.safe_dump({"tenants": tenants}, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    state = load(text)
    assert [(t.id, dict(t.fields)) for t in state.tenants] == [
        (t["id"], {k: v for k, v in t.items() if k != "id"}) for t in tenants
    ]


_PLAIN = st.text(alphabet="0123456789+-._:eExXoObBaAfFyYnNtT~<=", min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(plain=_PLAIN)
def test_plain_scalars_resolve_as_pyyaml_safe_load(plain: str) -> None:
    """Our scalar resolution is SafeLoader's (YAML 1.1), except that timestamps stay strings."""
    document = f"v: {plain}\n"
    try:
        expected = yaml.safe_load(document)["v"]
    except (yaml.YAMLError, ValueError):
        return  # not a plain scalar PyYAML can load at all
    if hasattr(expected, "isoformat"):
        expected = plain  # dates and times are kept as written
    if isinstance(expected, float) and not math.isfinite(expected):
        return  # refused as non-finite by the attribute check, tested above
    state = load(tenant(f"    customAttributes:\n      v: {plain}\n"))
    got = state.tenants[0].fields["customAttributes"]["v"]
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("1" + "0" * 5000, id="5000-digit-decimal"),
        pytest.param("!!int 1" + "0" * 5000, id="5000-digit-tagged"),
        pytest.param("0x" + "f" * 5000, id="5000-digit-hex"),
        pytest.param("9223372036854775808", id="just-over-int64"),
        pytest.param("-9223372036854775809", id="just-under-int64"),
    ],
)
@pytest.mark.parametrize("where", ["settings: {sessionTokenExpiration: N}", "customAttributes: {seats: N}"])
def test_a_huge_number_is_a_problem_on_its_line_not_a_crash(backend: str, number: str, where: str) -> None:
    text = "tenants:\n  - id: a\n    name: A\n    " + where.replace("N", number) + "\n"
    found = refused_fast(text)
    assert_problems(found, [(4, "too large to read (the limit is 64 bits)")])


def test_the_largest_64_bit_number_is_accepted() -> None:
    state = load("tenants:\n  - id: a\n    name: A\n    customAttributes: {seats: 9223372036854775807}\n")
    assert state.tenants[0].fields["customAttributes"] == {"seats": 2**63 - 1}


def test_anything_unforeseen_while_loading_refuses_the_revision_naming_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a loader bug")

    monkeypatch.setattr(loader, "_resolve_plain", broken)
    found = problems_of({"a.yaml": "tenants: []\n", "b.yaml": "tenants:\n  - id: x\n    name: X\n"})
    assert len(found) == 1
    assert found[0].file == "a.yaml" and "could not be loaded (RuntimeError: a loader bug)" in found[0].message
