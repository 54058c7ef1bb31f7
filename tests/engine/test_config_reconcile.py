"""A tenant's roles through whole reconcile cycles (real client, in-process sandbox): backoff and a fight.

A role write that fails backs its tenant off like a failing tenant write; a role field another writer keeps
setting back is corrected every cycle and reported as a fight with another writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.adapters.descope import DescopeClient
from controller.adapters.source import LocalSource
from controller.adapters.state_store import StateStore
from controller.engine.cycle import CycleOptions
from controller.engine.reconciler import Reconciler
from controller.sandbox import SandboxServer

KEY = "K-config-reconcile-test"
TENANTS = "tenants:\n  - id: acme\n    name: ACME\n    roles:\n      - {name: Member, description: A member}\n"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(project_id="Ptest", management_key=KEY) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[DescopeClient]:
    with httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Ptest", management_key=KEY, base_url=sandbox.url, max_retries=0)


def roles(client: DescopeClient) -> dict[str, str]:
    return {str(r["name"]): str(r.get("description")) for r in client.load_roles(["acme"]) if r.get("tenantId")}


def setup(tmp_path: Path, client: DescopeClient) -> tuple[Reconciler, StateStore, list[float]]:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    store = StateStore(tmp_path / "store")
    now = [1000.0]
    return Reconciler(LocalSource(path), client, store, clock=lambda: now[0]), store, now


def test_a_failing_role_write_backs_its_tenant_off_like_a_failing_tenant(
    tmp_path: Path, sandbox: SandboxServer, client: DescopeClient
) -> None:
    reconciler, store, now = setup(tmp_path, client)
    rules = {"rules": [{"path": "/v1/mgmt/role/create", "status": 400, "count": 1}]}
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=rules).raise_for_status()
    options = CycleOptions(apply=True, tenant_backoff=60)

    first = reconciler.run_cycle(options)
    assert first.status == "partial"
    failure = store.load().tenant_failures["acme"]
    assert failure.count == 1 and "role acme/Member" in failure.error

    now[0] += 10  # within the backoff: the role is not tried again
    second = reconciler.run_cycle(options)
    assert second.status == "partial" and second.config is not None
    (skipped,) = second.config.results
    assert skipped.skipped and "backoff" in skipped.error
    assert roles(client) == {}

    now[0] += 60  # backoff over: written, and the tenant is forgotten
    third = reconciler.run_cycle(options)
    assert third.status == "succeeded"
    assert roles(client) == {"Member": "A member"}
    assert store.load().tenant_failures == {}


def test_a_role_field_another_writer_keeps_setting_back_is_corrected_and_reported(
    tmp_path: Path, client: DescopeClient
) -> None:
    reconciler, _store, now = setup(tmp_path, client)
    assert reconciler.run_cycle(CycleOptions(apply=True)).status == "succeeded"
    notes: list[list[str]] = []
    for _ in range(3):
        client.update_role("Member", {"name": "Member", "tenantId": "acme", "description": "theirs"})
        now[0] += 30
        report = reconciler.run_cycle(CycleOptions(apply=True))
        assert report.status == "succeeded"
        assert roles(client) == {"Member": "A member"}  # access control: corrected every time
        notes.append([n for n in report.notes if "another writer" in n])
    assert notes[0] == [] and notes[1] == []
    (said,) = notes[2]
    assert said.startswith("role acme/Member: description was set back by another writer at least 3 times")
