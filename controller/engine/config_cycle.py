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
  names, ``max_concurrency`` at a time within a stage, one log line each (``write_log`` style), each failure
  isolated; a tenant whose own action failed, is a conflict or waits for its failure backoff has its
  sub-actions skipped.
- ``ConfigStep.blocked``: a tripped sub-resource delete guard blocks the whole cycle (status BLOCKED).
- ``remember_config``: the sub-resource inventory and the secret fingerprints, in the state store;
  ``remember_failures``: a tenant whose sub-write failed backs off like a failing tenant; and a field another
  writer keeps setting back is reported (``core.config_flapping``), never left to that writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from loguru import logger

from controller.adapters.state_store import ControllerState, TenantFailure
from controller.core.backoff import MAX_TENANT_BACKOFF, Backoff
from controller.core.config_flapping import Correction, drift_corrections, repeated_drift
from controller.core.config_plan import LiveConfig, make_config_plan
from controller.core.config_types import ConfigPlan, ConfigPolicy, SubAction, SubKey, SubKind, SubOp
from controller.core.config_types import (
    Protocol as SsoProtocol,
)
from controller.core.config_values import live_sso
from controller.core.model import DesiredState
from controller.core.plan import ActionKind, Plan
from controller.core.plan_types import PlanPolicy
from controller.engine.config_secrets import SecretKey, fingerprint_key, resolve_all, with_secret
from controller.engine.plan_cache import RevisionConfig
from controller.engine.write_log import changes_text
from controller.errors import DescopeAuthError, DescopeError, DescopeGitopsError, DescopeNotFound, ShuttingDown

if TYPE_CHECKING:  # engine.cycle imports this module for its report
    from controller.engine.apply import ApplyResult
    from controller.engine.cycle import CycleOptions, CycleReport

