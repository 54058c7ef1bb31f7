"""What each tenant went through in a cycle (written, failed, found drifted, in conflict), as ``status`` names it.

A cycle's report becomes one event per tenant it touched or found different; the store keeps the
latest event per tenant, for the most recent ``RECENT_TENANTS`` tenants, so ``status`` can say who
drifted or failed and which field went from what to what, long after the cycle's log scrolled by.
Values are shown as the write log shows them (secrets hidden, long values cut).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from controller.core.outcome import CycleStatus
from controller.core.plan import Action
from controller.engine.cycle import CycleReport
from controller.engine.write_log import value_shown

RECENT_TENANTS: Final = 500


def cycle_events(report: CycleReport) -> dict[str, dict[str, Any]]:
    """Tenant id -> what this cycle did or found about it, in the order things happened."""
    plan = report.plan
    if plan is None:
        return {}
    base = {"at": report.finished, "cycle": report.cycle_id, "revision": report.enforced_revision or ""}
    events: dict[str, dict[str, Any]] = {}
    for action in plan.actions:
        events[action.tenant_id] = {**base, **_action_event(action), "result": _unwritten(report)}
    for conflict in plan.conflicts:
        events[conflict.tenant_id] = {
            **base,
            "action": "conflict",
            "cause": "conflict",
            "changes": [],
            "result": "conflict",
            "error": conflict.message,
        }
    if report.applied is not None:
        for result in report.applied.results:  # completion order: the most recent last
            event = events.pop(result.action.tenant_id, {**base, **_action_event(result.action)})
            if result.ok:
                event["result"] = "written"
            else:
                event["result"] = "skipped" if result.skipped else "failed"
                event["error"] = result.error
            events[result.action.tenant_id] = event
    return events


def remember_events(
    recent: Mapping[str, dict[str, Any]], new: Mapping[str, dict[str, Any]], *, limit: int = RECENT_TENANTS
) -> dict[str, dict[str, Any]]:
    """The latest event per tenant, newest last, at most ``limit`` tenants."""
    merged = {tid: event for tid, event in recent.items() if tid not in new}
    merged.update(new)
    ordered = sorted(merged.items(), key=lambda item: float(item[1].get("at") or 0.0))
    return dict(ordered[-limit:])


def _action_event(action: Action) -> dict[str, Any]:
    return {
        "action": action.kind.value,
        "cause": action.cause.value,
        "changes": [
            {
                "field": c.field,
                "cause": c.cause.value,
                "before": value_shown(c.field, c.before),
                "after": value_shown(c.field, c.after),
            }
            for c in action.changes
        ],
    }


def _unwritten(report: CycleReport) -> str:
    if report.suspended:
        return "not written (suspended)"
    if report.status is CycleStatus.BLOCKED:
        return "not written (a guard refused the plan)"
    if report.dry_run:
        return "not written (drift_policy report)"  # a recorded cycle that does not write: report policy
    return "not written"
