"""On-call's restore: bring tenants back from a backup or a Git revision, diff first, never delete.

The restored state is turned into desired tenants (with their roles, SSO configurations and password
policy when the backup holds them: ``restore_config``) and planned against live with the same pure
planners as a sync (so unchanged fields cause no write, a deleted tenant is recreated with its id,
parents come before children), with prune off: a restore never deletes. Before any write the
current state of each tenant it changes is backed up (operation "restore"), so a restore can be
undone like any other change. If the YAML the daemon enforces manages a restored field with
another value, the daemon would revert the restore on its next tick: the report says so, and
``suspend`` pauses the daemon through the store first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.adapters.backup_store import BackupMeta, BackupStore
from controller.core.config_desired import SecretRefs
from controller.core.config_roundtrip import config_differences
from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import Plan, PlanPolicy, make_plan
from controller.engine.apply import ApplyResult, apply_plan
from controller.engine.backups import PreImageHooks
from controller.engine.config_backups import BackupConfig
from controller.engine.config_cycle import ConfigCycle
from controller.engine.cycle import DescopeApi
from controller.engine.restore_config import apply_config_restore, plan_config, unused_refs, with_secret_refs
from controller.engine.timeline import cause, last_write, tenant_from_backup
from controller.errors import BackupNotFound


@dataclass
class RestoreReport:
    plan: Plan
    origins: dict[str, str]  # tenant id -> backup id or "git <rev>" it was restored from
    applied: ApplyResult | None = None
    would_revert: dict[str, list[str]] = field(default_factory=dict)  # tenant -> fields the YAML manages
    revert_check: str = ""  # why the daemon check could not be made, if it could not
    suspended: bool = False
    dry_run: bool = True
    undo_backups: dict[str, str] = field(default_factory=dict)  # tenant id -> backup of the state it replaced
    config: ConfigCycle | None = None  # roles, SSO, password policy: None when nothing restored has any
    notes: list[str] = field(default_factory=list)

    @property
    def recreated(self) -> list[str]:
        """Tenants the restore created again (nothing was replaced, so there is no backup to undo to)."""
        if self.applied is None:
            return []
        return sorted(r.action.tenant_id for r in self.applied.succeeded if r.action.kind.value == "create")

    @property
    def status(self) -> str:
        config = self.config.plan if self.config is not None else None
        if not self.plan.actions and not self.plan.conflicts and not (config and (config.actions or config.conflicts)):
            return "nothing-to-do"
        if self.dry_run:
            return "dry-run"
        if self.applied is None:
            return "failed"
        status = str(self.applied.status)
        if status == "succeeded" and self.config is not None and self.config.problems:
            status = "partial"  # a sub-resource failed or could not be restored (an OIDC secret not given)
        return {"succeeded": "restored"}.get(status, status)


@dataclass(frozen=True)
class Selection:
    """What a restore would bring back, where each tenant comes from and why, and what it cannot."""

    restored: list[DesiredTenant] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # tenant id -> "backup <id> (...): why"
    unchanged: dict[str, str] = field(default_factory=dict)  # tenant id -> why live already is the target
    missing: dict[str, str] = field(default_factory=dict)  # tenant id -> why it cannot be restored


def _describe(meta: BackupMeta) -> str:
    return f"backup {meta.id} ({cause(meta)}, taken {format_time(meta.taken_at)})"


def select_at(store: BackupStore, tenant_ids: Sequence[str], at: float) -> Selection:
    """Each tenant as it was at ``at``: from the earliest backup taken after ``at``; live when none was."""
    chosen = Selection()
    for tenant_id in tenant_ids:
        backup = store.tenant_after(tenant_id, at)
        created = backup.tenant.get("createdTime") if backup is not None else None
        if isinstance(created, int | float) and not isinstance(created, bool) and created > at:
            chosen.missing[tenant_id] = (
                f"it was created at {format_time(created)}, after {format_time(at)}: it did not exist then "
                "(a restore never deletes)"
            )
        elif backup is not None:
            chosen.restored.append(tenant_from_backup(backup))
            chosen.origins[tenant_id] = (
                f"{_describe(backup.meta)}: the earliest backup after {format_time(at)}, "
                "so it holds the tenant as it was then"
            )
        elif recorded := store.scan(tenant_id=tenant_id)[0]:
            chosen.unchanged[tenant_id] = (
                f"nothing was recorded after {format_time(at)}, so the live tenant is as it was then as far as "
                f"the backups know (a console change since is only recorded by the next snapshot: to go back to "
                f"the newest backup, use --from {recorded[-1].id})"
            )
        else:
            chosen.missing[tenant_id] = "no backup holds this tenant (see `backup list`)"
    return chosen


def select_from(store: BackupStore, tenant_ids: Sequence[str], backup_id: str, *, whole: bool = False) -> Selection:
    """Tenants from one backup (an id or a unique prefix); ``whole`` takes every tenant it holds."""
    chosen = Selection()
    if whole:
        wanted = set(tenant_ids)
        found = [b for b in store.tenants_in(backup_id) if not wanted or str(b.tenant["id"]) in wanted]
    else:
        found = []
        for tenant_id in tenant_ids:
            try:
                found.append(store.tenant_in(backup_id, tenant_id))
            except BackupNotFound as exc:
                chosen.missing[tenant_id] = str(exc)
    for backup in found:
        chosen.restored.append(tenant_from_backup(backup))
        chosen.origins[str(backup.tenant["id"])] = f"{_describe(backup.meta)}, as asked"
    return chosen


def select_before_last_write(store: BackupStore, tenant_ids: Sequence[str], *, restores_only: bool) -> Selection:
    """Each tenant as it was before the controller's latest write to it (or, ``restores_only``, its latest restore)."""
    chosen = Selection()
    what = "restore" if restores_only else "write"
    for tenant_id in tenant_ids:
        meta = last_write(store.scan(tenant_id=tenant_id)[0], operation="restore" if restores_only else None)
        if meta is None:
            chosen.missing[tenant_id] = (
                f"no {what} to this tenant was recorded (see `backup history --tenant {tenant_id}`)"
            )
            continue
        backup = store.tenant_in(meta.id, tenant_id)
        chosen.restored.append(tenant_from_backup(backup))
        chosen.origins[tenant_id] = f"{_describe(meta)}: the state before the latest {what}"
    return chosen