CONFIG_KEYS: Final = ("roles", "sso", "passwordPolicy")
HELD: Final = "the tenant's own action failed, conflicts or waits for its failure backoff"


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
        # drift corrections of sub-resource fields within the flapping window (core.config_flapping); kept in
        # memory: a restart forgets them, which can only miss a report, never make a false one
        self._reverts: dict[Correction, tuple[float, ...]] = {}
        self._desired_config = RevisionConfig(desired_config)  # not every tenant walked each idle cycle

    def plan(
        self,
        desired: DesiredState,
        previous: DesiredState | None,
        live_ids: Set[str],
        state: ControllerState,
        policy: PlanPolicy,
        notes: list[str],
        *,
        writes: bool = False,
    ) -> ConfigCycle | None:
        """None when no desired tenant manages a sub-resource kind: then nothing is read.

        ``writes``: this cycle may write, so the fingerprint key may be created; a ``plan`` never creates it.
        """
        config = self._desired_config(desired)
        if not config:
            return None
        live = read_live(self.client, config, live_ids, notes)
        fingerprints, values = resolve_all(config, lambda: self._fingerprint_key(writes), written_fingerprints(state))
        plan = make_config_plan(
            config,
            live,
            previous=self._desired_config(previous) if previous is not None else None,
            managed=state.config_inventory,
            inventory_known=state.last_applied_revision is not None,
            secrets=fingerprints,
            policy=ConfigPolicy(policy.prune, policy.max_deletes, policy.max_delete_ratio, policy.allow_deletes,
                                policy.adopt),
        )  # fmt: skip
        return ConfigCycle(plan, live=live, config=config, secrets=values)

    def remember(
        self,
        state: ControllerState,
        cycle: ConfigCycle,
        applied: ApplyResult,
        options: CycleOptions,
        *,
        known: bool,
        now: float,
        log: Any,
        report: CycleReport,
    ) -> None:
        """After apply: the inventory and fingerprints, the failing tenants' backoff, a fight with another writer."""
        deleted = {r.action.tenant_id for r in applied.succeeded if r.action.kind is ActionKind.DELETE}
        remember_config(state, cycle, cycle.live, cycle.config, inventory_known=known, deleted_tenants=deleted)
        tenant_failed = {r.action.tenant_id for r in applied.failed}
        remember_failures(state, cycle.results, tenant_failed, first=options.tenant_backoff, now=now)
        written = [r.action for r in cycle.results if r.ok]
        self._reverts, repeated = repeated_drift(
            self._reverts, drift_corrections(written), now=now, policy=options.flapping
        )
        for found in repeated:
            line = found.line(options.flapping.window)
            if found.new:
                log.bind(tenant=found.tenant_id, event="config_flapping", action=found.kind.value).warning("{}", line)
            report.notes.append(line)

    def _fingerprint_key(self, create: bool) -> bytes | None:
        if self._key is None:
            self._key = fingerprint_key(self.store_dir, create=create)
        return self._key

    @staticmethod
    def blocked(cycle: ConfigCycle | None, log: Any) -> bool:
        """A sub-resource delete guard tripped: the whole cycle is BLOCKED, as for the tenant guards.

        The same rule as the tenant guards: nothing of either plan is written (not even the tenant writes),
        so a revision is applied whole or not at all and the fix (``--allow-deletes N``, or tenants.yaml) is one.
        """
        if cycle is None or not cycle.plan.blocked:
            return False
        for reason in cycle.plan.blocked:
            log.error("guard (roles and SSO): {}", reason)
        return True

    def apply(
        self,
        cycle: ConfigCycle | None,
        tenant_plan: Plan,
        held: Set[str],
        log: Any,
        should_stop: Callable[[], bool],
        options: CycleOptions,
        before_write: Callable[[SubAction], None] | None = None,
    ) -> None:
        """The sub-resource writes, skipping tenants whose own action failed, waits (``held``) or conflicts."""
        if cycle is None or cycle.plan.blocked:  # the reconciler stops before apply when ``blocked``
            return
        cycle.results = apply_config(
            cycle.plan,
            self.client,
            secrets=cycle.secrets,
            held=set(held) | {c.tenant_id for c in tenant_plan.conflicts},
            log=log,
            should_stop=should_stop,
            on_result=self.on_result,
            max_concurrency=options.max_concurrency,
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
    max_concurrency: int = 1,
    on_result: Callable[[SubResult], None] = lambda _result: None,
    before_write: Callable[[SubAction], None] | None = None,
) -> list[SubResult]:
    """Run the plan's actions stage by stage (a stage ends before the next starts); ``held`` tenants' are skipped.

    Within a stage the actions are independent (each is one full overwrite of its own object, and what they
    name was written in an earlier stage), so they run ``max_concurrency`` at a time like the tenant writes;
    the client's rate limiter keeps the budget. Results come back in plan order, one log line each;
    ``on_result`` hears each action as it finishes (sync's progress), one at a time.
    ``before_write`` runs before each write (the pre-image seam, ``backups.PreImageHooks.before_sub_write``):
    if it raises, that action fails with its message and is not written; the others go on.
    """
    stopped: list[str] = []  # set once Descope refuses the key: nothing after that is attempted
    heard = threading.Lock()

    def run(action: SubAction) -> SubResult:
        result = run_one(action)
        with heard:
            on_result(result)
        return result

    def run_one(action: SubAction) -> SubResult:
        if stopped or action.tenant_id in held or should_stop():
            why = stopped[0] if stopped else "shutting down" if should_stop() else HELD
            return SubResult(action, ok=False, error=f"not attempted: {why}", skipped=True)
        try:
            if before_write is not None and action.writes:
                before_write(action)
            _execute(action, client, secrets)
        except DescopeAuthError as exc:
            stopped.append("Descope refused the management key")
            return SubResult(action, ok=False, error=str(exc))
        except ShuttingDown:  # never sent: the next run does it (no failure of the tenant's, no backoff)
            stopped.append("shutting down")
            return SubResult(action, ok=False, error="not attempted: shutting down", skipped=True)
        except Exception as exc:  # isolation: one sub-resource's failure never stops the others
            error = str(exc) if isinstance(exc, DescopeGitopsError) else f"unexpected {type(exc).__name__}: {exc}"
            log.bind(tenant=action.tenant_id, event="write_failed", action=action.kind.value).error(
                "{} {} failed: {}", action.op.value, action.label(), error
            )
            return SubResult(action, ok=False, error=error)
        if action.writes or action.op is SubOp.ADOPT:
            log.bind(tenant=action.tenant_id, event="write", action=action.kind.value).info("{}", write_line(action))
        return SubResult(action, ok=True)

    results: list[SubResult] = []
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="config") as pool:
        for _stage, group in groupby(plan.actions, key=lambda a: a.stage):  # the plan is sorted by stage
            results += pool.map(run, list(group))
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


def remember_failures(
    state: ControllerState, results: Sequence[SubResult], tenant_failed: Set[str], *, first: float, now: float
) -> None:
    """A tenant whose role, SSO or password write failed waits like one whose own write failed (``tenant_backoff``).

    Its next attempt comes after the same backoff (``state.tenant_failures``, which ``status`` shows); while it
    waits, its sub-actions are held by the reconciler like its own. A tenant whose sub-writes all went through
    is cleared, unless its own action failed this cycle (that failure stands).
    """
    failed: dict[str, str] = {}
    done: set[str] = set()
    for result in results:
        if result.ok:
            done.add(result.action.tenant_id)
        elif not result.skipped:
            failed.setdefault(result.action.tenant_id, f"{result.action.label()}: {result.error}")
    for tenant_id in done - failed.keys() - tenant_failed:
        state.tenant_failures.pop(tenant_id, None)
    if first <= 0:
        return
    for tenant_id, error in failed.items():
        previous = state.tenant_failures.get(tenant_id)
        count = previous.count + 1 if previous else 1
        wait = Backoff(first=first, cap=MAX_TENANT_BACKOFF).delay(count)
        state.tenant_failures[tenant_id] = TenantFailure(count, now + wait, error[:500])


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
