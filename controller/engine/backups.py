"""Backups in the cycle: a pre-image before every update and delete, and full snapshots.

``PreImageHooks`` plugs into apply's ``before_write`` seam and fails closed: if the pre-image
cannot be written (full disk, read-only volume, permission, a symlink in the store) the write it
protects is not made, the action fails with that reason, and the other tenants go on. A pre-image holds
the tenant's roles, SSO configurations and password policy as read this cycle (``config_backups``), and
``before_sub_write`` (``config_cycle.apply_config``'s seam) takes one before the first write to a tenant's
sub-resources, unless its tenant action already took one this cycle: one pre-image per tenant per cycle.
Snapshots read every live tenant with one call and store them with the session settings we know and the
sub-resources the controller manages, then apply retention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from controller.core.config_plan import LiveConfig
from controller.core.config_types import SubAction, SubKey
from controller.core.model import LiveTenant
from controller.core.plan import Action, ActionKind
from controller.engine.apply import ActionResult, WriteHooks
from controller.engine.config_backups import BackupConfig as BackupConfig  # re-exported for the reconciler
from controller.engine.config_backups import configs_by_id, managed_kinds
from controller.engine.config_cycle import ConfigClient, read_live
from controller.errors import DescopeAuthError, DescopeError, StoreError, StoreWriteFailed

if TYPE_CHECKING:
    from controller.adapters.backup_store import BackupMeta, BackupStore


class LiveReader(ConfigClient, Protocol):
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
        config: BackupConfig | None = None,  # the sub-resources read this cycle (and how to read a deleted one's)
        live_by_id: Mapping[str, LiveTenant] | None = None,  # the tenants read this cycle (for before_sub_write)
    ) -> None:
        self.store = store
        self.inner = inner or WriteHooks()
        self.on_backup = on_backup
        self.revision = revision
        self.cycle_id = cycle_id
        self.settings_by_id = settings_by_id or {}
        self.operation = operation
        self.config = config or BackupConfig(None)
        self.live_by_id = live_by_id or {}
        self.written: list[BackupMeta] = []
        self._backed_up: set[str] = set()  # tenants with a pre-image from this cycle

    def before_write(self, action: Action, live: LiveTenant | None) -> None:
        if action.kind is ActionKind.CREATE or live is None:
            self.inner.before_write(action, live)
            return  # nothing exists yet, so nothing can be lost
        deleting = action.kind is ActionKind.DELETE
        self._save(action.tenant_id, live, self.operation or action.kind.value, deleting=deleting)
        self.inner.before_write(action, live)

    def before_sub_write(self, action: SubAction) -> None:
        """A pre-image of the tenant before a write to its roles, SSO or password policy (once per cycle)."""
        live = self.live_by_id.get(action.tenant_id)
        if live is None or action.tenant_id in self._backed_up:
            return  # created this cycle (nothing to lose), or backed up already with its sub-resources
        self._save(action.tenant_id, live, self.operation or "update", what=action.label())

    def _save(self, tenant_id: str, live: LiveTenant, operation: str, what: str = "", deleting: bool = False) -> None:
        try:
            meta = self.store.save_pre_image(
                live,
                operation=operation,
                settings=self.settings_by_id.get(tenant_id),
                config=self.config.of(tenant_id, deleting=deleting),
                revision=self.revision,
                cycle_id=self.cycle_id,
            )
        except StoreError as exc:  # full disk, read-only, a symlinked folder, backups busy: no write
            self.on_backup("pre-image", False)
            target = what or "it"
            raise StoreWriteFailed(f"backup of {tenant_id} failed, so {target} was not changed: {exc}") from exc
        self.on_backup("pre-image", True)
        self.written.append(meta)
        self._backed_up.add(tenant_id)

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
    inventory: Set[SubKey] = frozenset(),
) -> BackupMeta | None:
    """Every live tenant with its session settings, stored as one snapshot (None if abandoned).

    ``GET /tenant/all`` does not carry session settings, so they are read one call per tenant
    (under the client's rate limit); a tenant whose settings cannot be read keeps what we last
    wrote, if anything. The sub-resources of the kinds the controller manages (``inventory``, the
    state store's) are read as ``config_backups`` says; a kind that cannot be read is left out of the
    snapshot for that tenant (with a warning). Errors of the list call propagate (the caller logs and counts them).
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
    live_ids = {str(t.get("id")) for t in tenants}
    notes: list[str] = []
    try:
        config = read_live(client, managed_kinds(inventory), live_ids, notes)
    except DescopeAuthError:
        raise
    except DescopeError as exc:  # the tenants are still worth a snapshot
        logger.warning("snapshot: roles unreadable ({}); this snapshot holds no roles, SSO or password policy", exc)
        config = LiveConfig()
    for note in notes:
        logger.warning("snapshot: {}", note)
    meta = store.save_snapshot(
        tenants,
        operation=operation,
        settings_by_id=settings,
        config_by_id=configs_by_id(config, live_ids),
        revision=revision,
    )
    logger.info("snapshot {} of {} tenants written ({} bytes)", meta.id, len(meta.tenant_ids), meta.size)
    return meta


def apply_retention(store: BackupStore, *, max_age_days: float, keep_snapshots: int) -> list[BackupMeta]:
    removed = store.prune(max_age_days=max_age_days, keep_snapshots=keep_snapshots)
    if removed:
        logger.info("retention removed {} backups", len(removed))
    return removed
