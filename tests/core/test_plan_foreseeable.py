"""The plan says beforehand what Descope would refuse: a name already taken, a parent that exists nowhere."""

from __future__ import annotations

from typing import Any

from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import make_plan


def desired(*tenants: dict[str, Any]) -> DesiredState:
    return DesiredState(
        tuple(
            DesiredTenant(t["id"], {k: v for k, v in t.items() if k != "id"}, "tenants.yaml", i + 1)
            for i, t in enumerate(tenants)
        )
    )


def test_a_create_whose_name_a_live_tenant_holds_is_a_conflict_naming_the_holder() -> None:
    plan = make_plan(desired({"id": "globex-2", "name": "GLOBEX"}), [{"id": "globex", "name": "Globex"}])
    assert plan.actions == ()
    (conflict,) = plan.conflicts
    assert conflict.tenant_id == "globex-2" and conflict.where == "tenants.yaml:1"
    assert "live tenant 'globex' already has the name 'GLOBEX'" in conflict.message


def test_a_create_under_a_parent_that_exists_nowhere_is_a_conflict_and_so_are_its_children() -> None:
    plan = make_plan(
        desired(
            {"id": "child", "name": "Child", "parent": "ghost"},
            {"id": "grandchild", "name": "Grandchild", "parent": "child"},
            {"id": "ok", "name": "OK", "parent": "live-parent"},
        ),
        [{"id": "live-parent", "name": "Live Parent"}],
    )
    assert [a.tenant_id for a in plan.actions] == ["ok"]
    messages = {c.tenant_id: c.message for c in plan.conflicts}
    assert "parent 'ghost' exists neither in Descope nor in tenants.yaml" in messages["child"]
    assert "parent 'child' cannot be created" in messages["grandchild"]


def test_a_parent_conflict_is_shown_with_the_tenants_other_changes() -> None:
    state = desired({"id": "p2", "name": "P2"}, {"id": "acme", "name": "ACME", "parent": "p2", "disabled": True})
    plan = make_plan(state, [{"id": "p2", "name": "P2"}, {"id": "acme", "name": "Old", "parent": "p1"}])
    (conflict,) = plan.conflicts
    assert {c.field for c in conflict.changes} == {"name", "disabled"}
    assert plan.actions == ()  # they wait with it until the parent is settled
    assert plan.differing == 1


def test_a_tenant_keeping_its_own_name_is_no_conflict() -> None:
    plan = make_plan(desired({"id": "acme", "name": "ACME", "disabled": True}), [{"id": "acme", "name": "acme"}])
    assert plan.conflicts == () and [a.kind.value for a in plan.actions] == ["update"]
