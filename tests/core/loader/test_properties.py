"""Property tests: generated valid tenants load back as written, and plain scalars resolve as PyYAML's."""

from __future__ import annotations

import math
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.confusables import lookalike_key, mixed_script_words
from controller.core.model import SETTINGS_FIELDS, TENANT_FIELDS, TIME_UNITS
from tests.core.loader.support import load, tenant

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
        return  # refused as non-finite by the attribute check (test_schema.py, attributes-bad-values)
    state = load(tenant(f"    customAttributes:\n      v: {plain}\n"))
    got = state.tenants[0].fields["customAttributes"]["v"]
    assert got == expected and type(got) is type(expected)
