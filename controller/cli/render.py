"""Human and machine views of a cycle: a text table, a PR-comment markdown, and JSON.

Only data from the plan is printed (tenant ids, field names and values from tenants.yaml or
Descope); settings and credentials are never part of a report, so nothing here can leak them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from controller.core.config_types import ConfigPlan
from controller.core.plan import Action, ActionKind, Cause, Plan
from controller.engine.cycle import CyclePlan, CycleReport
from controller.engine.logs import shown as _value  # the values log lines show, clipped the same way

_SYMBOL = {ActionKind.CREATE: "+", ActionKind.UPDATE: "~", ActionKind.DELETE: "-"}
SUB_RESOURCES = "roles/SSO/password policy"  # how every summary names a tenant's sub-resources (issue 16)


def summary_line(plan: Plan, config: ConfigPlan | None = None) -> str:
    """``2 to create, ...; 1 in sync.``, and the sub-resources' counts when a tenant manages any."""
    c, u, d = (plan.count(k) for k in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE))
    in_sync = plan.managed - plan.differing
    parts = [f"{c} to create, {u} to update, {d} to delete"]
    parts.append(f"{in_sync} in sync")
    if plan.conflicts:
        parts.append(f"{len(plan.conflicts)} conflict{'s' if len(plan.conflicts) != 1 else ''}")
    if plan.unmanaged:
        parts.append(f"{plan.unmanaged} unmanaged left alone")
    if plan.orphaned:
        parts.append(f"{len(plan.orphaned)} removed from YAML but kept (prune is off)")
    if config is not None:
        parts.append(f"{SUB_RESOURCES}: {config.summary_text()}")
    return "; ".join(parts) + "."


def _action_lines(action: Action, results: dict[str, str]) -> list[str]:
    verb = "adopt" if action.adopt else action.kind.value
    head = f"  {_SYMBOL[action.kind]} {verb:<7} {action.tenant_id}"
    if action.where:
        head += f"   ({action.where})"
    if action.tenant_id in results:
        head += f"   [{results[action.tenant_id]}]"
    lines = [head]
    for change in action.changes:
        if action.kind is ActionKind.CREATE:
            lines.append(f"        {change.field}: {_value(change.after)}")
        else:
            drift = "   (drift: edited in Descope)" if change.cause is Cause.DRIFT else ""
            lines.append(f"        {change.field}: {_value(change.before)} → {_value(change.after)}{drift}")
    return lines


def render_text(report: CycleReport, *, status: str | None = None) -> str:
    """The plan and result as text; ``status`` names the result when it is not a cycle's (a restore)."""
    lines: list[str] = []
    rev = report.revision
    if rev is not None:
        lines.append(f"Source: {rev.label or '-'} (revision {rev.id})")
    if report.error is not None:
        lines.append(f"Error: {report.error}")
    plan = report.plan
    if plan is None:
        return "\n".join(lines)
    config = report.config
    config_lines = config.lines() if config is not None else []
    if not plan.actions and not plan.conflicts and not config_lines:
        lines.append("No changes: Descope matches tenants.yaml.")
    results = report.outcomes()
    for action in plan.actions:
        lines.extend(_action_lines(action, results))
    lines.extend(f"  {line}" for line in config_lines)  # roles, SSO, password policy (issue 16)
    for conflict in plan.conflicts:
        lines.append(f"  ! conflict {conflict.tenant_id}: {conflict.message}")
        lines.extend(
            f"        {c.field}: {_value(c.before)} → {_value(c.after)}   (waits with it)" for c in conflict.changes
        )
    for reason in plan.blocked:
        lines.append(f"Refused by guard: {reason}")
    lines.append(
        ("Plan: " if report.applied is None else "Applied plan: ")
        + summary_line(plan, config.plan if config is not None else None)
    )
    if report.applied is not None:
        applied = report.applied
        lines.append(
            f"Result: {status or report.status} ({len(applied.succeeded)} done, {len(applied.failed)} failed) "
            f"in {report.duration:.1f}s"
        )
    lines.extend(f"Note: {n}" for n in report.notes)
    return "\n".join(lines)


def report_json(report: CycleReport, *, status: str | None = None) -> dict[str, Any]:
    plan = report.plan
    data: dict[str, Any] = {
        "cycle_id": report.cycle_id,
        "status": status or report.status,
        "dry_run": report.dry_run,
        "revision": report.revision.id if report.revision else None,
        "error": str(report.error) if report.error else None,
        "problems": [str(p) for p in getattr(report.error, "problems", [])],
        "duration_seconds": round(report.duration, 3),
    }
    if plan is not None:
        data["summary"] = {
            "create": plan.count(ActionKind.CREATE),
            "update": plan.count(ActionKind.UPDATE),
            "delete": plan.count(ActionKind.DELETE),
            "managed": plan.managed,
            "drifted": plan.drifted,
            "unmanaged": plan.unmanaged,
            "orphaned": list(plan.orphaned),
            "drift_fields": dict(plan.drift_fields),
        }
        data["actions"] = [a.as_dict() for a in plan.actions]
        data["conflicts"] = [{"tenant_id": c.tenant_id, "message": c.message, "where": c.where} for c in plan.conflicts]
        data["blocked"] = list(plan.blocked)
        data["digest"] = CyclePlan(plan, report.config.plan if report.config else None).digest()  # saved plans
    if report.applied is not None:
        data["results"] = [
            {
                "tenant_id": r.action.tenant_id,
                "kind": r.action.kind.value,
                "ok": r.ok,
                "error": r.error or None,
            }
            for r in report.applied.results
        ]
    if report.config is not None:
        data["config"] = report.config.as_dict()  # roles, SSO, password policy: plan and results
    data["notes"] = list(report.notes)
    return data


def render_json(report: CycleReport) -> str:
    return json.dumps(report_json(report), indent=2, sort_keys=True, default=str)


def render_markdown(report: CycleReport) -> str:
    """``--format markdown``; its module is imported only then: text and JSON plans start without it."""
    from controller.cli.markdown import render_markdown as render

    return render(report)


RENDERERS: dict[str, Callable[[CycleReport], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
