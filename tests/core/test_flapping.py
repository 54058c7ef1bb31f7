"""Table-driven tests of the flapping rule: when to stop correcting a tenant, and when to start again."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.flapping import (
    MAX_REVERTS_KEPT,
    FlapDecision,
    FlapPolicy,
    Hold,
    Released,
    Revert,
    decide,
    remember,
)
from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import ActionKind, Cause, FieldChange, make_plan

FIELD = "customAttributes.plan"
NOW = 10_000.0
POLICY = FlapPolicy(reverts=3, window=600)
ACME = {"id": "acme", "name": "ACME"}
OURS = {**ACME, "customAttributes": {"plan": "enterprise"}}
FOREIGN = {**ACME, "customAttributes": {"plan": "free"}}
SAME = object()  # "the previous applied revision is this one"


def desired(*tenants: dict[str, Any]) -> DesiredState:
    return DesiredState(
        tuple(DesiredTenant(t["id"], {k: v for k, v in t.items() if k != "id"}, "tenants.yaml", 1) for t in tenants)
    )


def revert(ago: float, *, ours: Any = "enterprise", foreign: Any = "free", field: str = FIELD) -> Revert:
    return Revert(field, ours, foreign, NOW - ago)


HOLD = Hold(FIELD, "enterprise", "free", reverts=3, first=NOW - 400, since=NOW - 100)


def run(
    want: dict[str, Any] | None,
    have: dict[str, Any],
    *,
    previous: Any = SAME,
    history: tuple[Revert, ...] = (),
    hold: Hold | None = None,
    policy: FlapPolicy = POLICY,
    resumed_at: float | None = None,
) -> FlapDecision:
    state = desired(want) if want is not None else desired({"id": "other", "name": "Other"})
    before = state if previous is SAME else (desired(previous) if previous is not None else None)
    plan = make_plan(state, [have], previous=before)
    return decide(
        plan,
        state,
        previous=before,
        live_by_id={have["id"]: have},
        live_settings={},
        history={"acme": history} if history else {},
        holds={"acme": hold} if hold else {},
        now=NOW,
        policy=policy,
        resumed_at=resumed_at,
    )


def updates(decision: FlapDecision) -> list[dict[str, Any]]:
    return [dict(a.patch or {}) for a in decision.plan.actions if a.kind is ActionKind.UPDATE]


# ---- detection: the same field, reverted to the same foreign value, N times in the window -------

DETECTION_CASES = [
    pytest.param((revert(300), revert(60)), SAME, POLICY, True, id="third-revert-in-window"),
    pytest.param((revert(60),), SAME, POLICY, False, id="second-revert-is-still-corrected"),
    pytest.param((revert(700), revert(60)), SAME, POLICY, False, id="one-revert-outside-the-window"),
    pytest.param((revert(300, foreign="pro"), revert(60)), SAME, POLICY, False, id="another-foreign-value"),
    pytest.param((revert(300, ours="pro"), revert(60)), SAME, POLICY, False, id="another-value-of-ours"),
    pytest.param((revert(300, field="name"), revert(60)), SAME, POLICY, False, id="another-field"),
    pytest.param(
        (revert(300), revert(60)),
        {**ACME, "customAttributes": {"plan": "pro"}},
        POLICY,
        False,
        id="the-revision-just-changed-it-a-change-not-drift",
    ),
    pytest.param((revert(300), revert(60)), None, POLICY, False, id="previous-revision-unknown-counts-as-change"),
    pytest.param((revert(300), revert(60)), SAME, FlapPolicy(reverts=0), False, id="detection-off"),
    pytest.param((revert(60),), SAME, FlapPolicy(reverts=2, window=600), True, id="two-reverts-when-set-so"),
    pytest.param((revert(30), revert(20)), SAME, FlapPolicy(reverts=3, window=25), False, id="short-window"),
]


@pytest.mark.parametrize(("history", "previous", "policy", "held"), DETECTION_CASES)
def test_flapping_is_the_same_revert_n_times_in_the_window(
    history: tuple[Revert, ...], previous: Any, policy: FlapPolicy, held: bool
) -> None:
    decision = run(OURS, FOREIGN, previous=previous, history=history, policy=policy)
    if held:
        count = len(history) + 1
        first = min(r.at for r in history)
        assert decision.started == {"acme": Hold(FIELD, "enterprise", "free", count, first, NOW)}
        assert decision.holds == decision.started
        assert updates(decision) == []  # the drift is reported, not corrected
        assert decision.corrections == {}
    else:
        assert decision.started == {} and decision.holds == {}
        assert updates(decision) == [{"customAttributes": {"plan": "enterprise"}}]
    # held or not, the tenant is drifted; with the previous revision unknown, the difference counts as a change
    drift = previous is SAME  # the enforced revision already had this value: someone edited Descope
    assert (decision.plan.drifted, decision.plan.changed) == ((1, 0) if drift else (0, 1))


def test_a_correction_is_remembered_only_when_it_is_drift() -> None:
    drift = run(OURS, FOREIGN)
    assert drift.corrections == {"acme": (FieldChange(FIELD, "free", "enterprise", Cause.DRIFT),)}
    change = run(OURS, FOREIGN, previous={**ACME, "customAttributes": {"plan": "pro"}})
    assert change.corrections == {}
    new_tenant_in_yaml = run(OURS, FOREIGN, previous={"id": "globex", "name": "Globex"})
    assert new_tenant_in_yaml.corrections == {}


def test_values_compare_as_the_planner_compares_them() -> None:
    want = {**ACME, "customAttributes": {"seats": 50}, "selfProvisioningDomains": ["acme.com", "b.com"]}
    have = {**ACME, "customAttributes": {"seats": 5}, "selfProvisioningDomains": ["x.com"]}
    history = (
        Revert("customAttributes.seats", 50.0, 5, NOW - 60),
        Revert("customAttributes.seats", 50, 5.0, NOW - 30),
    )
    assert run(want, have, history=history).started["acme"].field == "customAttributes.seats"
    domains = (
        Revert("selfProvisioningDomains", ["B.com", "acme.com"], ["X.COM"], NOW - 60),
        Revert("selfProvisioningDomains", ["b.com", "acme.com"], ["x.com"], NOW - 30),
    )
    want = {**ACME, "selfProvisioningDomains": ["acme.com", "b.com"]}
    have = {**ACME, "selfProvisioningDomains": ["x.com"]}
    assert run(want, have, history=domains).started["acme"].reverts == 3


# ---- release: tenants.yaml or the live value moved, or a human resumed ---------------------------

RELEASE_CASES = [
    pytest.param(OURS, FOREIGN, SAME, None, None, None, [], id="same-fight-stays-held"),
    pytest.param(
        {**ACME, "customAttributes": {"plan": "pro"}},
        FOREIGN,
        OURS,
        None,
        Released.YAML,
        "pro",
        [{"customAttributes": {"plan": "pro"}}],
        id="yaml-changed-the-field",
    ),
    pytest.param(ACME, FOREIGN, OURS, None, Released.YAML, None, [], id="yaml-no-longer-manages-the-field"),
    pytest.param(
        OURS,
        {**ACME, "customAttributes": {"plan": "trial"}},
        SAME,
        None,
        Released.LIVE,
        "trial",
        [{"customAttributes": {"plan": "enterprise"}}],
        id="live-moved-to-another-value",
    ),
    pytest.param(OURS, OURS, SAME, None, Released.LIVE, "enterprise", [], id="live-agrees-with-yaml-again"),
    pytest.param(
        OURS,
        FOREIGN,
        SAME,
        NOW - 50,
        Released.RESUME,
        None,
        [{"customAttributes": {"plan": "enterprise"}}],
        id="resumed-after-the-hold",
    ),
    pytest.param(OURS, FOREIGN, SAME, NOW - 200, None, None, [], id="resumed-before-the-hold-stays-held"),
    pytest.param(None, FOREIGN, SAME, None, Released.GONE, None, [], id="tenant-left-yaml"),
]


@pytest.mark.parametrize(("want", "have", "previous", "resumed_at", "reason", "value", "writes"), RELEASE_CASES)
def test_a_hold_ends_when_yaml_or_live_moves_or_on_resume(
    want: dict[str, Any] | None,
    have: dict[str, Any],
    previous: Any,
    resumed_at: float | None,
    reason: Released | None,
    value: Any,
    writes: list[dict[str, Any]],
) -> None:
    decision = run(want, have, previous=previous, hold=HOLD, resumed_at=resumed_at)
    if reason is None:
        assert decision.released == ()
        assert decision.holds == {"acme": HOLD}
    else:
        (release,) = decision.released
        assert (release.tenant_id, release.reason, release.value) == ("acme", reason, value)
        assert decision.holds == {}
    assert updates(decision) == writes


def test_the_live_tenant_deleted_ends_the_hold_and_it_is_created_again() -> None:
    state = desired(OURS)
    plan = make_plan(state, [])
    decision = decide(
        plan,
        state,
        previous=state,
        live_by_id={},
        live_settings={},
        history={},
        holds={"acme": HOLD},
        now=NOW,
        policy=POLICY,
    )
    assert [r.reason for r in decision.released] == [Released.GONE]
    assert [a.kind for a in decision.plan.actions] == [ActionKind.CREATE]


def test_turning_detection_off_releases_every_hold_and_forgets_the_history() -> None:
    decision = run(OURS, FOREIGN, hold=HOLD, history=(revert(60),), policy=FlapPolicy(reverts=0))
    assert [r.reason for r in decision.released] == [Released.OFF]
    assert decision.holds == {} and decision.history == {}
    assert updates(decision) == [{"customAttributes": {"plan": "enterprise"}}]


def test_a_held_tenant_still_gets_what_tenants_yaml_newly_asks_for() -> None:
    want = {**OURS, "name": "ACME Corp", "disabled": True}
    previous = {**OURS, "disabled": True}  # this revision renames it; disabled is old news
    have = {**FOREIGN, "disabled": False}  # the other writer also enabled it
    decision = run(want, have, previous=previous, hold=HOLD)
    assert decision.holds == {"acme": HOLD}
    (action,) = decision.plan.actions
    assert [c.field for c in action.changes] == ["name"]
    assert action.patch == {"name": "ACME Corp"}  # not the held plan, not the drifted disabled
    assert decision.plan.drifted == 1
    assert decision.plan.drift_fields == {"customAttributes": 1, "disabled": 1}  # the rename is a change
    assert decision.plan.changed == 1


def test_an_attribute_change_of_a_held_tenant_keeps_the_foreign_attribute() -> None:
    want = {**ACME, "customAttributes": {"plan": "enterprise", "seats": 60}}
    previous = {**ACME, "customAttributes": {"plan": "enterprise", "seats": 50}}
    have = {**ACME, "customAttributes": {"plan": "free", "seats": 50, "region": "eu"}}
    decision = run(want, have, previous=previous, hold=HOLD)
    assert updates(decision) == [{"customAttributes": {"plan": "free", "seats": 60, "region": "eu"}}]


# ---- the remembered corrections ------------------------------------------------------------------


def test_history_keeps_the_window_and_forgets_on_resume_or_a_new_desired_value() -> None:
    old, recent = revert(900), revert(60)
    assert run(OURS, FOREIGN, history=(old, recent)).history == {"acme": (recent,)}
    resumed = run(OURS, FOREIGN, history=(recent,), hold=HOLD, resumed_at=NOW - 10)
    assert resumed.history == {}
    pro = {**ACME, "customAttributes": {"plan": "pro"}}
    yaml_changed = run(pro, FOREIGN, previous=OURS, history=(recent,), hold=HOLD)
    assert yaml_changed.history == {}
    assert run(None, FOREIGN, history=(recent,)).history == {}  # the tenant left tenants.yaml


def test_a_writer_toggling_between_two_values_is_held_again_at_once() -> None:
    # held against "free"; the other writer now sets "pro", which it had already done twice
    history = (revert(200, foreign="pro"), revert(100, foreign="pro"))
    decision = run(OURS, {**ACME, "customAttributes": {"plan": "pro"}}, history=history, hold=HOLD)
    assert [r.reason for r in decision.released] == [Released.LIVE]
    assert decision.started["acme"].foreign == "pro"
    assert updates(decision) == []


def test_after_a_resume_the_count_starts_afresh() -> None:
    decision = run(OURS, FOREIGN, history=(revert(300), revert(200)), hold=HOLD, resumed_at=NOW - 10)
    assert decision.holds == {}  # not held again at once by the reverts from before the resume
    assert updates(decision) == [{"customAttributes": {"plan": "enterprise"}}]


def test_remember_adds_the_corrections_made_and_bounds_each_tenant() -> None:
    change = FieldChange(FIELD, "free", "enterprise")
    history = remember({"acme": (revert(60),)}, {"acme": [change], "globex": [change]}, now=NOW)
    assert history == {"acme": (revert(60), revert(0)), "globex": (revert(0),)}
    many = remember({}, {"acme": [change] * (MAX_REVERTS_KEPT + 5)}, now=NOW)
    assert len(many["acme"]) == MAX_REVERTS_KEPT
