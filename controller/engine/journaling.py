"""Write hooks that journal every finished action, so a cycle killed mid-way resumes without repeating it."""

from __future__ import annotations

from controller.adapters.journal import Journal
from controller.core.model import LiveTenant
from controller.core.plan import Action
from controller.engine.apply import ActionResult, WriteHooks


class JournalingHooks(WriteHooks):
    """Journal every finished action, then pass it on (the backup seam stays the inner hooks')."""

    def __init__(self, journal: Journal, inner: WriteHooks | None) -> None:
        self.journal = journal
        self.inner = inner or WriteHooks()

    def before_write(self, action: Action, live: LiveTenant | None) -> None:
        self.inner.before_write(action, live)

    def after_action(self, result: ActionResult) -> None:
        if not result.skipped:
            self.journal.record(result.action.kind.value, result.action.tenant_id, error=result.error)
        self.inner.after_action(result)
