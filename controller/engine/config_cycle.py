"""A cycle's part for each tenant's roles, SSO configurations and password policy (issue 16).

Why a module of its own: the tenant cycle (``reconciler``) reads once, plans, applies; the sub-resources add
reads of their own, a secret that must never reach ``core``, and writes that sit between the tenant plan's
creates/updates and its deletes. This module holds those steps so the reconciler only calls them:

- ``read_live``: nothing at all when no desired tenant manages ``roles``/``sso``/``passwordPolicy`` (a
  no-change cycle still costs one call); otherwise one ``load_roles`` for every existing tenant that manages
  roles or SSO (with the project's roles, which an SSO mapping may name), and per existing tenant one
  ``load_sso_all`` if it manages ``sso`` and one ``load_password_settings`` if it manages ``passwordPolicy``
  (Descope lists neither across tenants). A tenant whose read fails (not an auth failure) leaves that kind
  alone this cycle, with a note.
- ``apply_config``: the planner's actions stage by stage with the calls ``core.config_types.SubAction``
  names, one log line each (``write_log`` style), each failure isolated; a tenant whose own action failed or
  is a conflict has its sub-actions skipped.
- ``remember_config``: the sub-resource inventory and the secret fingerprints, in the state store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Protocol

from loguru import logger

from controller.adapters.state_store import ControllerState
from controller.core.config_plan import LiveConfig, make_config_plan
from controller.core.config_types import (
    ConfigPlan,
    ConfigPolicy,
    SubAction,
    SubKey,
    SubKind,
    SubOp,
)
from controller.core.config_types import (
    Protocol as SsoProtocol,
)
from controller.core.config_values import live_sso
from controller.core.model import DesiredState
from controller.core.plan_types import PlanPolicy
from controller.engine.config_secrets import SecretKey, fingerprint_key, resolve_all, with_secret
from controller.engine.write_log import changes_text
from controller.errors import DescopeAuthError, DescopeError, DescopeGitopsError, DescopeNotFound, ShuttingDown

CONFIG_KEYS: Final = ("roles", "sso", "passwordPolicy")


class ConfigClient(Protocol):
    """The part of ``DescopeClient`` (``adapters.descope_config``) the sub-resources need."""

    def load_roles(self, tenant_ids: Sequence[str], *, include_project_roles: bool = False) -> list[dict[str, Any]]: ...
    def load_sso_all(self, tenant_id: str) -> list[dict[str, Any]]: ...
    def load_password_settings(self, tenant_id: str) -> dict[str, Any]: ...
    def new_sso(self, tenant_id: str, sso_id: str, display_name: str) -> dict[str, Any]: ...
    def configure_saml(
        self,
        tenant_id: str,
        settings: Mapping[str, Any],
        *,
        sso_id: str = "",
        domains: Sequence[str] = (),
        redirect_url: str = "",
        by_metadata: bool = False,
    ) -> None: ...
    def configure_oidc(
        self, tenant_id: str, settings: Mapping[str, Any], *, sso_id: str = "", domains: Sequence[str] = ()
    ) -> None: ...
    def delete_sso(self, tenant_id: str, sso_id: str = "") -> bool: ...
    def create_role(self, role: Mapping[str, Any]) -> None: ...
    def update_role(self, name: str, role: Mapping[str, Any]) -> None: ...
    def delete_role(self, name: str, tenant_id: str = "") -> bool: ...
    def update_password_settings(self, tenant_id: str, settings: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class SubResult:
    action: SubAction
    ok: bool
    error: str = ""
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        a = self.action
        return {"kind": a.kind.value, "op": a.op.value, "tenant_id": a.tenant_id, "key": a.key, "ok": self.ok,
                "skipped": self.skipped, "error": self.error or None}  # fmt: skip


@dataclass
class ConfigCycle:
    """The sub-resource part of a CycleReport: the plan, and what applying it did."""

    plan: ConfigPlan
    results: list[SubResult] = field(default_factory=list)
    live: LiveConfig = field(default_factory=LiveConfig, repr=False)
    config: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    secrets: dict[SecretKey, str] = field(default_factory=dict, repr=False)  # resolved values: never shown

    @property
    def problems(self) -> bool:
        """Something was not brought to tenants.yaml: a failure, a conflict or a guard."""
        return bool(self.failed or self.plan.conflicts or self.plan.blocked)

    @property
    def failed(self) -> list[SubResult]:
        return [r for r in self.results if not r.ok]

    def lines(self) -> list[str]:
        """The plan's lines (``+ role acme/Tenant Admin``), each action with its outcome once applied."""
        outcome = {r.action.ident: r for r in self.results}
        out: list[str] = []
        for action in self.plan.actions:
            out.append(action.line() + _said(outcome.get(action.ident)))
            out.extend(f"    # {note}" for note in action.notes)
        return out + replace(self.plan, actions=()).lines()

    def as_dict(self) -> dict[str, Any]:
        return {**self.plan.as_dict(), "results": [r.as_dict() for r in self.results]}


