"""The loader's fast path (yaml-rs, plain data) gives what the line-numbered load gives, on generated files.

Documents are written as text, valid and hostile: every tenant key, YAML 1.1 scalars that YAML 1.2 reads
otherwise (``yes``, ``010``, ``1e3``...) plain and quoted, look-alike Unicode, duplicate keys, anchors,
aliases and merge keys, deep nesting, flow and block styles, odd indentation and line endings. Whatever
the fast path accepts must be exactly what ``parse_tenant_files(fast=False)`` returns (same tenants, same
lines); whatever it doubts, and every problem, comes from that load itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core import loader_fast
from controller.core.loader import LoadLimits, parse_tenant_files
from controller.core.model import DesiredState, DesiredTenant
from controller.errors import Problem, TenantsFileInvalid
from tests.benchmarks.harness import tenants_yaml

# ---- scalars ---------------------------------------------------------------------------------------

_HOSTILE = [
    *("yes", "no", "on", "off", "Yes", "NO", "On", "OFF", "y", "n", "true", "False", "TRUE"),
    *("~", "null", "Null", "NULL", "", "<<", "="),
    *("0", "-0", "+1", "010", "08", "0o10", "0x1F", "0X1F", "-0x1F", "0b101", "1_000", "0_1", "12:30", "190:20:30"),
    *("1e3", "1E3", "1.0e5", "1.0e+5", "1.5", ".5", "+.5", "1.", ".inf", "-.Inf", ".nan", "0.", "3.14_15"),
    *("9223372036854775807", "9223372036854775808", "-9223372036854775809", "1" * 5000),
    *("2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5"),
    *("\u0430cme", "acme", "\uff46\uff55\uff4c\uff4c", "full", "a\u200bb", "ab", "\uff34enant", "paypal"),
    *("p\u0430ypal", "ß", "ss"),
    *("R&D", "&anchor", "*alias", "!tag", "!!str", "a #b", "a: b", "- x", "[x]", "{x: y}", "'q'", '"q"', "%x"),
    *("@x", "`x", "? x", "|", ">", "a\\b", "t-01", "Tenant 007", " lead", "trail ", "\t", "a\u0085b", "\ufeffx"),
    *("https://acme.example.com/x", "acme.com", "ACME.com", "1.2.3.4", "xn--bcher-kva.example", "a@b.com"),
    *("minutes", "hours", "weeks", "none", "userOnly", "email", "Tenant Admin", "tenant admin"),
]
_SAFE_WORD = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
_NAME = st.one_of(
    st.from_regex(r"[A-Z][a-z]{1,8}( [A-Za-z0-9&.-]{1,8})?", fullmatch=True),
    st.sampled_from(["Müller GmbH", "ACME", "Tenant 007", "R&D", "東京", "Ελλάδα", "\uff34enant", "\u0430cme"]),
)


@st.composite
def scalar(draw: st.DrawFn, valid: st.SearchStrategy[str], hostile: int, quoted: bool = True) -> str:
    """A scalar as YAML text: a ``valid`` one or, one time in ``hostile``, anything; plain or (a string) quoted."""
    if hostile and draw(st.integers(0, hostile - 1)) == 0:
        text = draw(st.one_of(st.sampled_from(_HOSTILE), st.text(max_size=6)))
    else:
        text = draw(valid)
    style = draw(st.sampled_from(["plain", "plain", "single", "double"])) if quoted or hostile else "plain"
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
    return text.replace("\n", " ")


# ---- values, by the shape each key takes --------------------------------------------------------------

_BOOL = st.sampled_from(["true", "false", "True", "yes", "no", "on", "off"])
_NOT_QUOTED = frozenset(["enforceSSO", "disabled", "enabled", "JITDisabled", "lowercase", "uppercase", "default"])
"""Keys whose valid values are booleans or numbers: written plain (a quoted one is a string)."""
_VALID: dict[str, st.SearchStrategy[str]] = {
    "name": _NAME,
    "parent": st.sampled_from(["t0", "t1", "x9"]),
    "roleInheritance": st.sampled_from(["none", "userOnly"]),
    "enforceSSO": _BOOL,
    "disabled": _BOOL,
    "selfProvisioningDomains": st.from_regex(r"[a-z]{1,6}\.(example\.com|acme\.io)", fullmatch=True),
    "enforceSSOExclusions": _SAFE_WORD,
    "federatedAppIds": _SAFE_WORD,
    "defaultRoles": st.sampled_from(["Tenant Admin", "viewer", "editor"]),
    "customAttributes": st.one_of(_SAFE_WORD, _NAME, st.integers(-(2**40), 2**40).map(str)),
}
_KEYS = {
    **dict.fromkeys(["name", "parent", "roleInheritance", "enforceSSO", "disabled"], "scalar"),
    **dict.fromkeys(["selfProvisioningDomains", "enforceSSOExclusions", "federatedAppIds", "defaultRoles"], "list"),
    "customAttributes": "map",
    "settings": "settings",
    "roles": "roles",
    "sso": "sso",
    "passwordPolicy": "policy",
}
_SETTINGS = {
    "enabled": _BOOL,
    "sessionTokenExpiration": st.integers(1, 10**6).map(str),
    "sessionTokenExpirationUnit": st.sampled_from(["minutes", "hours", "days"]),
    "inactivityTime": st.integers(1, 99).map(str),
    "JITDisabled": _BOOL,
}
_POLICY = {
    "minLength": st.integers(1, 128).map(str),
    "lowercase": _BOOL,
    "uppercase": _BOOL,
    "nonAlphanumeric": _BOOL,
    "lockAttempts": st.integers(0, 100).map(str),
}


@st.composite
def flow_or_block(draw: st.DrawFn, entries: Sequence[tuple[str | None, str]], indent: int, is_list: bool) -> str:
    """A list (keys None) or mapping as the text after ``key:``: flow, or block lines at ``indent``."""
    if draw(st.booleans()) and all("\n" not in v for _, v in entries):
        inner = ", ".join(v.lstrip() if k is None else f"{k}: {v.lstrip()}" for k, v in entries)
        return f" [{inner}]" if is_list else f" {{{inner}}}"
    if not entries:
        return " []" if is_list else " {}"
    pad = " " * indent
    lines = []
    for k, v in entries:
        if k is not None:
            lines.append(f"{pad}{k}:{v}")
        elif v.startswith("\n"):  # a block mapping as a list item: its first key on the dash's line
            first, *rest = v[1:].split("\n")
            lines.append(f"{pad}- {first.lstrip()}")
            lines += [f"{pad}  {line[indent + 2 :]}" if line.startswith(" ") else line for line in rest]
        else:
            lines.append(f"{pad}- {v.lstrip()}")
    return "\n" + "\n".join(lines)


@st.composite
def value_of(draw: st.DrawFn, key: str, indent: int, hostile: int) -> str:
    """The text after ``key:`` for a value of tenant key ``key``."""
    shape = _KEYS[key]
    if shape == "scalar":
        return " " + draw(scalar(_VALID[key], hostile, key not in _NOT_QUOTED))
    if shape == "list":
        items = draw(st.lists(scalar(_VALID[key], hostile), max_size=3, unique=True))
        return draw(flow_or_block([(None, " " + i) for i in items], indent, True))
    if shape == "map":
        pairs = draw(st.lists(st.tuples(scalar(_SAFE_WORD, hostile), scalar(_VALID[key], hostile)), max_size=3))
        return draw(flow_or_block([(k, " " + v) for k, v in pairs], indent, False))
    if shape in ("settings", "policy"):
        choices = _SETTINGS if shape == "settings" else _POLICY
        names = draw(st.lists(st.sampled_from(sorted(choices)), max_size=3, unique=True))
        pairs = [(n, " " + draw(scalar(choices[n], hostile, n.endswith("Unit")))) for n in names]
        return draw(flow_or_block(pairs, indent, False))
    if shape == "roles":
        roles = []
        for name in draw(st.lists(st.sampled_from(["Tenant Admin", "viewer", "yes"]), max_size=2, unique=True)):
            role = [("name", " " + draw(scalar(st.just(name), hostile)))]
            if draw(st.booleans()):
                role.append(("permissionNames", draw(value_of("federatedAppIds", indent + 4, hostile))))
            if draw(st.booleans()):
                role.append(("default", " " + draw(scalar(_BOOL, hostile, False))))
            roles.append((None, draw(flow_or_block(role, indent + 2, False))))
        return draw(flow_or_block(roles, indent, True))
    assert shape == "sso"
    configs = []
    for sso_id in draw(st.lists(st.sampled_from(["okta", "no", "azure"]), max_size=2, unique=True)):
        oidc = [
            ("name", " " + draw(scalar(st.sampled_from(["Okta", "on", "Azure AD"]), hostile))),
            ("clientId", " " + draw(scalar(st.sampled_from(["abc", "0x1F", "client-1"]), hostile))),
            ("clientSecret", " " + draw(st.sampled_from(["{env: OKTA_SECRET}", "{file: /run/s}", "literal"]))),
            ("authUrl", " " + draw(scalar(st.just("https://idp.example.com/auth"), hostile))),
        ]
        if draw(st.booleans()):
            oidc.append(("defaultSSORoles", draw(value_of("defaultRoles", indent + 6, hostile))))
        config = [("ssoId", " " + draw(scalar(st.just(sso_id), hostile)))]
        if draw(st.booleans()):
            config.append(("domains", draw(value_of("selfProvisioningDomains", indent + 4, hostile))))
        config.append(("oidc", draw(flow_or_block(oidc, indent + 4, False))))
        configs.append((None, draw(flow_or_block(config, indent + 2, False))))
    return draw(flow_or_block(configs, indent, True))


@st.composite
def tenant_lines(draw: st.DrawFn, index: int, indent: int, hostile: int) -> list[str]:
    """One tenant item of the ``tenants:`` list, as lines."""
    heads = ["- ", "- ", "- ", "-   "] + (["-\n" + " " * (indent + 2), "- &base "] if hostile else [])
    head = " " * indent + draw(st.sampled_from(heads))
    column = len(head.rpartition("\n")[2]) if "&" not in head else indent + 2
    named = st.builds(lambda name: f"{name} {index}", _NAME)
    entries = [f"id: {draw(scalar(st.just(f't{index}'), hostile))}", f"name: {draw(scalar(named, hostile))}"]
    for key in draw(st.lists(st.sampled_from(sorted(_KEYS)), max_size=4, unique=True)):
        if key != "name":
            entries.append(f"{key}:{draw(value_of(key, column + 2, hostile))}")
    if hostile and draw(st.integers(0, 15)) == 0:  # a duplicate, an unknown or an ambiguous key
        entries.append(draw(st.sampled_from(["id: dup", "name: again", "nmae: typo", "on: x", "1: x", "<<: *base"])))
    if hostile and draw(st.integers(0, 20)) == 0:  # deep nesting
        depth = draw(st.integers(3, 40))
        entries.append("customAttributes: " + "[" * depth + "x" + "]" * depth)
    order = draw(st.permutations(range(len(entries))))
    entries = [entries[i] for i in order]
    lines = (head + entries[0]).split("\n")
    lines += [" " * column + entry for entry in entries[1:]]
    return "\n".join(lines).split("\n")


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A tenants.yaml as text: valid, or with one scalar in ``hostile`` (and some structure) anything."""
    hostile = draw(st.sampled_from([0, 0, 40, 10]))
    indent = draw(st.sampled_from([0, 2, 2, 4]))
    lines = [*draw(st.sampled_from([[], ["# tenants"], ["", "# managed by GitOps", ""]])), "tenants:"]
    for index in range(draw(st.sampled_from([0, 1, 2, 2, 3, 4]))):
        lines += draw(tenant_lines(index, indent, hostile))
        if hostile and draw(st.integers(0, 10)) == 0:
            lines.append(draw(st.sampled_from(["", "  # a comment", "---", "...", "- *base", "  - << : x"])))
    if hostile and draw(st.integers(0, 20)) == 0:
        lines.append(draw(st.sampled_from(["other: 1", "tenants: []", "tenants:"])))
    text = "\n".join(lines) + "\n"
    if hostile:
        text = text.replace("\n", draw(st.sampled_from(["\n"] * 8 + ["\r\n", "\r"])))
        if draw(st.integers(0, 30)) == 0:
            text = "\ufeff" + text
        if draw(st.integers(0, 30)) == 0:
            text = text.replace("  ", "\t", 1)
    return text


