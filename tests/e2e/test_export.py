"""``export`` end to end: console-made tenants → tenants.yaml → ``validate`` ok → ``plan`` says no changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.conftest import Run, Sandbox

pytestmark = pytest.mark.e2e

CATALOGUE = [
    {"name": "plan", "displayName": "Plan", "type": "singleselect", "options": ["free", "pro", "enterprise"]},
    {"name": "seats", "displayName": "Seats", "type": "number"},
    {"name": "vip", "displayName": "VIP", "type": "boolean"},
    {"name": "region", "displayName": "Region", "type": "string"},
    {"name": "features", "displayName": "Features", "type": "multiselect", "options": ["sso", "scim", "audit"]},
    {"name": "renewal", "displayName": "Renewal", "type": "date"},
]


def console(sandbox: Sandbox, method: str, path: str, body: dict[str, Any]) -> None:
    sandbox.api(method, path, json=body).raise_for_status()


def make_project(sandbox: Sandbox) -> int:
    """34 tenants as people make them in the console: trees, every attribute type, settings, roles, SSO."""
    httpx.post(f"{sandbox.url}/_sandbox/attributes", json={"attributes": CATALOGUE}, timeout=10).raise_for_status()
    count = 0
    for h in range(4):
        holding = f"holding-{h}"
        console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": holding, "name": f"Holding {h}"})
        count += 1
        for s in range(7):
            tid = f"sub-{h}-{s}"
            body: dict[str, Any] = {"id": tid, "name": f"Subsidiary {h}.{s}", "parent": holding}
            attrs: dict[str, Any] = {"plan": ["free", "pro", "enterprise"][s % 3], "seats": 10 * s + 0.0}
            attrs["region"] = ["eu", "yes", "010", "2024-01-01"][s % 4]  # YAML 1.1 would read three of them otherwise
            if s % 2:
                attrs["vip"] = s % 4 == 1
            if s % 3 == 0:
                attrs |= {"features": ["scim", "sso"][: 1 + s % 2], "renewal": 1735689600000 + s}
            body["customAttributes"] = attrs
            if s == 1:
                body |= {"selfProvisioningDomains": [f"Sub{h}.example.com", f"b{h}.example.org"], "enforceSSO": True}
            if s == 2:
                body |= {"disabled": True, "roleInheritance": "userOnly"}
            console(sandbox, "POST", "/v1/mgmt/tenant/create", body)
            count += 1
            if s in (3, 4):
                console(sandbox, "POST", "/v1/mgmt/tenant/updateDefaultRoles", {"id": tid, "defaultRoles": ["viewer"]})
            if s in (4, 5):
                sandbox.edit_settings(
                    tid, enabled=True, sessionTokenExpiration=30 + s, refreshTokenExpirationUnit="days"
                )
            if s == 6:
                sandbox.edit_settings(tid, authType="saml", domains=[f"sso{h}.example.com"])
    for n in range(2):
        console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": f"standalone-{n}", "name": f"Standalone {n}"})
        count += 1
    return count


def test_thirty_console_made_tenants_export_validate_and_plan_no_changes(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    count = make_project(sandbox)
    assert count >= 30
    out = tmp_path / "exported" / "tenants.yaml"
    result = cli("export", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert f"exported {count} tenants (with session settings, roles, SSO and password policy) to {out}" in result.stderr
    text = out.read_text()
    assert text.startswith("# Exported by descope-gitops ") and "from Descope project Pe2e at " in text
    # Descope's names, defaults left out, YAML 1.1 look-alikes quoted, SSO-only fields named
    assert (
        "  - id: sub-0-3\n    name: Subsidiary 0.3\n    customAttributes:\n      features: [scim, sso]\n"
        '      plan: free\n      region: "2024-01-01"\n      renewal: 1735689600003\n'
        "      seats: 30\n      vip: false\n"
        "    parent: holding-0\n    defaultRoles: [viewer]\n  - id: sub-0-4\n"
    ) in text
    assert '      region: "yes"\n' in text and '      region: "010"\n' in text
    settings = (
        "    settings:\n      enabled: true\n      sessionTokenExpiration: 34\n      refreshTokenExpirationUnit: days\n"
    )
    assert settings in text
    assert "    # not exported: authType: tenants.yaml cannot manage it; Descope has authType: saml" in text
    assert "disabled: false" not in text and "parent: \n" not in text and "enforceSSO: false" not in text
    assert len(yaml.safe_load(text)["tenants"]) == count

    (tmp_path / "attributes.yaml").write_text(yaml.safe_dump({"attributes": CATALOGUE}))
    (tmp_path / "config.toml").write_text('[descope]\nattributes_file = "attributes.yaml"\n')
    for config in ([], ["--config", str(tmp_path / "config.toml")]):
        valid = cli("validate", str(out), *config)
        assert valid.returncode == 0, valid.stderr
        assert f"valid, {count} tenants" in valid.stdout
    plan = cli("plan", str(out))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout and f"{count} in sync" in plan.stdout

    # and as one file per tree: the same tenants, the same empty plan
    tree = tmp_path / "tree"
    split = cli("export", "--output", str(tree), "--split", "tree")
    assert split.returncode == 0, split.stderr
    assert sorted(p.name for p in tree.iterdir()) == [
        *(f"holding-{h}.yaml" for h in range(4)),
        "standalone-0.yaml",
        "standalone-1.yaml",
    ]
    assert cli("plan", str(tree)).returncode == 0


def test_an_existing_path_is_refused_without_force(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "acme", "name": "ACME"})
    out = tmp_path / "tenants.yaml"
    out.write_text("hand-written, keep me\n")
    refused = cli("export", "--output", str(out), "--no-settings")
    assert refused.returncode == 1
    assert f"{out} exists; give --force to overwrite it" in refused.stderr
    assert out.read_text() == "hand-written, keep me\n"

    forced = cli("export", "--output", str(out), "--no-settings", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "  - id: acme\n    name: ACME\n" in out.read_text()

    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "old.yaml").write_text("tenants: []\n")
    assert cli("export", "--output", str(directory), "--split", "tenant").returncode == 1
    replaced = cli("export", "--output", str(directory), "--split", "tenant", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert sorted(p.name for p in directory.iterdir()) == ["acme.yaml"]


def test_a_tenant_the_loader_refuses_is_a_comment_and_the_exit_is_partial(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "acme", "name": "ACME"})
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "bad id", "name": "Spaced"})
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "kid", "name": "Kid", "parent": "bad id"})
    out = tmp_path / "tenants.yaml"
    result = cli("export", "--output", str(out))
    assert result.returncode == 4, result.stderr
    assert (
        "warning: tenant 'bad id' is written only as a comment (not managed): the loader refuses it: id 'bad id'"
        in (result.stderr)
    )
    text = out.read_text()
    assert "  # NOT MANAGED: tenant 'bad id' is written as a comment because the loader refuses it" in text
    assert "  # - id: bad id\n  #   name: Spaced\n" in text
    assert "    # parent: bad id\n" in text
    assert cli("validate", str(out)).returncode == 0
    plan = cli("plan", str(out))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "1 unmanaged left alone" in plan.stdout


def test_selected_tenants_bring_their_parents_and_go_to_stdout(cli: Run, sandbox: Sandbox) -> None:
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "root", "name": "Root"})
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "leaf", "name": "Leaf", "parent": "root"})
    console(sandbox, "POST", "/v1/mgmt/tenant/create", {"id": "other", "name": "Other"})
    result = cli("export", "--tenant", "leaf", "--no-settings")
    assert result.returncode == 0, result.stderr
    ids = [t["id"] for t in yaml.safe_load(result.stdout)["tenants"]]
    assert ids == ["leaf", "root"]
    assert "note: tenant 'root' is exported too: it is a parent of a tenant asked for" in result.stderr
