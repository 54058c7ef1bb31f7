"""The saved plan file: round trip, and what counts as a difference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.core.config_types import ConfigPlan, Protocol, Stage, SubAction, SubConflict, SubKind, SubOp
from controller.core.plan import Action, ActionKind, FieldChange, Plan
from controller.engine import saved_plan
from controller.engine.cycle import CyclePlan
from controller.engine.saved_plan import SavedPlan, SavedPlanRefused
from controller.errors import PlanError

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


REFERENCE = {"env": "ACME_GOOGLE_SECRET"}


def _role(description: str, before: str | None = "A") -> SubAction:
    return SubAction(
        SubKind.ROLE,
        SubOp.UPDATE,
        "acme",
        "Member",
        changes=(FieldChange("description", before, description),),
        body={"name": "Member", "tenantId": "acme", "description": description},
    )


GOOGLE = SubAction(
    SubKind.SSO,
    SubOp.CREATE,
    "acme",
    "google",
    changes=(FieldChange("oidc.clientSecret", None, REFERENCE),),
    body={"displayName": "Google", "domains": [], "settings": {"clientId": "123", "clientSecret": REFERENCE}},
    protocol=Protocol.OIDC,
    stage=Stage.SSO,
    secret_fingerprint="hmac-sha256:abc",
)
CONFIG = ConfigPlan(actions=(_role("Members"), GOOGLE))


def test_the_sub_resources_are_saved_as_references_and_pinned_by_the_digest(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    saved_plan.save(out, SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml", config=CONFIG))
    raw = json.loads(out.read_text())
    assert [(a["kind"], a["key"]) for a in raw["config_actions"]] == [("role", "Member"), ("sso", "google")]
    assert raw["config_actions"][1]["body"]["settings"]["clientSecret"] == REFERENCE
    assert "hmac-sha256" not in out.read_text()  # nor a fingerprint of the secret
    assert raw["plan_digest"] == CyclePlan(PLAN, CONFIG).digest() != PLAN.digest()
    assert CyclePlan(PLAN, ConfigPlan()).digest() == PLAN.digest()  # a tenant-only plan keeps its digest
    loaded = saved_plan.load(out)
    assert saved_plan.differences(loaded, PLAN, desired="d1", config=CONFIG) == []


def test_a_sub_resource_that_differs_is_named() -> None:
    saved = SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml", config=CONFIG)
    password = SubAction(SubKind.PASSWORD_POLICY, SubOp.UPDATE, "acme", "", body={"minLength": 12})
    conflict = SubConflict(SubKind.SSO, "acme", "okta", "oidc.clientSecret is a literal value")
    now = ConfigPlan(actions=(_role("Members", before="console"), password), conflicts=(conflict,), blocked=("g",))
    assert saved_plan.differences(saved, PLAN, desired="d1", config=now) == [
        "~ password_policy acme: planned now, not in the saved plan",
        '~ role acme/Member: changed: description "A" → "Members" when saved, "console" → "Members" now',
        "+ sso acme/google: in the saved plan, not planned now",
        "! conflict sso acme/okta planned now, not in the saved plan: oidc.clientSecret is a literal value",
        "refused by guard now (roles/SSO/password policy): g",
    ]
    assert saved_plan.differences(saved, PLAN, desired="d1") == [
        "~ role acme/Member: in the saved plan, not planned now",
        "+ sso acme/google: in the saved plan, not planned now",
    ]


@pytest.mark.parametrize("leaked", ["s3cret-value", {"value": "s3cret-value"}, {}])
def test_a_secret_value_is_never_saved(leaked: object) -> None:
    body = {"displayName": "Google", "settings": {"clientSecret": leaked}}
    bad = SubAction(SubKind.SSO, SubOp.UPDATE, "acme", "google", body=body, protocol=Protocol.OIDC)
    with pytest.raises(PlanError, match="not saving the plan"):
        SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml", config=ConfigPlan(actions=(bad,)))
    change = FieldChange("oidc.clientSecret", None, leaked)
    shown = SubAction(SubKind.SSO, SubOp.UPDATE, "acme", "google", changes=(change,), protocol=Protocol.OIDC)
    with pytest.raises(PlanError, match="not saving the plan"):
        SavedPlan.of(PLAN, settings=SETTINGS, desired="d1", tenants="t.yaml", config=ConfigPlan(actions=(shown,)))
