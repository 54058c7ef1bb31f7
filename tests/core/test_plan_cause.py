"""Change or drift or adoption, per field and per tenant: what the plan says about why it writes."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import Cause, make_plan

LIVE = {"id": "acme", "name": "ACME Console Edit", "disabled": True, "customAttributes": {"seats": 50}}


def state(**fields: Any) -> DesiredState:
    return DesiredState((DesiredTenant("acme", fields, "tenants.yaml", 1),))


WANT = {"name": "ACME", "disabled": False, "customAttributes": {"seats": 75}}

CASES = [
    pytest.param(
        None,
        {"name": "change", "disabled": "change", "customAttributes.seats": "change"},
        (0, 1),
        id="previous-revision-unknown-all-change",
    ),
    pytest.param(
        state(**WANT),
        {"name": "drift", "disabled": "drift", "customAttributes.seats": "drift"},
        (1, 0),
        id="same-revision-all-drift",
    ),
    pytest.param(
        state(**{**WANT, "customAttributes": {"seats": 50}}),
        {"name": "drift", "disabled": "drift", "customAttributes.seats": "change"},
        (1, 1),
        id="the-merge-changed-seats-the-console-changed-the-rest",
    ),
    pytest.param(
        state(name="ACME"),
        {"name": "drift", "disabled": "change", "customAttributes.seats": "change"},
        (1, 1),
        id="fields-new-in-yaml-are-changes",
    ),
    pytest.param(
        DesiredState(()),
        {"name": "change", "disabled": "change", "customAttributes.seats": "change"},
        (0, 1),
        id="tenant-new-in-yaml-is-a-change",
    ),
]


@pytest.mark.parametrize(("previous", "causes", "drifted_changed"), CASES)
def test_each_field_says_change_or_drift(
    previous: DesiredState | None, causes: dict[str, str], drifted_changed: tuple[int, int]
) -> None:
    plan = make_plan(state(**WANT), [LIVE], previous=previous, inventory={"acme"})
    (action,) = plan.actions
    assert {c.field: c.cause.value for c in action.changes} == causes
    assert (plan.drifted, plan.changed) == drifted_changed
    # a tenant is written for a change if any field is one; only a write of pure drift is "drift"
    assert action.cause is (Cause.DRIFT if set(causes.values()) == {"drift"} else Cause.CHANGE)
    assert plan.drift_fields == {f.split(".")[0]: 1 for f, c in causes.items() if c == "drift"}


@pytest.mark.parametrize(
    ("inventory", "known", "adopt"),
    [
        (set(), True, True),  # the controller has a record and this live tenant is not in it
        ({"acme"}, True, False),  # already managed
        (set(), False, False),  # no record (a plan in CI without the store): never claim an adoption
    ],
)
def test_a_live_tenant_outside_the_inventory_is_adopted(inventory: set[str], known: bool, adopt: bool) -> None:
    plan = make_plan(state(**WANT), [LIVE], inventory=inventory, inventory_known=known)
    (action,) = plan.actions
    assert action.adopt is adopt
    assert (action.cause is Cause.ADOPT) is adopt


def test_the_digest_is_about_what_is_done_not_why() -> None:
    as_change = make_plan(state(**WANT), [LIVE])
    as_drift = make_plan(state(**WANT), [LIVE], previous=state(**WANT))
    assert as_change.actions[0].cause is not as_drift.actions[0].cause
    assert as_change.digest() == as_drift.digest()


def test_counts_by_cause_have_every_label_pair() -> None:
    counts = make_plan(state(**WANT), [LIVE], previous=state(**WANT)).counts_by_cause()
    assert len(counts) == 9 and counts[("update", "drift")] == 1 and sum(counts.values()) == 1


def test_adopt_false_makes_a_tenant_made_elsewhere_a_conflict_even_without_a_record() -> None:
    from controller.core.plan import PlanPolicy

    plan = make_plan(state(**WANT), [LIVE], policy=PlanPolicy(adopt=False))
    assert plan.actions == ()
    (conflict,) = plan.conflicts
    assert "adopt = false" in conflict.message and "'ACME Console Edit'" in conflict.message


def test_an_unchanged_tenant_outside_the_inventory_is_still_an_adoption() -> None:
    same = {"id": "acme", "name": "ACME", "disabled": False, "customAttributes": {"seats": 75}}
    plan = make_plan(state(**WANT), [same], inventory=set(), inventory_known=True)
    (action,) = plan.actions
    assert action.adopt and action.changes == () and action.patch is None  # nothing sent to Descope