def outcome(files: dict[str, bytes], *, fast: bool) -> DesiredState | list[Problem]:
    try:
        return parse_tenant_files(files, fast=fast)
    except TenantsFileInvalid as exc:
        return exc.problems


# ---- properties ----------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents(), st.sampled_from([None, "extra.yaml"]))
def test_fast_path_gives_what_the_line_numbered_load_gives(text: str, second: str | None) -> None:
    files = {"tenants.yaml": text.encode()}
    if second is not None:
        files[second] = b"tenants:\n  - id: x9\n    name: Other\n"
    assert outcome(files, fast=True) == outcome(files, fast=False)


@st.composite
def pooled_tenants(draw: st.DrawFn) -> str:
    """Tenants whose ids and names come from small pools (duplicates, case variants, non-ASCII), keys in any order."""
    lines = ["tenants:"]
    for index in range(draw(st.integers(1, 7))):
        # mostly unique, so that most files are valid; now and then one of a pool that collides
        pooled = draw(st.integers(0, 3)) == 0
        tenant_id = draw(st.sampled_from(["a", "b", "ü1", "a\u200b"])) if pooled else f"t{index}"
        pooled = draw(st.integers(0, 3)) == 0
        name = draw(st.sampled_from(["Acme", "ACME", "Straße", "STRASSE", "東京"])) if pooled else f"N {index}"
        entries = [f"id: {tenant_id}", f"name: {name}"]
        if draw(st.booleans()):
            entries.append(f"parent: {draw(st.sampled_from(['a', 'b', 'zz']))}")
        if draw(st.booleans()):
            entries.append(f"selfProvisioningDomains: [{draw(st.sampled_from(['a.com', 'A.com, a.COM', 'x.io']))}]")
        if draw(st.booleans()):
            entries.append(f"customAttributes: {{plan: {draw(st.sampled_from(['pro', 'free', '1', 'on']))}}}")
        entries = draw(st.permutations(entries))
        lines += ["  - " + entries[0], *("    " + entry for entry in entries[1:])]
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(documents(), pooled_tenants()), st.integers(1, 3))
def test_any_slicing_gives_what_the_line_numbered_load_gives(text: str, chunk: int) -> None:
    """Slices of one to three tenants: several key orders per slice, duplicates within and across slices."""
    files = {"tenants.yaml": text.encode()}
    with patch.object(loader_fast, "_CHUNK", chunk):
        assert outcome(files, fast=True) == outcome(files, fast=False)


