"""Table-driven tests of the pure planner: what changes, what does not, and what the guards refuse."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import ActionKind, Plan, PlanPolicy, make_plan


def desired(*tenants: dict[str, Any]) -> DesiredState:
    return DesiredState(
        tuple(
            DesiredTenant(t["id"], {k: v for k, v in t.items() if k != "id"}, "tenants.yaml", i + 1)
            for i, t in enumerate(tenants)
        )
    )


def kinds(plan: Plan) -> list[tuple[str, str]]:
    return [(a.kind.value, a.tenant_id) for a in plan.actions]


ACME = {"id": "acme", "name": "ACME"}


# ---- no write for an equal tenant ---------------------------------------------------------------

EQUAL_CASES = [
    pytest.param({**ACME}, {"id": "acme", "name": "ACME", "createdTime": 1, "authType": "saml"}, id="server-only"),
    pytest.param(
        {**ACME, "selfProvisioningDomains": ["B.com", "a.com"]},
        {**ACME, "selfProvisioningDomains": ["a.com", "b.com"]},
        id="domains-case-and-order",
    ),
    pytest.param({**ACME, "disabled": False, "enforceSSO": False}, {**ACME}, id="omitted-false"),
    pytest.param({**ACME, "defaultRoles": []}, {**ACME}, id="omitted-empty-list"),
    pytest.param({**ACME, "defaultRoles": ["b", "a"]}, {**ACME, "defaultRoles": ["a", "b"]}, id="roles-order"),
    pytest.param(
        {**ACME, "customAttributes": {"seats": 50}},
        {**ACME, "customAttributes": {"seats": 50.0, "other": "kept"}},
        id="attr-number-and-unmanaged-key",
    ),
    pytest.param({**ACME, "parent": "holding"}, {**ACME, "parent": "holding", "successors": []}, id="same-parent"),
    pytest.param({**ACME, "roleInheritance": ""}, {**ACME}, id="empty-string-default"),
]


@pytest.mark.parametrize(("want", "have"), EQUAL_CASES)
def test_equal_tenant_plans_nothing(want: dict[str, Any], have: dict[str, Any]) -> None:
    live = [have]
    if want.get("parent"):
        live.append({"id": want["parent"], "name": "Holding"})
        want_state = desired({"id": want["parent"], "name": "Holding"}, want)
    else:
        want_state = desired(want)
    plan = make_plan(want_state, live)
    assert plan.actions == ()
    assert plan.conflicts == ()
    assert plan.drifted == 0


# ---- updates carry only the changed managed fields ----------------------------------------------

UPDATE_CASES = [
    pytest.param(
        {**ACME, "disabled": True},
        {**ACME, "enforceSSO": True, "selfProvisioningDomains": ["acme.com"]},
        {"disabled": True},
        None,
        ["disabled"],
        id="one-bool",
    ),
    pytest.param(
        {**ACME, "name": "ACME Corp"},
        {**ACME},
        {"name": "ACME Corp"},
        None,
        ["name"],
        id="rename",
    ),
    pytest.param(
        {**ACME, "customAttributes": {"plan": "enterprise"}},
        {**ACME, "customAttributes": {"plan": "free", "region": "eu"}},
        {"customAttributes": {"plan": "enterprise", "region": "eu"}},
        None,
        ["customAttributes.plan"],
        id="attribute-merged-over-live",
    ),
    pytest.param(
        {**ACME, "selfProvisioningDomains": ["ACME.com", "acme.io"]},
        {**ACME, "selfProvisioningDomains": ["acme.com"]},
        {"selfProvisioningDomains": ["acme.com", "acme.io"]},
        None,
        ["selfProvisioningDomains"],
        id="domains-lowercased",
    ),
    pytest.param(
        {**ACME, "defaultRoles": ["viewer"]},
        {**ACME, "defaultRoles": ["admin"]},
        None,
        ("viewer",),
        ["defaultRoles"],
        id="default-roles-own-call",
    ),
]


UPDATE_CASES.append(
    pytest.param(
        {**ACME, "customAttributes": {"seats": 1}},
        {**ACME, "customAttributes": {"seats": True}},
        {"customAttributes": {"seats": 1}},
        None,
        ["customAttributes.seats"],
        id="bool-is-not-one",
    )
)


@pytest.mark.parametrize(("want", "have", "patch", "roles", "fields"), UPDATE_CASES)
def test_update_patches_only_what_differs(
    want: dict[str, Any],
    have: dict[str, Any],
    patch: dict[str, Any] | None,
    roles: tuple[str, ...] | None,
    fields: list[str],
) -> None:
    plan = make_plan(desired(want), [have], previous=desired(want))  # the YAML did not change: drift
    assert kinds(plan) == [("update", "acme")]
    action = plan.actions[0]
    assert action.patch == patch
    assert action.default_roles == roles
    assert [c.field for c in action.changes] == fields
    assert (plan.drifted, plan.changed) == (1, 0)


def test_fields_absent_from_yaml_are_never_drift() -> None:
    live = {**ACME, "enforceSSO": True, "disabled": True, "customAttributes": {"x": 1}, "defaultRoles": ["r"]}
    plan = make_plan(desired(ACME), [live])
    assert plan.actions == ()
    assert plan.drift_fields == {}


def test_create_body_and_follow_up_calls() -> None:
    want = {
        **ACME,
        "selfProvisioningDomains": ["Acme.COM"],
        "customAttributes": {"plan": "enterprise"},
        "defaultRoles": ["viewer"],
        "settings": {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"},
    }
    plan = make_plan(desired(want), [])
    (action,) = plan.actions
    assert action.kind is ActionKind.CREATE
    assert action.create_body == {
        "id": "acme",
        "name": "ACME",
        "selfProvisioningDomains": ["acme.com"],
        "customAttributes": {"plan": "enterprise"},
    }
    assert action.default_roles == ("viewer",)
    assert action.settings == {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes"}
    assert action.where == "tenants.yaml:1"


def test_settings_compared_against_live_and_only_the_managed_keys_are_planned() -> None:
    want = {**ACME, "settings": {"sessionTokenExpiration": 10, "enabled": True}}
    live_settings = {
        "acme": {"sessionTokenExpiration": 30, "enabled": True, "refreshTokenExpiration": 4, "domains": ["x.com"]}
    }
    plan = make_plan(desired(want), [ACME], live_settings=live_settings)
    (action,) = plan.actions
    # the managed keys only: the client lays them over a fresh read when it writes, so an unmanaged
    # value read earlier (refreshTokenExpiration, domains) is never written back stale
    assert action.settings == {"sessionTokenExpiration": 10, "enabled": True}
    assert [(c.field, c.before, c.after) for c in action.changes] == [("settings.sessionTokenExpiration", 30, 10)]
    assert action.patch is None
    unchanged = make_plan(
        desired(want),
        [ACME],
        live_settings={"acme": {"sessionTokenExpiration": 10, "enabled": True, "inactivityTime": 3}},
    )
    assert unchanged.actions == ()


def test_changed_parent_is_a_conflict_not_an_update() -> None:
    state = desired({"id": "p2", "name": "P2"}, {**ACME, "parent": "p2", "disabled": True})
    plan = make_plan(state, [{"id": "p2", "name": "P2"}, {**ACME, "parent": "p1"}], previous=state)
    assert plan.actions == ()
    (conflict,) = plan.conflicts
    assert conflict.tenant_id == "acme"
    assert "set at create only" in conflict.message
    assert "'p1'" in conflict.message
    assert plan.drift_fields == {"disabled": 1, "parent": 1}


def test_parents_created_before_children() -> None:
    state = desired(
        {"id": "grandchild", "name": "G", "parent": "child"},
        {"id": "child", "name": "C", "parent": "root"},
        {"id": "root", "name": "R"},
        {"id": "other", "name": "O"},
    )
    plan = make_plan(state, [])
    stages = {a.tenant_id: a.stage for a in plan.actions}
    assert stages == {"root": 0, "other": 0, "child": 1, "grandchild": 2}
    order = [a.tenant_id for a in plan.actions]
    assert order.index("root") < order.index("child") < order.index("grandchild")


def test_child_of_existing_parent_is_stage_zero() -> None:
    state = desired({"id": "root", "name": "R"}, {"id": "child", "name": "C", "parent": "root"})
    plan = make_plan(state, [{"id": "root", "name": "R"}])
    assert [(a.tenant_id, a.stage) for a in plan.actions] == [("child", 0)]


# ---- inventory, prune and guards ----------------------------------------------------------------


def live_tenants(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "name": f"T{i}", **extra} for i in range(n)]


def test_tenants_outside_inventory_are_never_touched() -> None:
    plan = make_plan(desired(ACME), [ACME, {"id": "console-made", "name": "X"}], policy=PlanPolicy(prune=True))
    assert plan.actions == ()
    assert plan.unmanaged == 1


def test_prune_off_keeps_removed_tenants_and_reports_them() -> None:
    live = live_tenants(3)
    plan = make_plan(desired(*live[:2]), live, inventory={"t0", "t1", "t2"})
    assert plan.actions == ()
    assert plan.orphaned == ("t2",)


def test_prune_deletes_children_first_without_cascade() -> None:
    live = [
        {"id": "keep", "name": "K"},
        {"id": "parent", "name": "P", "successors": ["child"]},
        {"id": "child", "name": "C", "parent": "parent"},
        *live_tenants(10),
    ]
    inventory = {t["id"] for t in live}
    state = desired(*[t for t in live if t["id"] not in {"parent", "child"}])
    plan = make_plan(state, live, inventory=inventory, policy=PlanPolicy(prune=True))
    assert kinds(plan) == [("delete", "child"), ("delete", "parent")]
    assert [a.stage for a in plan.actions] == [0, 1]
    assert not any(a.cascade for a in plan.actions)
    assert plan.blocked == ()


def test_prune_refuses_parent_whose_child_stays() -> None:
    live = [{"id": "parent", "name": "P"}, {"id": "child", "name": "C", "parent": "parent"}, *live_tenants(10)]
    state = desired(*[t for t in live if t["id"] != "parent"])
    plan = make_plan(state, live, inventory={t["id"] for t in live}, policy=PlanPolicy(prune=True))
    assert plan.actions == ()
    assert "child tenants child still exist" in plan.conflicts[0].message


GUARD_CASES = [
    # (live count, desired count, policy, last applied count, expected reason fragment)
    pytest.param(
        20, 8, PlanPolicy(prune=True, max_deletes=10, max_delete_ratio=1.0), None, "max_deletes=10", id="count"
    ),
    pytest.param(20, 14, PlanPolicy(prune=True, max_deletes=100), None, "max_delete_ratio=25%", id="ratio"),
    pytest.param(20, 0, PlanPolicy(), None, "zero tenants", id="empty"),
    pytest.param(20, 10, PlanPolicy(), 20, "lost 10 of the 20", id="lost-share-even-without-prune"),
]


@pytest.mark.parametrize(("n_live", "n_desired", "policy", "last_count", "reason"), GUARD_CASES)
def test_guards_refuse_and_name_the_lift(
    n_live: int, n_desired: int, policy: PlanPolicy, last_count: int | None, reason: str
) -> None:
    live = live_tenants(n_live)
    plan = make_plan(
        desired(*live[:n_desired]),
        live,
        inventory={t["id"] for t in live},
        last_applied_count=last_count,
        policy=policy,
    )
    assert any(reason in r for r in plan.blocked), plan.blocked
    assert any("--allow-deletes" in r for r in plan.blocked)


@pytest.mark.parametrize(("n_live", "n_desired", "policy", "last_count", "reason"), GUARD_CASES)
def test_allow_deletes_lifts_the_guards(
    n_live: int, n_desired: int, policy: PlanPolicy, last_count: int | None, reason: str
) -> None:
    live = live_tenants(n_live)
    lifted = PlanPolicy(
        prune=policy.prune,
        max_deletes=policy.max_deletes,
        max_delete_ratio=policy.max_delete_ratio,
        allow_deletes=n_live,
    )
    plan = make_plan(
        desired(*live[:n_desired]),
        live,
        inventory={t["id"] for t in live},
        last_applied_count=last_count,
        policy=lifted,
    )
    assert plan.blocked == ()


def test_small_changes_are_not_blocked() -> None:
    live = live_tenants(20)
    plan = make_plan(
        desired(*live[:19]),
        live,
        inventory={t["id"] for t in live},
        last_applied_count=20,
        policy=PlanPolicy(prune=True),
    )
    assert plan.blocked == ()
    assert kinds(plan) == [("delete", "t19")]


def test_digest_is_stable_and_tracks_content() -> None:
    a = make_plan(desired({**ACME, "disabled": True}), [ACME])
    b = make_plan(desired({**ACME, "disabled": True}), [ACME])
    c = make_plan(desired({**ACME, "disabled": False}), [{**ACME, "disabled": True}])
    assert a.digest() == b.digest() != c.digest()


# ---- property: applying a plan converges --------------------------------------------------------


def simulate_apply(plan: Plan, live: list[dict[str, Any]], settings: dict[str, dict[str, Any]]) -> None:
    """Descope's documented semantics, in memory: create, patch (given fields), default roles, settings merge."""
    by_id = {t["id"]: t for t in live}
    for action in plan.actions:
        if action.kind is ActionKind.CREATE:
            assert action.create_body is not None
            record = copy.deepcopy(dict(action.create_body))
            live.append(record)
            by_id[record["id"]] = record
        elif action.kind is ActionKind.DELETE:
            live.remove(by_id.pop(action.tenant_id))
            continue
        record = by_id[action.tenant_id]
        if action.patch:
            record.update(copy.deepcopy(dict(action.patch)))
        if action.default_roles is not None:
            record["defaultRoles"] = list(action.default_roles)
        if action.settings is not None:
            settings.setdefault(action.tenant_id, {}).update(action.settings)


