"""On-call's restore: bring tenants back from a backup or a Git revision, diff first, never delete.

The restored state is turned into desired tenants and planned against live with the same pure
planner as a sync (so unchanged fields cause no write, a deleted tenant is recreated with its id,
parents come before children), with prune off: a restore never deletes. Before any write the
current state of each tenant it changes is backed up (operation "restore"), so a restore can be
undone like any other change. If the YAML the daemon enforces manages a restored field with
another value, the daemon would revert the restore on its next tick: the report says so, and
``suspend`` pauses the daemon through the store first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.adapters.backup_store import BackupStore, TenantBackup
from controller.adapters.state_store import StateStore, SuspendFlag
from controller.core.model import SETTINGS_FIELDS, TENANT_FIELDS, DesiredState, DesiredTenant, JSONValue
from controller.core.plan import Plan, PlanPolicy, make_plan
from controller.engine.apply import ApplyResult, apply_plan
from controller.engine.backups import PreImageHooks
from controller.engine.reconciler import DescopeApi
from controller.errors import StoreError

RESTORABLE = tuple(name for name in TENANT_FIELDS if name != "settings")


@dataclass
class RestoreReport:
    plan: Plan
    origins: dict[str, str]  # tenant id -> backup id or "git <rev>" it was restored from
    applied: ApplyResult | None = None
    would_revert: dict[str, list[str]] = field(default_factory=dict)  # tenant -> fields the YAML manages
    revert_check: str = ""  # why the daemon check could not be made, if it could not
    suspended: bool = False
    dry_run: bool = True

    @property
    def status(self) -> str:
        if not self.plan.actions and not self.plan.conflicts:
            return "nothing-to-do"
        if self.dry_run:
            return "dry-run"
        if self.applied is None:
            return "failed"
        return {"succeeded": "restored"}.get(self.applied.status, self.applied.status)


def tenant_from_backup(backup: TenantBackup) -> DesiredTenant:
    """Every restorable field the backup holds, missing ones as Descope's defaults (it omits them)."""
    record = backup.tenant
    fields: dict[str, JSONValue] = {}
    for name in RESTORABLE:
        value = record.get(name)
        fields[name] = TENANT_FIELDS[name].default if value is None else value
    fields["selfProvisioningDomains"] = list(fields["selfProvisioningDomains"])
    for name in ("enforceSSOExclusions", "federatedAppIds", "defaultRoles"):
        fields[name] = list(fields[name])
    fields["customAttributes"] = dict(fields["customAttributes"])
    if backup.settings:
        fields["settings"] = {k: v for k, v in backup.settings.items() if k in SETTINGS_FIELDS}
    return DesiredTenant(str(record["id"]), fields, file=f"backup {backup.meta.id}")


def collect_from_backups(
    store: BackupStore,
    tenant_ids: Sequence[str],
    *,
    backup_id: str | None = None,
    at: float | None = None,
    whole_backup: bool = False,
) -> tuple[list[DesiredTenant], dict[str, str], list[str]]:
    """The tenants to restore, where each comes from, and the ids no backup holds."""
    if whole_backup:
        if backup_id is None:
            raise StoreError("restoring a whole backup needs its id (--from BACKUP)")
        found = store.tenants_in(backup_id)
        wanted = set(tenant_ids)
        found = [b for b in found if not wanted or str(b.tenant["id"]) in wanted]
    else:
        found = []
        for tenant_id in tenant_ids:
            backup = store.tenant_at(tenant_id, at=at, backup_id=backup_id)
            if backup is not None:
                found.append(backup)
    origins = {str(b.tenant["id"]): b.meta.id for b in found}
    missing = [t for t in tenant_ids if t not in origins]
    return [tenant_from_backup(b) for b in found], origins, missing


def revert_fields(restored: Sequence[DesiredTenant], enforced: DesiredState) -> dict[str, list[str]]:
    """Fields of restored tenants that the enforced YAML manages with other values."""
    ids = {t.id for t in restored}
    managed = DesiredState(tuple(t for t in enforced.tenants if t.id in ids))
    as_live = [{"id": t.id, **t.fields} for t in restored]
    settings = {t.id: dict(t.fields.get("settings") or {}) for t in restored}
    plan = make_plan(managed, as_live, live_settings=settings)
    result: dict[str, list[str]] = {}
    for action in plan.actions:
        result[action.tenant_id] = sorted({c.field for c in action.changes})
    for conflict in plan.conflicts:
        result.setdefault(conflict.tenant_id, []).append("parent")
    return result


class Restorer:
    """Plans and applies a restore through the same client, planner and apply as a sync."""

    def __init__(self, client: DescopeApi, backups: BackupStore) -> None:
        self.client = client
        self.backups = backups

    def run(
        self,
        restored: Sequence[DesiredTenant],
        origins: Mapping[str, str],
        *,
        enforced: DesiredState | None,
        revert_check: str = "",
        dry_run: bool,
        suspend: Callable[[], None] | None = None,  # sets the daemon's suspend flag before writing
        max_concurrency: int = 4,
    ) -> RestoreReport:
        live = self.client.load_all()
        live_by_id = {str(t.get("id")): t for t in live}
        live_settings = {
            t.id: self.client.load_settings(t.id) for t in restored if "settings" in t.fields and t.id in live_by_id
        }
        plan = make_plan(DesiredState(tuple(restored)), live, live_settings=live_settings, policy=PlanPolicy())
        report = RestoreReport(plan=plan, origins=dict(origins), dry_run=dry_run, revert_check=revert_check)
        if enforced is not None:
            report.would_revert = revert_fields(restored, enforced)
        if dry_run or not plan.actions:
            return report
        if suspend is not None:
            suspend()
            report.suspended = True
        # the current state of every tenant we change is backed up first: a restore can be undone
        hooks = PreImageHooks(
            self.backups, revision=None, cycle_id=None, settings_by_id=live_settings, operation="restore"
        )
        report.applied = apply_plan(
            plan, self.client, live_by_id=live_by_id, max_concurrency=max_concurrency, hooks=hooks
        )
        return report


def suspend_with(store: StateStore, reason: str, user: str, now: float) -> Callable[[], None]:
    """A callable that sets the daemon's suspend flag (used by ``restore --suspend``)."""
    return lambda: store.set_suspend(SuspendFlag(True, reason, now, user))
