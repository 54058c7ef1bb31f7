"""``Reconciler.on_plan`` sees the whole plan, tenants and their roles, before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from controller.adapters.descope import DescopeClient
from controller.adapters.source import LocalSource
from controller.adapters.state_store import StateStore
from controller.core.config_types import SubOp
from controller.engine.cycle import CycleOptions, CyclePlan
from controller.engine.reconciler import Reconciler
from controller.errors import PlanError
from controller.sandbox import SandboxServer

KEY = "K-config-plan-test"
TENANTS = """\
tenants:
  - id: acme
    name: ACME
    roles:
      - name: Tenant Admin
        description: Manages ACME's users
"""


@pytest.fixture
def client() -> Iterator[DescopeClient]:
    with SandboxServer(project_id="Ptest", management_key=KEY) as server, httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Ptest", management_key=KEY, base_url=server.url, max_retries=0)


def reconciler(tmp_path: Path, client: DescopeClient, on_plan: Callable[[CyclePlan], None]) -> Reconciler:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    return Reconciler(LocalSource(path), client, StateStore(tmp_path / "store"), on_plan=on_plan)


def test_on_plan_gets_the_sub_resource_plan_before_the_first_write(tmp_path: Path, client: DescopeClient) -> None:
    seen: list[tuple[CyclePlan, int]] = []

    def on_plan(planned: CyclePlan) -> None:
        seen.append((planned, len(client.load_all())))

    report = reconciler(tmp_path, client, on_plan).run_cycle(CycleOptions(apply=True))
    [(planned, tenants_then)] = seen
    assert tenants_then == 0  # nothing written yet
    assert planned.config is not None
    assert [a.line() for a in planned.config.actions] == ["+ role acme/Tenant Admin"]
    assert planned.digest() != planned.tenants.digest()  # the roles are part of what is pinned
    assert report.planned is not None and report.planned.digest() == planned.digest()
    assert [r["name"] for r in client.load_roles(["acme"])] == ["Tenant Admin"]


def test_a_role_change_alone_has_changes_and_a_refusing_on_plan_writes_nothing(
    tmp_path: Path, client: DescopeClient
) -> None:
    reconciler(tmp_path, client, lambda _planned: None).run_cycle(CycleOptions(apply=True))
    client.update_role("Tenant Admin", {"name": "Tenant Admin", "tenantId": "acme", "description": "console"})

    planned = reconciler(tmp_path, client, lambda _planned: None).run_cycle(CycleOptions())
    assert planned.plan is not None and not planned.plan.has_changes  # the tenant record is as written
    assert planned.has_changes  # the role is not: `plan` exits 2
    assert planned.config is not None and [a.op for a in planned.config.plan.actions] == [SubOp.UPDATE]

    def refuse(_planned: CyclePlan) -> None:
        raise PlanError("the saved plan differs")

    refused = reconciler(tmp_path, client, refuse).run_cycle(CycleOptions(apply=True))
    assert refused.error is not None and "saved plan differs" in str(refused.error)
    assert [r["description"] for r in client.load_roles(["acme"])] == ["console"]
