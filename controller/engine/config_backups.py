"""What a backup holds of a tenant's roles, SSO configurations and password policy, and how a snapshot reads them.

Why apart from ``backups``: the shape is shared by pre-images, snapshots and restore, and choosing what a
snapshot reads is a rate-budget decision of its own. A tenant's backed-up ``config`` is
``{"roles": [..], "sso": [..], "passwordPolicy": {..}}`` in the shapes Descope's loads return (what
``core.config_plan.LiveConfig`` holds), each kind only when it was read. Keys named like a secret are
dropped here (Descope never returns an OIDC ``clientSecret``; this makes sure), and the store refuses any left.

Pre-images take what the cycle read (``BackupConfig``); a tenant about to be *deleted* is not desired, so
nothing of it was read: its roles, SSO configurations and password policy are read just before its pre-image
(three calls; deletes are rare and guarded), and if they cannot be read the delete is not made (fail closed).

Snapshots read the sub-resources of the tenants whose sub-resources this controller manages (its inventory),
the kinds it manages for each: roles in one ``role/search`` for all of them, SSO and password policy one call
per tenant (Descope lists neither across tenants). Tenants nobody manages sub-resources for cost nothing extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from typing import Any, Final

from controller.core.config_plan import LiveConfig
from controller.core.config_types import SubKey, SubKind
from controller.engine.config_cycle import ConfigClient, ConfigCycle
from controller.errors import DescopeAuthError, DescopeError, StoreWriteFailed

KIND_KEYS: Final = {
    SubKind.ROLE.value: "roles",
    SubKind.SSO.value: "sso",
    SubKind.PASSWORD_POLICY.value: "passwordPolicy",
}
_SECRET_NAME: Final = re.compile(r"secret", re.IGNORECASE)


def backup_config(live: LiveConfig, tenant_id: str) -> dict[str, Any] | None:
    """The tenant's sub-resources as read this cycle, for a backup; None when none was read."""
    out: dict[str, Any] = {}
    if tenant_id in live.roles:
        out["roles"] = [dict(r) for r in live.roles[tenant_id]]
    if tenant_id in live.sso:
        out["sso"] = [dict(e) for e in live.sso[tenant_id]]
    if tenant_id in live.password:
        out["passwordPolicy"] = dict(live.password[tenant_id])
    return scrubbed(out) if out else None


def scrubbed(value: Any) -> Any:
    """``value`` without any key named like a secret, at any depth."""
    if isinstance(value, Mapping):
        return {str(k): scrubbed(v) for k, v in value.items() if not _SECRET_NAME.search(str(k))}
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    return value


def managed_kinds(inventory: Iterable[SubKey]) -> dict[str, dict[str, Any]]:
    """tenant id -> the kinds (tenants.yaml keys) whose sub-resources the controller manages there.

    In the form ``config_cycle.read_live`` takes (a desired config whose values are not looked at).
    """
    out: dict[str, dict[str, Any]] = {}
    for kind, tenant_id, _key in inventory:
        if kind in KIND_KEYS:
            out.setdefault(tenant_id, {})[KIND_KEYS[kind]] = None
    return out


def configs_by_id(live: LiveConfig, tenant_ids: Set[str]) -> dict[str, dict[str, Any]]:
    """``backup_config`` of every tenant given that has any."""
    out: dict[str, dict[str, Any]] = {}
    for tenant_id in sorted(tenant_ids):
        config = backup_config(live, tenant_id)
        if config:
            out[tenant_id] = config
    return out


class BackupConfig:
    """Where a pre-image's sub-resources come from: what this cycle read, else (before a delete) a read now."""

    def __init__(self, read: ConfigCycle | LiveConfig | None, client: ConfigClient | None = None) -> None:
        self.live = read.live if isinstance(read, ConfigCycle) else read or LiveConfig()
        self.client = client

    def of(self, tenant_id: str, *, deleting: bool = False) -> dict[str, Any] | None:
        """The tenant's sub-resources for its pre-image; StoreWriteFailed if a delete's cannot be read."""
        found = backup_config(self.live, tenant_id)
        if found is not None or not deleting or self.client is None:
            return found
        try:
            roles = [r for r in self.client.load_roles([tenant_id]) if r.get("tenantId") == tenant_id]
            sso = self.client.load_sso_all(tenant_id)
            password = self.client.load_password_settings(tenant_id)
        except DescopeAuthError:
            raise
        except DescopeError as exc:
            raise StoreWriteFailed(
                f"the roles, SSO and password policy of {tenant_id} could not be read: {exc}"
            ) from exc
        found = {"roles": roles, "sso": sso, "passwordPolicy": password}
        return dict(scrubbed(found))
