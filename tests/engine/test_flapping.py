"""Flapping end to end in one process: a second writer on the sandbox, the real client, cycles on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loguru import logger

from controller.adapters.descope import DescopeClient
from controller.adapters.source import LocalSource
from controller.adapters.state_store import StateStore
from controller.cli.status import read_status, render_status
from controller.core.flapping import FlapPolicy
from controller.engine.cycle import CycleOptions, CycleReport
from controller.engine.reconciler import Reconciler
from controller.sandbox import SandboxServer

KEY = "K-flapping-test"
PATCHES = "PATCH /v1/mgmt/tenant/patch"
APPLY = CycleOptions(apply=True, flapping=FlapPolicy(reverts=3, window=600))


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(project_id="Ptest", management_key=KEY) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[DescopeClient]:
    with httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Ptest", management_key=KEY, base_url=sandbox.url, max_retries=0)


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip("\n")), format="{level} {message}", level="INFO")
    yield lines
    logger.remove(sink)


class World:
    """tenants.yaml, the controller on a fake clock, and a second writer using Descope's update call."""

    def __init__(self, tmp_path: Path, sandbox: SandboxServer, client: DescopeClient) -> None:
        self.sandbox, self.client = sandbox, client
        self.tenants = tmp_path / "tenants.yaml"
        self.plan("enterprise")
        self.now = 1000.0
        self.store = StateStore(tmp_path / "store")
        self.reconciler = Reconciler(LocalSource(self.tenants), client, self.store, clock=lambda: self.now)

    def plan(self, value: str, *, name: str = "ACME Corp") -> None:
        self.tenants.write_text(f"tenants:\n  - id: acme\n    name: {name}\n    customAttributes: {{plan: {value}}}\n")

    def other_writer(self, value: str) -> None:
        self.client.update({"id": "acme", "name": "ACME Corp", "customAttributes": {"plan": value}})

    def live(self) -> str:
        return str(self.client.load("acme")["customAttributes"]["plan"])

    def patches(self) -> int:
        return int(httpx.get(f"{self.sandbox.url}/_sandbox/stats").json()["requests"].get(PATCHES, 0))

    def cycle(self, options: CycleOptions = APPLY, *, after: float = 60, status: str = "succeeded") -> CycleReport:
        self.now += after
        report = self.reconciler.run_cycle(options)
        assert report.status == status, report.error
        return report

    def fight(self, rounds: int, value: str = "free") -> list[CycleReport]:
        reports = []
        for _ in range(rounds):
            self.other_writer(value)
            reports.append(self.cycle())
        return reports


@pytest.fixture
def world(tmp_path: Path, sandbox: SandboxServer, client: DescopeClient) -> World:
    w = World(tmp_path, sandbox, client)
    w.cycle()  # created
    return w


def test_a_second_writer_is_fought_twice_then_left_alone_and_said_so(world: World, logs: list[str]) -> None:
    before = world.patches()
    first, second, third = world.fight(3)
    assert world.patches() - before == 2  # two corrections, then the third revert is only reported
    assert not first.flapping and not second.flapping
    assert set(third.flapping) == {"acme"}
    assert world.live() == "free"
    started = [line for line in logs if "stopped correcting acme" in line]
    assert started == [
        'WARNING stopped correcting acme: customAttributes.plan was reverted to "free" 3 times in 2m '
        '(we set "enterprise"); another writer is changing this project. Correcting again when tenants.yaml '
        "or the live value changes, or after `descope-gitops resume`."
    ]
    assert any("1 flapping tenant not corrected" in n and "acme (customAttributes.plan)" in n for n in third.notes)

    for _ in range(5):  # it stays held, writes nothing, and says it once
        world.fight(1)
    assert world.patches() - before == 2
    assert len([line for line in logs if "stopped correcting" in line]) == 1
    status = read_status(world.store)
    assert status["flapping_tenants"]["acme"]["foreign"] == "free"
    assert 'Flapping tenant:  acme: customAttributes.plan kept at "free" by another writer' in render_status(status)


def test_a_new_live_value_starts_correcting_again(world: World, logs: list[str]) -> None:
    world.fight(3)
    world.other_writer("pro")  # the other writer changed its mind (or a human fixed it by hand)
    report = world.cycle()
    assert world.live() == "enterprise"
    assert not report.flapping
    assert 'INFO correcting acme again: customAttributes.plan is "pro" live, no longer the foreign "free"' in logs


def test_a_change_of_tenants_yaml_is_applied_and_ends_the_hold(world: World, logs: list[str]) -> None:
    world.fight(3)
    world.plan("team")
    report = world.cycle()
    assert world.live() == "team"
    assert not report.flapping
    released = 'INFO correcting acme again: tenants.yaml now sets customAttributes.plan to "team" (was "enterprise")'
    assert released in logs


def test_resume_corrects_a_held_tenant_again_and_the_count_starts_afresh(world: World) -> None:
    world.fight(3)
    held = world.cycle()
    assert held.flapping and world.live() == "free"  # the other writer stopped; its value stays
    resumed = world.cycle(CycleOptions(apply=True, resumed_at=world.now))
    assert not resumed.flapping and world.live() == "enterprise"
    # the correction just made is the first of a new count: two more reverts hold it again, and
    # the same resume time does not release a hold that began after it
    later = CycleOptions(apply=True, resumed_at=world.now - 60)
    world.other_writer("free")
    assert not world.cycle(later).flapping
    world.other_writer("free")
    assert world.cycle(later).flapping
    assert world.cycle(later).flapping


def test_a_held_tenant_still_gets_a_rename_from_tenants_yaml(world: World) -> None:
    world.fight(3)
    world.plan("enterprise", name="ACME Inc")
    report = world.cycle()
    assert world.client.load("acme")["name"] == "ACME Inc"
    assert world.live() == "free"  # the held field is left to the other writer
    assert set(report.flapping) == {"acme"}


def test_changes_of_tenants_yaml_are_never_counted_as_reverts(world: World) -> None:
    world.fight(2)  # two drift corrections of plan to "enterprise" against "free"
    world.plan("pro")
    world.cycle()
    # the revision puts "enterprise" back while the console had set "free" once more: a change,
    # not the third revert, so it is applied
    world.plan("enterprise")
    world.other_writer("free")
    report = world.cycle()
    assert not report.flapping
    assert world.live() == "enterprise"


def test_reverts_spread_wider_than_the_window_are_corrected_every_time(world: World) -> None:
    before = world.patches()
    for _ in range(4):
        world.other_writer("free")
        assert not world.cycle(after=400).flapping  # two reverts at most in any 600 s
    assert world.patches() - before == 4
    assert world.live() == "enterprise"


def test_a_hold_survives_a_restart(world: World, tmp_path: Path, client: DescopeClient) -> None:
    world.fight(3)
    world.reconciler = Reconciler(LocalSource(world.tenants), client, world.store, clock=lambda: world.now)
    before = world.patches()
    assert set(world.fight(1)[0].flapping) == {"acme"}
    assert world.patches() == before


def test_under_suspension_a_hold_is_kept_until_the_controller_writes_again(world: World) -> None:
    world.fight(3)
    suspended = CycleOptions(apply=True, record=True, suspended=True)
    world.other_writer("pro")
    assert set(world.cycle(suspended, status="planned").flapping) == {"acme"}  # as it stood: decided when writing
    assert world.store.load().flapping["acme"].foreign == "free"
    assert world.cycle().flapping == {}  # writing again: the live value moved, so it is corrected
    assert world.live() == "enterprise"