domains = st.lists(st.sampled_from(["a.com", "B.com", "c.io", "D.org"]), max_size=3, unique_by=str.lower)
attrs = st.dictionaries(
    st.sampled_from(["plan", "seats", "tier"]),
    st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"]), st.booleans()),
    max_size=3,
)
optional_fields = st.fixed_dictionaries(
    {},
    optional={
        "selfProvisioningDomains": domains,
        "customAttributes": attrs,
        "enforceSSO": st.booleans(),
        "disabled": st.booleans(),
        "defaultRoles": st.lists(st.sampled_from(["viewer", "admin", "editor"]), unique=True, max_size=2),
        "settings": st.fixed_dictionaries(
            {}, optional={"sessionTokenExpiration": st.integers(1, 60), "enableInactivity": st.booleans()}
        ),
    },
)
tenant_ids = st.sampled_from([f"t{i}" for i in range(6)])


@st.composite
def worlds(draw: st.DrawFn) -> tuple[DesiredState, list[dict[str, Any]], dict[str, dict[str, Any]]]:
    want_ids = draw(st.lists(tenant_ids, unique=True, max_size=5))
    live_ids = draw(st.lists(tenant_ids, unique=True, max_size=5))
    want = [{"id": t, "name": f"N-{t}", **draw(optional_fields)} for t in want_ids]
    live = [{"id": t, "name": f"N-{t}", **draw(optional_fields)} for t in live_ids]
    live_settings = {t["id"]: dict(t.pop("settings")) for t in live if "settings" in t}
    return desired(*want), live, live_settings


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_planning_after_applying_a_plan_yields_an_empty_plan(
    world: tuple[DesiredState, list[dict[str, Any]], dict[str, dict[str, Any]]],
) -> None:
    state, live, live_settings = world
    inventory = {t["id"] for t in live}
    policy = PlanPolicy(prune=True, allow_deletes=100)
    plan = make_plan(state, live, inventory=inventory, live_settings=live_settings, policy=policy)
    simulate_apply(plan, live, live_settings)
    inventory = (inventory | {t.id for t in state.tenants}) - {
        a.tenant_id for a in plan.actions if a.kind is ActionKind.DELETE
    }
    again = make_plan(state, live, inventory=inventory, live_settings=live_settings, policy=policy)
    assert again.actions == ()
    assert {t["id"] for t in live} == {t.id for t in state.tenants}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("acme", "acme", True),
        (["a.com", "b.com"], ["a.com", "b.com"], True),
        ({"plan": "pro", "tags": ["x"]}, {"plan": "pro", "tags": ["x"]}, True),
        (1, True, False),  # Python says equal; Descope does not
        ([1], [True], False),
        ({"seats": 1}, {"seats": True}, False),
        ({"a": {"b": [1]}}, {"a": {"b": [True]}}, False),
        (50, 50.0, False),  # left to the canonical comparison, which equates them
        (["b", "a"], ["a", "b"], False),  # order differs: canonical comparison decides
    ],
)
def test_identical_is_the_strict_fast_path(a: Any, b: Any, same: bool) -> None:
    from controller.core.normalize import identical

    assert identical(a, b) is same
