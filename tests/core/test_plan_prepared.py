"""The daemon's prepared plan (``core.plan_prepared``) decides exactly what the full comparison decides.

An idle daemon cycle plans with checks prepared once per revision; a one-shot command compares every
tenant the full way. A user must never see the two disagree, so every case plans both ways and
compares the whole Plan (actions with their changes and causes, conflicts, counts, drift).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.model import DesiredState
from controller.core.plan import ActionKind, Plan, PlanPolicy, make_plan
from controller.core.plan_prepared import prepare
from tests.core.test_plan import desired, worlds

ACME = {"id": "acme", "name": "ACME"}
HOLDING = {"id": "holding", "name": "Holding"}
SESSION = {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"}
# tenants of three shapes (checked in two batches and one alone), interleaved in the file
MIXED: list[dict[str, Any]] = [
    {"id": "a", "name": "A"},
    {"id": "b", "name": "B", "customAttributes": {"seats": 5}},
    {"id": "c", "name": "C", "disabled": False},
    {"id": "d", "name": "D"},
    {"id": "e", "name": "E", "customAttributes": {"seats": 6}},
]


def both_ways(state: DesiredState, live: list[dict[str, Any]], **options: Any) -> tuple[Plan, Plan]:
    plain = make_plan(state, live, **options)
    prepared = prepare(state)
    cached = make_plan(state, live, prepared=prepared, **options)
    again = make_plan(state, live, prepared=prepared, **options)  # reused, as the daemon's next cycle does
    assert again == cached
    return plain, cached


CASES = [
    # (id, desired tenants, live tenants, make_plan options)
    ("unchanged", [ACME], [{**ACME, "createdTime": 1, "authType": "none"}], {}),
    ("create", [ACME, {"id": "new", "name": "New"}], [ACME], {}),
    ("create-name-taken", [{"id": "b", "name": "acme"}], [ACME], {}),
    ("create-child-of-missing-parent", [{"id": "c", "name": "C", "parent": "nowhere"}], [], {}),
    ("create-parent-first", [{"id": "c", "name": "C", "parent": "p"}, {"id": "p", "name": "P"}], [], {}),
    ("rename", [{**ACME, "name": "ACME Corp"}], [ACME], {}),
    (
        "domains-same",
        [{**ACME, "selfProvisioningDomains": ["a.com"]}],
        [{**ACME, "selfProvisioningDomains": ["a.com"]}],
        {},
    ),
    (
        "domains-case-and-order",
        [{**ACME, "selfProvisioningDomains": ["B.com", "a.com"]}],
        [{**ACME, "selfProvisioningDomains": ["a.com", "b.com"]}],
        {},
    ),
    (
        "domains-added",
        [{**ACME, "selfProvisioningDomains": ["a.com", "b.com"]}],
        [{**ACME, "selfProvisioningDomains": ["a.com"]}],
        {},
    ),
    ("domains-missing-live", [{**ACME, "selfProvisioningDomains": ["a.com"]}], [ACME], {}),
    ("bool-written-false-omitted-live", [{**ACME, "enforceSSO": False, "disabled": False}], [ACME], {}),
    ("bool-written-false-live-true", [{**ACME, "disabled": False}], [{**ACME, "disabled": True}], {}),
    ("bool-written-true-live-omitted", [{**ACME, "disabled": True}], [ACME], {}),
    ("bool-live-as-number", [{**ACME, "enforceSSO": False}], [{**ACME, "enforceSSO": 0}], {}),
    ("empty-list-omitted-live", [{**ACME, "defaultRoles": []}], [ACME], {}),
    ("empty-list-live-has-roles", [{**ACME, "defaultRoles": []}], [{**ACME, "defaultRoles": ["admin"]}], {}),
    ("default-roles-changed", [{**ACME, "defaultRoles": ["viewer"]}], [{**ACME, "defaultRoles": ["admin"]}], {}),
    ("empty-string-default", [{**ACME, "roleInheritance": ""}], [ACME], {}),
    ("role-inheritance-changed", [{**ACME, "roleInheritance": "none"}], [{**ACME, "roleInheritance": "userOnly"}], {}),
    ("live-field-null", [{**ACME, "roleInheritance": "none"}], [{**ACME, "roleInheritance": None}], {}),
    ("live-name-not-a-string", [ACME], [{"id": "acme", "name": 7}], {}),
    (
        "attrs-same",
        [{**ACME, "customAttributes": {"plan": "pro", "seats": 5}}],
        [{**ACME, "customAttributes": {"plan": "pro", "seats": 5, "x": 1}}],
        {},
    ),
    (
        "attrs-number-as-float",
        [{**ACME, "customAttributes": {"seats": 50}}],
        [{**ACME, "customAttributes": {"seats": 50.0}}],
        {},
    ),
    (
        "attrs-bool-is-not-one",
        [{**ACME, "customAttributes": {"seats": 1}}],
        [{**ACME, "customAttributes": {"seats": True}}],
        {},
    ),
    (
        "attrs-one-is-not-true",
        [{**ACME, "customAttributes": {"on": True}}],
        [{**ACME, "customAttributes": {"on": 1}}],
        {},
    ),
    (
        "attrs-changed",
        [{**ACME, "customAttributes": {"plan": "enterprise"}}],
        [{**ACME, "customAttributes": {"plan": "free", "r": "eu"}}],
        {},
    ),
    ("attrs-key-missing-live", [{**ACME, "customAttributes": {"plan": "pro"}}], [{**ACME, "customAttributes": {}}], {}),
    ("attrs-map-missing-live", [{**ACME, "customAttributes": {"plan": "pro"}}], [ACME], {}),
    ("attrs-live-null", [{**ACME, "customAttributes": {"plan": "pro"}}], [{**ACME, "customAttributes": None}], {}),
    ("attrs-written-empty", [{**ACME, "customAttributes": {}}], [{**ACME, "customAttributes": {"plan": "pro"}}], {}),
    ("attrs-null-value", [{**ACME, "customAttributes": {"plan": None}}], [{**ACME, "customAttributes": {}}], {}),
    (
        "attrs-list-order",
        [{**ACME, "customAttributes": {"tags": ["b", "a"]}}],
        [{**ACME, "customAttributes": {"tags": ["a", "b"]}}],
        {},
    ),
    (
        "attrs-list-of-numbers",
        [{**ACME, "customAttributes": {"ns": [1]}}],
        [{**ACME, "customAttributes": {"ns": [True]}}],
        {},
    ),
    ("same-parent", [HOLDING, {**ACME, "parent": "holding"}], [HOLDING, {**ACME, "parent": "holding"}], {}),
    ("parent-changed-conflict", [HOLDING, {**ACME, "parent": "holding"}], [HOLDING, {**ACME, "parent": "other"}], {}),
    ("parent-missing-live", [HOLDING, {**ACME, "parent": "holding", "name": "New"}], [HOLDING, ACME], {}),
    (
        "settings-same",
        [{**ACME, "settings": SESSION}],
        [ACME],
        {"live_settings": {"acme": {**SESSION, "enabled": True}}},
    ),
    (
        "settings-changed",
        [{**ACME, "settings": SESSION}],
        [ACME],
        {"live_settings": {"acme": {**SESSION, "sessionTokenExpiration": 5}}},
    ),
    ("settings-unread", [{**ACME, "settings": SESSION}], [ACME], {}),
    (
        "settings-number-as-bool",
        [{**ACME, "settings": {"enabled": True}}],
        [ACME],
        {"live_settings": {"acme": {"enabled": 1}}},
    ),
    ("subresources-skipped", [{**ACME, "roles": [{"name": "r"}], "passwordPolicy": {"minLength": 8}}], [ACME], {}),
    ("adopt-unchanged", [ACME], [ACME], {"inventory_known": True}),
    ("adopt-changed", [{**ACME, "name": "New"}], [ACME], {"inventory_known": True}),
    ("owned-unchanged", [ACME], [ACME], {"inventory": {"acme"}, "inventory_known": True}),
    ("not-adopted-conflict", [ACME], [ACME], {"policy": PlanPolicy(adopt=False)}),
    (
        "prune-delete",
        [ACME],
        [ACME, {"id": "gone", "name": "Gone"}],
        {"inventory": {"acme", "gone"}, "policy": PlanPolicy(prune=True)},
    ),
    ("prune-off-orphan", [ACME], [ACME, {"id": "gone", "name": "Gone"}], {"inventory": {"acme", "gone"}}),
    (
        "prune-parent-with-child-kept",
        [{"id": "kid", "name": "Kid", "parent": "mom"}],
        [{"id": "mom", "name": "Mom"}, {"id": "kid", "name": "Kid", "parent": "mom"}],
        {"inventory": {"mom", "kid"}, "policy": PlanPolicy(prune=True)},
    ),
    (
        "guard-blocks-deletes",
        [ACME],
        [ACME, *({"id": f"g{i}", "name": f"G{i}"} for i in range(4))],
        {"inventory": {"acme", "g0", "g1", "g2", "g3"}, "policy": PlanPolicy(prune=True, max_deletes=2)},
    ),
    ("guard-source-shrank", [ACME], [ACME], {"inventory": {"acme"}, "last_applied_count": 10}),
    ("unmanaged-live", [ACME], [ACME, {"id": "other", "name": "Other"}], {}),
    *(
        (f"batches-interleaved-{name}", MIXED, live, {"inventory": inventory, "inventory_known": True})
        for name, live, inventory in (
            ("unchanged", MIXED, {t["id"] for t in MIXED}),
            ("drift-and-gone", [{**t, "name": "Edited"} if t["id"] == "d" else t for t in MIXED[1:]], {"a", "b", "d"}),
        )
    ),
]


@pytest.mark.parametrize(("desired_tenants", "live", "options"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_prepared_plan_equals_the_full_comparison(
    desired_tenants: list[dict[str, Any]], live: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    plain, cached = both_ways(desired(*desired_tenants), live, **options)
    assert cached == plain
    assert cached.live_digest == plain.live_digest


DRIFT_CASES = [
    # (id, desired now, desired at the last applied revision, live): change vs drift needs ``previous``
    ("drift", {**ACME, "name": "ACME"}, {**ACME, "name": "ACME"}, {**ACME, "name": "Edited"}),
    ("change", {**ACME, "name": "New"}, {**ACME, "name": "Old"}, {**ACME, "name": "Old"}),
    (
        "attr-drift",
        {**ACME, "customAttributes": {"p": 1}},
        {**ACME, "customAttributes": {"p": 1}},
        {**ACME, "customAttributes": {"p": 2}},
    ),
    ("parent-drift", {**ACME, "parent": "a"}, {**ACME, "parent": "a"}, {**ACME, "parent": "b"}),
    ("unchanged", ACME, {**ACME, "name": "Old"}, ACME),
]


@pytest.mark.parametrize(("now", "before", "have"), [pytest.param(*c[1:], id=c[0]) for c in DRIFT_CASES])
def test_prepared_plan_tells_change_from_drift_like_the_full_comparison(
    now: dict[str, Any], before: dict[str, Any], have: dict[str, Any]
) -> None:
    live = [have, {"id": "a", "name": "A"}, {"id": "b", "name": "B"}]
    state = desired(now, {"id": "a", "name": "A"}, {"id": "b", "name": "B"})
    previous = desired(before, {"id": "a", "name": "A"}, {"id": "b", "name": "B"})
    plain, cached = both_ways(state, live, previous=previous, inventory={"acme", "a", "b"}, inventory_known=True)
    assert cached == plain


def test_an_unchanged_tenant_is_decided_by_its_prepared_check() -> None:
    """The cheap path is taken (else the daemon's idle cycle pays the full comparison every time)."""
    state = desired({**ACME, "selfProvisioningDomains": ["a.com"], "customAttributes": {"seats": 5}})
    check = prepare(state).checks[0]
    assert check is not None
    live = {**ACME, "selfProvisioningDomains": ["a.com"], "customAttributes": {"seats": 5, "x": 1}, "createdTime": 1}
    assert check.unchanged(live, None)
    assert not check.unchanged({**live, "customAttributes": {"seats": True}}, None)


def test_the_planner_visits_only_the_tenants_that_may_differ() -> None:
    """An idle cycle looks at no tenant; one drifted tenant (or one not yet owned) is looked at alone."""
    prepared = prepare(desired(*MIXED))
    live = {t["id"]: t for t in MIXED}
    owned = set(live)
    assert list(prepared.attention(live, owned)) == [2]  # "c" writes a default: checked alone, the full way
    edited = {**live, "d": {**live["d"], "name": "Edited"}, "e": {**live["e"], "customAttributes": {"seats": 6.0}}}
    assert list(prepared.attention(edited, owned)) == [2, 3, 4]
    assert list(prepared.attention(live, owned - {"b"})) == [1, 2]


def test_a_prepared_form_of_another_revision_is_not_used() -> None:
    old, new = desired(ACME), desired({**ACME, "name": "New"})
    plan = make_plan(new, [ACME], prepared=prepare(old))
    assert [(a.kind, a.tenant_id) for a in plan.actions] == [(ActionKind.UPDATE, "acme")]


@settings(max_examples=300, deadline=None)
@given(worlds(), st.booleans(), st.booleans())
def test_prepared_plan_equals_the_full_comparison_on_generated_worlds(
    world: tuple[DesiredState, list[dict[str, Any]], dict[str, dict[str, Any]]], known: bool, adopt: bool
) -> None:
    state, live, live_settings = world
    inventory = {t["id"] for t in live[::2]}
    plain, cached = both_ways(
        state,
        live,
        inventory=inventory,
        live_settings=live_settings,
        inventory_known=known,
        policy=PlanPolicy(prune=True, adopt=adopt, allow_deletes=100),
    )
    assert cached == plain
