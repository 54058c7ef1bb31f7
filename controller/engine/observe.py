"""Turns what a cycle did into metrics: the one place that knows both CycleReport and Metrics."""

from __future__ import annotations

from controller.adapters.metrics import Metrics
from controller.adapters.state_store import ControllerState
from controller.core.outcome import CycleStatus
from controller.engine.cycle import CycleReport


class CycleObserver:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._applied_revision: str | None = None

    def restore(self, state: ControllerState) -> None:
        """Seed timestamps from the store after a restart, so freshness alerts stay quiet."""
        by_result: dict[str, float] = {}
        for record in state.history:
            by_result[record.status] = max(by_result.get(record.status, 0.0), record.finished)
        self.metrics.restore_timestamps(last_success=state.last_success_at, last_by_result=by_result)
        self.metrics.tenants.labels(state="flapping").set(len(state.flapping))  # held across the restart
        self._applied_revision = state.last_applied_revision

    def __call__(self, report: CycleReport) -> None:
        m = self.metrics
        status = report.status
        config_valid = False if status is CycleStatus.INVALID else (True if report.desired is not None else None)
        m.cycle(
            result=status,
            duration=report.duration,
            finished=report.finished,
            config_valid=config_valid,
            suspended=report.suspended,
            kept_in_line=report.kept_in_line,
        )
        if report.revision is not None:
            m.revision(report.revision.id)
        plan = report.plan
        if plan is not None:
            m.drift(
                managed=plan.managed,
                unmanaged=plan.unmanaged,
                drifted=plan.drifted,
                flapping=len(report.flapping),
                fields=plan.drift_fields,
                planned=plan.counts_by_cause(),
            )
        config = report.config
        if config is not None:
            m.config_drift(drifted=config.plan.drifted, planned=config.plan.counts_by_cause())
            for sub in config.results:
                outcome = "succeeded" if sub.ok else ("skipped" if sub.skipped else "failed")
                m.config_action(sub.action.kind.value, sub.action.op.value, outcome)
        elif plan is not None:  # planned, and no tenant manages roles, SSO or password policy (any more)
            m.config_drift(drifted={}, planned={})
        # a plan refused by a tenant guard or a sub-resource guard (or both) counts once per guard
        codes = [*(plan.blocked_codes if plan else ()), *(config.plan.blocked_codes if config else ())]
        for code in dict.fromkeys(codes):
            m.guard_blocked.labels(reason=code).inc()
        if report.applied is not None:
            for result in report.applied.results:
                outcome = "succeeded" if result.ok else ("skipped" if result.skipped else "failed")
                m.actions_total.labels(action=result.action.kind.value, result=outcome).inc()
        if report.resumed is not None:
            m.resumes.inc()
        revision = report.revision
        if (
            revision is not None
            and status.wrote
            and report.enforced_revision == revision.id
            and revision.id != self._applied_revision
        ):
            if revision.committed_at is not None:
                m.commit_to_applied.observe(max(0.0, report.finished - revision.committed_at))
            self._applied_revision = revision.id
