"""The reconcile cycle with the real client against the sandbox in-process: resume, backoff, records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.adapters.descope import DescopeClient
from controller.adapters.journal import Journal
from controller.adapters.source import LocalSource
from controller.adapters.state_store import StateStore
from controller.core.plan import PlanPolicy
from controller.engine.cycle import CycleOptions
from controller.engine.reconciler import Reconciler
from controller.sandbox import SandboxServer

KEY = "K-reconciler-test"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(project_id="Ptest", management_key=KEY) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[DescopeClient]:
    with httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Ptest", management_key=KEY, base_url=sandbox.url, max_retries=0)


def tenants_file(tmp_path: Path, *ids: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n" + "".join(f"  - id: {i}\n    name: N-{i}\n" for i in ids))
    return path


APPLY = CycleOptions(apply=True)


def test_a_crash_journal_is_resumed_counted_and_its_creates_stay_managed(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    store = StateStore(tmp_path / "store")
    # a previous process created "old" and then died before closing its cycle
    client.create({"id": "old", "name": "N-old"})
    journal = Journal(store.directory)
    journal.begin(
        cycle_id="crashed",
        revision="rev1",
        plan_digest="d",
        started=1.0,
        actions=[{"kind": "create", "tenant_id": "old"}, {"kind": "create", "tenant_id": "a"}],
    )
    journal.record("create", "old")
    journal.close()
    with (store.directory / "journal.jsonl").open("ab") as handle:
        handle.write(b'{"kind":"create","tenant_')  # torn by the crash

    # meanwhile "old" left the YAML; with prune on it must still be deletable: it was created by us
    reconciler = Reconciler(LocalSource(tenants_file(tmp_path, "a", "b", "c", "d")), client, store)
    report = reconciler.run_cycle(CycleOptions(apply=True, policy=PlanPolicy(prune=True, allow_deletes=1)))
    assert report.resumed is not None and report.resumed.cycle_id == "crashed"
    assert report.status == "succeeded"
    assert {t["id"] for t in client.load_all()} == {"a", "b", "c", "d"}
    state = store.load()
    assert state.resumes == 1 and state.last_cycle is not None and state.last_cycle.resumed
    assert not (store.directory / "journal.jsonl").exists()


def test_a_failing_tenant_backs_off_instead_of_failing_every_tick(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    store = StateStore(tmp_path / "store")
    now = [1000.0]
    reconciler = Reconciler(LocalSource(tenants_file(tmp_path, "a", "bad")), client, store, clock=lambda: now[0])
    rules = {"rules": [{"path": "/v1/mgmt/tenant/create", "status": 400, "count": 1}]}
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=rules).raise_for_status()
    options = CycleOptions(apply=True, tenant_backoff=60, max_concurrency=1)

    first = reconciler.run_cycle(options)
    assert first.status == "partial"
    failed = {r.action.tenant_id for r in first.applied.failed} if first.applied else set()
    assert len(failed) == 1
    (bad,) = failed
    assert store.load().tenant_failures[bad].count == 1

    now[0] += 10  # before the backoff ends: not attempted, reported as deferred
    second = reconciler.run_cycle(options)
    assert second.deferred == [bad]
    assert second.status == "partial"
    assert bad not in {t["id"] for t in client.load_all()}

    now[0] += 60  # backoff over: tried again, succeeds, forgotten
    third = reconciler.run_cycle(options)
    assert third.status == "succeeded"
    assert bad in {t["id"] for t in client.load_all()}
    assert store.load().tenant_failures == {}


def test_report_policy_and_suspension_write_nothing_but_record_the_drift(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    store = StateStore(tmp_path / "store")
    reconciler = Reconciler(LocalSource(tenants_file(tmp_path, "a")), client, store)
    for options in (
        CycleOptions(apply=True, drift_policy="report"),
        CycleOptions(apply=True, record=True, suspended=True),
    ):
        report = reconciler.run_cycle(options)
        assert report.status == "planned"
        assert client.load_all() == []
        assert any("nothing was written" in n for n in report.notes)
    record = store.load().last_cycle
    assert record is not None and record.actions == 1


def test_settings_are_read_only_when_unknown_or_on_refresh(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n  - id: a\n    name: A\n    settings: {sessionTokenExpiration: 5}\n")
    store = StateStore(tmp_path / "store")
    reconciler = Reconciler(LocalSource(path), client, store)
    assert reconciler.run_cycle(APPLY).status == "succeeded"

    def reads() -> int:
        stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()
        return int(stats["requests"].get("GET /v1/mgmt/tenant/settings", 0))

    before = reads()
    assert not reconciler.run_cycle(APPLY).plan.has_changes  # type: ignore[union-attr]
    assert reads() == before  # trusted the record: one call per cycle
    # a console change to the settings is found on a refresh and corrected
    client.update_settings("a", {"sessionTokenExpiration": 99})
    before = reads()
    refreshed = reconciler.run_cycle(CycleOptions(apply=True, refresh_settings=True))
    assert reads() == before + 2  # the refresh, and the read of the read-modify-write correction
    assert refreshed.plan is not None and refreshed.plan.has_changes
    assert client.load_settings("a")["sessionTokenExpiration"] == 5


def test_state_file_records_history_and_last_attempt(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    store = StateStore(tmp_path / "store")
    path = tenants_file(tmp_path, "a")
    reconciler = Reconciler(LocalSource(path), client, store)
    reconciler.run_cycle(APPLY)
    path.write_text("tenants:\n  - id: a\n    nmae: A\n")
    report = reconciler.run_cycle(APPLY)
    assert report.status == "invalid"
    assert any("last good revision" in n for n in report.notes)
    data = json.loads((store.directory / "state.json").read_text())
    assert [h["status"] for h in data["history"]] == ["succeeded", "invalid"]
    assert "did you mean 'name'" in data["last_attempted_error"]
    assert data["last_applied_revision"] != data["last_attempted_revision"]


def test_one_unreadable_settings_does_not_fail_the_others(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    client.create({"id": "a", "name": "A"})
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n  - id: a\n    name: A\n    settings: {enabled: true}\n  - id: b\n    name: B\n")
    rules = {"rules": [{"path": "/v1/mgmt/tenant/settings", "status": 500, "count": 5}]}
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=rules).raise_for_status()
    report = Reconciler(LocalSource(path), client, StateStore(tmp_path / "store")).run_cycle(APPLY)
    assert report.status == "succeeded", report.error
    assert {t["id"] for t in client.load_all()} == {"a", "b"}