class ConfigStep:
    """The reconciler's seam: plan (reads, secrets, planner), apply, remember."""

    def __init__(self, client: ConfigClient, store_dir: Path | None) -> None:
        self.client = client
        self.store_dir = store_dir
        self._key: bytes | None = None
        self.on_result: Callable[[SubResult], None] = lambda _result: None  # sync's progress lines

    def plan(
        self,
        desired: DesiredState,
        previous: DesiredState | None,
        live_ids: Set[str],
        state: ControllerState,
        policy: PlanPolicy,
        notes: list[str],
    ) -> ConfigCycle | None:
        """None when no desired tenant manages a sub-resource kind: then nothing is read."""
        config = desired_config(desired)
        if not config:
            return None
        live = read_live(self.client, config, live_ids, notes)
        if self._key is None:
            self._key = fingerprint_key(self.store_dir)
        fingerprints, values = resolve_all(config, self._key, written_fingerprints(state))
        plan = make_config_plan(
            config,
            live,
            previous=desired_config(previous) if previous is not None else None,
            managed=state.config_inventory,
            inventory_known=state.last_applied_revision is not None,
            secrets=fingerprints,
            policy=ConfigPolicy(policy.prune, policy.max_deletes, policy.max_delete_ratio, policy.allow_deletes,
                                policy.adopt),
        )  # fmt: skip
        return ConfigCycle(plan, live=live, config=config, secrets=values)

    def apply(
        self,
        cycle: ConfigCycle,
        held: Set[str],
        log: Any,
        should_stop: Callable[[], bool],
        before_write: Callable[[SubAction], None] | None = None,
    ) -> None:
        if cycle.plan.blocked:
            for reason in cycle.plan.blocked:
                log.error("guard (roles and SSO): {}", reason)
            return
        cycle.results = apply_config(
            cycle.plan,
            self.client,
            secrets=cycle.secrets,
            held=held,
            log=log,
            should_stop=should_stop,
            on_result=self.on_result,
            before_write=before_write,
        )


def _said(result: SubResult | None) -> str:
    if result is None:
        return ""
    if result.ok:
        return "   (done)"
    return f"   ({'skipped' if result.skipped else 'FAILED'}: {result.error})"


def desired_config(desired: DesiredState | None) -> dict[str, dict[str, Any]]:
    """tenant id -> its ``roles``/``sso``/``passwordPolicy`` as written; tenants that manage none left out."""
    if desired is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for tenant in desired.tenants:
        config = {k: tenant.fields[k] for k in CONFIG_KEYS if k in tenant.fields}
        if config:
            out[tenant.id] = config
    return out