_TOKEN = st.text(alphabet="0123456789+-._:eExXoObBaAfFyYnNtT~<=#,'\"[]{}!&*|>%@?\\ ", min_size=1, max_size=10)


@settings(max_examples=500, deadline=None)
@given(_TOKEN, st.sampled_from(["v: {}", "v: [{}]", "v: {{k: {}}}", "v:\n        - {}", "{}: v"]))
def test_any_scalar_in_any_place_reads_the_same_on_both_paths(token: str, place: str) -> None:
    """Grammar and meaning: ``_0`` (a number to yaml-rs), ``[:x]`` (an error in YAML 1.1), ``010``..."""
    text = "tenants:\n  - id: a\n    name: A\n    customAttributes:\n      " + place.format(token) + "\n"
    files = {"tenants.yaml": text.encode()}
    assert outcome(files, fast=True) == outcome(files, fast=False)


_PLAIN_TEXT = st.from_regex(r"[A-Za-z][A-Za-z0-9 .-]{0,12}[A-Za-z]", fullmatch=True)


@st.composite
def plain_tenants(draw: st.DrawFn) -> list[DesiredTenant]:
    """Valid tenants with the common keys (what nearly every real file holds)."""
    tenants = []
    for index in range(draw(st.integers(1, 5))):
        fields: dict[str, Any] = {"name": f"{draw(_PLAIN_TEXT)} {index}"}
        if draw(st.booleans()):
            fields["selfProvisioningDomains"] = [f"t{index}.example.com"]
        if draw(st.booleans()):
            fields["customAttributes"] = {"plan": draw(_PLAIN_TEXT), "seats": draw(st.integers(1, 10**6))}
        if draw(st.booleans()):
            fields["defaultRoles"] = draw(st.lists(_PLAIN_TEXT, max_size=2))
        if draw(st.booleans()):
            fields["disabled"] = draw(st.booleans())
        if draw(st.booleans()):
            fields["settings"] = {"sessionTokenExpiration": draw(st.integers(1, 99)), "enabled": True}
        tenants.append(DesiredTenant(id=f"t{index}", fields=fields))
    return tenants


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


