"""A one-shot command run as a process ends at once after its work (``cli.app.run``), losing nothing.

It skips the interpreter's teardown of its heap, so everything must be out before: the whole report
on a pipe, every log line, the store written and its lock released, a saved plan on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Run, Sandbox

pytestmark = pytest.mark.e2e

COUNT = 300
LOGS = {"DESCOPE_GITOPS_LOG__LEVEL": "INFO", "DESCOPE_GITOPS_LOG__FORMAT": "json"}


def tenants_file(tmp_path: Path) -> Path:
    path = tmp_path / "tenants.yaml"
    lines = ["tenants:"]
    for i in range(COUNT):
        lines += [f"  - id: t{i:04d}", f"    name: Tenant {i:04d}", f"    customAttributes: {{seats: {i}}}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sync_and_plan_processes_leave_everything_written(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tenants_file(tmp_path)

    applied = cli("sync", str(path), "--apply", "--format", "json", env=LOGS)
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)  # the whole document reached the pipe
    assert report["summary"]["create"] == COUNT
    logged = [json.loads(line) for line in applied.stderr.splitlines()]  # every line whole
    assert logged, applied.stderr
    assert len(sandbox.tenants()) == COUNT

    state = json.loads((tmp_path / "store" / "state.json").read_text())
    assert len(state["inventory"]) == COUNT

    again = cli("sync", str(path), "--apply")  # the store lock was released
    assert again.returncode == 0, again.stderr
    assert f"0 to create, 0 to update, 0 to delete; {COUNT} in sync" in again.stdout

    sandbox.api("POST", "/v1/mgmt/tenant/update", json={"id": "t0001", "name": "Edited", "customAttributes": {}})
    saved = tmp_path / "plan.json"
    planned = cli("plan", str(path), "--out", str(saved))
    assert planned.returncode == 2, planned.stderr  # changes to make
    assert "0 to create, 1 to update, 0 to delete" in planned.stdout
    assert json.loads(saved.read_text())["actions"][0]["tenant_id"] == "t0001"
