"""Attack: kill -9 the daemon again and again in the middle of a 300-tenant apply, then of 300 renames.
Counted by the sandbox: every tenant is created once and renamed right, nothing lost, no second tenant;
only requests in flight at a kill may be sent again, and each of those is harmless."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable

import pytest

from tests.e2e.conftest import World, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

COUNT = 300
KILLS = 4
IN_FLIGHT = 4  # max_concurrency: the most requests a killed daemon can have in flight
CREATE = "POST /v1/mgmt/tenant/create"
PATCH = "PATCH /v1/mgmt/tenant/patch"


def tenants(name: str) -> str:
    return "tenants:\n" + "".join(f"  - id: t{i:03d}\n    name: {name} {i:03d}\n" for i in range(COUNT))


def settle(world: World) -> None:
    """Wait until the sandbox has seen no request for a while: what the killed process sent has landed.

    At Descope too a request in flight at the kill may land after the restart has read live; the
    daemon copes (a create refused as a duplicate that is ours counts as done), but then the sandbox
    would count two requests for one change, which is not what this test measures.
    """
    quiet, seen = 0, -1
    while quiet < 4:
        total = world.sandbox.stats()["total"]
        quiet, seen = (quiet + 1, seen) if total == seen else (0, total)
        time.sleep(0.15)


def sweep(world: World, rng: random.Random, progress: Callable[[], int], what: str) -> list[int]:
    """Start the daemon, kill -9 it at a random moment while it works, KILLS times; then let it finish.

    Returns how far the work was (``progress`` out of COUNT) at each kill.
    """
    seen = []

    def done() -> bool:
        return progress() == COUNT

    for _ in range(KILLS):
        daemon = world.daemon(interval=1, max_concurrency=4)
        started = world.sandbox.stats()["writes"]
        wait_until(
            lambda started=started: world.sandbox.stats()["writes"] > started,
            timeout=30,
            what=f"{what} under way\n" + daemon.log,
        )
        time.sleep(rng.uniform(0.0, 0.4))
        daemon.signal(signal.SIGKILL)
        daemon.wait()
        settle(world)  # requests the dead process had in flight land, as they would at Descope
        seen.append(progress())
        if done():
            break
    finisher = world.daemon(interval=1, max_concurrency=4)
    wait_until(done, timeout=120, what=f"{what} finished\n" + finisher.log)
    wait_until(lambda: not (world.store / "journal.jsonl").exists(), timeout=30, what="journal closed")
    finisher.stop()
    return seen


def test_kill_9_sweeps_through_creates_and_renames_lose_nothing_and_repeat_nothing_harmful(world: World) -> None:
    rng = random.Random(20261130)
    world.sandbox.configure(latency_ms=25)  # a change takes a while, so kills land mid-apply

    world.repo.commit({"tenants.yaml": tenants("Tenant")})
    killed_at = sweep(world, rng, lambda: len(world.sandbox.tenants()), "creates")
    assert any(0 < n < COUNT for n in killed_at), f"no kill landed mid-apply: {killed_at}"
    stats = world.sandbox.stats()
    # At most the requests in flight at each kill are sent again: one the kill cut off before Descope read
    # it is simply sent again; one that landed after the restart read live is refused as a duplicate and
    # recognised as ours. Never a second tenant, never a failed apply.
    resent = stats["requests"][CREATE] - COUNT
    assert 0 <= resent <= IN_FLIGHT * KILLS, f"{resent} creates sent again"
    assert stats["status"].get("409", 0) <= resent, "a duplicate refusal that was not a create sent again"

    world.sandbox.reset_stats()
    world.repo.commit({"tenants.yaml": tenants("Renamed")})
    killed_at = sweep(
        world,
        rng,
        lambda: sum(t["name"].startswith("Renamed") for t in world.sandbox.tenants().values()),
        "renames",
    )
    assert any(0 < n < COUNT for n in killed_at), f"no kill landed mid-rename: {killed_at}"
    stats = world.sandbox.stats()
    resent = stats["requests"][PATCH] - COUNT  # a rename sent again sets the same name again: harmless
    assert 0 <= resent <= IN_FLIGHT * KILLS, f"{resent} renames sent again"
    assert stats["requests"].get(CREATE, 0) == 0
    live = world.sandbox.tenants()
    assert sorted(live) == [f"t{i:03d}" for i in range(COUNT)]
    assert {t["name"] for t in live.values()} == {f"Renamed {i:03d}" for i in range(COUNT)}
    state = world.state()
    assert state["resumes"] >= 1
    assert set(state["inventory"]) == set(live)