@settings(max_examples=60, deadline=None)
@given(plain_tenants())
def test_plainly_written_valid_files_take_the_fast_path(tenants: list[DesiredTenant]) -> None:
    text = "tenants:\n" + "".join(
        f"  - id: {t.id}\n" + "".join(f"    {k}: {_yaml(v)}\n" for k, v in t.fields.items()) for t in tenants
    )
    files = {"tenants.yaml": text.encode()}
    fast = loader_fast.fast_state(files, LoadLimits(), None)
    assert fast is not None, "the fast path doubted a plainly written valid file"
    assert fast == parse_tenant_files(files, fast=False)
    assert [t.fields for t in fast.tenants] == [t.fields for t in tenants]


def test_the_benchmarks_file_takes_the_fast_path_with_each_tenants_line() -> None:
    files = {"tenants.yaml": tenants_yaml(range(50), settings=True)}
    fast = loader_fast.fast_state(files, LoadLimits(), None)
    assert fast is not None
    assert [t.line for t in fast.tenants] == [2 + 5 * i for i in range(50)]
    assert fast == parse_tenant_files(files, fast=False)


def test_a_file_parsed_in_slices_keeps_every_tenants_line_and_refuses_a_split_scalar() -> None:
    """yaml-rs reads a big file a slice of items at a time; an item start inside a quoted scalar is doubted."""
    count = loader_fast._CHUNK * 2 + 7
    files = {"tenants.yaml": tenants_yaml(range(count))}
    fast = loader_fast.fast_state(files, LoadLimits(), None)
    assert fast is not None
    assert [t.line for t in fast.tenants] == [2 + 4 * i for i in range(count)]
    assert fast == parse_tenant_files(files, fast=False)
    tricky = tenants_yaml(range(loader_fast._CHUNK - 1)) + b'  - id: a\n    name: "A\n  - id: b\n    name: B"\n'
    assert loader_fast.fast_state({"tenants.yaml": tricky}, LoadLimits(), None) is None
    assert outcome({"tenants.yaml": tricky}, fast=True) == outcome({"tenants.yaml": tricky}, fast=False)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("tenants:\n" + "- " * 100_000 + "x\n", id="block-sequences"),
        pytest.param(
            "tenants:\n  - id: a\n" + "".join(" " * i + "b:\n" for i in range(4, 20_000)), id="indented-mappings"
        ),
    ],
)
def test_deep_block_nesting_never_reaches_yaml_rs(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """yaml-rs recurses over block nesting: a hostile file would overflow the stack (a crash, not an error)."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("yaml-rs was given a deeply nested file")

    import yaml_rs

    monkeypatch.setattr(yaml_rs, "loads", refuse)
    assert loader_fast.fast_state({"tenants.yaml": text.encode()}, LoadLimits(), None) is None
