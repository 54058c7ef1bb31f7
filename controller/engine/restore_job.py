"""On-call's restore as one ready object: the stores, the source and the Descope client it needs, built once.

``compose.restorer(settings)`` builds it; the command asks it for a selection and a run, and never
touches settings again. The client is opened on first use: showing a tenant's history needs no key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.adapters.backup_store import BackupStore
from controller.adapters.restores_log import append_restore
from controller.adapters.source import Source, VersionedSource
from controller.adapters.state_store import StateStore, SuspendFlag
from controller.core.config_desired import SecretRefs
from controller.core.loader import parse_tenant_files
from controller.core.model import DesiredState
from controller.engine.cycle import DescopeApi
from controller.engine.restore import Restorer, RestoreReport, Selection
from controller.errors import ConfigError, DescopeGitopsError, StoreError


@dataclass
class RestoreJob:
    backups: BackupStore
    state_store: StateStore
    restores_log: Path
    retention_days: float
    max_concurrency: int
    source: Callable[[], Source]  # the source the daemon enforces (built on first use)
    client: Callable[[], DescopeApi]  # opened on first use, closed by the builder

    def enforced_state(self) -> tuple[DesiredState | None, str]:
        """The desired state the daemon enforces now, to warn when it would revert the restore."""
        try:
            return parse_tenant_files(self.source().fetch().files), ""
        except DescopeGitopsError as exc:
            return None, f"could not read the source the daemon enforces ({exc}); check tenants.yaml by hand"

    def select_git(self, rev: str, tenant_ids: Sequence[str]) -> Selection:
        """The tenants as tenants.yaml declared them at ``rev`` (a branch, tag, HEAD~1 or sha)."""
        source = self.source()
        if not isinstance(source, VersionedSource):
            raise ConfigError(['--git-rev needs [source] kind = "git" (the repository to read the revision from)'])
        source.fetch()  # brings the cache up to date, so recent revisions are known
        sha = source.resolve(rev)
        desired = parse_tenant_files(source.read_at(sha).files)
        wanted = set(tenant_ids)
        chosen = Selection()
        for tenant in desired.tenants:
            if tenant.id in wanted:
                chosen.restored.append(tenant)
                chosen.origins[tenant.id] = f"git {rev}, resolved to commit {sha}: as tenants.yaml declared it there"
        for tenant_id in tenant_ids:
            if tenant_id not in chosen.origins:
                chosen.missing[tenant_id] = f"tenants.yaml at {rev} does not declare it"
        return chosen

    def run(
        self,
        selection: Selection,
        *,
        enforced: DesiredState | None,
        revert_check: str,
        dry_run: bool,
        suspend_as: tuple[str, str] | None = None,  # (reason, user): suspend the daemon before writing
        secrets: SecretRefs | None = None,  # (tenant, ssoId) -> an OIDC clientSecret's reference (--secret)
    ) -> RestoreReport:
        suspend = None
        if suspend_as is not None:
            reason, user = suspend_as
            store = self.state_store
            suspend = lambda: store.set_suspend(SuspendFlag(True, reason, time.time(), user))  # noqa: E731
        return Restorer(self.client(), self.backups).run(
            selection.restored,
            selection.origins,
            enforced=enforced,
            revert_check=revert_check,
            dry_run=dry_run,
            suspend=suspend,
            max_concurrency=self.max_concurrency,
            secrets=secrets,
        )

    def record(self, report: RestoreReport) -> str | None:
        """One line per restore in the store, which the daemon's /metrics counts; a warning if it failed."""
        line = json.dumps({"time": time.time(), "result": report.status, "tenants": sorted(report.origins)})
        try:
            append_restore(self.restores_log, line)
        except StoreError as exc:  # the restore itself is done: say the count is off, do not fail it
            return f"could not record the restore: {exc}"
        return None
