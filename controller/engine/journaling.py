"""Write hooks that journal every finished action, so a cycle killed mid-way resumes without repeating it.

Only the tenant plan's actions are journaled. The sub-resource actions (roles, SSO configurations, password
policy: ``config_cycle``) are not, and need not be: every one of them is a full overwrite planned from a
fresh read, so the cycle after a crash re-reads them and plans only what is still missing. A write that
landed before the crash plans as nothing; a role or SSO configuration created then is found live, so it is
not created twice. The one thing lost is that it was *this controller* that created it (the inventory is
saved when the cycle closes): the resumed cycle claims it as an adoption (``adopt = true``, the default), or,
with ``adopt = false``, reports it as a conflict until it is adopted by hand. The pre-image taken before the
interrupted write stays in the store, so nothing it replaced is lost either.
"""

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
