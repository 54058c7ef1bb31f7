"""Prometheus metrics of the daemon: one registry, the catalogue below (the README's "Metrics, alerts and
logs" table lists it for operators), bounded labels.

Every metric lives in a registry owned by a ``Metrics`` object (not the global one), so tests and
the daemon each get their own. Labels are bounded: results, actions, operations, HTTP codes,
field names of the tenant schema; never tenant ids, and revisions only in the one info metric.
The engine feeds it plain values; this module decides nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller import __version__
from controller.adapters.restores_log import read_restores

PREFIX = "descope_gitops_"
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
APPLY_LAG_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WEBHOOK_RESULTS = ("triggered", "duplicate", "ignored", "refused")
PLAN_CAUSES = ("change", "drift", "adopt")  # core.plan.Cause; adapters do not import the planner
CONFIG_KINDS = ("role", "sso", "password_policy")  # core.config_types.SubKind: a tenant's sub-resources
CONFIG_ACTIONS = ("create", "update", "delete", "adopt")  # core.config_types.SubOp
ACTION_RESULTS = ("succeeded", "failed", "skipped")


class _RestoresCollector(Collector):
    """Counts restores from ``restores.jsonl``, which one-shot ``restore`` jobs append to."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            f"{PREFIX}restores", "Restores run against this store, by result", labels=["result"]
        )
        counts: dict[str, int] = {}
        if self.path is not None:
            for line in read_restores(self.path):
                try:
                    result = str(json.loads(line)["result"])
                except (ValueError, KeyError, TypeError):
                    continue
                counts[result] = counts.get(result, 0) + 1
        for result in ("restored", "partial", "failed"):
            family.add_metric([result], counts.pop(result, 0))
        for result, count in sorted(counts.items()):
            family.add_metric([result], count)
        yield family


