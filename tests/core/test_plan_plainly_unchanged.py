"""The planner's cheap test of an unchanged tenant (``plainly_unchanged``) never hides a change.

A revision's first plan (every one-shot ``plan`` and ``sync``) has no prepared checks, and skips the
full comparison of a tenant only when this test says the tenant is unchanged. A user must never see
a change or a parent conflict left out because of it: whenever it says "unchanged", the full
comparison finds nothing either; and it does say so for ordinary unchanged tenants, so the first plan
takes the cheap path.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.model import DesiredTenant
from controller.core.plan import _parent_conflict, plainly_unchanged, update_action
from tests.core.test_plan_prepared import CASES


def full_way_finds_nothing(tenant: DesiredTenant, current: dict[str, Any]) -> bool:
    return update_action(tenant, current, None) is None and _parent_conflict(tenant, current) is None


def tenant(**fields: Any) -> DesiredTenant:
    return DesiredTenant("acme", fields, "tenants.yaml", 1)


@pytest.mark.parametrize(("desired_tenants", "live"), [pytest.param(c[1], c[2], id=c[0]) for c in CASES])
def test_unchanged_only_when_the_full_comparison_finds_nothing(
    desired_tenants: list[dict[str, Any]], live: list[dict[str, Any]]
) -> None:
    live_by_id = {t["id"]: t for t in live}
    for wanted in desired_tenants:
        current = live_by_id.get(wanted["id"])
        if current is None:
            continue
        want = tenant(**{k: v for k, v in wanted.items() if k != "id"})
        if plainly_unchanged(want, current):
            assert full_way_finds_nothing(want, current)


@pytest.mark.parametrize(
    ("fields", "live"),
    [
        ({"name": "ACME"}, {"id": "acme", "name": "ACME", "createdTime": 1, "authType": "none"}),
        (
            {"name": "ACME", "selfProvisioningDomains": ["a.com"], "customAttributes": {"plan": "pro", "seats": 5}},
            {
                "name": "ACME",
                "selfProvisioningDomains": ["a.com"],
                "customAttributes": {"plan": "pro", "seats": 5, "x": 1},
            },
        ),
        ({"name": "ACME", "disabled": False, "defaultRoles": []}, {"name": "ACME"}),  # defaults Descope leaves out
        ({"name": "ACME", "parent": "holding"}, {"name": "ACME", "parent": "holding"}),
        ({"name": "ACME", "roles": [{"name": "r"}]}, {"name": "ACME"}),  # a sub-resource, not the record's
    ],
)
def test_an_ordinary_unchanged_tenant_takes_the_cheap_path(fields: dict[str, Any], live: dict[str, Any]) -> None:
    assert plainly_unchanged(tenant(**fields), live)
    assert full_way_finds_nothing(tenant(**fields), live)


@pytest.mark.parametrize(
    ("fields", "live"),
    [
        ({"customAttributes": {"seats": 1}}, {"customAttributes": {"seats": True}}),
        ({"customAttributes": {"on": True}}, {"customAttributes": {"on": 1}}),
        ({"customAttributes": {"ns": [1]}}, {"customAttributes": {"ns": [True]}}),
        ({"enforceSSO": False}, {"enforceSSO": 0}),
        ({"name": "1"}, {"name": 1}),
        ({"selfProvisioningDomains": ["a.com"]}, {}),
        ({"parent": "holding"}, {"parent": "other"}),
        ({"settings": {"enabled": True}}, {}),  # read apart from the record: the full way decides
    ],
)
def test_what_may_differ_goes_the_full_way(fields: dict[str, Any], live: dict[str, Any]) -> None:
    assert not plainly_unchanged(tenant(**fields), {"id": "acme", **live})


# live values whose equality in Python and in the planner disagree, or nearly: bools and numbers, lists, nulls
tricky = st.one_of(
    st.sampled_from([True, False, 0, 1, 1.0, 0.0, 50, 50.0, "", "a", "A", "1", "a.com", "A.com", None]),
    st.lists(st.sampled_from(["a.com", "b.com", "A.com", 1, True, 1.0]), max_size=3),
    st.dictionaries(st.sampled_from(["plan", "seats"]), st.sampled_from(["pro", 1, True, 1.0, None, ["x"], [1]])),
)
strings = st.sampled_from(["", "a", "A", "1", "none", "holding"])
string_sets = st.lists(st.sampled_from(["a.com", "b.com", "A.com", "x"]), max_size=3)
# desired values as the loader lets them through: each field's own type
FIELDS = {
    "name": strings,
    "roleInheritance": strings,
    "parent": strings,
    "selfProvisioningDomains": string_sets,
    "defaultRoles": string_sets,
    "federatedAppIds": string_sets,
    "enforceSSO": st.booleans(),
    "disabled": st.booleans(),
    "customAttributes": st.dictionaries(
        st.sampled_from(["plan", "seats"]), st.sampled_from(["pro", "", 1, 0, True, False, 1.5, None, ["x"], [1]])
    ),
}


@st.composite
def pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=4))
    fields = {name: draw(FIELDS[name]) for name in names}
    live: dict[str, Any] = {"id": "acme"}
    for name, value in fields.items():
        how = draw(st.sampled_from(["same", "other", "absent"]))
        if how == "same":
            live[name] = value
        elif how == "other":
            live[name] = draw(tricky)
    return fields, live


@settings(max_examples=500, deadline=None)
@given(pairs())
def test_unchanged_never_hides_a_difference_on_generated_values(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    fields, live = pair
    want = tenant(**fields)
    if plainly_unchanged(want, live):
        assert full_way_finds_nothing(want, live)
