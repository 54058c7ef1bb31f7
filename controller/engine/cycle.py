"""What a cycle is asked to do (``CycleOptions``), what it did (``CycleReport``), what it needs from Descope."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.adapters.journal import OpenJournal
from controller.adapters.source import Revision
from controller.adapters.state_store import CycleRecord
from controller.core.config_types import ConfigPlan
from controller.core.flapping import FlapPolicy, Hold
from controller.core.model import DesiredState
from controller.core.outcome import CycleStatus, kept_in_line, retry_soon
from controller.core.plan import Plan, PlanPolicy
from controller.engine.apply import ApplyResult, TenantWriter
from controller.engine.config_cycle import ConfigClient, ConfigCycle
from controller.errors import DescopeGitopsError


class DescopeReader(Protocol):
    def load_all(self) -> list[dict[str, Any]]: ...
    def load_settings(self, tenant_id: str) -> dict[str, Any]: ...


class DescopeApi(DescopeReader, TenantWriter, ConfigClient, Protocol):
    """What a cycle needs from the Descope client."""


@dataclass(frozen=True)
class CyclePlan:
    """What a cycle would write, whole: the tenant plan and the sub-resource plan (roles, SSO, password policy).

    What ``Reconciler.on_plan`` is shown before the first write, and what every plan surface (the text
    before an apply, a saved plan, the PR comment, JSON) shows and pins, so none of them can miss a part.
    """

    tenants: Plan
    config: ConfigPlan | None = None  # None when no tenant manages roles, SSO or a password policy

    @property
    def has_changes(self) -> bool:
        return self.tenants.has_changes or (self.config is not None and self.config.has_changes)

    def digest(self) -> str:
        """The tenant plan's digest alone when there are no sub-resource actions (so it is what it always was)."""
        if self.config is None or not self.config.actions:
            return self.tenants.digest()
        both = f"{self.tenants.digest()}:{self.config.digest()}"
        return hashlib.sha256(both.encode()).hexdigest()[:16]


@dataclass
class CycleReport:
    """Everything a command or the daemon needs to tell the user about one cycle."""

    cycle_id: str
    status: CycleStatus
    started: float
    finished: float = 0.0
    revision: Revision | None = None
    desired: DesiredState | None = None
    plan: Plan | None = None
    applied: ApplyResult | None = None
    error: DescopeGitopsError | None = None
    dry_run: bool = True
    resumed: OpenJournal | None = None
    deferred: list[str] = field(default_factory=list)  # tenants in failure backoff, not attempted
    enforced_revision: str | None = None  # the revision whose desired state was planned
    suspended: bool = False
    notes: list[str] = field(default_factory=list)
    flapping: dict[str, Hold] = field(default_factory=dict)  # tenants whose drift is not corrected
    config: ConfigCycle | None = None  # roles, SSO, password policy: None when no tenant manages any

    @property
    def has_changes(self) -> bool:
        """The tenant plan or the sub-resource plan would write something."""
        config = self.config is not None and self.config.plan.has_changes
        return config or (self.plan is not None and self.plan.has_changes)

    @property
    def planned(self) -> CyclePlan | None:
        """The whole plan (tenants and their sub-resources); None when no plan was made."""
        if self.plan is None:
            return None
        return CyclePlan(self.plan, self.config.plan if self.config is not None else None)

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)

    def outcomes(self) -> dict[str, str]:
        """Tenant id -> what happened to its action: ``done``, ``skipped: why`` or ``FAILED: error`` (renderers)."""
        if self.applied is None:
            return {}
        return {
            r.action.tenant_id: "done" if r.ok else ("skipped: " if r.skipped else "FAILED: ") + r.error
            for r in self.applied.results
        }

    @property
    def kept_in_line(self) -> bool:
        """Descope was kept equal to a good revision (``core.outcome.kept_in_line``)."""
        return kept_in_line(self.status, enforced_revision=self.enforced_revision)

    @property
    def retryable(self) -> bool:
        """Can trying again soon help? From the error's own ``retryable``, or the failed actions'."""
        if self.error is not None:
            return self.error.retryable
        return self.applied is not None and self.applied.retryable

    def record(self) -> CycleRecord:
        """What the state store keeps of this cycle, for ``status``."""
        plan = self.plan
        blocked = [*(plan.blocked if plan else ()), *(self.config.plan.blocked if self.config else ())]
        error = str(self.error) if self.error else "; ".join(blocked)
        return CycleRecord(
            cycle_id=self.cycle_id,
            revision=self.revision.id if self.revision else "",
            started=self.started,
            finished=self.finished,
            status=self.status,
            plan_digest=plan.digest() if plan else "",
            actions=len(plan.actions) if plan else 0,
            failed=len(self.applied.failed) if self.applied else 0,
            error=error[:2000],
            drifted=plan.drifted if plan else 0,
            managed=plan.managed if plan else 0,
            unmanaged=plan.unmanaged if plan else 0,
            drift_fields=dict(plan.drift_fields) if plan else {},
            resumed=self.resumed is not None,
            changed=plan.changed if plan else 0,
            measured=plan is not None,
        )

    @property
    def retry_soon(self) -> bool:
        """Should the daemon try again before the next tick (with backoff)?"""
        return retry_soon(self.status, retryable=self.retryable)


@dataclass(frozen=True)
class CycleOptions:
    apply: bool = False  # may write to Descope
    record: bool | None = None  # may write the state store (default: same as apply)
    drift_policy: str = "correct"  # correct | report
    policy: PlanPolicy = field(default_factory=PlanPolicy)
    max_concurrency: int = 4
    refresh_settings: bool = False  # re-read every managed tenant's session settings from Descope
    tenant_backoff: float = 0.0  # seconds; > 0: a failing tenant waits base*2^(n-1) before its next try
    suspended: bool = False  # measure drift, write nothing
    flapping: FlapPolicy = field(default_factory=FlapPolicy)
    resumed_at: float | None = None  # the last `descope-gitops resume`: it releases tenants held before it

    @property
    def writes(self) -> bool:
        return self.apply and self.drift_policy == "correct" and not self.suspended

    @property
    def records(self) -> bool:
        return self.apply if self.record is None else self.record
