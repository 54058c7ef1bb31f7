"""A full store volume: at start-up a one-line refusal and nothing sent to Descope; while running, no unbacked write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.chaos.conftest import full_disk_env
from tests.e2e.conftest import BASE, DaemonProcess, Run, Sandbox, World, live, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

FULL = ["writes fail", "statvfs says full"]


def assert_one_clear_refusal(stderr: str, store: Path) -> None:
    """One line that names the store, its volume, the free space and the space needed; no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert f"the store {store} cannot be written (No space left on device [ENOSPC])" in line, line
    assert " has 0 B free" in line, line
    assert "starting needs at least 4.0 MiB" in line, line
    assert "Nothing was written to Descope" in line, line


@pytest.mark.parametrize("how", FULL)
def test_sync_apply_on_a_full_volume_refuses_in_one_line_and_sends_nothing(
    cli: Run, sandbox: Sandbox, cli_env: dict[str, str], tmp_path: Path, how: str
) -> None:
    store = Path(cli_env["DESCOPE_GITOPS_STORE__DIR"])
    store.mkdir()
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(BASE)

    result = cli("sync", str(tenants), "--apply", env=full_disk_env(store, statvfs_only=how == "statvfs says full"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert_one_clear_refusal(result.stderr, store)
    assert sandbox.stats()["total"] == 0  # Descope was not even read
    assert sorted(p.name for p in store.iterdir()) == ["store.lock"]  # no probe, state or journal left behind


@pytest.mark.parametrize("how", FULL)
def test_run_on_a_full_volume_refuses_in_one_line_and_sends_nothing(world: World, tmp_path: Path, how: str) -> None:
    world.repo.commit({"tenants.yaml": BASE})
    world.store.mkdir()
    env = {k: v for k, v in world.env.items() if k != "DESCOPE_GITOPS_STORE__DIR"}
    env.update(full_disk_env(world.store, statvfs_only=how == "statvfs says full"))
    result = subprocess.run(
        [sys.executable, "-m", "controller", "run", "--config", str(world.config())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert_one_clear_refusal(result.stderr, world.store)
    assert world.sandbox.stats()["total"] == 0
    assert not world.ready()


def readyz(world: World) -> tuple[int, str]:
    try:
        response = httpx.get(f"{world.url}/readyz", timeout=2)
    except httpx.HTTPError as exc:
        return 0, str(exc)
    return response.status_code, response.text


def test_a_volume_that_fills_while_running_stops_writes_and_readyz_says_why(world: World, tmp_path: Path) -> None:
    world.repo.commit({"tenants.yaml": BASE})
    flag = tmp_path / "disk-is-full"
    env = {k: v for k, v in world.env.items() if k != "DESCOPE_GITOPS_STORE__DIR"}
    env.update(full_disk_env(world.store, flag=flag))
    daemon = DaemonProcess(world.config(interval=1), env, tmp_path / "daemon-full-disk.log")
    world.daemons.append(daemon)
    daemon.start()
    wait_until(lambda: "acme" in world.sandbox.tenants(), what="first apply\n" + daemon.log)
    wait_until(world.ready, what="/readyz 200\n" + daemon.log)

    flag.touch()  # the volume is full from now on
    world.sandbox.reset_stats()
    world.repo.commit({"tenants.yaml": BASE.replace("free", "enterprise")}, "acme goes enterprise")

    def not_ready_naming_the_full_disk() -> bool:
        status, body = readyz(world)
        return status == 503 and "No space left on device" in body

    wait_until(not_ready_naming_the_full_disk, timeout=30, what="/readyz 503 naming the full disk\n" + daemon.log)
    assert live(world.sandbox, "acme", "customAttributes")() == {"plan": "free"}  # no write without a pre-image
    assert world.sandbox.stats()["writes"] == 0
    assert daemon.proc is not None and daemon.proc.poll() is None  # still running, retrying

    flag.unlink()  # space freed: the change goes through, with its pre-image
    wait_until(
        lambda: live(world.sandbox, "acme", "customAttributes")() == {"plan": "enterprise"},
        timeout=30,
        what="applied once the disk has room\n" + daemon.log,
    )
    wait_until(world.ready, timeout=30, what="/readyz 200 again\n" + daemon.log)
    assert list((world.store / "backups" / "pre-images" / "acme").glob("*.json"))
