"""One reconcile cycle: source → validate → read live once → plan → guard → apply → record.

The reconciler is handed its outside world (a source, a Descope client, a state store), so the
one-shot ``plan``/``sync`` commands, the daemon and the tests all run this same code. It owns the
order of steps, the clock and logging; what to change is decided by ``core.plan``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from loguru import logger

from controller.adapters.source import Revision, Source
from controller.adapters.state_store import ControllerState, CycleRecord, StateStore
from controller.core.loader import LoadLimits, parse_tenant_files
from controller.core.model import DesiredState, JSONValue, LiveTenant
from controller.core.plan import ActionKind, Plan, PlanPolicy, make_plan
from controller.engine.apply import ApplyResult, TenantWriter, WriteHooks, apply_plan
from controller.errors import DescopeGitopsError, SourceError, TenantsFileInvalid


class DescopeReader(Protocol):
    def load_all(self) -> list[dict[str, Any]]: ...
    def load_settings(self, tenant_id: str) -> dict[str, Any]: ...


class DescopeApi(DescopeReader, TenantWriter, Protocol):
    """What a cycle needs from the Descope client."""


@dataclass
class CycleReport:
    """Everything a command or the daemon needs to tell the user about one cycle."""

    cycle_id: str
    status: str  # planned | succeeded | partial | failed | blocked | invalid | unavailable
    started: float
    finished: float = 0.0
    revision: Revision | None = None
    desired: DesiredState | None = None
    plan: Plan | None = None
    applied: ApplyResult | None = None
    error: DescopeGitopsError | None = None
    dry_run: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class CycleOptions:
    apply: bool = False
    drift_policy: str = "correct"  # correct | report
    policy: PlanPolicy = field(default_factory=PlanPolicy)
    max_concurrency: int = 4
    refresh_settings: bool = False  # re-read every managed tenant's session settings from Descope


class Reconciler:
    def __init__(
        self,
        source: Source,
        client: DescopeApi,
        state_store: StateStore | None,
        *,
        hooks: WriteHooks | None = None,
        limits: LoadLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.client = client
        self.state_store = state_store
        self.hooks = hooks
        self.limits = limits or LoadLimits()
        self.clock = clock

    def run_cycle(self, options: CycleOptions) -> CycleReport:
        report = CycleReport(cycle_id=uuid.uuid4().hex[:12], status="failed", started=self.clock())
        report.dry_run = not options.apply or options.drift_policy == "report"
        log = logger.bind(cycle=report.cycle_id)
        state: ControllerState | None = None
        try:
            state = self.state_store.load() if self.state_store else ControllerState()
            self._run(report, state, options, log)
        except TenantsFileInvalid as exc:
            report.status, report.error = "invalid", exc
            log.error("revision refused, nothing applied: {}", exc)
        except SourceError as exc:
            report.status, report.error = "unavailable", exc
            log.error("cannot read the source: {}", exc)
        except DescopeGitopsError as exc:
            report.status, report.error = "failed", exc
            log.error("cycle failed: {}", exc)
        report.finished = self.clock()
        if state is not None and report.status in {"invalid", "unavailable", "failed"} and not report.dry_run:
            self._record_quietly(state, report, log)
        return report

    def _record_quietly(self, state: ControllerState, report: CycleReport, log: Any) -> None:
        try:
            self._record(state, report)
        except DescopeGitopsError as exc:
            log.error("cannot record the cycle in the state store: {}", exc)

    def _run(self, report: CycleReport, state: ControllerState, options: CycleOptions, log: Any) -> None:
        report.revision = revision = self.source.fetch()
        log = log.bind(revision=revision.id)
        report.desired = desired = parse_tenant_files(revision.files, limits=self.limits)
        live = self.client.load_all()
        live_by_id = {str(t.get("id")): t for t in live}
        live_settings = self._live_settings(desired, live_by_id, state, refresh=options.refresh_settings)
        report.plan = plan = make_plan(
            desired,
            live,
            inventory=state.inventory,
            live_settings=live_settings,
            last_applied_count=state.last_applied_count,
            policy=options.policy,
        )
        log.info(
            "planned {} create, {} update, {} delete; {} drifted, {} conflicts",
            plan.count(ActionKind.CREATE),
            plan.count(ActionKind.UPDATE),
            plan.count(ActionKind.DELETE),
            plan.drifted,
            len(plan.conflicts),
        )
        for conflict in plan.conflicts:
            log.warning("tenant {} ({}): {}", conflict.tenant_id, conflict.where or "live", conflict.message)
        if plan.blocked:
            report.status = "blocked"
            for reason in plan.blocked:
                log.error("guard: {}", reason)
            if not report.dry_run:
                self._record(state, report)
            return
        if report.dry_run:
            report.status = "planned"
            if options.apply and options.drift_policy == "report" and plan.has_changes:
                report.notes.append("drift_policy is 'report': nothing was written")
            return
        report.applied = applied = apply_plan(
            plan,
            self.client,
            live_by_id=live_by_id,
            max_concurrency=options.max_concurrency,
            hooks=self.hooks,
        )
        for failure in applied.failed:
            log.error("{} {} failed: {}", failure.action.kind.value, failure.action.tenant_id, failure.error)
        report.status = applied.status
        self._remember(state, desired, revision, applied)
        self._record(state, report)

    def _live_settings(
        self,
        desired: DesiredState,
        live_by_id: Mapping[str, LiveTenant],
        state: ControllerState,
        *,
        refresh: bool,
    ) -> dict[str, Mapping[str, JSONValue]]:
        """Session settings of existing tenants whose YAML manages them.

        ``GET /tenant/all`` does not carry settings and a read costs one call per tenant, so a
        routine cycle uses what we last wrote (the state store) and reads Descope only for
        tenants we have no record of, or for all of them when ``refresh`` is asked.
        """
        known: dict[str, Mapping[str, JSONValue]] = {}
        for tenant in desired.tenants:
            if "settings" not in tenant.fields or tenant.id not in live_by_id:
                continue
            recorded = state.applied_settings.get(tenant.id)
            known[tenant.id] = (
                recorded if recorded is not None and not refresh else self.client.load_settings(tenant.id)
            )
        return known

    def _remember(
        self, state: ControllerState, desired: DesiredState, revision: Revision, applied: ApplyResult
    ) -> None:
        created_or_kept = {t.id for t in desired.tenants}
        failed_creates = {r.action.tenant_id for r in applied.failed if r.action.kind is ActionKind.CREATE}
        deleted = {r.action.tenant_id for r in applied.succeeded if r.action.kind is ActionKind.DELETE}
        state.inventory = (state.inventory | (created_or_kept - failed_creates)) - deleted
        for result in applied.succeeded:
            if result.action.settings is not None:
                state.applied_settings[result.action.tenant_id] = dict(result.action.settings)
        for gone in deleted:
            state.applied_settings.pop(gone, None)
        if applied.status != "failed":
            state.last_applied_revision = revision.id
            state.last_applied_count = len(desired.tenants)

    def _record(self, state: ControllerState, report: CycleReport) -> None:
        if self.state_store is None:
            return
        plan = report.plan
        state.last_cycle = CycleRecord(
            cycle_id=report.cycle_id,
            revision=report.revision.id if report.revision else "",
            started=report.started,
            finished=self.clock(),
            status=report.status,
            plan_digest=plan.digest() if plan else "",
            actions=len(plan.actions) if plan else 0,
            failed=len(report.applied.failed) if report.applied else 0,
            error=str(report.error) if report.error else "; ".join(plan.blocked) if plan else "",
        )
        self.state_store.save(state)
