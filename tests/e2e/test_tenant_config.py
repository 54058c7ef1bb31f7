"""Issue 16 end to end: a tenant's roles, two SSO configurations and password policy in one `sync --apply`.

The real CLI against the sandbox: the sandbox holds them after one apply, `plan` right after has nothing to
do, a console edit of a role is corrected by the next sync, and the OIDC secret (from an env var) appears in
no output and no file of the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Run, Sandbox

pytestmark = pytest.mark.e2e

SECRET = "google-oidc-s3cr3t-value-do-not-leak"

TENANTS = """\
tenants:
  - id: acme
    name: ACME
    roles:
      - name: Tenant Admin
        description: Manages ACME's users
        permissionNames: [User Admin]
      - name: Member
        description: A member of ACME
      - name: Auditor
        description: Reads ACME's audit trail
    sso:
      - ssoId: okta
        displayName: Okta
        domains: [acme.com]
        saml:
          idpMetadataUrl: https://acme.okta.com/app/x/sso/saml/metadata
          attributeMapping: {email: email, name: displayName, group: groups}
          roleMappings: [{groups: [acme-admins], roleName: Tenant Admin}]
          defaultSSORoles: [Member]
      - ssoId: google
        oidc:
          name: Google
          clientId: 123.apps.googleusercontent.com
          clientSecret: {env: ACME_GOOGLE_SECRET}
          issuer: https://accounts.google.com
    passwordPolicy: {minLength: 12, lowercase: true, number: true, expiration: true, expirationWeeks: 26}
"""


def roles_of(sandbox: Sandbox, tenant_id: str) -> dict[str, dict[str, object]]:
    answer = sandbox.api("POST", "/v1/mgmt/role/search", json={"tenantIds": [tenant_id]}).json()
    return {r["name"]: r for r in answer["roles"] if r.get("tenantId") == tenant_id}


def test_the_issue_example_goes_to_the_sandbox_in_one_apply_and_stays(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    env = {"ACME_GOOGLE_SECRET": SECRET}
    outputs: list[str] = []

    applied = cli("sync", str(path), "--apply", env=env)
    outputs.append(applied.stdout + applied.stderr)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "+ role acme/Tenant Admin" in applied.stdout and "+ sso acme/google" in applied.stdout

    roles = roles_of(sandbox, "acme")
    assert set(roles) == {"Tenant Admin", "Member", "Auditor"}
    assert roles["Tenant Admin"]["description"] == "Manages ACME's users"
    sso = sandbox.api("GET", "/v2/mgmt/sso/settings/all", params={"tenantId": "acme"}).json()["SSOSettings"]
    by_id = {s["ssoId"]: s for s in sso}
    assert set(by_id) >= {"okta", "google"}
    assert by_id["google"]["oidc"]["clientId"] == "123.apps.googleusercontent.com"
    assert "clientSecret" not in json.dumps(by_id["google"])  # Descope never returns it
    assert by_id["okta"]["tenant"]["domains"] == ["acme.com"]
    policy = sandbox.api("GET", "/v1/mgmt/password/settings", params={"tenantId": "acme"}).json()
    assert policy["minLength"] == 12 and policy["expirationWeeks"] == 26

    again = cli("plan", str(path), env=env)
    outputs.append(again.stdout + again.stderr)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout

    # a console edit of a role description: the next sync corrects it
    edited = {**roles["Member"], "name": "Member", "newName": "Member", "tenantId": "acme", "description": "edited"}
    sandbox.api("POST", "/v1/mgmt/role/update", json=edited).raise_for_status()
    assert roles_of(sandbox, "acme")["Member"]["description"] == "edited"
    fixed = cli("sync", str(path), "--apply", env=env)
    outputs.append(fixed.stdout + fixed.stderr)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "~ role acme/Member description" in fixed.stdout
    assert roles_of(sandbox, "acme")["Member"]["description"] == "A member of ACME"

    settled = cli("plan", str(path), "--format", "json", env=env)
    outputs.append(settled.stdout + settled.stderr)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    config = json.loads(settled.stdout)["config"]
    assert config["actions"] == [] and config["conflicts"] == []

    for output in outputs:
        assert SECRET not in output
    store = tmp_path / "store"
    for file in store.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
    state = json.loads((store / "state.json").read_text())
    assert ["sso", "acme", "google"] in state["config_inventory"]
    assert state["secret_fingerprints"]["acme"]["google"].startswith("hmac-sha256:")
