"""The saved plan file: round trip, and what counts as a difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.core.plan import Action, ActionKind, FieldChange, Plan
from controller.engine import saved_plan
from controller.engine.saved_plan import SavedPlan, SavedPlanRefused

PLAN = Plan(
    actions=(Action(ActionKind.UPDATE, "acme", changes=(FieldChange("name", "A", "ACME"),), patch={"name": "ACME"}),),
    live_source=lambda: "live",
)
SETTINGS = {"project_id": "P1", "prune": False, "max_deletes": 10, "max_delete_ratio": 0.25, "allow_deletes": 0}


def test_round_trip_has_no_difference_and_overwrites_only_a_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    saved_plan.save(out, SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml"))
    loaded = saved_plan.load(out)
    assert saved_plan.differences(loaded, PLAN, desired="d1") == []
    assert saved_plan.settings_differences(loaded, SETTINGS) == []
    saved_plan.save(out, SavedPlan.of(PLAN, settings=SETTINGS, desired="d2", tenants="t.yaml"))  # a plan: replaced
    assert saved_plan.load(out).desired_digest == "d2"
    other = tmp_path / "tenants.yaml"
    other.write_text("tenants: []\n")
    with pytest.raises(SavedPlanRefused, match="not overwriting"):
        saved_plan.save(other, SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml"))


def test_differences_name_each_action_and_the_files() -> None:
    saved = SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml")
    now = Plan(actions=(Action(ActionKind.DELETE, "old"),))
    assert saved_plan.differences(saved, now, desired="d2") == [
        "the tenants files changed since the plan was saved (t.yaml)",
        "~ update acme: in the saved plan, not planned now",
        "- delete old: planned now, not in the saved plan",
    ]
