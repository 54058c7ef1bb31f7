"""Restore drills as on-call and the SRE see them: the real CLI, a real snapshot, the daemon's /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from controller.engine.drill import PLACEHOLDER_SECRET
from tests.e2e.conftest import BASE, Run, Sandbox, World, wait_until
from tests.e2e.test_metrics import scrape, value

pytestmark = pytest.mark.e2e

PROJECT = """\
tenants:
  - id: holding
    name: Holding Co
    customAttributes: {plan: enterprise}
  - id: acme
    name: ACME Corp
    parent: holding
    selfProvisioningDomains: [acme.com, ACME.io]
    customAttributes: {plan: enterprise, seats: 50}
    enforceSSO: true
    defaultRoles: [viewer, editor]
    settings: {sessionTokenExpiration: 10, sessionTokenExpirationUnit: minutes}
"""
# the drill needs neither credentials nor the configured project: point both nowhere
OFFLINE = {"DESCOPE_PROJECT_ID": "", "DESCOPE_MANAGEMENT_KEY": "", "DESCOPE_BASE_URI": "http://127.0.0.1:9"}


def snapshot_of(sandbox: Sandbox, cli: Run, tmp_path: Path) -> None:
    """A project with a parent and a child, attributes, roles and session settings, and a snapshot of it."""
    path = tmp_path / "tenants.yaml"
    path.write_text(PROJECT)
    assert cli("sync", str(path), "--apply").returncode == 0
    # a console edit of a setting tenants.yaml does not manage: only the snapshot knows it
    current = sandbox.api("GET", "/v1/mgmt/tenant/settings", params={"id": "acme"}).json()
    body = {**current, "enableInactivity": True, "inactivityTime": 30, "tenantId": "acme"}
    sandbox.api("POST", "/v1/mgmt/tenant/settings", json=body).raise_for_status()
    created = cli("backup", "create")
    assert created.returncode == 0, created.stderr


def tamper(store: Path, old: str, new: str) -> Path:
    """Edit the one snapshot's content in place, as a bad disk or a careless hand would."""
    (snapshot,) = (store / "backups" / "snapshots").glob("*.json")
    text = snapshot.read_text(encoding="utf-8")
    assert old in text
    snapshot.write_text(text.replace(old, new), encoding="utf-8")
    return snapshot


def test_the_drill_passes_on_a_good_snapshot_and_fails_on_a_tampered_one(
    cli: Run, sandbox: Sandbox, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    snapshot_of(sandbox, cli, tmp_path)
    store = Path(cli_env["DESCOPE_GITOPS_STORE__DIR"])
    backups_before = sorted((store / "backups").rglob("*"))
    sandbox.reset_stats()

    drill = cli("backup", "verify", "--restore-drill")  # with the configured project's credentials at hand
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "restore drill passed: all 2 tenants of snapshot" in drill.stdout
    assert "round-tripped, every field equal" in drill.stdout
    assert sum(sandbox.stats()["requests"].values()) == 0, "the configured project is never contacted"
    assert sorted((store / "backups").rglob("*")) == backups_before, "a drill adds no backups to the store"
    offline = cli("backup", "verify", "--restore-drill", env=OFFLINE)
    assert offline.returncode == 0, "no credentials needed: " + offline.stdout + offline.stderr

    snapshot = tamper(store, '"seats":50', '"seats":5000')
    tampered = cli("backup", "verify", "--restore-drill", env=OFFLINE)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert str(snapshot) in tampered.stderr and "checksum mismatch" in tampered.stderr
    assert "restore drill FAILED" in tampered.stdout


def test_no_snapshot_fails_the_drill_with_one_clear_line(cli: Run) -> None:
    drill = cli("backup", "verify", "--restore-drill", env=OFFLINE)
    assert drill.returncode == 1
    assert "no readable snapshot" in drill.stderr and "descope-gitops backup create" in drill.stderr


def test_the_daemon_exports_the_result_of_the_last_drill(world: World, cli: Run) -> None:
    world.repo.commit({"tenants.yaml": BASE})
    daemon = world.daemon(interval=600)
    wait_until(world.ready, what="ready\n" + daemon.log)
    _text, samples = scrape(world)
    assert ("descope_gitops_restore_drill_success", ()) not in samples, "no drill yet: no sample, no alert"

    assert cli("backup", "create").returncode == 0
    started = time.time()
    assert cli("backup", "verify", "--restore-drill", env=OFFLINE).returncode == 0
    _text, samples = scrape(world)
    assert value(samples, "descope_gitops_restore_drill_success") == 1
    assert started <= value(samples, "descope_gitops_restore_drill_last_run_timestamp_seconds") <= time.time()

    tamper(world.store, '"ACME Corp"', '"EVIL Corp"')
    assert cli("backup", "verify", "--restore-drill", env=OFFLINE).returncode == 1
    assert value(scrape(world)[1], "descope_gitops_restore_drill_success") == 0


def test_the_drill_restores_and_compares_roles_sso_and_password_policy_of_the_issue_example(
    cli: Run, sandbox: Sandbox, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    from tests.e2e.test_tenant_config import SECRET, TENANTS

    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    synced = cli("sync", str(path), "--apply", env={"ACME_GOOGLE_SECRET": SECRET})
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert cli("backup", "create").returncode == 0
    sandbox.reset_stats()

    drill = cli("backup", "verify", "--restore-drill", env=OFFLINE)  # no secret at hand: a placeholder is used
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "restore drill passed" in drill.stdout
    assert "(with their sub-resources: 3 roles, 2 sso, 1 passwordPolicy)" in drill.stdout, drill.stdout
    assert sum(sandbox.stats()["requests"].values()) == 0, "the placeholder never reaches the configured project"
    assert SECRET not in drill.stdout + drill.stderr
    assert PLACEHOLDER_SECRET not in drill.stdout + drill.stderr
