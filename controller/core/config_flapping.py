"""Another writer keeps setting a role, SSO configuration or password policy back: found and reported, never held.

Why not held like a tenant (``core.flapping``): these are access control. A role's permissions, an SSO
configuration's role mappings or a password policy that another writer keeps changing would, if held,
leave that writer's access grant in place; so the controller keeps correcting them every cycle (as
``drift_policy`` says) and reports the fight loudly instead. The rule for *when* it is a fight is the
tenants' one: the same field of the same sub-resource found drifted to the same foreign value
``policy.reverts`` times within ``policy.window`` seconds (drift corrections only: a change of
tenants.yaml never counts). Pure, over the corrections the engine made; the engine keeps the history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from controller.core.config_types import SubAction, SubKind, SubOp
from controller.core.flapping import FlapPolicy
from controller.core.plan_types import Cause

Correction = tuple[str, str, str, str, str]  # (kind, tenant id, key, field, the foreign value as canonical JSON)
History = Mapping[Correction, tuple[float, ...]]  # when each correction was made, within the window


@dataclass(frozen=True)
class Repeated:
    """A sub-resource field set back to the same foreign value ``count`` times within the window."""

    kind: SubKind
    tenant_id: str
    key: str
    field: str
    count: int
    new: bool  # this cycle's correction made it reach ``policy.reverts``: log it once

    def line(self, window: float) -> str:
        what = SubAction(self.kind, SubOp.UPDATE, self.tenant_id, self.key).label()
        return (
            f"{what}: {self.field} was set back by another writer at least {self.count} times within {window:.0f}s; "
            "still corrected every cycle (access control is never left to the other writer): stop that writer, "
            "or put its value in tenants.yaml"
        )


def drift_corrections(actions: Iterable[SubAction]) -> list[Correction]:
    """The drift corrections among written actions: one per field whose difference was drift."""
    out: list[Correction] = []
    for action in actions:
        if action.op not in (SubOp.UPDATE, SubOp.ADOPT) or action.body is None:
            continue
        for change in action.changes:
            if change.cause is Cause.DRIFT:
                foreign = json.dumps(change.before, sort_keys=True, default=str)
                out.append((action.kind.value, action.tenant_id, action.key, change.field, foreign))
    return out


def repeated_drift(
    history: History, corrected: Iterable[Correction], *, now: float, policy: FlapPolicy
) -> tuple[dict[Correction, tuple[float, ...]], list[Repeated]]:
    """The history with this cycle's corrections (older than the window dropped), and the fights it shows."""
    if not policy.enabled:
        return {}, []
    since = now - policy.window
    kept = {c: tuple(t for t in times if t >= since) for c, times in history.items()}
    kept = {c: times for c, times in kept.items() if times}
    found: list[Repeated] = []
    for correction in dict.fromkeys(corrected):
        before = kept.get(correction, ())
        kept[correction] = times = (*before, now)[-policy.reverts :]  # bounded: more are never needed
        if len(times) >= policy.reverts:
            kind, tenant_id, key, field, _foreign = correction
            new = len(before) == policy.reverts - 1
            found.append(Repeated(SubKind(kind), tenant_id, key, field, len(times), new))
    return kept, found
