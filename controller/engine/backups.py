"""Backups in the cycle: a pre-image before every update and delete, and full snapshots.

``PreImageHooks`` plugs into apply's ``before_write`` seam and fails closed: if the pre-image
cannot be written (full disk, read-only volume, permission, a symlink in the store) the write it
protects is not made, the action fails with that reason, and the other tenants go on. Snapshots read every live tenant
with one call and store them with the session settings we know, then apply retention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from controller.core.model import LiveTenant
from controller.core.plan import Action, ActionKind
from controller.engine.apply import ActionResult, WriteHooks
from controller.errors import DescopeAuthError, DescopeError, StoreError, StoreWriteFailed

if TYPE_CHECKING:
    from controller.adapters.backup_store import BackupMeta, BackupStore


class LiveReader(Protocol):
    def load_all(self) -> list[dict[str, Any]]: ...
    def load_settings(self, tenant_id: str) -> dict[str, Any]: ...


class PreImageHooks(WriteHooks):
    """Writes a pre-image of the live tenant before an update or delete touches it."""

    def __init__(
        self,
        store: BackupStore,
        *,
        revision: str | None,
        cycle_id: str | None,
        settings_by_id: Mapping[str, Mapping[str, Any]] | None = None,
        operation: str | None = None,
        on_backup: Callable[[str, bool], None] = lambda _kind, _ok: None,
        inner: WriteHooks | None = None,
    ) -> None:
        self.store = store
        self.inner = inner or WriteHooks()
        self.on_backup = on_backup
        self.revision = revision
        self.cycle_id = cycle_id
        self.settings_by_id = settings_by_id or {}
        self.operation = operation
        self.written: list[BackupMeta] = []

    def before_write(self, action: Action, live: LiveTenant | None) -> None:
        if action.kind is ActionKind.CREATE or live is None:
            self.inner.before_write(action, live)
            return  # nothing exists yet, so nothing can be lost
        operation = self.operation or action.kind.value
        try:
            meta = self.store.save_pre_image(
                live,
                operation=operation,
                settings=self.settings_by_id.get(action.tenant_id),
                revision=self.revision,
                cycle_id=self.cycle_id,
            )
        except StoreError as exc:  # full disk, read-only, a symlinked folder, backups busy: no write
            self.on_backup("pre-image", False)
            raise StoreWriteFailed(f"backup of {action.tenant_id} failed, so it was not changed: {exc}") from exc
        self.on_backup("pre-image", True)
        self.written.append(meta)
        self.inner.before_write(action, live)

    def after_action(self, result: ActionResult) -> None:
        self.inner.after_action(result)


def take_snapshot(
    client: LiveReader,
    store: BackupStore,
    *,
    operation: str = "scheduled",
    settings_by_id: Mapping[str, Mapping[str, Any]] | None = None,
    revision: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> BackupMeta | None:
    """Every live tenant with its session settings, stored as one snapshot (None if abandoned).

    ``GET /tenant/all`` does not carry session settings, so they are read one call per tenant
    (under the client's rate limit); a tenant whose settings cannot be read keeps what we last
    wrote, if anything. Errors of the list call propagate (the caller logs and counts them).
    """
    tenants = client.load_all()
    known = dict(settings_by_id or {})
    settings: dict[str, Mapping[str, Any]] = {}
    for tenant in tenants:
        if should_stop():
            logger.info("snapshot abandoned: shutting down")
            return None
        tenant_id = str(tenant.get("id"))
        try:
            settings[tenant_id] = client.load_settings(tenant_id)
        except DescopeAuthError:
            raise
        except DescopeError as exc:
            logger.warning("snapshot: settings of {} unreadable ({}); keeping the last known", tenant_id, exc)
            if tenant_id in known:
                settings[tenant_id] = known[tenant_id]
    meta = store.save_snapshot(tenants, operation=operation, settings_by_id=settings, revision=revision)
    logger.info("snapshot {} of {} tenants written ({} bytes)", meta.id, len(meta.tenant_ids), meta.size)
    return meta


def apply_retention(store: BackupStore, *, max_age_days: float, keep_snapshots: int) -> list[BackupMeta]:
    removed = store.prune(max_age_days=max_age_days, keep_snapshots=keep_snapshots)
    if removed:
        logger.info("retention removed {} backups", len(removed))
    return removed
