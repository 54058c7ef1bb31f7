"""A new revision of a large tenants.yaml is read from what the daemon read before: only the edited items.

The reconciler keeps the items of the revision it parsed (``core.loader.parse_revision``); a commit
that edits one tenant sends that one item to the parser and plans exactly its update. The same holds
after a restart, where the reconciler also reads the last applied revision to tell changes from drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.adapters.descope import DescopeClient
from controller.adapters.git_source import GitSource
from controller.adapters.state_store import StateStore
from controller.core import plan_prepared
from controller.core.loader import parse_tenant_files
from controller.core.model import DesiredTenant
from controller.core.plan_types import ActionKind
from controller.engine.cycle import CycleOptions
from controller.engine.reconciler import Reconciler
from controller.sandbox import SandboxServer
from tests.support import GitRepo

KEY = "K-revision-reuse"
COUNT = 60


@pytest.fixture
def client() -> Iterator[DescopeClient]:
    with SandboxServer(project_id="Preuse", management_key=KEY) as sandbox, httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Preuse", management_key=KEY, base_url=sandbox.url, max_retries=0)


def item(i: int, renamed: int | None = None) -> str:
    name = f"{'Renamed' if i == renamed else 'Tenant'} {i:03d}"
    return f"  - id: t{i:03d}\n    name: {name}\n    selfProvisioningDomains: [t{i:03d}.example.com]\n"


def tenants(renamed: int | None = None) -> str:
    return "tenants:\n" + "".join(item(i, renamed) for i in range(COUNT))


def reconciler(repo: GitRepo, tmp_path: Path, client: DescopeClient) -> Reconciler:
    source = GitSource(repo.url, cache_dir=tmp_path / "cache" / "tenants.git")
    return Reconciler(source, client, StateStore(tmp_path / "store"))


def test_a_one_tenant_commit_parses_that_tenant_and_plans_its_update(
    tmp_path: Path, client: DescopeClient, yaml_rs_texts: list[str]
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"tenants.yaml": tenants()})
    daemon = reconciler(repo, tmp_path, client)
    assert daemon.run_cycle(CycleOptions(apply=True)).status == "succeeded"
    assert len(client.load_all()) == COUNT

    repo.commit({"tenants.yaml": tenants(renamed=42)})
    yaml_rs_texts.clear()
    report = daemon.run_cycle(CycleOptions(apply=True))
    assert report.status == "succeeded"
    assert yaml_rs_texts == ["tenants:\n" + item(42, renamed=42)]
    assert report.plan is not None
    (action,) = report.plan.actions
    assert (action.kind, action.tenant_id, action.patch) == (ActionKind.UPDATE, "t042", {"name": "Renamed 042"})
    assert action.where == "tenants.yaml:128"
    assert report.desired == parse_tenant_files({"tenants.yaml": tenants(renamed=42).encode()}, fast=False)
    assert {t["id"]: t["name"] for t in client.load_all()}["t042"] == "Renamed 042"


def test_after_a_restart_the_last_applied_revision_is_read_from_the_new_ones_items(
    tmp_path: Path, client: DescopeClient, yaml_rs_texts: list[str]
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"tenants.yaml": tenants()})
    assert reconciler(repo, tmp_path, client).run_cycle(CycleOptions(apply=True)).status == "succeeded"
    repo.commit({"tenants.yaml": tenants(renamed=7)})

    yaml_rs_texts.clear()
    report = reconciler(repo, tmp_path, client).run_cycle(CycleOptions(apply=False))  # a new process
    # the new revision whole, then of the applied one only the item that differs
    assert [body.count("- id:") for body in yaml_rs_texts] == [COUNT, 1]
    assert yaml_rs_texts[1] == "tenants:\n" + item(7)
    assert report.plan is not None
    assert [(a.tenant_id, a.patch) for a in report.plan.actions] == [("t007", {"name": "Renamed 007"})]


def test_the_first_plan_of_a_one_tenant_commit_prepares_only_that_tenant(
    tmp_path: Path, client: DescopeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The revision's first plan is checked like an idle cycle's: the other tenants keep their prepared checks."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"tenants.yaml": tenants()})
    daemon = reconciler(repo, tmp_path, client)
    assert daemon.run_cycle(CycleOptions(apply=True)).status == "succeeded"  # creates them all
    assert daemon.run_cycle(CycleOptions(apply=True)).status == "succeeded"  # idle: the revision is prepared

    checked: list[str] = []
    real = plan_prepared._check

    def spy(tenant: DesiredTenant, getters: Any) -> Any:
        checked.append(tenant.id)
        return real(tenant, getters)

    monkeypatch.setattr(plan_prepared, "_check", spy)
    for renamed in (42, 7):  # the second revision is prepared from the first, itself prepared from the applied one
        repo.commit({"tenants.yaml": tenants(renamed=renamed)})
        checked.clear()
        report = daemon.run_cycle(CycleOptions(apply=False))
        assert report.status == "planned"
        assert report.plan is not None
        assert [(a.kind, a.tenant_id, a.patch) for a in report.plan.actions] == [
            (ActionKind.UPDATE, f"t{renamed:03d}", {"name": f"Renamed {renamed:03d}"})
        ]
        assert sorted(checked) == sorted({f"t{renamed:03d}", "t042"})  # t042's item was yaml_rs_texts again too
