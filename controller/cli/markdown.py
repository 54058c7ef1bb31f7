"""The pull-request comment (``plan --format markdown``)."""

from __future__ import annotations

from controller.core.plan import ActionKind
from controller.engine.cycle import CycleReport
from controller.engine.logs import shown as _value


def render_markdown(report: CycleReport) -> str:
    from controller.cli.render import summary_line  # render imports this module

    lines = ["### descope-gitops plan", ""]
    if report.revision is not None:
        lines.append(f"Revision `{report.revision.id}`")
        lines.append("")
    if report.error is not None:
        lines += [f"**Error:** {report.error}", ""]
    plan = report.plan
    if plan is None:
        return "\n".join(lines)
    for reason in plan.blocked:
        lines += [f"> :no_entry: **Refused by guard:** {reason}", ""]
    if plan.actions:
        lines += ["| | tenant | changes |", "|---|---|---|"]
        for action in plan.actions:
            changes = "<br>".join(
                f"`{c.field}`: {_md(_value(c.after))}"
                if action.kind is ActionKind.CREATE
                else f"`{c.field}`: {_md(_value(c.before))} → {_md(_value(c.after))}"
                for c in action.changes
            )
            lines.append(f"| {action.kind.value} | `{action.tenant_id}` | {changes} |")
        lines.append("")
    for conflict in plan.conflicts:
        lines.append(f"- :warning: `{conflict.tenant_id}`: {_md(conflict.message)}")
    if plan.conflicts:
        lines.append("")
    lines.append(("**No changes.** " if not plan.actions else "") + summary_line(plan))
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
