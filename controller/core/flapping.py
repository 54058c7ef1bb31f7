"""Flapping: another writer keeps reverting what we correct; stop fighting it until YAML or live moves.

A pure function over plain data, like ``plan``. The engine remembers, per tenant, the drift
corrections it made (``Revert``: field, our value, the foreign value it replaced, when) and the
tenants it holds (``Hold``); each cycle ``decide`` reads the plan against them:

- only *drift* counts: a field whose desired value the previous applied revision already had. A
  field the new revision changes is a change, and a change of tenants.yaml is never flapping;
  without the previous revision every difference counts as a change (a missed count, never a false one);
- a tenant whose same field is found drifted to the same foreign value ``reverts`` times within
  ``window`` seconds (the corrections remembered plus this finding) is held: its drift corrections
  leave the plan (report only, as drift_policy = "report" for that tenant), while a change of
  tenants.yaml to any of its fields still goes through;
- a hold ends when the desired value of its field changes, when the live value is no longer the
  foreign one, when the tenant leaves tenants.yaml or Descope, or on a ``resume`` after it began.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from controller.core.cause import ABSENT, desired_at, is_change, same_value
from controller.core.model import DesiredState, DesiredTenant, JSONValue, LiveTenant
from controller.core.plan import ActionKind, FieldChange, Plan, update_action

MAX_REVERTS_KEPT: Final = 50
"""Per tenant: a field another writer sets to a new value every time never makes a hold, and must
not grow the state file without bound either."""


@dataclass(frozen=True)
class FlapPolicy:
    """``[reconcile] flapping_reverts`` within ``flapping_window`` seconds; 0 reverts turns detection off."""

    reverts: int = 3
    window: float = 600.0

    @property
    def enabled(self) -> bool:
        return self.reverts > 0


@dataclass(frozen=True)
class Revert:
    """One drift correction we made: ``field`` was ``foreign`` live and we set it back to ``ours``."""

    field: str
    ours: JSONValue
    foreign: JSONValue
    at: float


@dataclass(frozen=True)
class Hold:
    """A flapping tenant: ``field`` keeps going back to ``foreign``; its drift is reported, not corrected."""

    field: str
    ours: JSONValue
    foreign: JSONValue
    reverts: int  # how many times it was found reverted within the window
    first: float  # the oldest of those
    since: float  # when we stopped correcting


class Released(StrEnum):
    YAML = "yaml"  # tenants.yaml changed (or no longer writes) the held field
    LIVE = "live"  # the live value is no longer the foreign one
    RESUME = "resume"  # `descope-gitops resume` after the hold began
    GONE = "gone"  # the tenant left tenants.yaml or Descope
    OFF = "off"  # detection was turned off


@dataclass(frozen=True)
class Release:
    tenant_id: str
    hold: Hold
    reason: Released
    value: JSONValue = None  # the field's new desired value (YAML) or live value (LIVE)


@dataclass(frozen=True)
class FlapDecision:
    plan: Plan  # the held tenants' drift corrections left out; changes of tenants.yaml kept
    holds: Mapping[str, Hold]  # every tenant held after this cycle
    started: Mapping[str, Hold]  # held from this cycle on (the engine says so once)
    released: tuple[Release, ...]
    history: Mapping[str, tuple[Revert, ...]]  # the remembered corrections still in the window
    corrections: Mapping[str, tuple[FieldChange, ...]] = field(default_factory=dict)
    """The drift the plan still corrects, per tenant: the engine remembers those whose write succeeded."""


def decide(
    plan: Plan,
    desired: DesiredState,
    *,
    previous: DesiredState | None,
    live_by_id: Mapping[str, LiveTenant],
    live_settings: Mapping[str, Mapping[str, JSONValue]],
    history: Mapping[str, Sequence[Revert]],
    holds: Mapping[str, Hold],
    now: float,
    policy: FlapPolicy,
    resumed_at: float | None = None,
) -> FlapDecision:
    """Which tenants to stop (or start again) correcting, and the plan without their drift.

    ``previous`` is the desired state of the last applied revision (None when unknown);
    ``resumed_at`` the time of the last ``descope-gitops resume``, which releases older holds.
    """
    if not policy.enabled:
        off = tuple(Release(tid, hold, Released.OFF) for tid, hold in sorted(holds.items()))
        return FlapDecision(plan, {}, {}, off, {})
    if not plan.actions and not holds and not history:
        return FlapDecision(plan, {}, {}, (), {})  # an idle cycle: nothing to hold, release or forget
    desired_by_id = desired.by_id()
    before = previous.by_id() if previous is not None else None
    drift: dict[str, tuple[FieldChange, ...]] = {}
    for action in plan.actions:
        if action.kind is ActionKind.UPDATE:
            tenant = desired_by_id[action.tenant_id]
            found = tuple(c for c in action.changes if not is_change(c.field, tenant, before))
            if found:
                drift[action.tenant_id] = found

    kept: dict[str, Hold] = {}
    released: list[Release] = []
    for tid, hold in sorted(holds.items()):
        reason, value = _release(tid, hold, desired_by_id, live_by_id, drift.get(tid, ()), resumed_at)
        if reason is None:
            kept[tid] = hold
        else:
            released.append(Release(tid, hold, reason, value))
    # a human's resume or a new desired value starts the count afresh; a live value that moved
    # keeps it, so a writer that toggles between two foreign values is held again at once
    forget = {r.tenant_id for r in released if r.reason is not Released.LIVE}
    horizon = now - policy.window
    recent = {
        tid: kept_records
        for tid, records in history.items()
        if tid in desired_by_id and tid not in forget
        if (kept_records := tuple(r for r in records if r.at > horizon))
    }

    started: dict[str, Hold] = {}
    for tid, changes in drift.items():
        if tid not in kept:
            found_hold = _flapping(changes, recent.get(tid, ()), now, policy)
            if found_hold is not None:
                started[tid] = found_hold

    held = {**kept, **started}
    actions = []
    corrections: dict[str, tuple[FieldChange, ...]] = {}
    for action in plan.actions:
        tid = action.tenant_id
        if action.kind is not ActionKind.UPDATE or tid not in held:
            actions.append(action)
            if tid in drift:
                corrections[tid] = drift[tid]
            continue
        changed = {c.field for c in action.changes} - {c.field for c in drift.get(tid, ())}
        if changed:  # a held tenant still gets what tenants.yaml newly asks for
            narrowed = update_action(_only(desired_by_id[tid], changed), live_by_id[tid], live_settings.get(tid))
            if narrowed is not None:
                actions.append(narrowed)
    return FlapDecision(
        plan=replace(plan, actions=tuple(actions)) if held else plan,
        holds=held,
        started=started,
        released=tuple(released),
        history=recent,
        corrections=corrections,
    )


def remember(
    history: Mapping[str, Sequence[Revert]], corrected: Mapping[str, Sequence[FieldChange]], *, now: float
) -> dict[str, tuple[Revert, ...]]:
    """``history`` with the drift corrections that were written this cycle added (newest last)."""
    out = {tid: tuple(records) for tid, records in history.items()}
    for tid, changes in corrected.items():
        made = tuple(Revert(c.field, c.after, c.before, now) for c in changes)
        out[tid] = (*out.get(tid, ()), *made)[-MAX_REVERTS_KEPT:]
    return out


def _flapping(changes: Sequence[FieldChange], past: Sequence[Revert], now: float, policy: FlapPolicy) -> Hold | None:
    for change in changes:
        seen = [
            r.at
            for r in past
            if r.field == change.field
            and same_value(r.field, r.ours, change.after)
            and same_value(r.field, r.foreign, change.before)
        ]
        if len(seen) + 1 >= policy.reverts:
            return Hold(change.field, change.after, change.before, len(seen) + 1, min(seen, default=now), now)
    return None


def _release(
    tenant_id: str,
    hold: Hold,
    desired_by_id: Mapping[str, DesiredTenant],
    live_by_id: Mapping[str, LiveTenant],
    drift: Sequence[FieldChange],
    resumed_at: float | None,
) -> tuple[Released | None, JSONValue]:
    if resumed_at is not None and resumed_at > hold.since:
        return Released.RESUME, None
    tenant = desired_by_id.get(tenant_id)
    if tenant is None or tenant_id not in live_by_id:
        return Released.GONE, None
    want = desired_at(tenant, hold.field)
    if want is ABSENT:
        return Released.YAML, None
    if not same_value(hold.field, want, hold.ours):
        return Released.YAML, want
    for change in drift:
        if change.field == hold.field:
            if same_value(hold.field, change.before, hold.foreign):
                return None, None  # still the same fight: keep holding
            return Released.LIVE, change.before
    return Released.LIVE, hold.ours  # live agrees with tenants.yaml again


def _only(tenant: DesiredTenant, fields: Collection[str]) -> DesiredTenant:
    """``tenant`` managing only ``fields``: planning it changes nothing else."""
    kept: dict[str, JSONValue] = {}
    for name in fields:
        top, _, key = name.partition(".")
        if key:
            kept.setdefault(top, {})[key] = tenant.fields[top][key]
        else:
            kept[top] = tenant.fields[top]
    return replace(tenant, fields=kept)
