"""Restore drills: restore the newest snapshot into a scratch project and compare, so a backup that
cannot be restored is found before it is needed, not at 3 a.m.

A drill goes through the real parts of a restore: the store reads the snapshot and verifies its
checksum (a tampered file is StoreCorrupt, named), ``Restorer`` plans it with the sync's planner
(parents are created before their children) and applies it through the client over HTTP. Only the
target differs: the caller hands in a client for an empty scratch project (the CLI starts the bundled
sandbox), never the configured one, and a scratch store for the restore's own pre-images, so the real
store gets no backups from a drill. Then every tenant is read back and compared field by field with
the snapshot (``core.roundtrip``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.adapters.backup_store import SNAPSHOT, BackupMeta, BackupStore
from controller.core.roundtrip import FieldDifference, round_trip_differences
from controller.engine.cycle import DescopeApi
from controller.engine.restore import Restorer
from controller.engine.timeline import tenant_from_backup
from controller.errors import BackupNotFound, StoreCorrupt


@dataclass(frozen=True)
class TenantOutcome:
    """One tenant of the snapshot after the drill: restored equal, restored different, or not restored."""

    tenant_id: str
    differences: tuple[FieldDifference, ...] = ()
    error: str = ""  # why the restore could not bring it back at all

    @property
    def ok(self) -> bool:
        return not self.differences and not self.error


@dataclass
class DrillReport:
    snapshot: BackupMeta | None  # the snapshot drilled (None: there was none to drill)
    outcomes: list[TenantOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what failed the drill besides tenants: no or bad files

    @property
    def passed(self) -> bool:
        return self.snapshot is not None and not self.problems and all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> list[TenantOutcome]:
        return [o for o in self.outcomes if not o.ok]


class ScratchNotEmpty(Exception):
    """The drill's target already holds tenants: it is not a scratch project, so nothing is written."""


def run_drill(
    store: BackupStore, scratch: DescopeApi, scratch_backups: BackupStore, *, max_concurrency: int = 4
) -> DrillReport:
    """Restore every tenant of the newest snapshot in ``store`` into ``scratch`` (empty) and compare."""
    metas, unreadable = store.scan(kind=SNAPSHOT)
    # an unreadable snapshot file may be the newest one: it fails the drill, named, and is never skipped quietly
    problems = [f"backup file {path} {why}" for path, why in unreadable]
    if not metas:
        problems.append(
            f"no readable snapshot in {store.directory}: nothing could be restored; take one with "
            "`descope-gitops backup create` (the daemon takes one every [backups] snapshot_interval)"
        )
        return DrillReport(None, problems=problems)
    newest = metas[-1]
    try:
        backups = store.tenants_in(newest.id)
    except (StoreCorrupt, BackupNotFound) as exc:
        return DrillReport(newest, problems=[*problems, str(exc)])
    present = scratch.load_all()
    if present:
        # never a restore over tenants that exist: that would be a real restore into someone's project
        raise ScratchNotEmpty(f"the drill's target already holds {len(present)} tenants; it must be empty")
    restored = [tenant_from_backup(b) for b in backups]
    origins = {t.id: f"snapshot {newest.id}" for t in restored}
    report = Restorer(scratch, scratch_backups).run(
        restored, origins, enforced=None, dry_run=False, max_concurrency=max_concurrency
    )
    errors = {c.tenant_id: c.message for c in report.plan.conflicts}
    if report.applied is not None:
        errors.update({r.action.tenant_id: r.error for r in report.applied.failed})
    live = {str(t.get("id")): t for t in scratch.load_all()}
    outcomes = []
    for backup in backups:
        tenant_id = str(backup.tenant["id"])
        if tenant_id in errors:
            outcomes.append(TenantOutcome(tenant_id, error=errors[tenant_id]))
            continue
        if tenant_id not in live:
            outcomes.append(TenantOutcome(tenant_id, error="not in the scratch project after the restore"))
            continue
        settings = scratch.load_settings(tenant_id) if backup.settings else None
        differences = round_trip_differences(
            backup.tenant, live[tenant_id], recorded_settings=backup.settings, restored_settings=settings
        )
        outcomes.append(TenantOutcome(tenant_id, differences))
    return DrillReport(newest, outcomes, problems)
