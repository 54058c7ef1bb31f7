"""Table-driven tests of the pure export: live tenants (+ settings) → tenants.yaml text.

Every case also proves the round trip the command promises: the text is accepted by the loader, and
``make_plan`` of it against the same live data plans nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.export import Export, ExportOptions, Skipped, build_export, file_names
from controller.core.loader import parse_tenant_files
from controller.core.plan import make_plan
from controller.descope_api import AttributeDefinition

OPTIONS = ExportOptions(project_id="P2test", exported_at="2026-01-02T03:04:05Z", version="9.9")
HEADER = (
    "# Exported by descope-gitops 9.9 from Descope project P2test at 2026-01-02T03:04:05Z: {n} tenants.\n"
    "# Only the keys written here are managed; values equal to Descope's defaults are left out.\n"
    "# `descope-gitops plan` on this file shows no changes until tenants.yaml or Descope change.\n"
)
DEFAULT_SETTINGS = {
    "tenantId": "x",
    "enabled": False,
    "sessionTokenExpiration": 10,
    "sessionTokenExpirationUnit": "minutes",
    "refreshTokenExpiration": 4,
    "refreshTokenExpirationUnit": "weeks",
    "stepupTokenExpiration": 10,
    "stepupTokenExpirationUnit": "minutes",
    "enableInactivity": False,
    "inactivityTime": 12,
    "inactivityTimeUnit": "hours",
    "JITDisabled": False,
    "authType": "none",
    "domains": [],
    "ssoSetupSuiteSettings": {
        "enabled": False,
        "styleId": "",
        "disabledFeatures": {"saml": False, "oidc": False, "scim": False, "ssoDomains": False, "groupMapping": False},
    },
}


def export(
    live: list[dict[str, Any]], settings: dict[str, dict[str, Any]] | None = None, **options: Any
) -> tuple[Export, str]:
    opts = ExportOptions(**{**OPTIONS.__dict__, **options})
    result = build_export(live, opts, settings_by_id=settings)
    assert_round_trips(result, live, settings, opts)
    return result, "".join(result.files.values())


def assert_round_trips(
    result: Export, live: list[dict[str, Any]], settings: dict[str, Any] | None, opts: ExportOptions
) -> None:
    desired = parse_tenant_files({n: t.encode() for n, t in result.files.items()}, attributes=opts.attributes)
    plan = make_plan(desired, live, live_settings=settings)
    assert plan.actions == () and plan.conflicts == (), plan


def body(text: str) -> str:
    """The text after the header, from ``tenants:`` on."""
    return text[text.index("tenants:") :]


# -- what is written --------------------------------------------------------------------------------------

WRITTEN = [
    pytest.param([], None, "tenants: []\n", id="empty-project"),
    pytest.param(
        [{"id": "b", "name": "B"}, {"id": "a", "name": "A"}],
        None,
        "tenants:\n  - id: a\n    name: A\n  - id: b\n    name: B\n",
        id="sorted-by-id",
    ),
    pytest.param(
        [
            {
                "id": "acme",
                "name": "ACME",
                "disabled": False,
                "enforceSSO": False,
                "parent": "",
                "roleInheritance": "",
                "selfProvisioningDomains": [],
                "customAttributes": {},
                "defaultRoles": [],
                "createdTime": 1700000000,
                "successors": [],
            }
        ],
        None,
        "tenants:\n  - id: acme\n    name: ACME\n",
        id="defaults-omitted",
    ),
    pytest.param(
        [
            {
                "id": "acme",
                "name": "ACME",
                "selfProvisioningDomains": ["b.io", "ACME.com"],
                "customAttributes": {"seats": 50.0, "plan": "pro", "tags": ["z", "a"], "gone": None, "ok": True},
                "enforceSSO": True,
                "enforceSSOExclusions": ["u2", "u1"],
                "disabled": True,
                "federatedAppIds": ["app"],
                "roleInheritance": "userOnly",
                "defaultRoles": ["viewer", "admin"],
            },
        ],
        None,
        "tenants:\n  - id: acme\n    name: ACME\n    selfProvisioningDomains: [ACME.com, b.io]\n"
        "    customAttributes:\n      ok: true\n      plan: pro\n      seats: 50\n      tags: [a, z]\n"
        "    enforceSSO: true\n    enforceSSOExclusions: [u1, u2]\n    disabled: true\n    federatedAppIds: [app]\n"
        "    roleInheritance: userOnly\n    defaultRoles: [admin, viewer]\n",
        id="every-field-sorted-descope-keys",
    ),
    pytest.param(
        [{"id": "kid", "name": "Kid", "parent": "acme"}, {"id": "acme", "name": "ACME", "successors": ["kid"]}],
        None,
        "tenants:\n  - id: acme\n    name: ACME\n  - id: kid\n    name: Kid\n    parent: acme\n",
        id="parent",
    ),
    pytest.param(
        [{"id": "acme", "name": "ACME"}],
        {"acme": {**DEFAULT_SETTINGS, "enabled": True, "sessionTokenExpiration": 30.0, "inactivityTime": 12}},
        "tenants:\n  - id: acme\n    name: ACME\n    settings:\n      enabled: true\n"
        "      sessionTokenExpiration: 30\n",
        id="settings-only-non-default",
    ),
    pytest.param(
        [{"id": "acme", "name": "ACME"}],
        {"acme": DEFAULT_SETTINGS},
        "tenants:\n  - id: acme\n    name: ACME\n",
        id="settings-all-default",
    ),
    pytest.param(
        [
            {"id": "yes", "name": "on"},
            {"id": "010", "name": "2024-01-01"},
            {"id": "t1", "name": "a: b # c", "customAttributes": {"null": "~", "x": "1.5", "y": "0x1F"}},
        ],
        None,
        'tenants:\n  - id: "010"\n    name: "2024-01-01"\n  - id: t1\n    name: "a: b # c"\n'
        '    customAttributes:\n      "null": "~"\n      x: "1.5"\n      "y": "0x1F"\n  - id: "yes"\n    name: "on"\n',
        id="yaml-1.1-lookalikes-quoted",
    ),
    pytest.param(
        [{"id": "jp", "name": "株式会社テスト"}, {"id": "nb", "name": "A\u00a0B"}],
        None,
        'tenants:\n  - id: jp\n    name: 株式会社テスト\n  - id: nb\n    name: "A\\xa0B"\n',
        id="unicode-plain-invisible-escaped",
    ),
]


@pytest.mark.parametrize(("live", "settings", "expected"), WRITTEN)
def test_written(live: list[dict[str, Any]], settings: dict[str, Any] | None, expected: str) -> None:
    result, text = export(live, settings)
    assert text == HEADER.format(n=len(live)) + expected
    assert not result.partial and result.tenants == len(live)


def test_without_settings_a_settings_map_is_not_written() -> None:
    live = [{"id": "acme", "name": "ACME"}]
    _result, text = export(live, None)
    assert "settings" not in text


# -- what cannot round-trip is named --------------------------------------------------------------------

NAMED = [
    pytest.param(
        {"id": "acme", "name": "ACME", "authType": "saml", "domains": ["sso.acme.com"]},
        None,
        [
            "# not exported: authType: tenants.yaml cannot manage it; Descope has authType: saml",
            "# not exported: domains: tenants.yaml cannot manage it; Descope has domains: [sso.acme.com]",
        ],
        {"authType", "domains"},
        id="descope-only-fields",
    ),
    pytest.param(
        {"id": "acme", "name": "ACME", "futureThing": {"a": 1}, "authType": "none", "createdTime": 5},
        None,
        ["# not exported: futureThing: tenants.yaml cannot manage it; Descope has futureThing: {...}"],
        {"futureThing"},
        id="unknown-field-named-empty-ones-not",
    ),
    pytest.param(
        {"id": "acme", "name": "ACME"},
        {"acme": {**DEFAULT_SETTINGS, "ssoSetupSuiteSettings": {"enabled": True}, "inactivityTime": 0}},
        [
            "# not exported: settings.ssoSetupSuiteSettings: tenants.yaml cannot manage it",
            "# not exported, the loader refuses settings.inactivityTime: settings.inactivityTime must be a positive",
            "# inactivityTime: 0",
        ],
        {"settings.ssoSetupSuiteSettings", "settings.inactivityTime"},
        id="settings-the-loader-refuses-or-cannot-hold",
    ),
    pytest.param(
        {"id": "acme", "name": "ACME", "selfProvisioningDomains": ["not_a_domain"]},
        None,
        [
            "# not exported, the loader refuses selfProvisioningDomains: selfProvisioningDomains: 'not_a_domain'",
            "# selfProvisioningDomains: [not_a_domain]",
        ],
        {"selfProvisioningDomains"},
        id="refused-value-commented",
    ),
    pytest.param(
        {"id": "acme", "name": "ACME", "roleInheritance": "everything"},
        None,
        ["# not exported, the loader refuses roleInheritance:", "# roleInheritance: everything"],
        {"roleInheritance"},
        id="unknown-choice",
    ),
]


@pytest.mark.parametrize(("tenant", "settings", "lines", "fields"), NAMED)
def test_what_cannot_round_trip_is_named_in_a_comment(
    tenant: dict[str, Any], settings: dict[str, Any] | None, lines: list[str], fields: set[str]
) -> None:
    result, text = export([tenant], settings)
    for line in lines:
        assert line in text
    assert {u.field for u in result.unexported} == fields
    assert not result.partial and result.tenants == 1


def test_an_attribute_the_catalogue_refuses_is_commented_alone() -> None:
    catalogue = {"seats": AttributeDefinition("seats", "number")}
    live = [{"id": "acme", "name": "ACME", "customAttributes": {"seats": 5, "tier": "gold"}}]
    result, text = export(live, None, attributes=catalogue)
    assert "      seats: 5\n      # not exported, the loader refuses customAttributes.tier:" in text
    assert "      # tier: gold\n" in text
    assert [u.field for u in result.unexported] == ["customAttributes.tier"]


def test_unreadable_settings_are_named_and_make_the_export_partial() -> None:
    live = [{"id": "acme", "name": "ACME"}]
    result = build_export(live, OPTIONS, settings_by_id={}, unreadable_settings={"acme": "HTTP 503"})
    assert "# not exported: settings: not read from Descope: HTTP 503" in result.files["tenants.yaml"]
    assert result.partial


# -- ids and names the loader refuses: the tenant is a comment, the export partial ------------------------

HOSTILE = [
    pytest.param({"id": "bad id", "name": "Bad"}, "contains whitespace or control characters", id="space-in-id"),
    pytest.param({"id": "x\n  - id: injected", "name": "X"}, "contains whitespace", id="newline-in-id"),
    pytest.param({"id": "ok", "name": "   "}, "name is empty", id="blank-name"),
    pytest.param({"id": "ok", "name": "n" * 300}, "over the limit", id="long-name"),
    pytest.param({"id": "ok", "name": "acme"}, "duplicate tenant name 'acme'", id="name-differs-only-in-case"),
    pytest.param({"id": "ok", "name": "\u0410CME"}, "ACME", id="cyrillic-lookalike-name"),
    pytest.param({"id": "ok", "name": "Zero\u200bWidth"}, "", id="zero-width-in-name"),
]


@pytest.mark.parametrize(("hostile", "reason"), HOSTILE)
def test_a_refused_id_or_name_is_exported_as_a_comment(hostile: dict[str, Any], reason: str) -> None:
    live = [{"id": "acme", "name": "ACME"}, {**hostile, "customAttributes": {"k": "v"}}, {"id": "zz", "name": "Z"}]
    if hostile["name"] == "Zero\u200bWidth":
        live.append({"id": "aa", "name": "ZeroWidth"})  # the invisible one looks like this earlier one
    result, text = export(live)
    assert result.partial
    assert [s.tenant_id for s in result.skipped] == [hostile["id"]]
    assert reason in result.skipped[0].reason
    assert "  # NOT MANAGED: tenant " in text
    # every line of the hostile tenant is a comment, and no value escapes its line
    for line in text.splitlines():
        assert line.startswith(("#", "tenants:", "  - id:", "    ", "  # ")), line
    assert "injected" not in "".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "\u200b" not in text and "\n  - id: injected" not in text
    assert result.tenants == len(live) - 1


def test_children_of_a_refused_tenant_keep_their_other_fields_and_name_the_parent() -> None:
    live = [{"id": "bad id", "name": "Bad"}, {"id": "kid", "name": "Kid", "parent": "bad id", "disabled": True}]
    result, text = export(live)
    assert result.skipped == (Skipped("bad id", result.skipped[0].reason),)
    assert "    # not exported, the loader refuses parent: parent 'bad id' is not declared" in text
    assert "    disabled: true\n" in text and "    # parent: bad id\n" in text
    assert result.tenants == 1 and [u.field for u in result.unexported] == ["parent"]


# -- files --------------------------------------------------------------------------------------------------

TREE = [
    {"id": "b-root", "name": "B"},
    {"id": "a-root", "name": "A"},
    {"id": "a-kid2", "name": "AK2", "parent": "a-root"},
    {"id": "a-kid1", "name": "AK1", "parent": "a-root"},
    {"id": "a-grandkid", "name": "AG", "parent": "a-kid2"},
]


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("none", {"out.yaml": ["a-grandkid", "a-kid1", "a-kid2", "a-root", "b-root"]}),
        ("tree", {"a-root.yaml": ["a-root", "a-kid1", "a-kid2", "a-grandkid"], "b-root.yaml": ["b-root"]}),
        ("tenant", {f"{t}.yaml": [t] for t in sorted(str(t["id"]) for t in TREE)}),
    ],
)
def test_split(split: str, expected: dict[str, list[str]]) -> None:
    result, _text = export(TREE, None, split=split, file_name="out.yaml")
    assert {
        name: [ln.split("id: ")[1] for ln in text.splitlines() if ln.startswith("  - id: ")]
        for name, text in result.files.items()
    } == expected


def test_file_names_are_safe_and_distinct() -> None:
    names = file_names(["acme", "Acme", "../etc/passwd", ".hidden", "a/b", "x" * 200])
    assert names["Acme"] == "Acme.yaml"  # the first in sorted order keeps its id
    assert names["acme"].startswith("acme-")  # a case-insensitive file system would mix the two up
    assert len({n.lower() for n in names.values()}) == len(names)
    for name in names.values():
        assert "/" not in name and not name.startswith(".") and name.endswith(".yaml") and len(name) < 100


def test_a_file_of_refused_tenants_only_is_still_valid() -> None:
    result, _text = export([{"id": "bad id", "name": "B"}, {"id": "ok", "name": "OK"}], None, split="tenant")
    assert result.files[file_names(["bad id"])["bad id"]].count("\ntenants: []\n") == 1
    assert result.files["ok.yaml"].count("\ntenants:\n  - id: ok\n") == 1
