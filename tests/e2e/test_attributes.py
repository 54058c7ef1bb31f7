"""Custom attributes the Descope project does not define, or values of the wrong type, as a user meets them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import MANAGEMENT_KEY, PROJECT_ID, Run, Sandbox, World, wait_until
from tests.support import free_port

pytestmark = pytest.mark.e2e

CATALOGUE = [
    {"name": "plan", "displayName": "Plan", "type": "singleselect", "options": ["free", "pro"]},
    {"name": "seats", "displayName": "Seats", "type": "number"},
]
TENANTS = """\
tenants:
  - id: acme
    name: ACME Corp
    customAttributes: {plan: pro, seats: 50}
  - id: globex
    name: Globex
    customAttributes: {plan: pro, tier: gold}
  - id: initech
    name: Initech
    customAttributes: {plan: free, seats: fifty}
  - id: umbrella
    name: Umbrella
"""
UNDEFINED = (
    "tenant 'globex' rejected: custom attribute 'tier' is not defined in the Descope project; "
    "define it in the console (Project → Tenants → Custom attributes) or remove it from tenants.yaml"
)
WRONG_TYPE = "tenant 'initech' rejected: custom attribute 'seats' has a value its type in the Descope project"


def define(sandbox: Sandbox) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/attributes", json={"attributes": CATALOGUE}, timeout=10).raise_for_status()


def test_sync_names_each_refused_key_and_applies_the_other_tenants(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    define(sandbox)
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    result = cli("sync", str(path), "--apply")
    assert result.returncode == 4, result.stdout + result.stderr  # partial
    assert UNDEFINED in result.stdout
    assert WRONG_TYPE in result.stdout
    assert "must be a number, not the string 'fifty'" in result.stdout
    assert "Result: partial (2 done, 2 failed)" in result.stdout
    assert set(sandbox.tenants()) == {"acme", "umbrella"}

    # fixed, but acme now asks for an undefined key: its patch is refused and changes nothing
    fixed = TENANTS.replace(", tier: gold", "").replace("seats: fifty", "seats: 5")
    path.write_text(fixed.replace("{plan: pro, seats: 50}", "{plan: pro, seats: 50, region: eu}"))
    again = cli("sync", str(path), "--apply")
    assert again.returncode == 4, again.stdout + again.stderr
    assert "tenant 'acme' rejected: custom attribute 'region' is not defined" in again.stdout
    assert sandbox.tenants()["acme"]["customAttributes"] == {"plan": "pro", "seats": 50}
    assert sandbox.tenants()["initech"]["customAttributes"] == {"plan": "free", "seats": 5}

    path.write_text(fixed)
    assert cli("sync", str(path), "--apply").returncode == 0
    assert set(sandbox.tenants()) == {"acme", "globex", "initech", "umbrella"}


def test_with_the_catalogue_in_settings_validate_plan_and_sync_refuse_before_writing(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    define(sandbox)
    (tmp_path / "attributes.json").write_text(json.dumps({"attributes": CATALOGUE}))
    config = tmp_path / "config.toml"
    config.write_text('[descope]\nattributes_file = "attributes.json"\n')  # relative to the working directory
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS)
    problems = [
        "tenants.yaml:7: customAttributes.tier is not a custom attribute of the Descope project",
        "tenants.yaml:10: customAttributes.seats (number) must be a number, not the string 'fifty'",
    ]
    validate = cli("validate", str(path), "--config", str(config))
    assert validate.returncode == 1
    assert all(problem in validate.stderr for problem in problems), validate.stderr
    plan = cli("plan", str(path), "--config", str(config))
    assert plan.returncode == 1
    assert all(problem in plan.stdout + plan.stderr for problem in problems), plan.stdout + plan.stderr
    sync = cli("sync", str(path), "--apply", "--config", str(config))
    assert sync.returncode == 1
    assert sandbox.tenants() == {}
    assert sandbox.stats()["writes"] == 0

    path.write_text(TENANTS.replace(", tier: gold", "").replace("seats: fifty", "seats: 5"))
    assert cli("validate", str(path), "--config", str(config)).returncode == 0
    assert cli("sync", str(path), "--apply", "--config", str(config)).returncode == 0
    assert len(sandbox.tenants()) == 4


def test_the_daemon_logs_the_refusal_and_status_shows_it(world: World, cli: Run) -> None:
    define(world.sandbox)
    world.repo.commit({"tenants.yaml": TENANTS})
    daemon = world.daemon(interval=1)
    wait_until(lambda: UNDEFINED in daemon.log, what="refusal logged\n" + daemon.log)
    assert WRONG_TYPE in daemon.log
    assert set(world.sandbox.tenants()) == {"acme", "umbrella"}
    env = {"DESCOPE_GITOPS_STORE__DIR": str(world.store)}
    wait_until(lambda: "globex" in world.state().get("tenant_failures", {}), what="failure recorded")
    status = cli("status", env=env)
    assert "Failing tenant:   globex: " in status.stdout
    assert UNDEFINED in status.stdout
    assert WRONG_TYPE in status.stdout
    failing = json.loads(cli("status", "--format", "json", env=env).stdout)["failing_tenants"]
    assert set(failing) == {"globex", "initech"}
    assert UNDEFINED in failing["globex"]["error"]


def test_the_sandbox_command_takes_a_catalogue_file(tmp_path: Path) -> None:
    catalogue = tmp_path / "attributes.yaml"
    catalogue.write_text("attributes:\n  - {name: plan, type: singleselect, options: [free, pro]}\n")
    port = free_port()
    command = [sys.executable, "-m", "controller", "sandbox", "--port", str(port), "--attributes", str(catalogue)]
    command += ["--project-id", PROJECT_ID, "--management-key", MANAGEMENT_KEY]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url), what="sandbox listening")
        headers = {"Authorization": f"Bearer {PROJECT_ID}:{MANAGEMENT_KEY}"}
        body = {"id": "acme", "name": "Acme", "customAttributes": {"plan": "pro", "seats": 3}}
        refused = httpx.post(f"{url}/v1/mgmt/tenant/create", json=body, headers=headers, timeout=5)
        assert refused.status_code == 400
        assert "'seats'" in refused.json()["errorMessage"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "custom attributes defined: plan" in out


def test_the_sandbox_command_refuses_a_bad_catalogue_file(tmp_path: Path) -> None:
    catalogue = tmp_path / "attributes.json"
    catalogue.write_text('{"attributes": [{"name": "plan", "type": "singleselect"}]}')
    result = subprocess.run(
        [sys.executable, "-m", "controller", "sandbox", "--attributes", str(catalogue)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert f"{catalogue}: attributes[0] ('plan'): a singleselect attribute needs options" in result.stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sandbox/attributes", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
