"""Attack: a second writer on the same Descope project (another controller with its own tenants.yaml,
a script) sets a field back whenever it differs. Two controllers fought forever (331 writes in 30 s
were seen); the daemon must notice, stop correcting that tenant, say so, and correct it again when
a human resumes it."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import Run, Sandbox, World, live, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

OURS = "tenants:\n  - id: acme\n    name: ACME Corp\n    customAttributes: {plan: enterprise}\n"
PATCHES = "PATCH /v1/mgmt/tenant/patch"  # the daemon's writes (the other writer uses update)
REVERTS = 3  # the default [reconcile] flapping_reverts
FLAPPING = re.compile(r'^descope_gitops_tenants\{state="flapping"\} (\S+)$', re.MULTILINE)


class OtherWriter:
    """The second controller: whenever plan is not "free", it writes "free" through the real API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.writes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="other-writer", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            tenant = self.sandbox.tenants().get("acme")
            if tenant is not None and (tenant.get("customAttributes") or {}).get("plan") != "free":
                body = {"id": "acme", "name": "ACME Corp", "customAttributes": {"plan": "free"}}
                self.sandbox.api("POST", "/v1/mgmt/tenant/update", json=body).raise_for_status()
                self.writes += 1

    def __enter__(self) -> OtherWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def flapping_tenants(world: World) -> float:
    match = FLAPPING.search(httpx.get(f"{world.url}/metrics", timeout=5).text)
    assert match, 'descope_gitops_tenants{state="flapping"} is not exported'
    return float(match.group(1))


def daemon_writes(world: World) -> int:
    return int(world.sandbox.stats()["requests"].get(PATCHES, 0))


def test_a_second_writer_is_not_fought_forever(world: World, cli: Run) -> None:
    world.repo.commit({"tenants.yaml": OURS})
    daemon = world.daemon(interval=1)
    wait_until(lambda: live(world.sandbox, "acme", "customAttributes")() == {"plan": "enterprise"}, timeout=20)
    wait_until(world.ready, what="ready\n" + daemon.log)
    assert flapping_tenants(world) == 0
    world.sandbox.reset_stats()

    with OtherWriter(world.sandbox) as other:
        wait_until(lambda: "stopped correcting acme" in daemon.log, timeout=20, what="the hold\n" + daemon.log)
        time.sleep(15)  # a daemon still fighting would write about once a second here
        writes = daemon_writes(world)
        assert 1 <= writes <= REVERTS + 1, f"{writes} writes against another writer\n{daemon.log}"
        assert other.writes == writes + 1  # each correction was reverted once, the creation's value too
    assert re.search(
        r'stopped correcting acme: customAttributes\.plan was reverted to "free" 3 times in \d+s '
        r'\(we set "enterprise"\); another writer is changing this project\. Correcting again when '
        r"tenants\.yaml or the live value changes",
        daemon.log,
    ), daemon.log
    assert daemon.log.count("stopped correcting acme") == 1
    assert flapping_tenants(world) == 1
    status = cli("status")
    assert 'Flapping tenant:  acme: customAttributes.plan kept at "free" by another writer' in status.stdout

    # the other writer stopped and left its value: still held, nothing written
    time.sleep(3)
    assert live(world.sandbox, "acme", "customAttributes")() == {"plan": "free"}
    assert daemon_writes(world) == writes

    resumed = cli("resume")
    assert resumed.returncode == 0 and "1 flapping tenant (acme) will be corrected again" in resumed.stdout
    wait_until(
        lambda: live(world.sandbox, "acme", "customAttributes")() == {"plan": "enterprise"},
        timeout=15,
        what="corrected again after resume\n" + daemon.log,
    )
    assert "correcting acme again: released by `descope-gitops resume`" in daemon.log
    wait_until(lambda: flapping_tenants(world) == 0, timeout=10, what="the gauge back to 0")
    assert "Flapping tenant" not in cli("status").stdout


def test_a_change_of_tenants_yaml_reaches_a_held_tenant(world: World) -> None:
    world.repo.commit({"tenants.yaml": OURS})
    daemon = world.daemon(interval=1)
    wait_until(lambda: live(world.sandbox, "acme", "customAttributes")() == {"plan": "enterprise"}, timeout=20)
    with OtherWriter(world.sandbox):
        wait_until(lambda: "stopped correcting acme" in daemon.log, timeout=20, what="the hold\n" + daemon.log)
    # the team settles it: the other writer's value becomes the desired one, under a new name too
    world.repo.commit({"tenants.yaml": OURS.replace("enterprise", "free").replace("ACME Corp", "ACME Inc")})
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Inc", timeout=20, what="applied\n" + daemon.log)
    assert live(world.sandbox, "acme", "customAttributes")() == {"plan": "free"}
    wait_until(lambda: "correcting acme again: tenants.yaml now sets customAttributes.plan" in daemon.log, timeout=10)
    wait_until(lambda: flapping_tenants(world) == 0, timeout=10, what="the gauge back to 0")
