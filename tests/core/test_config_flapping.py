"""Another writer setting a role, SSO configuration or password policy field back: when it is reported."""

from __future__ import annotations

import pytest

from controller.core.config_flapping import drift_corrections, repeated_drift
from controller.core.config_types import SubAction, SubKind, SubOp
from controller.core.flapping import FlapPolicy
from controller.core.plan_types import Cause, FieldChange

POLICY = FlapPolicy(reverts=3, window=600.0)
BODY = {"name": "Member"}


def correction(before: object = "edited", field: str = "description", cause: Cause = Cause.DRIFT) -> SubAction:
    change = FieldChange(field, before, "ours", cause)
    return SubAction(SubKind.ROLE, SubOp.UPDATE, "acme", "Member", (change,), BODY)


@pytest.mark.parametrize(
    ("cycles", "reported"),
    [
        # (when, the foreign value found) per corrected cycle -> counts reported on the last cycle (new?)
        ([(0, "edited"), (100, "edited"), (200, "edited")], [(3, True)]),
        ([(0, "edited"), (100, "edited")], []),  # twice is not a fight yet
        ([(0, "edited"), (100, "other"), (200, "edited")], []),  # a different foreign value each time
        ([(0, "edited"), (100, "edited"), (900, "edited")], []),  # the first fell out of the window
        ([(0, "edited"), (100, "edited"), (200, "edited"), (300, "edited")], [(3, False)]),  # logged once
    ],
)
def test_the_same_field_set_back_to_the_same_value_reverts_times_in_the_window_is_reported(
    cycles: list[tuple[float, str]], reported: list[tuple[int, bool]]
) -> None:
    history: dict[tuple[str, str, str, str, str], tuple[float, ...]] = {}
    found: list[tuple[int, bool]] = []
    for now, foreign in cycles:
        history, repeated = repeated_drift(history, drift_corrections([correction(foreign)]), now=now, policy=POLICY)
        found = [(r.count, r.new) for r in repeated]
    assert found == reported


def test_a_change_of_tenants_yaml_and_a_create_never_count() -> None:
    change = correction(cause=Cause.CHANGE)
    create = SubAction(SubKind.ROLE, SubOp.CREATE, "acme", "Member", (FieldChange("description", None, "x"),), BODY)
    assert drift_corrections([change, create]) == []


def test_the_report_names_the_sub_resource_and_field_never_the_values() -> None:
    history: dict[tuple[str, str, str, str, str], tuple[float, ...]] = {}
    sso = SubAction(
        SubKind.SSO, SubOp.UPDATE, "acme", "okta",
        (FieldChange("saml.attributeMapping.email", "mail", "email", Cause.DRIFT),), {"settings": {}},
    )  # fmt: skip
    for now in (0, 1, 2):
        history, repeated = repeated_drift(history, drift_corrections([sso]), now=now, policy=POLICY)
    (line,) = [r.line(POLICY.window) for r in repeated]
    assert line.startswith("sso acme/okta: saml.attributeMapping.email was set back by another writer")
    assert "still corrected" in line and "mail" not in line.replace("email", "")


def test_detection_off_reports_nothing() -> None:
    off = FlapPolicy(reverts=0)
    history, repeated = repeated_drift({}, drift_corrections([correction()] * 5), now=0, policy=off)
    assert history == {} and repeated == []
