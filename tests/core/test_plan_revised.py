"""A revision prepared from the one before (``plan_prepared.revise``) plans exactly as one prepared afresh.

The daemon prepares a new revision at its first plan from the previous revision's prepared form,
reusing the checks of the tenants whose ``fields`` the loader handed on unchanged (the very same
object). Whatever the edit (a value, a type, the keys a tenant writes, tenants added, deleted,
reordered or renamed), the plan must be the one of a fresh ``prepare`` and of the full comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import Plan, PlanPolicy, make_plan
from controller.core.plan_prepared import PreparedDesired, prepare, revise
from tests.core.test_plan import desired, optional_fields, tenant_ids, worlds

SESSION = {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"}
# five shapes: two batches (name only; name + attributes), and alone ones (a default written, settings)
BASE: list[dict[str, Any]] = [
    {"id": "a", "name": "A"},
    {"id": "b", "name": "B", "customAttributes": {"seats": 5, "plan": "pro"}},
    {"id": "c", "name": "C", "disabled": False},
    {"id": "d", "name": "D"},
    {"id": "e", "name": "E", "customAttributes": {"seats": 6, "plan": "free"}},
    {"id": "f", "name": "F", "settings": SESSION},
    {"id": "g", "name": "G", "selfProvisioningDomains": ["g.com"]},
    {"id": "h", "name": "H", "customAttributes": {"seats": True, "plan": "pro"}},
]


def edited(before: DesiredState, tenants: list[dict[str, Any]]) -> DesiredState:
    """The next revision as the loader hands it: a tenant written as before keeps its very ``fields`` object."""
    kept = {t.id: t.fields for t in before.tenants}
    out = []
    for line, spec in enumerate(tenants, start=1):
        fields = {k: v for k, v in spec.items() if k != "id"}
        same = kept.get(spec["id"])
        # written the same (``True == 1`` in Python, not in YAML): the loader reuses an item by its text
        kept_same = same is not None and repr(same) == repr(fields)
        out.append(DesiredTenant(spec["id"], same if kept_same else fields, "tenants.yaml", line * 3))
    return DesiredState(tuple(out))


def change(tenant_id: str, **fields: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda ts: [{**t, **fields} if t["id"] == tenant_id else t for t in ts]


def without_key(tenant_id: str, key: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda ts: [{k: v for k, v in t.items() if k != key} if t["id"] == tenant_id else t for t in ts]


EDITS: list[tuple[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]]] = [
    ("nothing", lambda ts: ts),
    ("rename-in-batch", change("d", name="Renamed")),
    ("rename-in-attribute-batch", change("b", name="Renamed")),
    ("attribute-value", change("e", customAttributes={"seats": 7, "plan": "free"})),
    ("attribute-int-to-bool", change("b", customAttributes={"seats": True, "plan": "pro"})),
    ("attribute-bool-to-int", change("h", customAttributes={"seats": 1, "plan": "pro"})),
    ("attribute-str-to-int", change("b", customAttributes={"seats": 5, "plan": 1})),
    ("attribute-int-to-float", change("e", customAttributes={"seats": 6.0, "plan": "free"})),
    ("attribute-str-to-none", change("b", customAttributes={"seats": 5, "plan": None})),
    ("attribute-keys-reordered", change("b", customAttributes={"plan": "pro", "seats": 5})),
    ("attribute-key-added", change("e", customAttributes={"seats": 6, "plan": "free", "tier": "x"})),
    ("key-added-joins-other-batch", change("a", customAttributes={"seats": 5, "plan": "pro"})),
    ("key-removed-leaves-batch", without_key("b", "customAttributes")),
    ("default-written-goes-alone", change("a", enforceSSO=False)),
    ("default-removed-joins-batch", without_key("c", "disabled")),
    ("settings-changed", change("f", settings={**SESSION, "sessionTokenExpiration": 20})),
    ("settings-added", change("d", settings=SESSION)),
    ("domains-changed", change("g", selfProvisioningDomains=["g.com", "h.com"])),
    ("unpreparable-value", change("a", customAttributes={"ns": [1]})),
    ("added", lambda ts: [*ts[:3], {"id": "n", "name": "N"}, *ts[3:]]),
    ("added-at-end-new-shape", lambda ts: [*ts, {"id": "n", "name": "N", "customAttributes": {"x": "y"}}]),
    ("deleted", lambda ts: [t for t in ts if t["id"] != "b"]),
    ("reordered", lambda ts: ts[::-1]),
    ("two-swapped", lambda ts: [ts[3], *ts[1:3], ts[0], *ts[4:]]),
    ("id-renamed", lambda ts: [{**t, "id": "z"} if t["id"] == "d" else t for t in ts]),
    ("ids-swapped", lambda ts: [{**t, "id": {"a": "d", "d": "a"}.get(t["id"], t["id"])} for t in ts]),
    ("all-renamed", lambda ts: [{**t, "name": f"{t['name']}!"} for t in ts]),
    ("emptied", lambda ts: []),
]


def lives(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Live worlds to plan the new revision against: still the old one, already the new one, drifted, retyped.

    Retyped: each attribute 1 is live as True and True as 1, equal in Python, different for Descope.
    """
    drifted = [{**t, "name": "Drifted"} if i % 2 else t for i, t in enumerate(after)]
    retyped = [
        {**t, "customAttributes": {k: _flipped(v) for k, v in attrs.items()}}
        if isinstance(attrs := t.get("customAttributes"), dict)
        else t
        for t in after
    ]
    return [
        [{k: v for k, v in t.items() if k != "settings"} for t in world]
        for world in (before, after, drifted, retyped, [])
    ]


