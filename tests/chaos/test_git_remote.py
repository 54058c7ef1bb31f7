"""Attack: the Git remote goes away, is force-pushed, loses the followed branch. The daemon keeps the last
good revision enforced (console drift is still corrected) while the remote cannot be read, says why, and
follows the remote again, force-pushes included, once it can."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import BASE, World, live, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]


def fetch_errors(world: World) -> float:
    for line in httpx.get(f"{world.url}/metrics", timeout=5).text.splitlines():
        if line.startswith('descope_gitops_git_fetch_total{result="error"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def console_rename(world: World, name: str) -> None:
    world.sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "acme", "name": name}).raise_for_status()


def test_a_lost_moved_or_rewritten_remote_never_stops_drift_correction(world: World) -> None:
    world.repo.commit({"tenants.yaml": BASE})
    daemon = world.daemon(interval=1)
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Corp", what="applied\n" + daemon.log)

    # the remote is gone (moved away): drift is still corrected from the last good revision
    away = world.repo.path.with_name("repo-away")
    world.repo.path.rename(away)
    wait_until(lambda: fetch_errors(world) >= 1, what="fetch failing\n" + daemon.log)
    console_rename(world, "Console Edit 1")
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Corp", what="drift corrected\n" + daemon.log)
    assert "last good revision" in daemon.log and "stays enforced" in daemon.log

    # back, and force-pushed: the rewritten history is what main says now
    away.rename(world.repo.path)
    world.repo.git("commit", "--amend", "-q", "-m", "rewritten")
    rewritten = BASE.replace("ACME Corp", "ACME Rewritten")
    (world.repo.path / "tenants.yaml").write_text(rewritten)
    world.repo.git("commit", "-q", "-a", "--amend", "-m", "rewritten history")
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Rewritten", what="force-push\n" + daemon.log)

    # the followed branch is deleted: waited out, drift still corrected
    world.repo.git("checkout", "-q", "-b", "elsewhere")
    world.repo.git("branch", "-q", "-D", "main")
    errors = fetch_errors(world)
    wait_until(lambda: fetch_errors(world) > errors, what="ref gone\n" + daemon.log)
    console_rename(world, "Console Edit 2")
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Rewritten", what="drift corrected\n" + daemon.log)
    assert daemon.proc is not None and daemon.proc.poll() is None, "the daemon never stopped"