class _RestoreDrillCollector(Collector):
    """The last restore drill, from ``restore-drills.jsonl`` (``backup verify --restore-drill`` appends to it).

    Until a drill has run, both families are exported without a sample, so no alert on them fires.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def collect(self) -> Iterable[Metric]:
        last_run = GaugeMetricFamily(
            f"{PREFIX}restore_drill_last_run_timestamp_seconds", "When the last restore drill ran"
        )
        success = GaugeMetricFamily(
            f"{PREFIX}restore_drill_success",
            "1 if every tenant of the newest snapshot round-tripped in the last restore drill, else 0",
        )
        last = self._last()
        if last is not None:
            last_run.add_metric([], last[0])
            success.add_metric([], 1 if last[1] else 0)
        yield last_run
        yield success

    def _last(self) -> tuple[float, bool] | None:
        """(time, passed) of the newest readable line; a torn or foreign line is skipped."""
        if self.path is None:
            return None
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            try:
                record = json.loads(line)
                when, result = float(record["time"]), record["result"]
            except (ValueError, KeyError, TypeError):
                continue
            if result in ("passed", "failed"):
                return when, result == "passed"
        return None


class Metrics:
    def __init__(
        self,
        *,
        restores_log: Path | None = None,
        restore_drills_log: Path | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series double the output and no alert or panel uses them
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconcile_total = Counter(f"{PREFIX}reconcile", "Reconcile cycles by result", ["result"], registry=r)
        self.reconcile_duration = Histogram(
            f"{PREFIX}reconcile_duration_seconds", "Duration of reconcile cycles", buckets=CYCLE_BUCKETS, registry=r
        )
        self.last_reconcile = Gauge(
            f"{PREFIX}last_reconcile_timestamp_seconds",
            "End of the last cycle with each result",
            ["result"],
            registry=r,
        )
        self.last_success = Gauge(
            f"{PREFIX}last_success_timestamp_seconds",
            "End of the last cycle that kept Descope in line (succeeded, partial or planned)",
            registry=r,
        )
        self.interval = Gauge(f"{PREFIX}reconcile_interval_seconds", "Configured seconds between cycles", registry=r)
        self.revision_info = Gauge(
            f"{PREFIX}source_revision_info", "The source revision last seen (value 1)", ["revision"], registry=r
        )
        self.commit_to_applied = Histogram(
            f"{PREFIX}commit_to_applied_seconds",
            "From commit time to the end of the cycle that applied it",
            buckets=APPLY_LAG_BUCKETS,
            registry=r,
        )
        self.config_valid = Gauge(f"{PREFIX}config_valid", "1 unless the newest revision is refused", registry=r)
        self.suspended = Gauge(f"{PREFIX}suspended", "1 while the controller is suspended", registry=r)
        self.report_policy = Gauge(
            f"{PREFIX}drift_policy_report", "1 when drift is only reported (drift_policy = report)", registry=r
        )
        self.tenants = Gauge(
            f"{PREFIX}tenants",
            "Tenants by state: managed, unmanaged, drifted; flapping = drifted and not corrected (another writer)",
            ["state"],
            registry=r,
        )
        self.drift_fields = Gauge(f"{PREFIX}drift_fields", "Tenants drifted, per schema field", ["field"], registry=r)
        self.planned = Gauge(
            f"{PREFIX}planned_actions",
            "Actions in the last plan, by why: change (tenants.yaml changed), drift (someone edited Descope), adopt",
            ["action", "cause"],
            registry=r,
        )
        self.actions_total = Counter(
            f"{PREFIX}actions", "Actions executed, by result", ["action", "result"], registry=r
        )
        # issue 16: a tenant's roles, SSO configurations and password policy, labelled by kind (never by
        # tenant, role name or ssoId), so an SRE sees which kind drifts and which writes fail
        self.config_drifted = Gauge(
            f"{PREFIX}config_drifted",
            "Roles, SSO configurations and password policies whose managed keys differ from the enforced revision",
            ["kind"],
            registry=r,
        )
        self.config_planned = Gauge(
            f"{PREFIX}config_planned_actions",
            "Role, SSO and password policy actions in the last plan, by kind, action and why (change, drift, adopt)",
            ["kind", "action", "cause"],
            registry=r,
        )
        self.config_actions_total = Counter(
            f"{PREFIX}config_actions",
            "Role, SSO and password policy writes executed, by kind, action and result",
            ["kind", "action", "result"],
            registry=r,
        )
        self.guard_blocked = Counter(f"{PREFIX}guard_blocked", "Plans refused by a guard", ["reason"], registry=r)
        self.requests = Counter(
            f"{PREFIX}descope_requests",
            "Descope API requests by operation and status",
            ["operation", "code"],
            registry=r,
        )
        self.request_duration = Histogram(
            f"{PREFIX}descope_request_duration_seconds",
            "Descope API request latency",
            ["operation"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(f"{PREFIX}descope_rate_limited", "429 answers from Descope", registry=r)
        self.git_fetch = Counter(f"{PREFIX}git_fetch", "Git source checks by result", ["result"], registry=r)
        self.resumes = Counter(f"{PREFIX}checkpoint_resumes", "Interrupted cycles resumed from the journal", registry=r)
        self.backups_total = Counter(
            f"{PREFIX}backups", "Backups written, by kind and result", ["kind", "result"], registry=r
        )
        self.backup_last_success = Gauge(
            f"{PREFIX}backup_last_success_timestamp_seconds",
            "Time of the newest backup of each kind",
            ["kind"],
            registry=r,
        )
        self.store_bytes = Gauge(f"{PREFIX}backup_store_bytes", "Bytes used by backups", registry=r)
        self.store_files = Gauge(f"{PREFIX}backup_store_files", "Backup files", registry=r)
        self.webhook_deliveries = Counter(
            f"{PREFIX}webhook_deliveries",
            "Push webhook deliveries by result: triggered, duplicate (replayed id), ignored, refused",
            ["result"],
            registry=r,
        )
        self.http_deadline = Counter(
            f"{PREFIX}http_deadline_exceeded",
            "Connections closed because their request did not arrive within [http] request_timeout",
            registry=r,
        )
        self.build_info = Gauge(f"{PREFIX}build_info", "Build information (value 1)", ["version"], registry=r)
        r.register(_RestoresCollector(restores_log))
        r.register(_RestoreDrillCollector(restore_drills_log))
        self.build_info.labels(version=__version__).set(1)
        for result in ("succeeded", "partial", "failed", "blocked", "invalid", "unavailable", "planned"):
            self.reconcile_total.labels(result=result)
        for kind in ("pre-image", "snapshot"):
            for result in ("success", "failure"):
                self.backups_total.labels(kind=kind, result=result)
        for result in ("success", "skipped", "error"):
            self.git_fetch.labels(result=result)
        for state in ("managed", "unmanaged", "drifted", "flapping"):
            self.tenants.labels(state=state)
        for action in ("create", "update", "delete"):
            for cause in PLAN_CAUSES:
                self.planned.labels(action=action, cause=cause)
        for kind in CONFIG_KINDS:
            self.config_drifted.labels(kind=kind)
            for action in CONFIG_ACTIONS:
                for cause in PLAN_CAUSES:
                    self.config_planned.labels(kind=kind, action=action, cause=cause)
                for result in ACTION_RESULTS:
                    self.config_actions_total.labels(kind=kind, action=action, result=result)
        for reason in ("max_deletes", "max_delete_ratio", "source_shrank", "empty_source"):
            self.guard_blocked.labels(reason=reason)  # so increase() sees the first block
        for result in WEBHOOK_RESULTS:
            self.webhook_deliveries.labels(result=result)
        self.config_valid.set(1)

    # -- hooks handed to adapters ----------------------------------------------------------------

    def on_request(self, operation: str, code: str, seconds: float) -> None:
        self.requests.labels(operation=operation, code=code).inc()
        self.request_duration.labels(operation=operation).observe(seconds)
        if code == "429":
            self.rate_limited.inc()

    def on_fetch(self, result: str) -> None:
        self.git_fetch.labels(result=result).inc()

    def on_webhook(self, result: str) -> None:
        self.webhook_deliveries.labels(result=result if result in WEBHOOK_RESULTS else "refused").inc()

    def on_http_deadline(self) -> None:
        self.http_deadline.inc()

    def on_backup(self, kind: str, ok: bool, at: float | None = None) -> None:
        self.backups_total.labels(kind=kind, result="success" if ok else "failure").inc()
        if ok:
            self.backup_last_success.labels(kind=kind).set(at or time.time())

    # -- what a cycle reports ---------------------------------------------------------------------

    def cycle(
        self,
        *,
        result: str,
        duration: float,
        finished: float,
        config_valid: bool | None,
        suspended: bool,
        kept_in_line: bool,
    ) -> None:
        self.reconcile_total.labels(result=result).inc()
        self.reconcile_duration.observe(duration)
        self.last_reconcile.labels(result=result).set(finished)
        if kept_in_line:
            self.last_success.set(finished)
        if config_valid is not None:  # unknown when the source could not be read at all
            self.config_valid.set(1 if config_valid else 0)
        self.suspended.set(1 if suspended else 0)

    def revision(self, revision: str) -> None:
        self.revision_info.clear()
        self.revision_info.labels(revision=revision).set(1)

    def drift(
        self,
        *,
        managed: int,
        unmanaged: int,
        drifted: int,
        flapping: int,
        fields: Mapping[str, int],
        planned: Mapping[tuple[str, str], int],  # (action, cause) -> actions
    ) -> None:
        self.tenants.labels(state="managed").set(managed)
        self.tenants.labels(state="unmanaged").set(unmanaged)
        self.tenants.labels(state="drifted").set(drifted)
        self.tenants.labels(state="flapping").set(flapping)  # drifted, and not corrected: another writer
        self.drift_fields.clear()
        for name, count in fields.items():
            self.drift_fields.labels(field=name).set(count)
        for (action, cause), count in planned.items():
            self.planned.labels(action=action, cause=cause).set(count)

    def config_drift(
        self,
        *,
        drifted: Mapping[str, int],
        planned: Mapping[tuple[str, str, str], int],  # (kind, action, cause)
    ) -> None:
        """The last plan of the sub-resources (zeros when none is managed); only the fixed label sets are exported."""
        for kind in CONFIG_KINDS:
            self.config_drifted.labels(kind=kind).set(drifted.get(kind, 0))
            for action in CONFIG_ACTIONS:
                for cause in PLAN_CAUSES:
                    count = planned.get((kind, action, cause), 0)
                    self.config_planned.labels(kind=kind, action=action, cause=cause).set(count)

    def config_action(self, kind: str, action: str, result: str) -> None:
        if kind in CONFIG_KINDS and action in CONFIG_ACTIONS and result in ACTION_RESULTS:
            self.config_actions_total.labels(kind=kind, action=action, result=result).inc()

    def restore_timestamps(self, *, last_success: float | None, last_by_result: Mapping[str, float]) -> None:
        """After a restart, so freshness alerts do not fire just because the process is new."""
        if last_success:
            self.last_success.set(last_success)
        for result, when in last_by_result.items():
            self.last_reconcile.labels(result=result).set(when)

    def store_usage(self, size: int, files: int) -> None:
        self.store_bytes.set(size)
        self.store_files.set(files)

    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        return make_wsgi_app(self.registry)
