"""The live list a cycle reads is never left frozen, nor kept alive, once the cycle ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.adapters.descope import DescopeClient
from controller.adapters.source import LocalSource
from controller.adapters.state_store import StateStore
from controller.core.plan import PlanPolicy
from controller.engine.cycle import CycleOptions, CyclePlan
from controller.engine.reconciler import Reconciler
from controller.errors import DescopeGitopsError
from controller.sandbox import SandboxServer

KEY = "K-live-list-test"
TENANTS = 500


@pytest.fixture
def client() -> Iterator[DescopeClient]:
    with SandboxServer(project_id="Ptest", management_key=KEY) as server, httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Ptest", management_key=KEY, base_url=server.url, max_retries=0)


def reconciler(tmp_path: Path, client: DescopeClient, **kwargs: Any) -> Reconciler:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        + "".join(
            f"  - id: t{i}\n    name: N-{i}\n    selfProvisioningDomains: [t{i}.example.com]\n"
            f"    customAttributes: {{plan: {('pro', 'free')[i % 2]}}}\n"
            for i in range(TENANTS)
        )
    )
    return Reconciler(LocalSource(path), client, StateStore(tmp_path / "store"), **kwargs)


def test_idle_cycles_leave_nothing_frozen_and_keep_no_list_alive(tmp_path: Path, client: DescopeClient) -> None:
    rec = reconciler(tmp_path, client)
    options = CycleOptions(apply=True, policy=PlanPolicy(prune=True))
    first = rec.run_cycle(options)
    assert first.status == "succeeded" and first.plan is not None and len(first.plan.actions) == TENANTS
    del first
    counts = []
    gc.disable()  # only reference counting frees: a reference cycle holding the list keeps it, as frozen it would
    try:
        for _ in range(6):
            report = rec.run_cycle(options)
            assert report.status == "succeeded" and report.plan is not None and not report.plan.actions
            assert gc.get_freeze_count() == 0
            del report
            counts.append(len(gc.get_objects()))
    finally:
        gc.enable()
    # a list kept alive per cycle (by a reference cycle, which a freeze moves to the oldest generation, scanned
    # only by a rare full collection) would add 2 tracked containers a tenant each cycle: a record, its domains
    assert counts[-1] - counts[0] < 2 * TENANTS


def test_a_cycle_stopped_after_the_read_leaves_nothing_frozen(tmp_path: Path, client: DescopeClient) -> None:
    seen: list[int] = []

    def refuse(_plan: CyclePlan) -> None:
        seen.append(gc.get_freeze_count())
        raise DescopeGitopsError("the saved plan no longer matches")

    report = reconciler(tmp_path, client, on_plan=refuse).run_cycle(CycleOptions(apply=True))
    assert report.status == "failed" and seen
    assert gc.get_freeze_count() == 0
