"""One reconcile cycle: source → validate → read live once → plan → guard → journal → apply → record.

The reconciler is handed its outside world (a source, a Descope client, a state store, a journal),
so the one-shot ``plan``/``sync`` commands, the daemon and the tests all run this same code. It
owns the order of steps, the clock and logging; what to change is decided by ``core.plan``.

Crash safety: before the first write the planned actions are journaled; each finished action is
appended durably. After a crash the next cycle finds the open journal, counts and logs the
resume, keeps the tenants it had created in the inventory, then re-reads Descope and plans
afresh: actions that had finished (including a create whose answer was lost) are already true
live and are not repeated.

A revision that fails to validate is refused whole, and a source that cannot be read (the Git
remote down, moved, or its ref deleted) is waited out; either way the last good revision (kept in
memory, or read back from the local cache by its id after a restart) stays enforced.

Flapping (``core.flapping``): the drift corrections made and the tenants held are kept in the
state store; a held tenant's drift is reported, not corrected, and the start and end of a hold
are logged once each.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from loguru import logger

from controller.adapters.journal import Journal, OpenJournal
from controller.adapters.source import Revision, Source, VersionedSource
from controller.adapters.state_store import ControllerState, StateStore, TenantFailure
from controller.core.backoff import MAX_TENANT_BACKOFF, Backoff
from controller.core.flapping import FlapDecision, decide, remember
from controller.core.loader import ItemCache, LoadLimits, parse_revision, parse_tenant_files
from controller.core.model import SETTINGS_FIELDS, DesiredState, JSONValue, LiveTenant
from controller.core.outcome import CycleStatus
from controller.core.plan import ActionKind, Plan
from controller.core.prune import next_inventory
from controller.descope_api import AttributeDefinition
from controller.engine.apply import ApplyResult, WriteHooks, apply_plan
from controller.engine.backups import BackupConfig, PreImageHooks
from controller.engine.config_cycle import ConfigStep
from controller.engine.cycle import CycleOptions, CyclePlan, CycleReport, DescopeApi
from controller.engine.flapping import note, released_line, started_line
from controller.engine.journaling import JournalingHooks
from controller.engine.live_list import LiveList
from controller.engine.plan_cache import PlanCache
from controller.engine.tenant_events import cycle_events, remember_events
from controller.engine.write_log import WriteLogHooks
from controller.errors import (
    DescopeAuthError,
    DescopeError,
    DescopeGitopsError,
    SourceError,
    SourceUnavailable,
    TenantsFileInvalid,
)

if TYPE_CHECKING:
    from controller.adapters.backup_store import BackupStore


class Reconciler:
    def __init__(
        self,
        source: Source,
        client: DescopeApi,
        state_store: StateStore | None,
        *,
        journal: Journal | None = None,
        hooks: WriteHooks | None = None,
        limits: LoadLimits | None = None,
        clock: Callable[[], float] = time.time,
        should_stop: Callable[[], bool] = lambda: False,
        on_resume: Callable[[OpenJournal], None] = lambda _journal: None,
        backups: BackupStore | None = None,
        on_backup: Callable[[str, bool], None] = lambda _kind, _ok: None,
        attributes: Mapping[str, AttributeDefinition] | None = None,
        on_plan: Callable[[CyclePlan], None] = lambda _plan: None,
        remember_items: bool = True,
    ) -> None:
        self.source = source
        self.client = client
        self.state_store = state_store
        self.journal = journal or (Journal(state_store.directory) if state_store else None)
        self.hooks = hooks
        self.limits = limits or LoadLimits()
        self.attributes = attributes  # the project's custom attribute definitions, when configured
        self.clock = clock
        self.should_stop = should_stop
        self.on_resume = on_resume
        self.backups = backups
        self.on_backup = on_backup
        # sees the final plan before anything is written: shows it (sync prints the plan first), or
        # raises a DescopeGitopsError to stop the cycle (a saved plan that no longer matches)
        self.on_plan = on_plan
        self.last_good: tuple[Revision, DesiredState] | None = None
        # the revision enforced before last_good, until last_good is applied: what tells a change
        # of tenants.yaml from drift (core.flapping)
        self._previous: tuple[Revision, DesiredState] | None = None
        self._items: ItemCache | None = None  # the last parse's tenant items: a new revision parses only its edits
        self.remember_items = remember_items  # not by a one-shot command: it parses once
        # under drift_policy "report" nothing is applied: the revision planned last cycle is the baseline
        self._last_planned: tuple[Revision, DesiredState] | None = None
        # roles, SSO, password policy (issue 16): reads, secrets, writes between tenant updates and deletes
        self.config = ConfigStep(client, state_store.directory if state_store else None)
        self.plans = PlanCache()  # an unchanged revision is prepared for planning once, not every cycle
        self.live = LiveList()  # the list a cycle reads is kept out of the collector's scans

    def run_cycle(self, options: CycleOptions) -> CycleReport:
        report = CycleReport(cycle_id=uuid.uuid4().hex[:12], status=CycleStatus.FAILED, started=self.clock())
        report.dry_run = not options.writes
        report.suspended = options.suspended
        log = logger.bind(cycle=report.cycle_id)
        state: ControllerState | None = None
        try:
            state = self.state_store.load() if self.state_store else ControllerState()
            if options.records:
                self._resume(state, report, log)
            with self.live.cycle():
                self._run(report, state, options, log)
        except TenantsFileInvalid as exc:
            report.status, report.error = CycleStatus.INVALID, exc
            log.error("revision refused, nothing applied: {}", exc)
        except SourceError as exc:
            report.status, report.error = CycleStatus.UNAVAILABLE, exc
            log.error("cannot read the source: {}", exc)
        except DescopeGitopsError as exc:
            report.status, report.error = CycleStatus.FAILED, exc
            log.error("cycle failed: {}", exc)
        except Exception as exc:  # a bug must end as a failed, recorded cycle, not a dead thread
            report.status = CycleStatus.FAILED
            report.error = DescopeGitopsError(f"unexpected {type(exc).__name__}: {exc}")
            log.error("cycle failed unexpectedly: {}: {}", type(exc).__name__, exc)
            if self.journal is not None:
                self.journal.close()
        report.finished = self.clock()
        if state is not None and options.records:
            self._record_quietly(state, report, log)
        return report

    # -- the steps ------------------------------------------------------------------------------

    def _resume(self, state: ControllerState, report: CycleReport, log: Any) -> None:
        if self.journal is None:
            return
        open_journal = self.journal.read_open()
        if open_journal is None:
            return
        report.resumed = open_journal
        state.resumes += 1
        progress = open_journal.progress()
        log.warning(
            "resuming interrupted cycle {} (revision {}): {} done, {} failed, {} not finished; "
            "re-reading Descope so nothing finished is repeated",
            open_journal.cycle_id,
            open_journal.revision,
            progress["done"],
            progress["failed"],
            progress["remaining"],
        )
        for action in open_journal.actions:
            # a create may have reached Descope before its line was written: claim every planned
            # create; the inventory drops ids that are neither desired nor live at the cycle's end
            if action["kind"] == ActionKind.CREATE.value:
                state.inventory.add(action["tenant_id"])
        for kind, tenant_id in open_journal.succeeded:
            if kind == ActionKind.DELETE.value:
                state.inventory.discard(tenant_id)
        self.on_resume(open_journal)

    def _desired(self, report: CycleReport, state: ControllerState, log: Any) -> tuple[Revision, DesiredState]:
        try:
            revision = self.source.fetch()
        except SourceUnavailable as exc:
            # the remote is down, moved or lost its ref: keep enforcing what was last applied (from the
            # local cache), as Flux keeps its last artifact; the cycle still counts as unavailable
            fallback = self._last_good(state)
            if fallback is None:
                raise
            report.status, report.error = CycleStatus.UNAVAILABLE, exc
            note = f"source unavailable; last good revision {fallback[0].id} stays enforced"
            log.error("cannot read the source: {}; {}", exc, note)
            report.notes.append(note)
            return fallback
        report.revision = revision
        if self.last_good is not None and self.last_good[0].id == revision.id:
            return self.last_good  # an unchanged revision is not parsed again (most of a 100k cycle)
        try:
            desired, self._items = parse_revision(
                revision.files, self._items, keep=self.remember_items, limits=self.limits, attributes=self.attributes
            )
        except TenantsFileInvalid as exc:
            fallback = self._last_good(state)
            if fallback is None or fallback[0].id == revision.id:
                raise
            report.status, report.error = CycleStatus.INVALID, exc
            log.error("revision {} refused: {}", revision.id, exc)
            report.notes.append(f"revision {revision.id} refused; last good revision {fallback[0].id} stays enforced")
            return fallback
        if self.last_good is not None:
            self._previous = self.last_good
        report.revision = revision = revision.parsed()  # its bytes are freed before the list is decoded
        self.last_good = (revision, desired)
        return revision, desired

    def _baseline(
        self, state: ControllerState, revision: Revision, desired: DesiredState, options: CycleOptions
    ) -> DesiredState | None:
        """What tells a change of tenants.yaml from drift: the desired state live was last brought to.

        That is the last applied revision; under drift_policy "report", which never applies, the
        revision planned in the previous cycle (so a merge is a change in its first cycle, and a
        difference that outlives it is drift). None when unknown: every difference is then a change.
        """
        if options.apply and options.drift_policy == "report" and self._last_planned is not None:
            return self._last_planned[1]
        return self._applied_desired(state, revision, desired)

    def _applied_desired(
        self, state: ControllerState, revision: Revision, desired: DesiredState
    ) -> DesiredState | None:
        """The desired state of the last applied revision; None when it cannot be known."""
        applied = state.last_applied_revision
        if applied is None:
            return None
        if applied == revision.id:
            return desired
        if self._previous is not None and self._previous[0].id == applied:
            return self._previous[1]
        if not isinstance(self.source, VersionedSource):
            return None  # a local file's older content is gone: every difference counts as a change once
        try:
            old = self.source.read_at(applied)
            parsed = parse_revision(old.files, self._items, limits=self.limits, attributes=self.attributes)[0]
        except DescopeGitopsError:
            return None
        self._previous = (old.parsed(), parsed)
        return parsed

    def _last_good(self, state: ControllerState) -> tuple[Revision, DesiredState] | None:
        if self.last_good is not None:
            return self.last_good
        if not isinstance(self.source, VersionedSource) or not state.last_applied_revision:
            return None
        try:
            revision = self.source.read_at(state.last_applied_revision)
            self.last_good = (
                revision,
                parse_tenant_files(revision.files, limits=self.limits, attributes=self.attributes),
            )
        except DescopeGitopsError:
            return None
        return self.last_good

    def _run(self, report: CycleReport, state: ControllerState, options: CycleOptions, log: Any) -> None:
        revision, desired = self._desired(report, state, log)
        refused = report.status.revision_refused  # the cycle enforces the last good revision
        report.desired, report.enforced_revision = desired, revision.id
        report.flapping = dict(state.flapping)
        log = log.bind(revision=(report.revision or revision).id)
        live, live_by_id = self.live.read(self.client)
        live_settings = self._live_settings(desired, live_by_id, state, refresh=options.refresh_settings)
        previous = self._baseline(state, revision, desired, options)
        report.plan = plan = self.plans.plan(desired, live, live_by_id, live_settings, previous, state, options)
        report.config = config = self.config.plan(
            desired, previous, live_by_id.keys(), state, options.policy, report.notes, writes=options.writes
        )
        blocked = self.config.blocked(config, log) or bool(plan.blocked)  # either guard blocks the whole cycle
        flapping: FlapDecision | None = None
        if options.writes and not blocked:  # a hold is about our writes: decided only when we write
            flapping = self._flapping(state, plan, desired, previous, live_by_id, live_settings, options, report, log)
            report.plan = plan = flapping.plan
        log.info(
            "planned {} create, {} update, {} delete; {} drifted, {} changed{}, {} conflicts",
            plan.count(ActionKind.CREATE),
            plan.count(ActionKind.UPDATE),
            plan.count(ActionKind.DELETE),
            plan.drifted,
            plan.changed,
            f" ({len(flapping.holds)} flapping, not corrected)" if flapping and flapping.holds else "",
            len(plan.conflicts),
        )
        for conflict in plan.conflicts:
            log.warning("tenant {} ({}): {}", conflict.tenant_id, conflict.where or "live", conflict.message)
        self.on_plan(CyclePlan(plan, config.plan if config is not None else None))
        if options.apply and options.drift_policy == "report":
            self._last_planned = (revision, desired)
        if blocked:
            report.status = CycleStatus.BLOCKED
            for reason in plan.blocked:
                log.error("guard: {}", reason)
            return
        if not options.writes:
            if not refused:
                report.status = CycleStatus.PLANNED
            if report.has_changes and options.apply:
                reason = "the controller is suspended" if options.suspended else "drift_policy is 'report'"
                report.notes.append(f"{reason}: nothing was written")
            return
        assert flapping is not None  # decided above whenever this cycle writes
        known = state.last_applied_revision is not None  # read before _remember sets it
        now = self.clock()
        waiting = state.tenant_failures.items() if options.tenant_backoff else ()
        deferred = {tid for tid, failure in waiting if failure.next_attempt > now}
        report.deferred = sorted(a.tenant_id for a in plan.actions if a.tenant_id in deferred)
        if report.deferred:
            log.warning("{} tenants wait for their failure backoff: {}", len(report.deferred), report.deferred[:10])
        hooks = pre = self.hooks
        if self.backups is not None:  # pre-images hold the sub-resources read this cycle too
            hooks = pre = PreImageHooks(
                self.backups,
                revision=revision.id,
                cycle_id=report.cycle_id,
                settings_by_id={**state.applied_settings, **live_settings},
                on_backup=self.on_backup,
                inner=self.hooks,
                config=BackupConfig(config, self.client),
                live_by_id=live_by_id,
            )
        if self.journal is not None and plan.actions:
            self.journal.begin(
                cycle_id=report.cycle_id,
                revision=revision.id,
                plan_digest=plan.digest(),
                started=report.started,
                actions=[{"kind": a.kind.value, "tenant_id": a.tenant_id} for a in plan.actions],
            )
            hooks = JournalingHooks(self.journal, hooks)
        hooks = WriteLogHooks(revision.id, hooks, log=log)
        report.applied = applied = apply_plan(
            plan,
            self.client,
            live_by_id=live_by_id,
            max_concurrency=options.max_concurrency,
            hooks=hooks,
            skip=lambda action: action.tenant_id in deferred,
            should_stop=self.should_stop,
            before_deletes=lambda failed: self.config.apply(
                config, plan, failed | deferred, log, self.should_stop, options, getattr(pre, "before_sub_write", None)
            ),
        )
        if applied.cut_by_shutdown:
            log.info("{} actions not attempted: shutting down (the next run does them)", len(applied.cut_by_shutdown))
        for failure in applied.failed_writes:
            log.bind(tenant=failure.action.tenant_id, event="write_failed", action=failure.action.kind.value).error(
                "{} {} failed: {}", failure.action.kind.value, failure.action.tenant_id, failure.error
            )
        status = applied.status
        if (report.deferred or (config and config.problems)) and status is CycleStatus.SUCCEEDED:
            status = CycleStatus.PARTIAL
        if not refused:
            report.status = status
        self._remember(state, desired, revision, applied, live_by_id, options, report, flapping)
        if config is not None:
            self.config.remember(state, config, applied, options, known=known, now=self.clock(), log=log, report=report)

    def _flapping(
        self,
        state: ControllerState,
        plan: Plan,
        desired: DesiredState,
        previous: DesiredState | None,
        live_by_id: Mapping[str, LiveTenant],
        live_settings: Mapping[str, Mapping[str, JSONValue]],
        options: CycleOptions,
        report: CycleReport,
        log: Any,
    ) -> FlapDecision:
        """Hold the tenants another writer keeps reverting, release the others; say so once each."""
        decision = decide(
            plan,
            desired,
            previous=previous,
            live_by_id=live_by_id,
            live_settings=live_settings,
            history=state.corrections,
            holds=state.flapping,
            now=self.clock(),
            policy=options.flapping,
            resumed_at=options.resumed_at,
        )
        for release in decision.released:
            log.bind(tenant=release.tenant_id, event="flapping_released", reason=release.reason.value).info(
                "{}", released_line(release)
            )
        for tid, hold in sorted(decision.started.items()):
            log.bind(tenant=tid, event="flapping", field=hold.field, reverts=hold.reverts).warning(
                "{}", started_line(tid, hold)
            )
        # saved with the cycle even if applying fails below: the hold must outlive a crash
        state.flapping = dict(decision.holds)
        state.corrections = dict(decision.history)
        report.flapping = dict(decision.holds)
        if decision.holds:
            report.notes.append(note(decision.holds))
        return decision

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
        for tenant in self.plans.with_settings(desired):
            if tenant.id not in live_by_id:
                continue
            recorded = state.applied_settings.get(tenant.id)
            if recorded is not None and not refresh:
                known[tenant.id] = recorded
                continue
            try:
                known[tenant.id] = read = self.client.load_settings(tenant.id)
                # remember what is live, so the next cycle need not read it again (the periodic
                # refresh still catches console edits); a write this cycle replaces it
                state.applied_settings[tenant.id] = {k: v for k, v in read.items() if k in SETTINGS_FIELDS}
            except DescopeAuthError:
                raise
            except DescopeError as exc:
                # isolation: leave this tenant's settings alone this cycle, reconcile the rest
                logger.warning("settings of {} unreadable, not changed this cycle: {}", tenant.id, exc)
                known[tenant.id] = recorded if recorded is not None else dict(tenant.fields["settings"])
        return known

    def _remember(
        self,
        state: ControllerState,
        desired: DesiredState,
        revision: Revision,
        applied: ApplyResult,
        live_by_id: Mapping[str, LiveTenant],
        options: CycleOptions,
        report: CycleReport,
        flapping: FlapDecision,
    ) -> None:
        desired_ids = self.plans.by_id(desired)
        deleted = {r.action.tenant_id for r in applied.succeeded if r.action.kind is ActionKind.DELETE}
        # a failed create may still have landed (timeout after commit): keep claiming it
        claimed: Collection[str] = desired_ids
        if not options.policy.adopt:  # only what this controller created: a tenant made elsewhere is never taken
            claimed = {r.action.tenant_id for r in applied.results if r.action.kind is ActionKind.CREATE}
        state.inventory = next_inventory(state.inventory, claimed, deleted, desired_ids, live_by_id)
        for result in applied.succeeded:
            if result.action.settings is not None:
                state.applied_settings[result.action.tenant_id] = dict(result.action.settings)
        for gone in deleted:
            state.applied_settings.pop(gone, None)
        now = self.clock()
        for result in applied.results:
            tid = result.action.tenant_id
            if result.ok:
                state.tenant_failures.pop(tid, None)
            elif not result.skipped and options.tenant_backoff > 0:
                previous = state.tenant_failures.get(tid)
                count = previous.count + 1 if previous else 1
                wait = Backoff(first=options.tenant_backoff, cap=MAX_TENANT_BACKOFF).delay(count)
                state.tenant_failures[tid] = TenantFailure(count, now + wait, result.error[:500])
        updated = {r.action.tenant_id for r in applied.succeeded if r.action.kind is ActionKind.UPDATE}
        corrected = {tid: changes for tid, changes in flapping.corrections.items() if tid in updated}
        state.corrections = remember(state.corrections, corrected, now=now)
        if applied.status is not CycleStatus.FAILED and not report.status.revision_refused:
            state.last_applied_revision = revision.id
            state.last_applied_count = len(desired.tenants)
            state.last_applied_at = now
            self._previous = None  # this revision is the one changes are told against from now on

    def _record_quietly(self, state: ControllerState, report: CycleReport, log: Any) -> None:
        try:
            self._record(state, report)
        except DescopeGitopsError as exc:
            report.notes.append(f"the cycle could not be recorded in the store: {exc}")
            log.error("cannot record the cycle in the state store: {}", exc)

    def _record(self, state: ControllerState, report: CycleReport) -> None:
        if self.state_store is None:
            return
        if report.revision is not None:
            state.last_attempted_revision = report.revision.id
            state.last_attempted_error = str(report.error) if report.error else ""
        if report.kept_in_line:
            state.last_success_at = report.finished
        state.record_cycle(report.record())
        state.recent_tenants = remember_events(state.recent_tenants, cycle_events(report))
        self.state_store.save(state)
        if self.journal is not None and (report.applied is not None or report.resumed is not None):
            # the state above records everything the journal knew; unfinished actions are re-planned
            self.journal.finish()