def _flipped(value: Any) -> Any:
    if value is True:
        return 1
    return True if type(value) is int and value == 1 else value


def all_ways(state: DesiredState, prepared: PreparedDesired, live: list[dict[str, Any]]) -> tuple[Plan, Plan, Plan]:
    options: dict[str, Any] = {
        "inventory": {t["id"] for t in live[1:]},
        "inventory_known": True,
        "live_settings": {t["id"]: SESSION for t in live},
        "policy": PlanPolicy(prune=True, allow_deletes=100),
    }
    return (
        make_plan(state, live, prepared=prepared, **options),
        make_plan(state, live, prepared=prepare(state), **options),
        make_plan(state, live, **options),
    )


@pytest.mark.parametrize("edit", [pytest.param(e[1], id=e[0]) for e in EDITS])
def test_a_revised_revision_plans_as_a_freshly_prepared_one(
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> None:
    before = desired(*BASE)
    after_tenants = edit(BASE)
    after = edited(before, after_tenants)
    revised = revise(prepare(before), after)
    assert revised.desired is after
    for live in lives(BASE, after_tenants):
        from_revised, fresh, full = all_ways(after, revised, live)
        assert from_revised == fresh == full
        assert from_revised.live_digest == full.live_digest


def test_a_revision_reuses_the_checks_of_its_unchanged_tenants() -> None:
    """Only the edited tenant is prepared again: the first plan of a one-tenant commit costs an idle cycle's."""
    before = prepare(desired(*BASE))
    after = edited(before.desired, change("d", name="Renamed")(BASE))
    revised = revise(before, after)
    reused = [new is old for new, old in zip(revised.checks, before.checks, strict=True)]
    assert reused == [t.id != "d" for t in after.tenants]
    assert revised.by_id["d"] is after.tenants[3]


def test_revising_twice_follows_each_revision() -> None:
    """The daemon revises from the revision before, itself revised: edits do not leak between revisions."""
    first = desired(*BASE)
    second = edited(first, change("d", name="Second")(BASE))
    third = edited(second, change("e", customAttributes={"seats": 1, "plan": "x"})(BASE))  # "d" back as it was
    revised = revise(revise(prepare(first), second), third)
    for live in lives(BASE, [{**t, "name": "Second"} if t["id"] == "d" else t for t in BASE]):
        assert all_ways(third, revised, live)[0] == all_ways(third, prepare(third), live)[0]


@st.composite
def revisions(draw: st.DrawFn) -> tuple[DesiredState, DesiredState, list[dict[str, Any]], dict[str, Any]]:
    """Two revisions (tenants kept with their fields object, edited, dropped, added, maybe moved), and live."""
    before, live, live_settings = draw(worlds())
    tenants = []
    for tenant in before.tenants:
        fate = draw(st.sampled_from(["kept", "edited", "dropped"]))
        if fate == "kept":
            tenants.append(DesiredTenant(tenant.id, tenant.fields, tenant.file, 9))
        elif fate == "edited":
            tenants.append(DesiredTenant(tenant.id, {"name": f"E-{tenant.id}", **draw(optional_fields)}))
    taken = {t.id for t in tenants}
    for new_id in draw(st.lists(tenant_ids.filter(lambda i: i not in taken), unique=True, max_size=2)):
        tenants.append(DesiredTenant(new_id, {"name": f"N-{new_id}", **draw(optional_fields)}))
    if draw(st.booleans()):
        tenants = draw(st.permutations(tenants))
    return before, DesiredState(tuple(tenants)), live, live_settings


@settings(max_examples=300, deadline=None)
@given(revisions(), st.booleans())
def test_a_revised_revision_plans_as_the_full_comparison_on_generated_edits(
    world: tuple[DesiredState, DesiredState, list[dict[str, Any]], dict[str, Any]], known: bool
) -> None:
    before, after, live, live_settings = world
    options: dict[str, Any] = {
        "inventory": {t["id"] for t in live[::2]},
        "inventory_known": known,
        "live_settings": live_settings,
        "policy": PlanPolicy(prune=True, allow_deletes=100),
    }
    revised = revise(prepare(before), after)
    assert make_plan(after, live, prepared=revised, **options) == make_plan(after, live, **options)