def read_live(
    client: ConfigClient, config: dict[str, dict[str, Any]], live_ids: Set[str], notes: list[str]
) -> LiveConfig:
    """Read what the planner needs (see the module docstring); ``config`` loses kinds that could not be read."""
    if not config:
        return LiveConfig()
    existing = sorted(t for t in config if t in live_ids)
    roles: dict[str, list[dict[str, Any]]] = {}
    project: set[str] = set()
    if any("roles" in c or "sso" in c for c in config.values()):
        asked = [t for t in existing if "roles" in config[t] or "sso" in config[t]]
        for role in client.load_roles(asked, include_project_roles=True):
            owner = str(role.get("tenantId") or "")
            if not owner:
                project.add(str(role.get("name")))
            elif owner in asked:
                roles.setdefault(owner, []).append(role)
    sso: dict[str, list[dict[str, Any]]] = {}
    password: dict[str, dict[str, Any]] = {}
    for tenant_id in existing:
        wanted = config[tenant_id]
        for kind in ("sso", "passwordPolicy"):
            if kind not in wanted:
                continue
            try:
                if kind == "sso":
                    sso[tenant_id] = client.load_sso_all(tenant_id)
                else:
                    password[tenant_id] = client.load_password_settings(tenant_id)
            except DescopeAuthError:
                raise
            except DescopeError as exc:
                logger.warning("{} of {} unreadable, not changed this cycle: {}", kind, tenant_id, exc)
                notes.append(f"{kind} of {tenant_id} could not be read and was left alone: {exc}")
                del wanted[kind]
    return LiveConfig(roles=roles, sso=sso, password=password, project_roles=frozenset(project))


def apply_config(
    plan: ConfigPlan,
    client: ConfigClient,
    *,
    secrets: Mapping[SecretKey, str],
    held: Set[str],
    log: Any = logger,
    should_stop: Callable[[], bool] = lambda: False,
    on_result: Callable[[SubResult], None] = lambda _result: None,
    before_write: Callable[[SubAction], None] | None = None,
) -> list[SubResult]:
    """Run the plan's actions by stage (they are ordered so); ``held`` tenants' actions are skipped.

    ``on_result`` hears each action as it finishes (sync's progress), in the order they run.
    ``before_write`` runs before each write (the pre-image seam, ``backups.PreImageHooks.before_sub_write``):
    if it raises, that action fails with its message and is not written; the others go on.
    """
    results: list[SubResult] = []
    stopped = ""
    for action in plan.actions:
        if stopped or action.tenant_id in held or should_stop():
            why = stopped or ("shutting down" if should_stop() else "the tenant's own action failed or conflicts")
            results.append(SubResult(action, ok=False, error=f"not attempted: {why}", skipped=True))
            on_result(results[-1])
            continue
        try:
            if before_write is not None and action.writes:
                before_write(action)
            _execute(action, client, secrets)
        except DescopeAuthError as exc:
            stopped = "Descope refused the management key"
            results.append(SubResult(action, ok=False, error=str(exc)))
        except ShuttingDown:
            stopped = "shutting down"
            results.append(SubResult(action, ok=False, error="not attempted: shutting down", skipped=True))
        except Exception as exc:  # isolation: one sub-resource's failure never stops the others
            error = str(exc) if isinstance(exc, DescopeGitopsError) else f"unexpected {type(exc).__name__}: {exc}"
            results.append(SubResult(action, ok=False, error=error))
            log.bind(tenant=action.tenant_id, event="write_failed", action=action.kind.value).error(
                "{} {} failed: {}", action.op.value, action.label(), error
            )
        else:
            results.append(SubResult(action, ok=True))
            if action.writes or action.op is SubOp.ADOPT:
                log.bind(tenant=action.tenant_id, event="write", action=action.kind.value).info(
                    "{}", write_line(action)
                )
        on_result(results[-1])
    return results


def write_line(action: SubAction) -> str:
    """``created role acme/Tenant Admin``, ``updated sso acme/okta: saml.attributeMapping.email "a" → "b"``."""
    verb = {SubOp.CREATE: "created", SubOp.UPDATE: "updated", SubOp.DELETE: "deleted", SubOp.ADOPT: "adopted"}
    line = f"{verb[action.op]} {action.label()}"
    if action.op is SubOp.DELETE or not action.changes:
        return line
    return f"{line}: {changes_text(action.changes, created=action.op is SubOp.CREATE)}"


