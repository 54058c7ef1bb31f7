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


def test_a_tenant_deleted_by_hand_comes_back_with_every_field(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    assert cli("sync", str(path), "--apply").returncode == 0
    sandbox.api("POST", "/v1/mgmt/tenant/settings", json={"tenantId": "acme", "enableInactivity": True})
    before = full(sandbox, "acme")
    created = cli("backup", "create")
    assert created.returncode == 0, created.stderr
    assert "snapshot" in created.stdout and "2 tenants" in created.stdout

    sandbox.api("POST", "/v1/mgmt/tenant/delete", json={"id": "acme"}).raise_for_status()
    assert "acme" not in sandbox.tenants()

    dry = cli("restore", "--tenant", "acme", "--dry-run")
    assert dry.returncode == 2, dry.stdout + dry.stderr
    assert "+ create  acme" in dry.stdout and "dry run: nothing was written" in dry.stdout
    assert "acme" not in sandbox.tenants()

    restored = cli("restore", "--tenant", "acme")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    after = full(sandbox, "acme")
    assert after == before  # id, name, parent, domains, attributes, SSO, roles: every field
    assert sandbox.tenants()["acme"]["settings"]["enableInactivity"] is True

    again = cli("restore", "--tenant", "acme")
    assert again.returncode == 5 and "nothing to do" in again.stdout


def test_a_tenant_broken_by_a_controller_update_is_restored_from_its_pre_image(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(tmp_path, RICH)
    assert cli("sync", str(path), "--apply").returncode == 0
    good = full(sandbox, "acme")
    write(tmp_path, RICH.replace("seats: 50", "seats: 5").replace("enforceSSO: true", "enforceSSO: false"))
    assert cli("sync", str(path), "--apply").returncode == 0
    assert sandbox.tenants()["acme"]["customAttributes"]["seats"] == 5

    listing = json.loads(cli("backup", "list", "--tenant", "acme", "--format", "json").stdout)
    pre = [b for b in listing if b["kind"] == "pre-image"]
    assert [b["operation"] for b in pre] == ["update"]
    assert pre[0]["revision"] and pre[0]["cycle_id"]

    result = cli("restore", "--tenant", "acme", "--from", pre[0]["id"], "--suspend")
    assert result.returncode == 0, result.stdout + result.stderr
    assert full(sandbox, "acme") == good
    assert "the daemon will revert this restore" in result.stdout
    assert "customAttributes.seats" in result.stdout
    status = cli("status").stdout
    assert "SUSPENDED" in status and "restore of acme" in status
    # the restore backed up what it replaced, so it can itself be undone
    operations = [b["operation"] for b in json.loads(cli("backup", "list", "--format", "json").stdout)]
    assert "restore" in operations


def test_restore_at_a_time_picks_by_recorded_time(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, "tenants:\n  - id: a\n    name: A\n    customAttributes: {v: 1}\n")
    assert cli("sync", str(path), "--apply").returncode == 0
    for value in (2, 3):
        write(tmp_path, f"tenants:\n  - id: a\n    name: A\n    customAttributes: {{v: {value}}}\n")
        assert cli("sync", str(path), "--apply").returncode == 0
        time.sleep(0.05)
    listing = json.loads(cli("backup", "list", "--tenant", "a", "--format", "json").stdout)
    assert [b["operation"] for b in listing] == ["update", "update"]
    first_time = listing[0]["taken_at"]
    result = cli("restore", "--tenant", "a", "--at", str(first_time + 0.001))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.tenants()["a"]["customAttributes"] == {"v": 1}
    too_early = cli("restore", "--tenant", "a", "--at", "2001-01-01T00:00:00Z")
    assert too_early.returncode == 1 and "no backup holds tenant 'a'" in too_early.stderr


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

    old = cli("restore", "--tenant", "a", "--git-rev", first, env=git_env)
    assert old.returncode == 0, old.stdout + old.stderr
    assert "from git" in old.stdout
    assert sandbox.tenants()["a"]["name"] == "A"
    assert "the daemon will revert this restore" in old.stdout  # HEAD of main says A2
