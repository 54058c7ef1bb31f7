"""Restore drills: restore the newest snapshot into a scratch project and compare, so a backup that
cannot be restored is found before it is needed, not at 3 a.m.

A drill goes through the real parts of a restore: the store reads the snapshot and verifies its
checksum (a tampered file is StoreCorrupt, named), ``Restorer`` plans it with the sync's planner
(parents are created before their children) and applies it through the client over HTTP. Only the
target differs: the caller hands in a client for an empty scratch project (the CLI starts the bundled
sandbox), never the configured one, and a scratch store for the restore's own pre-images, so the real
store gets no backups from a drill. Then every tenant is read back and compared field by field with
the snapshot (``core.roundtrip``), and so are its roles, SSO configurations and password policy, each kind
the snapshot holds (``core.config_roundtrip``: a difference names tenant, kind, key and field).

An OIDC configuration cannot be written without a ``clientSecret``, and no backup holds one (Descope never
returns it). The drill gives each one ``PLACEHOLDER_SECRET`` (through a file reference in a temporary
directory, the way a restore's ``--secret`` does): the drill proves the backup restores, not the secret. The
placeholder only ever goes to the scratch client handed in, never to the configured project, and the
comparison leaves ``clientSecret`` out (it cannot be read back).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from controller.adapters.backup_store import SNAPSHOT, BackupMeta, BackupStore, TenantBackup
from controller.core.config_desired import desired_config
from controller.core.config_roundtrip import SubDifference, config_differences
from controller.core.model import DesiredTenant
from controller.core.roundtrip import FieldDifference, round_trip_differences
from controller.engine.config_cycle import read_live
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
    sub_differences: tuple[SubDifference, ...] = ()  # roles, SSO, password policy: snapshot (before) → restored
    sub_errors: tuple[str, ...] = ()  # sub-resource writes the restore could not make, or reads that failed
    compared: tuple[tuple[str, int], ...] = ()  # (tenants.yaml kind, sub-resources of it in the snapshot)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.error and not self.sub_differences and not self.sub_errors


@dataclass
class DrillReport:
    snapshot: BackupMeta | None  # the snapshot drilled (None: there was none to drill)
    outcomes: list[TenantOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what failed the drill besides tenants: no or bad files

    @property
    def passed(self) -> bool:
        return self.snapshot is not None and not self.problems and all(o.ok for o in self.outcomes)

    def compared(self) -> dict[str, int]:
        """tenants.yaml kind -> how many sub-resources of it the drill restored and compared, over all tenants."""
        total: dict[str, int] = {}
        for outcome in self.outcomes:
            for kind, count in outcome.compared:
                total[kind] = total.get(kind, 0) + count
        return total

    @property
    def failed(self) -> list[TenantOutcome]:
        return [o for o in self.outcomes if not o.ok]


PLACEHOLDER_SECRET: Final = "descope-gitops-restore-drill-placeholder-not-a-secret"  # noqa: S105 - by design
"""What a drill writes as every OIDC clientSecret, into the scratch project only."""


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
    with tempfile.TemporaryDirectory(prefix="descope-gitops-drill-secret-") as directory:
        placeholder = Path(directory) / "placeholder"
        placeholder.write_text(PLACEHOLDER_SECRET, encoding="utf-8")
        report = Restorer(scratch, scratch_backups).run(
            restored,
            origins,
            enforced=None,
            dry_run=False,
            max_concurrency=max_concurrency,
            secrets=placeholder_refs(restored, str(placeholder)),
        )
    sub_errors: dict[str, list[str]] = {}
    if report.config is not None:
        for conflict in report.config.plan.conflicts:
            sub_errors.setdefault(conflict.tenant_id, []).append(conflict.line().removeprefix("! "))
        for result in report.config.failed:
            sub_errors.setdefault(result.action.tenant_id, []).append(f"{result.action.label()}: {result.error}")
    errors = {c.tenant_id: c.message for c in report.plan.conflicts}
    if report.applied is not None:
        errors.update({r.action.tenant_id: r.error for r in report.applied.failed})
    live = {str(t.get("id")): t for t in scratch.load_all()}
    read_back = _read_back(scratch, backups, set(live), sub_errors)
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
        recorded = desired_config(tenant_id, backup.config or {})
        restored_config = desired_config(tenant_id, read_back.get(tenant_id) or {})
        outcomes.append(
            TenantOutcome(
                tenant_id,
                differences,
                sub_differences=config_differences(tenant_id, recorded, restored_config),
                sub_errors=tuple(sub_errors.get(tenant_id, ())),
                compared=tuple((k, len(v) if isinstance(v, list) else 1) for k, v in sorted(recorded.items())),
            )
        )
    return DrillReport(newest, outcomes, problems)


def placeholder_refs(tenants: Sequence[DesiredTenant], path: str) -> dict[tuple[str, str], dict[str, str]]:
    """A reference to the placeholder secret for every OIDC configuration of the restored tenants."""
    return {
        (t.id, str(e.get("ssoId") or "")): {"file": path}
        for t in tenants
        for e in t.fields.get("sso") or ()
        if isinstance(e, dict) and isinstance(e.get("oidc"), dict)
    }


def _read_back(
    scratch: DescopeApi, backups: Sequence[TenantBackup], live_ids: set[str], errors: dict[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """The kinds each snapshot tenant holds, as the scratch project returns them (in a backup's shape)."""
    held = {str(b.tenant["id"]): list(b.config) for b in backups if b.config and str(b.tenant["id"]) in live_ids}
    kinds = {tenant_id: dict.fromkeys(names) for tenant_id, names in held.items()}
    live = read_live(scratch, kinds, live_ids, [])  # drops from ``kinds`` what it could not read
    out: dict[str, dict[str, Any]] = {}
    for tenant_id, names in held.items():
        read = {
            "roles": list(live.roles.get(tenant_id, ())),  # none read back is none restored: compared
            "sso": list(live.sso.get(tenant_id, ())),
            "passwordPolicy": live.password.get(tenant_id),
        }
        out[tenant_id] = {k: read[k] for k in names if k in kinds[tenant_id] and read.get(k) is not None}
        errors.setdefault(tenant_id, []).extend(
            f"{k} could not be read back from the scratch project, so it was not compared"
            for k in names
            if k not in kinds[tenant_id]
        )
    return out
