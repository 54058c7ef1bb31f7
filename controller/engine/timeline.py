"""A tenant's recorded versions, newest first, with what changed between them: what on-call chooses from.

Every backup that holds a tenant is one version of it: a pre-image is the tenant just before a write
(by a cycle at a revision, or by a restore), a snapshot the tenant at its time. Comparing each version
with the next newer one (the same pure planner as a sync decides what differs) says what happened in
between, e.g. ``customAttributes.seats 650 → 5``; and for roles, SSO configurations and password policy
(each kind only when both backups hold it), e.g. ``role acme/Member: description "a" → "b"``, ``+ sso acme/okta``
(``core.config_roundtrip``; a secret is never in a backup, nor shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.adapters.backup_store import PRE_IMAGE, BackupMeta, TenantBackup
from controller.core.config_desired import desired_config
from controller.core.config_roundtrip import SubDifference, config_differences
from controller.core.model import (
    SETTINGS_FIELDS,
    SUBRESOURCE_FIELDS,
    TENANT_FIELDS,
    DesiredState,
    DesiredTenant,
    JSONValue,
    LiveTenant,
)
from controller.core.plan import FieldChange, make_plan

RESTORABLE = tuple(name for name in TENANT_FIELDS if name != "settings" and name not in SUBRESOURCE_FIELDS)
"""The tenant record's own fields. Sub-resources (roles, SSO, password policy) come from the backup's ``config``
(format 2), each kind only if it was backed up: a kind the backup does not hold is left alone, never "want none"."""


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
    if backup.config:
        fields.update(desired_config(str(record["id"]), backup.config))
    return DesiredTenant(str(record["id"]), fields, file=f"backup {backup.meta.id}")


@dataclass(frozen=True)
class Version:
    backup: TenantBackup
    changed_after: tuple[FieldChange, ...] | None  # this version → the next newer one; None for the newest
    config_changed_after: tuple[SubDifference, ...] = ()  # roles, SSO, password policy: this version → the next

    @property
    def meta(self) -> BackupMeta:
        return self.backup.meta


def cause(meta: BackupMeta) -> str:
    """What made this backup, in words an on-call engineer reads at 3 a.m."""
    if meta.kind == PRE_IMAGE:
        if meta.operation == "restore":
            return "before a restore"
        who = f"cycle {meta.cycle_id}" if meta.cycle_id else "a sync"
        at = f" at revision {meta.revision[:12]}" if meta.revision else ""
        return f"before {'a delete' if meta.operation == 'delete' else 'a write'} by {who}{at}"
    return {
        "scheduled": "scheduled snapshot",
        "manual": "manual snapshot (backup create)",
        "pre-restore": "snapshot before a restore",
    }.get(meta.operation, f"snapshot ({meta.operation})")


def differences(older: TenantBackup, newer: TenantBackup) -> tuple[FieldChange, ...]:
    """The restorable fields that differ from ``older`` to ``newer`` (before = older, after = newer)."""
    wanted = tenant_from_backup(newer)
    live: LiveTenant = older.tenant
    settings = {wanted.id: older.settings or {}} if "settings" in wanted.fields else None
    plan = make_plan(DesiredState((wanted,)), [live], live_settings=settings)
    changes = [change for action in plan.actions for change in action.changes]
    if plan.conflicts:  # parent: set at create only, so the planner reports it apart
        changes.append(FieldChange("parent", older.tenant.get("parent") or "", newer.tenant.get("parent") or ""))
    return tuple(sorted(changes, key=lambda c: c.field))


def config_changes(older: TenantBackup, newer: TenantBackup) -> tuple[SubDifference, ...]:
    """The roles, SSO configurations and password policy that differ from ``older`` to ``newer``."""
    tenant_id = str(newer.tenant["id"])
    return config_differences(
        tenant_id, desired_config(tenant_id, older.config or {}), desired_config(tenant_id, newer.config or {})
    )


def timeline(versions: Sequence[TenantBackup]) -> list[Version]:
    """The versions newest first, each with what changed between it and the next newer one."""
    ordered = sorted(versions, key=lambda b: (b.meta.taken_at, b.meta.id), reverse=True)
    result = []
    for index, backup in enumerate(ordered):
        newer = ordered[index - 1] if index > 0 else None
        if newer is None:
            result.append(Version(backup, None))
        else:
            result.append(Version(backup, differences(backup, newer), config_changes(backup, newer)))
    return result


def last_write(metas: Sequence[BackupMeta], *, operation: str | None = None) -> BackupMeta | None:
    """The newest pre-image (of ``operation``, if given): the state before the controller's latest write."""
    pre_images = [m for m in metas if m.kind == PRE_IMAGE and (operation is None or m.operation == operation)]
    return max(pre_images, key=lambda m: (m.taken_at, m.id), default=None)