def _execute(action: SubAction, client: ConfigClient, secrets: Mapping[SecretKey, str]) -> None:
    tid, key, body = action.tenant_id, action.key, action.body
    if action.op is SubOp.DELETE:
        try:
            if action.kind is SubKind.SSO:
                client.delete_sso(tid, key)
            elif action.kind is SubKind.ROLE:
                client.delete_role(key, tid)
        except DescopeNotFound:
            pass  # already gone: the goal of a delete is reached
        return
    if body is None:
        return  # an adoption with nothing to write
    if action.kind is SubKind.ROLE:
        if action.op is SubOp.CREATE:
            client.create_role(body)
        else:
            client.update_role(key, body)
    elif action.kind is SubKind.PASSWORD_POLICY:
        client.update_password_settings(tid, body)
    else:
        if action.op is SubOp.CREATE and key:
            client.new_sso(tid, key, str(body.get("displayName") or key))
        settings = body.get("settings")
        settings = settings if isinstance(settings, Mapping) else {}
        raw = body.get("domains")
        domains = [str(d) for d in raw] if isinstance(raw, list) else []
        if action.protocol is SsoProtocol.OIDC:
            sent = with_secret(settings, secrets.get((tid, key)))
            client.configure_oidc(tid, sent, sso_id=key, domains=domains)
        elif action.protocol in (SsoProtocol.SAML, SsoProtocol.SAML_METADATA):
            client.configure_saml(
                tid,
                settings,
                sso_id=key,
                domains=domains,
                redirect_url=str(body.get("redirectUrl") or ""),
                by_metadata=action.protocol is SsoProtocol.SAML_METADATA,
            )


def remember_config(
    state: ControllerState,
    cycle: ConfigCycle,
    live: LiveConfig,
    config: Mapping[str, Mapping[str, Any]],
    *,
    inventory_known: bool,
    deleted_tenants: Set[str],
) -> None:
    """The inventory after apply: writes that landed are managed, deletes are forgotten; secrets written kept."""
    managed: set[SubKey] = set(state.config_inventory)
    conflicted = {(c.kind.value, c.tenant_id, c.key) for c in cycle.plan.conflicts}
    for result in cycle.results:
        action = result.action
        if action.op is SubOp.DELETE:
            if result.ok:
                managed.discard(action.ident)
                if action.kind is SubKind.SSO:
                    state.secret_fingerprints.get(action.tenant_id, {}).pop(action.key, None)
        elif result.ok or (action.op is SubOp.CREATE and not result.skipped):  # a failed create may have landed
            managed.add(action.ident)
            if result.ok and action.secret_fingerprint:
                state.secret_fingerprints.setdefault(action.tenant_id, {})[action.key] = action.secret_fingerprint
    if not inventory_known:  # the first apply claims what tenants.yaml declares and Descope has (tenants' rule)
        for tenant_id, wanted in config.items():
            for ident in _declared(tenant_id, wanted):
                if ident not in conflicted and _is_live(ident, live):
                    managed.add(ident)
    state.config_inventory = {k for k in managed if k[1] not in deleted_tenants}
    for gone in deleted_tenants:
        state.secret_fingerprints.pop(gone, None)


def written_fingerprints(state: ControllerState) -> dict[SecretKey, str]:
    return {(t, s): fp for t, by_sso in state.secret_fingerprints.items() for s, fp in by_sso.items()}


def _declared(tenant_id: str, wanted: Mapping[str, Any]) -> list[SubKey]:
    out: list[SubKey] = [(SubKind.ROLE.value, tenant_id, str(r.get("name"))) for r in wanted.get("roles") or ()]
    out += [(SubKind.SSO.value, tenant_id, str(e.get("ssoId") or "")) for e in wanted.get("sso") or ()]
    if "passwordPolicy" in wanted:
        out.append((SubKind.PASSWORD_POLICY.value, tenant_id, ""))
    return out


def _is_live(ident: SubKey, live: LiveConfig) -> bool:
    kind, tenant_id, key = ident
    if kind == SubKind.ROLE.value:
        return any(str(r.get("name")) == key for r in live.roles.get(tenant_id, ()))
    if kind == SubKind.SSO.value:
        return any(live_sso(e).sso_id == key for e in live.sso.get(tenant_id, ()))
    return tenant_id in live.password
