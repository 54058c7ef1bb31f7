"""Who drifted, what changed: the daemon's log and `status` name the tenant, the cause and each field old → new."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Run, World, live, wait_until

pytestmark = pytest.mark.e2e

TENANTS = """\
tenants:
  - id: acme
    name: ACME
    customAttributes: {seats: 50}
  - id: globex
    name: Globex
  - id: initech
    name: Initech
"""


def last_cycle(world: World) -> dict[str, object] | None:
    """The store's last cycle, or None before the first cycle has been recorded (the file does not exist yet)."""
    path = world.store / "state.json"
    return world.state().get("last_cycle") if path.exists() else None


def test_a_console_edit_is_drift_and_a_merge_is_a_change_in_log_and_status(world: World, cli: Run) -> None:
    world.repo.commit({"tenants.yaml": TENANTS})
    daemon = world.daemon(interval=1)
    wait_until(lambda: len(world.sandbox.tenants()) == 3, what="first apply\n" + daemon.log)
    wait_until(lambda: (last_cycle(world) or {}).get("actions") == 0, what="in sync\n" + daemon.log)
    env = {"DESCOPE_GITOPS_STORE__DIR": str(world.store)}

    # someone edits one tenant among several in the console
    world.sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "globex", "name": "Globex Console Edit"})
    line = 'corrected drift on globex: name "Globex Console Edit" → "Globex"'
    wait_until(lambda: line in daemon.log, what="the write named\n" + daemon.log)
    # the log line is written as the write finishes; the store records the cycle when it ends
    wait_until(lambda: "globex: corrected drift" in cli("status", env=env).stdout, what="status names globex")
    status = cli("status", env=env).stdout
    assert 'name: "Globex Console Edit" → "Globex"' in status
    assert "acme: corrected drift" not in status and "initech: corrected drift" not in status

    # a merge changes acme: a change, never drift
    sha = world.repo.commit({"tenants.yaml": TENANTS.replace("seats: 50", "seats: 75")}, "acme buys seats")
    wait_until(lambda: live(world.sandbox, "acme", "customAttributes")() == {"seats": 75}, what="merge applied")
    wait_until(lambda: world.state().get("last_applied_revision") == sha, what="revision recorded")
    assert f"applied change on acme (rev {sha[:12]}): customAttributes.seats 50 → 75" in daemon.log
    assert "corrected drift on acme" not in daemon.log
    records = [world.state()["last_cycle"], *world.state()["history"]]
    assert all(r["drifted"] == 0 for r in records if r["revision"] == sha)
    tenants = json.loads(cli("status", "--format", "json", env=env).stdout)["tenants"]
    acme = next(t for t in tenants if t["tenant"] == "acme")
    assert (acme["cause"], acme["result"]) == ("change", "written")
    assert acme["changes"] == [{"field": "customAttributes.seats", "cause": "change", "before": "50", "after": "75"}]
    assert tenants[0]["tenant"] == "acme"  # most recent first
