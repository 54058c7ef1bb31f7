"""Issue 16, "restored after deletion": a tenant with three roles, two SSO configurations and a password policy.

The real CLI against the sandbox: synced, snapshotted, deleted through the management API, then `restore`
brings back the tenant with its roles, its SAML configuration (metadata URL, role mapping) and its OIDC
configuration (the secret from the reference given with --secret), and its password policy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Run, Sandbox
from tests.e2e.test_tenant_config import SECRET, TENANTS, roles_of

pytestmark = pytest.mark.e2e


def sso_of(sandbox: Sandbox, tenant_id: str) -> dict[str, dict[str, object]]:
    answer = sandbox.api("GET", "/v2/mgmt/sso/settings/all", params={"tenantId": tenant_id}).json()
    return {s["ssoId"]: s for s in answer["SSOSettings"]}


def test_a_deleted_tenant_comes_back_with_roles_sso_and_password_policy(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    env = {"ACME_GOOGLE_SECRET": SECRET}
    outputs: list[str] = []
    synced = cli("sync", str(path), "--apply", env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    before_roles, before_sso = roles_of(sandbox, "acme"), sso_of(sandbox, "acme")
    after_sync = time.time()
    time.sleep(0.01)
    created = cli("backup", "create")
    assert created.returncode == 0, created.stderr

    sandbox.api("POST", "/v1/mgmt/tenant/delete", json={"id": "acme"}).raise_for_status()
    assert "acme" not in sandbox.tenants()
    assert roles_of(sandbox, "acme") == {}

    dry = cli("restore", "--tenant", "acme", "--at", str(after_sync), "--dry-run")
    outputs.append(dry.stdout + dry.stderr)
    assert dry.returncode == 2, dry.stdout + dry.stderr
    for line in ("+ create  acme", "+ role acme/Tenant Admin", "+ role acme/Auditor", "+ sso acme/okta"):
        assert line in dry.stdout, line
    assert "+ password_policy acme" in dry.stdout or "~ password_policy acme" in dry.stdout
    assert "! sso acme/google: not restored" in dry.stdout and "--secret acme/google=env:" in dry.stdout

    restored = cli(
        "restore",
        "--tenant",
        "acme",
        "--at",
        str(after_sync),
        "--secret",
        "acme/google=env:ACME_GOOGLE_SECRET",
        env=env,
    )
    outputs.append(restored.stdout + restored.stderr)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "+ sso acme/google" in restored.stdout

    assert sandbox.tenants()["acme"]["name"] == "ACME"
    roles = roles_of(sandbox, "acme")
    assert set(roles) == {"Tenant Admin", "Member", "Auditor"}
    for name, role in before_roles.items():
        assert roles[name]["description"] == role["description"]
        assert roles[name].get("permissionNames") == role.get("permissionNames")
    sso = sso_of(sandbox, "acme")
    assert set(sso) == set(before_sso) == {"okta", "google"}
    okta = sso["okta"]
    assert okta["saml"]["idpMetadataUrl"] == "https://acme.okta.com/app/x/sso/saml/metadata"  # type: ignore[index]
    assert okta["saml"]["groupsMapping"][0]["role"]["name"] == "Tenant Admin"  # type: ignore[index]
    assert okta["saml"]["groupsMapping"][0]["groups"] == ["acme-admins"]  # type: ignore[index]
    assert okta["tenant"]["domains"] == ["acme.com"]  # type: ignore[index]
    google = sso["google"]
    assert google["oidc"]["clientId"] == "123.apps.googleusercontent.com"  # type: ignore[index]
    assert google["oidc"]["issuer"] == "https://accounts.google.com"  # type: ignore[index]
    policy = sandbox.api("GET", "/v1/mgmt/password/settings", params={"tenantId": "acme"}).json()
    assert (policy["minLength"], policy["lowercase"], policy["number"]) == (12, True, True)
    assert (policy["expiration"], policy["expirationWeeks"]) == (True, 26)

    settled = cli("plan", str(path), env=env)
    outputs.append(settled.stdout + settled.stderr)
    assert settled.returncode == 0 and "No changes" in settled.stdout, settled.stdout + settled.stderr

    for output in outputs:
        assert SECRET not in output
    for file in (tmp_path / "store").rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
            assert b"clientSecret" not in file.read_bytes() or file.name == "state.json", file


def test_restore_refuses_a_malformed_secret_reference(cli: Run, tmp_path: Path) -> None:
    bad = cli("restore", "--tenant", "acme", "--at", "1h", "--secret", "acme/google=hunter2")
    assert bad.returncode != 0
    assert "--secret takes TENANT/SSOID=env:VARIABLE" in bad.stderr and "hunter2" not in bad.stderr
    helped = cli("restore", "--help")
    assert "--secret" in helped.stdout and "Descope never returns it" in " ".join(helped.stdout.split())
    json.dumps(helped.stdout)


def test_export_writes_roles_sso_and_password_policy_that_plan_as_no_change(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    synced = cli("sync", str(path), "--apply", env={"ACME_GOOGLE_SECRET": SECRET})
    assert synced.returncode == 0, synced.stdout + synced.stderr

    out = tmp_path / "exported.yaml"
    exported = cli("export", "--output", str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    text = out.read_text()
    assert SECRET not in text + exported.stderr
    assert "clientSecret: {env: DESCOPE_SSO_SECRET_ACME_GOOGLE}" in text
    assert "DESCOPE_SSO_SECRET_ACME_GOOGLE; set it" in text
    assert "- {name: Tenant Admin," in text and "passwordPolicy:" in text

    # the user sets the variable the export names to the same secret: nothing to do, not even a re-send
    planned = cli("plan", str(out), env={"DESCOPE_SSO_SECRET_ACME_GOOGLE": SECRET})
    assert planned.returncode == 0 and "No changes" in planned.stdout, planned.stdout + planned.stderr
