"""Against a Descope older than PATCH /v1/mgmt/tenant/patch: changes still apply, and nothing else is reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import testing
from tests.e2e.conftest import MANAGEMENT_KEY, PROJECT_ID, Run, Sandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The e2e sandbox, as a deployment without the PATCH endpoint (it answers 404)."""
    with testing.run_sandbox(project_id=PROJECT_ID, management_key=MANAGEMENT_KEY, patch_endpoint=False) as handle:
        yield Sandbox(handle)


def test_a_change_is_applied_by_read_modify_write_and_unmanaged_fields_survive(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    assert sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "x"}).status_code == 404
    sandbox.api(
        "POST",
        "/v1/mgmt/tenant/create",
        json={
            "id": "acme",
            "name": "ACME",
            "selfProvisioningDomains": ["acme.com"],
            "customAttributes": {"plan": "free", "region": "eu"},
            "enforceSSO": True,
            "federatedAppIds": ["app1"],
            "roleInheritance": "userOnly",
        },
    ).raise_for_status()
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n  - id: acme\n    name: ACME Corp\n    customAttributes: {plan: enterprise}\n")

    applied = cli("sync", str(path), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    tenant = sandbox.tenants()["acme"]
    assert tenant["name"] == "ACME Corp"
    assert tenant["customAttributes"] == {"plan": "enterprise", "region": "eu"}
    assert tenant["selfProvisioningDomains"] == ["acme.com"]
    assert (tenant["enforceSSO"], tenant["federatedAppIds"], tenant["roleInheritance"]) == (True, ["app1"], "userOnly")
    output = applied.stdout + applied.stderr
    said = [line for line in output.splitlines() if "has no PATCH /v1/mgmt/tenant/patch" in line]
    assert len(said) == 1, output  # once per process, not once per change
    assert cli("plan", str(path)).returncode == 0, "converged"
