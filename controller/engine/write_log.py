"""One log line per write that says who and what: the tenant, why (change, drift, adoption) and each field old → new.

For the SRE reading the daemon's log after a console edit or a merge, next to the counts of the
cycle summary: ``corrected drift on globex: name "Globex Console Edit" → "Globex"``. Values that
could be secrets (a field named like a key, token or password) are never shown, long values are
cut with a marker, and registered secrets are masked by the log pipeline like everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from loguru import logger

from controller.core.model import LiveTenant
from controller.core.plan import Action, ActionKind, Cause, FieldChange
from controller.engine.apply import ActionResult, WriteHooks
from controller.engine.logs import shown

HIDDEN: Final = "(hidden)"
_SENSITIVE: Final = re.compile(r"secret|token|passw|credential|private|api.?key|signing", re.IGNORECASE)
MAX_FIELDS_SHOWN: Final = 20  # a create with many attributes: the rest are counted


def value_shown(field_name: str, value: object) -> str:
    """A value as a write line shows it: hidden if the field's name says it could be a secret, else clipped JSON."""
    leaf = field_name.rsplit(".", 1)[-1]
    return HIDDEN if _SENSITIVE.search(leaf) else shown(value)


def changes_text(changes: Sequence[FieldChange], *, created: bool = False) -> str:
    parts = [
        f"{c.field} {value_shown(c.field, c.after)}"
        if created
        else f"{c.field} {value_shown(c.field, c.before)} → {value_shown(c.field, c.after)}"
        for c in changes[:MAX_FIELDS_SHOWN]
    ]
    if len(changes) > MAX_FIELDS_SHOWN:
        parts.append(f"and {len(changes) - MAX_FIELDS_SHOWN} more fields")
    return ", ".join(parts)


def write_line(action: Action, revision: str | None) -> str:
    """The sentence for one finished write (pure: tested with plain values)."""
    rev = f" (rev {revision[:12]})" if revision else ""
    if action.kind is ActionKind.CREATE:
        return f"created {action.tenant_id}{rev}: {changes_text(action.changes, created=True)}"
    if action.kind is ActionKind.DELETE:
        return f"deleted {action.tenant_id}: removed from tenants.yaml{rev}"
    if action.cause is Cause.ADOPT:
        what = changes_text(action.changes) if action.changes else "managed from now on, nothing to change"
        return f"adopted {action.tenant_id}{rev}: {what}"
    changed = [c for c in action.changes if c.cause is not Cause.DRIFT]
    drifted = [c for c in action.changes if c.cause is Cause.DRIFT]
    if not changed:
        return f"corrected drift on {action.tenant_id}: {changes_text(drifted)}"
    line = f"applied change on {action.tenant_id}{rev}: {changes_text(changed)}"
    return line + (f"; corrected drift: {changes_text(drifted)}" if drifted else "")


class WriteLogHooks(WriteHooks):
    """Log each successful write once it is done; pass every call on to the inner hooks."""

    def __init__(self, revision: str | None, inner: WriteHooks | None, *, log: Any = logger) -> None:
        self.revision = revision
        self.inner = inner or WriteHooks()
        self.log = log  # the cycle's bound logger: every line carries the cycle and revision

    def before_write(self, action: Action, live: LiveTenant | None) -> None:
        self.inner.before_write(action, live)

    def after_action(self, result: ActionResult) -> None:
        action = result.action
        if result.ok:
            self.log.bind(
                event="write",
                tenant=action.tenant_id,
                action=action.kind.value,
                cause=action.cause.value,
                fields=[c.field for c in action.changes],
            ).info("{}", write_line(action, self.revision))
        self.inner.after_action(result)
