"""Against a sandbox whose settings POST overwrites like Descope's: no apply loses a domain or a console setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BASE, Run, Sandbox, World, wait_until

pytestmark = pytest.mark.e2e


def console_tenant(sandbox: Sandbox, **fields: Any) -> None:
    sandbox.api("POST", "/v1/mgmt/tenant/create", json=fields).raise_for_status()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def test_a_create_with_settings_keeps_the_domains_it_was_created_with(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "tenants:\n  - id: acme\n    name: ACME\n    selfProvisioningDomains: [acme.com, acme.io]\n"
        "    enforceSSO: true\n    settings: {sessionTokenExpiration: 5, enabled: true}\n",
    )
    applied = cli("sync", str(path), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    tenant = sandbox.tenants()["acme"]
    assert sorted(tenant["selfProvisioningDomains"]) == ["acme.com", "acme.io"]
    assert tenant["enforceSSO"] is True
    settings = sandbox.settings("acme")
    assert (settings["sessionTokenExpiration"], settings["enabled"]) == (5, True)
    assert cli("plan", str(path)).returncode == 0, "converged: nothing left to change"


def test_a_settings_change_keeps_domains_sso_and_every_console_setting(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    console_tenant(sandbox, id="acme", name="ACME", selfProvisioningDomains=["acme.com"], federatedAppIds=["app1"])
    sandbox.edit_settings(
        "acme",
        domains=["sso.acme.com"],
        authType="saml",
        refreshTokenExpiration=3,
        refreshTokenExpirationUnit="days",
        enableInactivity=True,
        inactivityTime=30,
        inactivityTimeUnit="minutes",
        JITDisabled=True,
    )
    before = sandbox.settings("acme")
    path = write(tmp_path, "tenants:\n  - id: acme\n    name: ACME\n    settings: {sessionTokenExpiration: 7}\n")

    applied = cli("sync", str(path), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    after = sandbox.settings("acme")
    assert after["sessionTokenExpiration"] == 7
    assert after == {**before, "sessionTokenExpiration": 7}, "only the managed key changed"
    tenant = sandbox.tenants()["acme"]
    assert tenant["selfProvisioningDomains"] == ["acme.com"]
    assert tenant["domains"] == ["sso.acme.com"]
    assert tenant["authType"] == "saml"
    assert tenant["federatedAppIds"] == ["app1"]


def test_a_console_edit_after_the_last_sync_survives_the_next_settings_write(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "tenants:\n  - id: acme\n    name: ACME\n    selfProvisioningDomains: [acme.com]\n"
        "    settings: {sessionTokenExpiration: 5}\n",
    )
    assert cli("sync", str(path), "--apply").returncode == 0
    # someone edits unmanaged settings and adds SSO in the console; the controller's record is now stale
    sandbox.edit_settings("acme", inactivityTime=45, enableInactivity=True, domains=["sso.acme.com"])
    path.write_text(path.read_text().replace("sessionTokenExpiration: 5", "sessionTokenExpiration: 9"))

    applied = cli("sync", str(path), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    settings = sandbox.settings("acme")
    assert settings["sessionTokenExpiration"] == 9
    assert (settings["inactivityTime"], settings["enableInactivity"]) == (45, True)
    assert settings["domains"] == ["sso.acme.com"]
    assert settings["selfProvisioningDomains"] == ["acme.com"]


def test_the_daemon_corrects_settings_drift_without_wiping_sso_domains(world: World) -> None:
    world.repo.commit({"tenants.yaml": BASE + "    settings: {sessionTokenExpiration: 5}\n"})
    daemon = world.daemon(interval=1)
    wait_until(lambda: world.sandbox.settings("acme").get("sessionTokenExpiration") == 5, what="applied\n" + daemon.log)
    world.sandbox.edit_settings("acme", domains=["sso.acme.com"], authType="oidc", refreshTokenExpiration=2)
    world.repo.commit({"tenants.yaml": BASE + "    settings: {sessionTokenExpiration: 6}\n"})
    wait_until(lambda: world.sandbox.settings("acme")["sessionTokenExpiration"] == 6, what="changed\n" + daemon.log)
    settings = world.sandbox.settings("acme")
    assert settings["domains"] == ["sso.acme.com"]
    assert (settings["authType"], settings["refreshTokenExpiration"]) == ("oidc", 2)