def format_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def revert_fields(restored: Sequence[DesiredTenant], enforced: DesiredState) -> dict[str, list[str]]:
    """Fields of restored tenants that the enforced YAML manages with other values, sub-resources included.

    A restored role or SSO configuration tenants.yaml declares with another value is reverted (``role Member
    description``); one it does not declare, where it manages that kind for the tenant, is pruned (prune on).
    """
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
    yaml = {t.id: t.fields for t in managed.tenants}
    for tenant in restored:
        if tenant.id in yaml:
            result.setdefault(tenant.id, []).extend(_sub_reverts(tenant.id, tenant.fields, yaml[tenant.id]))
    return {tenant_id: fields for tenant_id, fields in result.items() if fields}


def _sub_reverts(tenant_id: str, restored: Mapping[str, Any], enforced: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for difference in config_differences(tenant_id, restored, enforced, managed_by_after=True):
        if difference.field:
            out.append(f"{difference.label()} {difference.field}")
        else:  # restored, but tenants.yaml manages this kind for the tenant and does not declare it
            out.append(f"{difference.label()} (not declared there: deleted if prune is on)")
    return out


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
        secrets: SecretRefs | None = None,  # (tenant, ssoId) -> the OIDC clientSecret's reference (--secret)
    ) -> RestoreReport:
        secrets = secrets or {}
        live = self.client.load_all()
        live_by_id = {str(t.get("id")): t for t in live}
        live_settings = {
            t.id: self.client.load_settings(t.id) for t in restored if "settings" in t.fields and t.id in live_by_id
        }
        restored = with_secret_refs(restored, secrets)
        plan = make_plan(DesiredState(tuple(restored)), live, live_settings=live_settings, policy=PlanPolicy())
        report = RestoreReport(plan=plan, origins=dict(origins), dry_run=dry_run, revert_check=revert_check)
        report.config = config = plan_config(self.client, restored, set(live_by_id), report.notes)
        report.notes += [
            f"--secret {ref} names no OIDC configuration being restored" for ref in unused_refs(restored, secrets)
        ]
        if enforced is not None:
            report.would_revert = revert_fields(restored, enforced)
        if dry_run or not (plan.actions or (config and config.plan.has_changes)):
            return report
        if suspend is not None:
            suspend()
            report.suspended = True
        # the current state of every tenant we change is backed up first: a restore can be undone
        hooks = PreImageHooks(
            self.backups,
            revision=None,
            cycle_id=None,
            settings_by_id=live_settings,
            operation="restore",
            config=BackupConfig(config),
            live_by_id=live_by_id,
        )
        report.applied = applied = apply_plan(
            plan, self.client, live_by_id=live_by_id, max_concurrency=max_concurrency, hooks=hooks
        )
        if config is not None:  # after the tenant records: a deleted tenant exists again first
            held = {r.action.tenant_id for r in applied.failed} | {c.tenant_id for c in plan.conflicts}
            apply_config_restore(config, self.client, held, hooks.before_sub_write)
        report.undo_backups = {meta.tenant_ids[0]: meta.id for meta in hooks.written}
        return report
