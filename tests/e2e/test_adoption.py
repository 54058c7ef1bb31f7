"""Adoption is explicit: a console-made tenant in tenants.yaml is shown as `adopt`, or refused with adopt = false."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Run, Sandbox

pytestmark = pytest.mark.e2e

OURS = "tenants:\n  - id: ours\n    name: Ours\n"
BOTH = OURS + "  - id: console-made\n    name: Console Made\n"


def test_a_console_made_tenant_is_adopted_in_the_open(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(OURS)
    assert cli("sync", str(path), "--apply").returncode == 0  # the store now knows what it manages
    sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": "console-made", "name": "Console Made"})
    path.write_text(BOTH)
    plan = cli("plan", str(path))
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "~ adopt   console-made" in plan.stdout
    applied = cli("sync", str(path), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "~ adopt   console-made" in applied.stdout  # the plan first
    assert "console-made: Adoption complete after" in applied.stdout
    assert cli("plan", str(path)).returncode == 0  # adopted once, then simply managed


def test_adopt_false_refuses_to_take_over_and_never_writes_it(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    env = {"DESCOPE_GITOPS_RECONCILE__ADOPT": "false"}
    path = tmp_path / "tenants.yaml"
    path.write_text(OURS)
    assert cli("sync", str(path), "--apply", env=env).returncode == 0
    sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": "console-made", "name": "Console Name"})
    path.write_text(BOTH)
    result = cli("sync", str(path), "--apply", env=env)
    assert result.returncode == 4, result.stdout + result.stderr  # partial: the conflict is not written
    assert "console-made" in result.stdout and "adopt = false" in result.stdout
    assert sandbox.tenants()["console-made"]["name"] == "Console Name"
    pruned = cli("sync", str(tmp_path / "tenants.yaml"), "--apply", "--prune", env=env)
    assert "console-made" in sandbox.tenants(), pruned.stdout  # never ours: never deleted
