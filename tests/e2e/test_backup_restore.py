"""On-call's view: backups before every write, and one-command restores, against the sandbox."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Run, Sandbox

pytestmark = pytest.mark.e2e

RICH = """\
tenants:
  - id: holding
    name: Holding Co
  - id: acme
    name: ACME Corp
    parent: holding
    selfProvisioningDomains: [acme.com, acme.io]
    customAttributes: {plan: enterprise, seats: 50}
    enforceSSO: true
    defaultRoles: [viewer, editor]
    settings: {sessionTokenExpiration: 10, sessionTokenExpirationUnit: minutes}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def full(sandbox: Sandbox, tenant_id: str) -> dict[str, Any]:
    tenant = dict(sandbox.tenants()[tenant_id])
    tenant.pop("createdTime", None)
    return tenant


def history(cli: Run, tenant_id: str) -> list[dict[str, Any]]:
    shown = cli("backup", "history", "--tenant", tenant_id, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows: list[dict[str, Any]] = json.loads(shown.stdout)
    return rows


def test_a_tenant_deleted_by_hand_comes_back_with_every_field(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    assert cli("sync", str(path), "--apply").returncode == 0
    sandbox.edit_settings("acme", enableInactivity=True)
    before = full(sandbox, "acme")
    created = cli("backup", "create")
    assert created.returncode == 0, created.stderr
    assert "snapshot" in created.stdout and "2 tenants" in created.stdout
    (snapshot,) = [row["id"] for row in history(cli, "acme")]

    sandbox.api("POST", "/v1/mgmt/tenant/delete", json={"id": "acme"}).raise_for_status()
    assert "acme" not in sandbox.tenants()

    asked = cli("restore", "--tenant", "acme", "--dry-run")
    assert asked.returncode == 1, "no target: no silent choice"
    assert "say which state to restore" in asked.stderr and snapshot in asked.stderr

    dry = cli("restore", "--tenant", "acme", "--from", snapshot[:12], "--dry-run")
    assert dry.returncode == 2, dry.stdout + dry.stderr
    assert "+ create  acme" in dry.stdout and "dry run: nothing was written" in dry.stdout
    assert f"backup {snapshot} (manual snapshot" in dry.stdout, "a unique prefix names the backup"
    assert "acme" not in sandbox.tenants()

    restored = cli("restore", "--tenant", "acme", "--from", snapshot[:12])
    assert restored.returncode == 0, restored.stdout + restored.stderr
    after = full(sandbox, "acme")
    assert after == before  # id, name, parent, domains, attributes, SSO, roles: every field
    assert sandbox.tenants()["acme"]["settings"]["enableInactivity"] is True
    assert "acme: recreated; undoing that means deleting it" in restored.stdout

    again = cli("restore", "--tenant", "acme", "--from", snapshot)
    assert again.returncode == 5 and "nothing to do" in again.stdout


def test_a_bad_change_is_undone_before_last_change_and_the_restore_itself_can_be_undone(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(tmp_path, RICH)
    assert cli("sync", str(path), "--apply").returncode == 0
    good = full(sandbox, "acme")
    write(tmp_path, RICH.replace("seats: 50", "seats: 5").replace("enforceSSO: true", "enforceSSO: false"))
    assert cli("sync", str(path), "--apply").returncode == 0
    bad = full(sandbox, "acme")
    assert bad["customAttributes"]["seats"] == 5
    assert cli("backup", "create").returncode == 0  # a snapshot after the incident holds the broken state

    rows = history(cli, "acme")
    assert [r["kind"] for r in rows] == ["snapshot", "pre-image"]
    (pre,) = [r for r in rows if r["kind"] == "pre-image"]
    assert pre["revision"] and pre["cycle_id"] and pre["cause"].startswith("before a write by cycle")
    assert {"field": "customAttributes.seats", "before": 50, "after": 5} in pre["changed_after"]
    text = cli("backup", "history", "--tenant", "acme").stdout
    assert "then: customAttributes.seats 50 → 5" in text and "then: enforceSSO true → false" in text

    result = cli("restore", "--tenant", "acme", "--before-last-change", "--suspend")
    assert result.returncode == 0, result.stdout + result.stderr
    assert full(sandbox, "acme") == good
    assert f"backup {pre['id']}" in result.stdout and "the state before the latest write" in result.stdout
    assert "the daemon will revert this restore" in result.stdout
    assert "customAttributes.seats" in result.stdout
    status = cli("status").stdout
    assert "SUSPENDED" in status and "restore of acme" in status
    replaced = [r for r in history(cli, "acme") if r["operation"] == "restore"]
    assert len(replaced) == 1 and replaced[0]["id"] in result.stdout
    assert "undo: descope-gitops restore --tenant acme --undo" in result.stdout

    undone = cli("restore", "--tenant", "acme", "--undo")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert full(sandbox, "acme") == bad, "undo brings back exactly the state before the restore"
    redone = cli("restore", "--tenant", "acme", "--undo")
    assert redone.returncode == 0, redone.stdout + redone.stderr
    assert full(sandbox, "acme") == good, "a restore of a restore works"


def test_restore_at_a_time_gives_the_state_at_that_time(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    """seats 500 → 650 → 5 (the bad change); --at between the two changes is 650, not 500."""
    path = write(tmp_path, "tenants:\n  - id: a\n    name: A\n    customAttributes: {seats: 500}\n")
    assert cli("sync", str(path), "--apply").returncode == 0
    moments = []
    for value in (650, 5):
        time.sleep(0.05)
        moments.append(time.time())
        time.sleep(0.05)
        write(tmp_path, f"tenants:\n  - id: a\n    name: A\n    customAttributes: {{seats: {value}}}\n")
        assert cli("sync", str(path), "--apply").returncode == 0
    time.sleep(0.05)
    assert cli("backup", "create").returncode == 0  # after the bad change: it holds seats 5
    time.sleep(0.05)
    latest = cli("restore", "--tenant", "a", "--at", str(time.time()))
    assert latest.returncode == 5, latest.stdout + latest.stderr
    assert "nothing was recorded after" in latest.stdout, "the snapshot is before that time: live is the state"

    result = cli("restore", "--tenant", "a", "--at", str(moments[1]))  # after 650 was applied, before 5
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.tenants()["a"]["customAttributes"] == {"seats": 650}
    assert "the earliest backup after" in result.stdout and "as it was then" in result.stdout

    earlier = cli("restore", "--tenant", "a", "--at", str(moments[0]), "--dry-run")
    assert earlier.returncode == 2 and "customAttributes.seats: 650 → 500" in earlier.stdout

    for when, message in (
        ("2001-01-01T00:00:00Z", "before the retention window of 30 days"),
        ("2999-01-01T00:00:00+02:00", "is in the future"),
        ("yesterday-ish", "not an ISO 8601 time"),
    ):
        refused = cli("restore", "--tenant", "a", "--at", when)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    before_creation = cli("restore", "--tenant", "a", "--at", "1h")
    assert before_creation.returncode == 1 and "did not exist then" in before_creation.stderr
    unknown = cli("restore", "--tenant", "ghost", "--at", "1m")
    assert unknown.returncode == 1 and "no backup holds this tenant" in unknown.stderr
    ambiguous = cli("restore", "--tenant", "a", "--from", "2")
    assert ambiguous.returncode == 1 and "is ambiguous" in ambiguous.stderr
    assert sandbox.tenants()["a"]["customAttributes"] == {"seats": 650}, "nothing written by a refusal"


def test_an_unwritable_backup_store_blocks_writes_but_drift_is_still_measured(
    cli: Run, sandbox: Sandbox, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    path = write(tmp_path, "tenants:\n  - id: a\n    name: A\n  - id: b\n    name: B\n")
    assert cli("sync", str(path), "--apply").returncode == 0
    backups = Path(cli_env["DESCOPE_GITOPS_STORE__DIR"]) / "backups"
    import shutil

    shutil.rmtree(backups, ignore_errors=True)
    backups.write_text("not a directory")  # every backup write now fails, as on a broken volume
    sandbox.reset_stats()
    write(tmp_path, "tenants:\n  - id: a\n    name: A2\n  - id: b\n    name: B2\n  - id: c\n    name: C\n")
    result = cli("sync", str(path), "--apply")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "backup of a failed, so it was not changed" in result.stdout
    live = sandbox.tenants()
    assert live["a"]["name"] == "A" and live["b"]["name"] == "B"  # nothing written without its pre-image
    assert "c" in live  # a create has nothing to lose: it goes on
    stats = sandbox.stats()
    assert stats["requests"].get("PATCH /v1/mgmt/tenant/patch", 0) == 0
    plan = cli("plan", str(path))
    assert plan.returncode == 2 and "~ update  a" in plan.stdout  # drift still measured


def test_backup_verify_catches_tampering(cli: Run, sandbox: Sandbox, tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write(tmp_path, "tenants:\n  - id: a\n    name: A\n")
    assert cli("sync", str(path), "--apply").returncode == 0
    assert cli("backup", "create").returncode == 0
    ok = cli("backup", "verify")
    assert ok.returncode == 0 and "all checksums match" in ok.stdout
    snapshot = next((Path(cli_env["DESCOPE_GITOPS_STORE__DIR"]) / "backups").rglob("*.json"))
    snapshot.write_text(snapshot.read_text().replace('"A"', '"Evil"'))
    bad = cli("backup", "verify")
    assert bad.returncode == 1 and str(snapshot) in bad.stderr
    backup_id = json.loads(cli("backup", "list", "--format", "json").stdout)[0]["id"]
    refused = cli("restore", "--tenant", "a", "--from", backup_id)
    assert refused.returncode == 1 and str(snapshot.name) in refused.stderr


def test_restore_a_whole_snapshot_and_from_a_git_revision(
    cli: Run, sandbox: Sandbox, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    from tests.e2e.conftest import GitRepo

    repo = GitRepo(tmp_path / "repo")
    first = repo.commit({"tenants.yaml": "tenants:\n  - id: a\n    name: A\n  - id: b\n    name: B\n"})
    repo.commit({"tenants.yaml": "tenants:\n  - id: a\n    name: A2\n  - id: b\n    name: B2\n"})
    git_env = {
        "DESCOPE_GITOPS_SOURCE__KIND": "git",
        "DESCOPE_GITOPS_SOURCE__URL": repo.url,
        "DESCOPE_GITOPS_SOURCE__PATH": "tenants.yaml",
    }
    for tenant, name in (("a", "A2"), ("b", "B2")):
        sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": tenant, "name": name}).raise_for_status()
    assert cli("backup", "create").returncode == 0
    snapshot = json.loads(cli("backup", "list", "--format", "json").stdout)[-1]["id"]
    for tenant in ("a", "b"):
        sandbox.api("POST", "/v1/mgmt/tenant/delete", json={"id": tenant}).raise_for_status()

    whole = cli("restore", "--all", "--from", snapshot, env=git_env)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert {t: v["name"] for t, v in sandbox.tenants().items()} == {"a": "A2", "b": "B2"}

    unknown = cli("restore", "--tenant", "a", "--git-rev", "release-9", env=git_env)
    assert unknown.returncode == 1 and "'release-9' names no branch, tag or commit" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    assert sandbox.tenants()["a"]["name"] == "A2", "nothing written"

    old = cli("restore", "--tenant", "a", "--git-rev", "HEAD~1", env=git_env)
    assert old.returncode == 0, old.stdout + old.stderr
    assert f"from git HEAD~1, resolved to commit {first}" in old.stdout
    assert sandbox.tenants()["a"]["name"] == "A"
    assert "the daemon will revert this restore" in old.stdout  # HEAD of main says A2
