"""Issue 16: roles and SSO configurations removed from tenants.yaml, with prune off and on, and the guard.

The real CLI against the sandbox. Prune off: orphans are reported and nothing is deleted. Prune on: the ones
this controller created are deleted, SSO configurations before roles; a role made in the console is never
touched. Many deletes trip the sub-resource guard: the cycle is blocked and nothing of it is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Run, Sandbox
from tests.e2e.test_tenant_config import SECRET, TENANTS, roles_of

pytestmark = pytest.mark.e2e

ENV = {"ACME_GOOGLE_SECRET": SECRET}
WITHOUT = TENANTS.replace(
    "      - name: Auditor\n        description: Reads ACME's audit trail\n", ""
)  # fmt: skip
WITHOUT = WITHOUT[: WITHOUT.index("      - ssoId: google")] + WITHOUT[WITHOUT.index("    passwordPolicy:") :]


def sso_ids(sandbox: Sandbox) -> set[str]:
    answer = sandbox.api("GET", "/v2/mgmt/sso/settings/all", params={"tenantId": "acme"}).json()
    return {s["ssoId"] for s in answer["SSOSettings"]}


def test_removed_roles_and_sso_are_orphans_without_prune_and_deleted_with_it(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    first = cli("sync", str(path), "--apply", env=ENV)
    assert first.returncode == 0, first.stdout + first.stderr
    console = {"name": "Console Role", "tenantId": "acme", "description": "made by hand"}
    sandbox.api("POST", "/v1/mgmt/role/create", json=console).raise_for_status()
    path.write_text(WITHOUT)

    kept = cli("sync", str(path), "--apply", "--no-prune", env=ENV)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "orphan role acme/Auditor (prune is off)" in kept.stdout
    assert "orphan sso acme/google (prune is off)" in kept.stdout
    assert "Console Role" not in kept.stdout  # never ours: not even an orphan
    assert set(roles_of(sandbox, "acme")) == {"Tenant Admin", "Member", "Auditor", "Console Role"}
    assert sso_ids(sandbox) >= {"okta", "google"}

    # 2 of the 5 managed roles and SSO configurations is over max_delete_ratio (25%): lifted once, as told
    info = {**ENV, "DESCOPE_GITOPS_LOG__LEVEL": "INFO"}  # the write log lines, in the order they were made
    pruned = cli("sync", str(path), "--apply", "--prune", "--allow-deletes", "2", env=info)
    output = pruned.stdout + pruned.stderr
    assert pruned.returncode == 0, output
    assert "- sso acme/google" in pruned.stdout and "- role acme/Auditor" in pruned.stdout
    assert output.index("deleted sso acme/google") < output.index("deleted role acme/Auditor")  # SSO first
    assert set(roles_of(sandbox, "acme")) == {"Tenant Admin", "Member", "Console Role"}
    assert "google" not in sso_ids(sandbox) and "okta" in sso_ids(sandbox)
    state = json.loads((tmp_path / "store" / "state.json").read_text())
    assert ["role", "acme", "Auditor"] not in state["config_inventory"]
    assert "google" not in state["secret_fingerprints"].get("acme", {})

    again = cli("plan", str(path), "--prune", env=ENV)
    assert again.returncode == 0 and "No changes" in again.stdout, again.stdout + again.stderr
    for out in (first, kept, pruned, again):
        assert SECRET not in out.stdout + out.stderr


def many_roles(n: int, name: str = "Big") -> str:
    roles = "".join(f"      - name: R{i:02d}\n" for i in range(n))
    return f"tenants:\n  - id: big\n    name: {name}\n    roles:\n{roles}"


def test_many_role_deletes_trip_the_guard_and_block_the_whole_cycle(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(many_roles(12))
    assert cli("sync", str(path), "--apply").returncode == 0
    assert len(roles_of(sandbox, "big")) == 12

    # every role removed, and the tenant renamed in the same revision
    path.write_text("tenants:\n  - id: big\n    name: Renamed\n    roles: []\n")
    blocked = cli("sync", str(path), "--apply", "--prune")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, output
    assert "would delete 12 roles and SSO configurations, more than max_deletes=10" in output
    assert "--allow-deletes 12" in output
    assert len(roles_of(sandbox, "big")) == 12  # nothing deleted
    assert sandbox.tenants()["big"]["name"] == "Big"  # and nothing else of the revision written either
    state = json.loads((tmp_path / "store" / "state.json").read_text())
    assert state["last_cycle"]["status"] == "blocked"
    assert "max_deletes" in state["last_cycle"]["error"]

    lifted = cli("sync", str(path), "--apply", "--prune", "--allow-deletes", "12")
    assert lifted.returncode == 0, lifted.stdout + lifted.stderr
    assert roles_of(sandbox, "big") == {} and sandbox.tenants()["big"]["name"] == "Renamed"
