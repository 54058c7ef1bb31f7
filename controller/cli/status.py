"""``descope-gitops status``: what the controller last did, read from the store without locking it.

Reads ``state.json``, the open journal (a cycle in flight, or one a crash interrupted) and the
suspend flag; renders text for a human or a JSON document for scripts.
"""

from __future__ import annotations

import time
from typing import Any

from controller.adapters.journal import Journal
from controller.adapters.state_store import StateStore
from controller.core.flapping import Hold
from controller.engine.flapping import RESUME_HINT, held_text

FAILURE_CHARS = 400
"""How much of a failing tenant's error the text shows: enough for Descope's reason and what to do
(e.g. which custom attribute was refused), which follow a prefix of operation, status and code."""


TENANTS_SHOWN = 20
"""How many tenants the text lists, most recent first; ``--format json`` lists every one kept."""


def _when(ts: float | None) -> str:
    if not ts:
        return "never"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    return f"{stamp} ({_relative(ts)})"


def _relative(ts: float) -> str:
    """``12s ago`` for the past, ``in 12s`` for the future (a retry), never ``0s ago`` for a time ahead."""
    delta = ts - time.time()
    return f"in {_age(delta)}" if delta >= 0.5 else f"{_age(-delta)} ago"


def cut_words(text: str, limit: int) -> str:
    """``text`` clipped to about ``limit`` characters at a word boundary, with a marker; never mid-word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(",;:") + " …"


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def read_status(store: StateStore) -> dict[str, Any]:
    state = store.load(keep_aside=False)
    flag = store.suspend_flag()
    journal = Journal(store.directory).read_open(keep_aside=False)
    last = state.last_cycle
    return {
        "store": str(store.directory),
        "suspended": flag.suspended,
        "suspend_reason": flag.reason,
        "suspended_since": flag.since if flag.suspended else None,  # not suspended: `since` is the last resume
        "suspended_by": flag.by,
        "last_applied_revision": state.last_applied_revision,
        "last_applied_at": state.last_applied_at,
        "last_attempted_revision": state.last_attempted_revision,
        "last_attempted_error": state.last_attempted_error,
        "last_success_at": state.last_success_at,
        "managed_tenants": len(state.inventory),
        "last_cycle": None
        if last is None
        else {
            "cycle_id": last.cycle_id,
            "status": last.status,
            "revision": last.revision,
            "finished": last.finished,
            "duration_seconds": round(last.finished - last.started, 3),
            "actions": last.actions,
            "failed": last.failed,
            "drifted": last.drifted,
            "managed": last.managed,
            "unmanaged": last.unmanaged,
            "drift_fields": last.drift_fields,
            "changed": last.changed,
            "drift_known": last.measured,
            "error": last.error,
            "resumed": last.resumed,
        },
        "in_flight": journal.progress() if journal else None,
        "failing_tenants": {
            tid: {"failures": f.count, "next_attempt": f.next_attempt, "error": f.error}
            for tid, f in state.tenant_failures.items()
        },
        "flapping_tenants": {
            tid: {
                "field": hold.field,
                "ours": hold.ours,
                "foreign": hold.foreign,
                "reverts": hold.reverts,
                "first_revert": hold.first,
                "since": hold.since,
            }
            for tid, hold in sorted(state.flapping.items())
        },
        "resumes": state.resumes,
        "tenants": [
            {"tenant": tid, **event, "next_attempt": _next_attempt(state.tenant_failures.get(tid))}
            for tid, event in sorted(state.recent_tenants.items(), key=lambda item: -float(item[1].get("at") or 0))
        ],
        "history": [
            {"cycle_id": h.cycle_id, "status": h.status, "revision": h.revision, "finished": h.finished}
            for h in state.history
        ],
    }


def _next_attempt(failure: Any) -> float | None:
    return float(failure.next_attempt) if failure is not None else None


def _drift_line(last: dict[str, Any]) -> str:
    if not last.get("drift_known", True):
        return "Drift:            unknown (the last cycle could not read Descope or the source)"
    fields = ", ".join(f"{k}={v}" for k, v in last["drift_fields"].items())
    changed = f"; {last['changed']} changed by tenants.yaml" if last.get("changed") else ""
    return (
        f"Drift:            {last['drifted']} of {last['managed']} managed tenants drifted"
        + (f" ({fields})" if fields else "")
        + changed
        + f"; {last['unmanaged']} unmanaged"
    )


def render_status(status: dict[str, Any]) -> str:
    lines = [f"Store:            {status['store']}"]
    if status["suspended"]:
        reason = f": {status['suspend_reason']}" if status["suspend_reason"] else ""
        lines.append(
            f"State:            SUSPENDED since {_when(status['suspended_since'])} by {status['suspended_by']}{reason}"
        )
    else:
        lines.append("State:            active")
    lines.append(f"Applied revision: {status['last_applied_revision'] or '-'} at {_when(status['last_applied_at'])}")
    attempted = status["last_attempted_revision"]
    if attempted and attempted != status["last_applied_revision"]:
        lines.append(f"Last attempted:   {attempted}")
    if status["last_attempted_error"]:
        error_lines = status["last_attempted_error"].splitlines()
        lines.append(f"Its error:        {error_lines[0]}")
        lines.extend(f"                  {line.strip()}" for line in error_lines[1:20])
    last = status["last_cycle"]
    if last:
        lines.append(
            f"Last cycle:       {last['status']} at {_when(last['finished'])}, {last['actions']} actions, "
            f"{last['failed']} failed, {last['duration_seconds']:.1f}s"
        )
        lines.append(_drift_line(last))
    else:
        lines.append("Last cycle:       none yet")
    lines.append(f"Last success:     {_when(status['last_success_at'])}")
    flight = status["in_flight"]
    if flight:
        lines.append(
            f"In flight:        cycle {flight['cycle_id']}: {flight['done']}/{flight['total']} done, "
            f"{flight['failed']} failed, {flight['remaining']} remaining"
        )
    for tid, failure in sorted(status["failing_tenants"].items()):
        lines.append(
            f"Failing tenant:   {tid}: {failure['failures']} failures, next try {_when(failure['next_attempt'])}: "
            f"{cut_words(failure['error'], FAILURE_CHARS)}"
        )
    for tid, held in status["flapping_tenants"].items():
        hold = Hold(held["field"], held["ours"], held["foreign"], held["reverts"], held["first_revert"], held["since"])
        lines.append(
            f"Flapping tenant:  {tid}: {held_text(hold)}; not corrected since {_when(hold.since)}. "
            f"Stop the other writer, then {RESUME_HINT}, or change tenants.yaml"
        )
    if status["resumes"]:
        lines.append(f"Resumed cycles:   {status['resumes']}")
    lines.extend(_tenant_lines(status["tenants"]))
    return "\n".join(lines)


_WRITTEN = {
    ("create", "change"): "created",
    ("delete", "change"): "deleted",
    ("update", "change"): "applied change",
    ("update", "drift"): "corrected drift",
    ("update", "adopt"): "adopted",
}


def _tenant_lines(tenants: list[dict[str, Any]]) -> list[str]:
    """The tenants the last cycles wrote, found drifted, or failed on: most recent first."""
    if not tenants:
        return []
    lines = [f"Tenants, most recent first ({min(len(tenants), TENANTS_SHOWN)} of {len(tenants)}):"]
    for event in tenants[:TENANTS_SHOWN]:
        lines.append(f"  {event['tenant']}: {_what(event)} {_relative(float(event.get('at') or 0))}")
        changes = event.get("changes") or []
        for change in changes[:5]:
            tag = " (drift)" if change.get("cause") == "drift" and event.get("cause") != "drift" else ""
            if event.get("action") == "create":
                lines.append(f"      {change['field']}: {change['after']}")
            else:
                lines.append(f"      {change['field']}: {change['before']} → {change['after']}{tag}")
        if len(changes) > 5:
            lines.append(f"      and {len(changes) - 5} more fields")
        if event.get("error"):
            lines.append(f"      error: {cut_words(str(event['error']), FAILURE_CHARS)}")
        if event.get("next_attempt"):
            lines.append(f"      next try {_relative(float(event['next_attempt']))}")
    if len(tenants) > TENANTS_SHOWN:
        lines.append(f"  … and {len(tenants) - TENANTS_SHOWN} more: `descope-gitops status --format json` lists all")
    return lines


def _what(event: dict[str, Any]) -> str:
    action, cause, result = event.get("action", ""), event.get("cause", ""), event.get("result", "")
    if result == "conflict":
        return "conflict, not written"
    if result == "written":
        return _WRITTEN.get((action, cause), f"{action} ({cause})")
    if result == "failed":
        return f"FAILED to {action} ({cause})"
    noun = {"drift": "drifted", "adopt": "to adopt"}.get(cause, f"{action} planned ({cause})")
    return f"{noun}, {result}"
