"""The CLI as a user runs it, against the sandbox over loopback: plan, apply, converge, refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import MANAGEMENT_KEY, Run, Sandbox

pytestmark = pytest.mark.e2e

TENANTS = """\
tenants:
  - id: holding
    name: Holding Co
  - id: acme
    name: ACME Corp
    parent: holding
    selfProvisioningDomains: [ACME.com]
    customAttributes: {plan: enterprise}
    defaultRoles: [viewer]
    settings: {sessionTokenExpiration: 10, sessionTokenExpirationUnit: minutes}
  - id: globex
    name: Globex
    enforceSSO: false
"""


def write(tmp_path: Path, text: str, name: str = "tenants.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plan_apply_plan_converges_and_a_no_change_plan_costs_one_call(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(tmp_path, TENANTS)
    first = cli("plan", str(path))
    assert first.returncode == 2, first.stderr
    assert "+ create  holding" in first.stdout and "+ create  acme" in first.stdout
    assert "3 to create, 0 to update, 0 to delete" in first.stdout
    assert sandbox.tenants() == {}

    applied = cli("sync", str(path), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    live = sandbox.tenants()
    assert set(live) == {"holding", "acme", "globex"}
    assert live["acme"]["parent"] == "holding"
    assert live["acme"]["selfProvisioningDomains"] == ["acme.com"]
    assert live["acme"]["defaultRoles"] == ["viewer"]
    settings = sandbox.api("GET", "/v1/mgmt/tenant/settings", params={"id": "acme"}).json()
    assert settings["sessionTokenExpiration"] == 10

    sandbox.reset_stats()
    again = cli("plan", str(path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout
    stats = sandbox.stats()
    assert stats["total"] == 1, stats
    assert stats["requests"] == {"GET /v1/mgmt/tenant/all": 1}


def test_fields_not_in_yaml_survive_an_update(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.api(
        "POST",
        "/v1/mgmt/tenant/create",
        json={
            "id": "acme",
            "name": "ACME",
            "enforceSSO": True,
            "federatedAppIds": ["app1"],
            "customAttributes": {"region": "eu", "plan": "free"},
        },
    ).raise_for_status()
    path = write(tmp_path, "tenants:\n  - id: acme\n    name: ACME Corp\n    customAttributes: {plan: enterprise}\n")
    result = cli("sync", str(path), "--apply")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "customAttributes.plan" in result.stdout and "name" in result.stdout
    acme = sandbox.tenants()["acme"]
    assert acme["name"] == "ACME Corp"
    assert acme["customAttributes"] == {"region": "eu", "plan": "enterprise"}
    assert acme["enforceSSO"] is True
    assert acme["federatedAppIds"] == ["app1"]
    assert sandbox.stats()["requests"].get("POST /v1/mgmt/tenant/update", 0) == 0  # patched, not overwritten


def test_console_drift_is_corrected_and_report_policy_only_reports(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    assert cli("sync", str(path), "--apply").returncode == 0
    sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "globex", "enforceSSO": True}).raise_for_status()

    report = cli("sync", str(path), "--apply", env={"DESCOPE_GITOPS_RECONCILE__DRIFT_POLICY": "report"})
    assert report.returncode == 2, report.stdout + report.stderr
    assert "enforceSSO: true → false" in report.stdout
    assert "drift_policy is 'report'" in report.stdout
    assert sandbox.tenants()["globex"]["enforceSSO"] is True

    fixed = cli("sync", str(path), "--apply")
    assert fixed.returncode == 0
    assert sandbox.tenants()["globex"].get("enforceSSO", False) is False


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("tenants:\n  - id: a\n    name: A\n    selfProvisoningDomains: [a.com]\n", ":4", "selfProvisioningDomains"),
        ("tenants:\n  - id: a\n    name: A\n  - id: a\n    name: B\n", ":4", "duplicate"),
        ("tenants:\n  - id: a\n    name: [unclosed\n", ":", "tenants.yaml"),
        ("tenants:\n  - id: a\n    name: A\n    parent: nowhere\n", ":4", "nowhere"),
    ],
)
def test_invalid_yaml_is_refused_with_file_and_line_and_nothing_is_written(
    cli: Run, sandbox: Sandbox, tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = write(tmp_path, text)
    validate = cli("validate", str(path))
    assert validate.returncode == 1
    assert f"tenants.yaml{where}" in validate.stderr and message in validate.stderr
    sync = cli("sync", str(path), "--apply")
    assert sync.returncode == 1
    assert message in sync.stderr
    assert sandbox.stats()["writes"] == 0
    assert sandbox.tenants() == {}


def test_validate_ok_and_json(cli: Run, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    result = cli("validate", str(path))
    assert result.returncode == 0 and "valid, 3 tenants" in result.stdout
    data = json.loads(cli("validate", str(path), "--format", "json").stdout)
    assert data == {"valid": True, "tenants": 3, "files": [str(path)]}


def test_plan_json_and_markdown(cli: Run, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    data = json.loads(cli("plan", str(path), "--format", "json").stdout)
    assert data["summary"]["create"] == 3
    assert [a["tenant_id"] for a in data["actions"]][:1] == ["holding"]
    markdown = cli("plan", str(path), "--format", "markdown").stdout
    assert '| `acme` | `name`: `"ACME Corp"`<br>' in markdown


def test_wrong_key_and_unreachable_descope_exit_3_without_leaking_the_key(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(tmp_path, TENANTS)
    wrong = cli("plan", str(path), env={"DESCOPE_MANAGEMENT_KEY": MANAGEMENT_KEY[::-1]})
    assert wrong.returncode == 3
    assert "management key" in wrong.stderr.lower()
    assert MANAGEMENT_KEY[::-1] not in wrong.stdout + wrong.stderr
    down = cli(
        "plan",
        str(path),
        env={"DESCOPE_BASE_URI": "http://127.0.0.1:9", "DESCOPE_GITOPS_DESCOPE__MAX_RETRIES": "0"},
    )
    assert down.returncode == 3
    assert "127.0.0.1:9" in down.stderr


def test_missing_settings_are_named(cli: Run, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    result = cli("plan", str(path), env={"DESCOPE_PROJECT_ID": "", "DESCOPE_MANAGEMENT_KEY": ""})
    assert result.returncode == 1
    assert "DESCOPE_PROJECT_ID" in result.stderr and "DESCOPE_MANAGEMENT_KEY" in result.stderr


def test_prune_guard_refuses_mass_delete_until_lifted(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    many = "tenants:\n" + "".join(f"  - id: t{i}\n    name: T{i}\n" for i in range(12))
    path = write(tmp_path, many)
    assert cli("sync", str(path), "--apply").returncode == 0
    write(tmp_path, "tenants:\n  - id: t0\n    name: T0\n")

    refused = cli("sync", str(path), "--apply", "--prune")
    assert refused.returncode == 1
    assert "Refused by guard" in refused.stdout + refused.stderr
    assert "--allow-deletes 11" in refused.stdout + refused.stderr
    assert len(sandbox.tenants()) == 12

    lifted = cli("sync", str(path), "--apply", "--prune", "--allow-deletes", "11")
    assert lifted.returncode == 0, lifted.stdout + lifted.stderr
    assert set(sandbox.tenants()) == {"t0"}


def test_tenants_the_controller_never_managed_are_never_deleted(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": "console", "name": "Console"}).raise_for_status()
    path = write(tmp_path, "tenants:\n  - id: a\n    name: A\n")
    result = cli("sync", str(path), "--apply", "--prune")
    assert result.returncode == 0
    assert "1 unmanaged left alone" in result.stdout
    assert set(sandbox.tenants()) == {"a", "console"}


def test_one_failing_tenant_gives_partial_and_the_rest_is_applied(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    sandbox.faults({"path": "/v1/mgmt/tenant/create", "status": 400, "count": 1})
    result = cli("sync", str(path), "--apply", env={"DESCOPE_GITOPS_DESCOPE__MAX_CONCURRENCY": "1"})
    assert result.returncode == 4, result.stdout + result.stderr
    assert "FAILED" in result.stdout
    assert "acme" in result.stdout and "parent tenant 'holding' was not created" in result.stdout
    assert set(sandbox.tenants()) == {"globex"}
    retry = cli("sync", str(path), "--apply")
    assert retry.returncode == 0
    assert set(sandbox.tenants()) == {"holding", "acme", "globex"}


def test_rate_limited_sandbox_every_change_applied_once(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    many = "tenants:\n" + "".join(f"  - id: r{i}\n    name: R{i}\n" for i in range(15))
    path = write(tmp_path, many)
    sandbox.configure(rate_limit="10/1s")
    result = cli(
        "sync",
        str(path),
        "--apply",
        env={"DESCOPE_GITOPS_DESCOPE__RATE_LIMIT": "50", "DESCOPE_GITOPS_DESCOPE__MAX_RETRIES": "5"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(sandbox.tenants()) == 15
    stats = sandbox.stats()
    assert stats["rate_limited"] >= 1  # the client really was throttled, and recovered
    assert stats["writes"] == 15  # nothing created twice


def test_server_errors_are_retried(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    sandbox.faults({"status": 503, "count": 3})
    result = cli("sync", str(path), "--apply")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(sandbox.tenants()) == 3


def test_a_changed_parent_fails_the_pr_check(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    assert cli("sync", str(path), "--apply").returncode == 0
    moved = TENANTS.replace("    parent: holding\n", "    parent: globex\n")
    result = cli("plan", str(path.parent / write(tmp_path, moved).name))
    assert result.returncode == 1
    assert "parent is set at create only" in result.stdout


def test_writes_refused_for_the_key_exit_3(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    sandbox.faults({"path": "/v1/mgmt/tenant/create", "status": 401, "count": 10})
    result = cli("sync", str(path), "--apply")
    assert result.returncode == 3, result.stdout + result.stderr
