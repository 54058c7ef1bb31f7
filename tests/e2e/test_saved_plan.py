"""``plan --out`` then ``sync --apply --plan``: exactly the reviewed plan is applied, or nothing is.

And ``sync --apply``'s output off a terminal: the plan first, then one line per action as it finishes,
then terraform's summary.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import MANAGEMENT_KEY, Run, Sandbox

pytestmark = pytest.mark.e2e

TENANTS = """\
tenants:
  - id: acme
    name: ACME Corp
    customAttributes: {plan: enterprise}
  - id: globex
    name: Globex
  - id: initech
    name: Initech
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def seeded(cli: Run, sandbox: Sandbox, tmp_path: Path) -> Path:
    """acme and globex live as an earlier sync left them; initech absent."""
    path = write(tmp_path, TENANTS.replace("ACME Corp", "ACME").replace("  - id: initech\n    name: Initech\n", ""))
    assert cli("sync", str(path), "--apply").returncode == 0
    return write(tmp_path, TENANTS)


def test_a_saved_plan_is_applied_exactly_and_holds_no_secret(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = seeded(cli, sandbox, tmp_path)
    out = tmp_path / "plan.json"
    planned = cli("plan", str(path), "--out", str(out))
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"Saved the plan to: {out}" in planned.stdout
    raw = out.read_bytes()
    assert MANAGEMENT_KEY.encode() not in raw and b"management" not in raw.lower()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    saved = json.loads(raw)
    assert saved["format"] == "descope-gitops saved plan" and saved["version"] == 2
    assert [(a["kind"], a["tenant_id"]) for a in saved["actions"]] == [("create", "initech"), ("update", "acme")]
    assert saved["settings"] == {
        "project_id": "Pe2e",
        "prune": False,
        "max_deletes": 10,
        "max_delete_ratio": 0.25,
        "allow_deletes": 0,
        "drift_policy": "correct",
    }
    assert set(saved) >= {"desired_digest", "live_digest", "plan_digest", "checksum", "created"}

    sandbox.reset_stats()
    applied = cli("sync", str(path), "--apply", "--plan", str(out))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert sandbox.stats()["writes"] == 2
    live = sandbox.tenants()
    assert live["acme"]["name"] == "ACME Corp" and live["initech"]["name"] == "Initech"
    assert "Note:" not in applied.stdout  # nothing moved in Descope since the plan
    assert "Apply complete! Resources: 1 added, 1 changed, 0 destroyed." in applied.stdout

    again = cli("sync", str(path), "--apply", "--plan", str(out))  # a plan is good once: now it would do nothing
    assert again.returncode == 1
    assert "+ create initech: in the saved plan, not planned now" in again.stderr
    assert "~ update acme: in the saved plan, not planned now" in again.stderr


def test_a_console_edit_after_the_plan_refuses_with_the_difference(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = seeded(cli, sandbox, tmp_path)
    out = tmp_path / "plan.json"
    assert cli("plan", str(path), "--out", str(out)).returncode == 2
    sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "acme", "name": "ACME (console)"}).raise_for_status()
    sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "globex", "name": "Globex (console)"}).raise_for_status()

    sandbox.reset_stats()
    refused = cli("sync", str(path), "--apply", "--plan", str(out))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert sandbox.stats()["writes"] == 0
    assert "nothing was written" in refused.stderr
    assert '~ update acme: changed: name "ACME" → "ACME Corp" when saved, "ACME (console)" → "ACME Corp" now' in (
        refused.stderr
    )
    assert "~ update globex: planned now, not in the saved plan" in refused.stderr
    assert "tenants files changed" not in refused.stderr
    assert sandbox.tenants()["acme"]["name"] == "ACME (console)"


def test_a_console_edit_the_plan_does_not_touch_applies_with_a_note(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = seeded(cli, sandbox, tmp_path)
    out = tmp_path / "plan.json"
    assert cli("plan", str(path), "--out", str(out)).returncode == 2
    sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "acme", "enforceSSO": True}).raise_for_status()
    applied = cli("sync", str(path), "--apply", "--plan", str(out))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Note: Descope changed since the plan was saved" in applied.stdout
    assert sandbox.tenants()["acme"]["enforceSSO"] is True and sandbox.tenants()["acme"]["name"] == "ACME Corp"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda text: text.replace("name: Initech", "name: Initech Inc"), '+ create initech: changed: name null → "'),
        (lambda text: text + "  - id: umbrella\n    name: Umbrella\n", "+ create umbrella: planned now"),
        (lambda text: "# reviewed\n" + text, "the tenants files changed since the plan was saved"),
    ],
    ids=["value", "tenant added", "comment only"],
)
def test_a_yaml_edit_after_the_plan_refuses(
    cli: Run, sandbox: Sandbox, tmp_path: Path, edit: Callable[[str], str], expected: str
) -> None:
    path = seeded(cli, sandbox, tmp_path)
    out = tmp_path / "plan.json"
    assert cli("plan", str(path), "--out", str(out)).returncode == 2
    path.write_text(edit(TENANTS))
    sandbox.reset_stats()
    refused = cli("sync", str(path), "--apply", "--plan", str(out))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert expected in refused.stderr
    assert "the tenants files changed since the plan was saved" in refused.stderr
    assert sandbox.stats()["writes"] == 0
    assert "initech" not in sandbox.tenants()


def test_other_settings_refuse_and_the_saved_flags_are_used(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = seeded(cli, sandbox, tmp_path)
    out = tmp_path / "plan.json"
    assert cli("plan", str(path), "--out", str(out), "--prune", "--allow-deletes", "2").returncode == 2
    sandbox.reset_stats()
    flag = cli("sync", str(path), "--apply", "--plan", str(out), "--no-prune")
    assert flag.returncode == 1
    assert "setting prune: true when saved, false now" in flag.stderr
    policy = cli("sync", str(path), "--apply", "--plan", str(out), env={"DESCOPE_GITOPS_RECONCILE__MAX_DELETES": "3"})
    assert policy.returncode == 1
    assert "setting max_deletes: 10 when saved, 3 now" in policy.stderr
    project = cli("sync", str(path), "--apply", "--plan", str(out), env={"DESCOPE_PROJECT_ID": "Pother"})
    assert project.returncode == 1
    assert 'setting project_id: "Pe2e" when saved, "Pother" now' in project.stderr
    assert sandbox.stats()["total"] == 0  # refused before asking Descope anything
    ok = cli("sync", str(path), "--apply", "--plan", str(out))  # --prune --allow-deletes 2 come from the file
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_corrupt_tampered_or_foreign_plan_file_is_refused(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = seeded(cli, sandbox, tmp_path)
    out = tmp_path / "plan.json"
    assert cli("plan", str(path), "--out", str(out)).returncode == 2
    good = json.loads(out.read_text())
    sandbox.reset_stats()

    def refused(content: str, message: str) -> None:
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        result = cli("sync", str(path), "--apply", "--plan", str(bad))
        assert result.returncode == 1, result.stdout + result.stderr
        assert message in result.stderr, result.stderr

    refused(out.read_text()[:200], "corrupt or not a saved plan")
    refused(out.read_text().replace('"Initech"', '"Initech Evil"'), "changed after it was saved (checksum mismatch)")
    refused(json.dumps({**good, "version": 1}), "format version 1; this descope-gitops reads version 2")
    refused("tenants: []\n", "corrupt or not a saved plan")
    # edited with a recomputed checksum: the checksum is no signature, but the re-plan still refuses it
    forged = {k: v for k, v in good.items() if k != "checksum"}
    forged["actions"][0]["create_body"]["name"] = "Initech Evil"
    forged["actions"][0]["changes"][0]["after"] = "Initech Evil"
    forged["checksum"] = "sha256:" + hashlib.sha256(json.dumps(forged, sort_keys=True).encode()).hexdigest()
    refused(
        json.dumps(forged), '+ create initech: changed: name null → "Initech Evil" when saved, null → "Initech" now'
    )
    assert sandbox.stats()["writes"] == 0
    assert "initech" not in sandbox.tenants()


def test_plan_out_never_overwrites_another_file_and_saves_no_refused_plan(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = write(tmp_path, TENANTS)
    clobber = cli("plan", str(path), "--out", str(path))
    assert clobber.returncode == 1
    assert "not overwriting" in clobber.stderr
    assert path.read_text() == TENANTS
    empty = write(tmp_path, "tenants: []\n")
    out = tmp_path / "plan.json"
    blocked = cli("plan", str(empty), "--out", str(out))
    assert blocked.returncode == 1
    assert "No plan saved" in blocked.stderr and not out.exists()


def test_apply_output_off_a_terminal_is_the_plan_then_one_line_per_action_as_it_finishes(
    cli_env: dict[str, str], sandbox: Sandbox, tmp_path: Path, cli: Run
) -> None:
    path = seeded(cli, sandbox, tmp_path)
    path.write_text(TENANTS.replace("name: Globex", "name: Globex Ltd") + "  - id: umbrella\n    name: Umbrella\n")
    # the first create to arrive is held 2.5 s: the other finishes first, and its line must come out then
    sandbox.faults({"path": "/v1/mgmt/tenant/create", "delay_ms": 2500, "count": 1})
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "sync", str(path), "--apply"],
        env={k: v for k, v in cli_env.items() if k != "PYTHONUNBUFFERED"},  # a pipe, buffered as in CI
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[tuple[float, str]] = [(time.monotonic(), line.rstrip("\n")) for line in proc.stdout]
    proc.wait(timeout=60)
    ended = time.monotonic()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    text = [line for _at, line in lines]
    plan_end = text.index("Plan: 2 to create, 2 to update, 0 to delete; 0 in sync.")
    assert any(line.startswith("  + create  initech") for line in text[:plan_end])
    done = [(at, line) for at, line in lines if re.match(r"^[a-z]+: (Creation|Modifications) complete", line)]
    assert min(text.index(line) for _at, line in done) > plan_end  # the plan first
    assert len(done) == 4
    created = [line.split(":")[0] for _at, line in done[:2]]
    # finish order: the held create is the later of the two, and the sandbox created it later
    live = sandbox.tenants()
    assert live[created[0]]["createdTime"] < live[created[1]]["createdTime"], (created, live)
    assert ended - done[0][0] > 2.0  # written as it finished, not at the end
    assert [line for _at, line in done if line.startswith("acme")] == ["acme: Modifications complete after 0s (name)"]
    assert text[-2:] == [
        "Apply complete! Resources: 2 added, 2 changed, 0 destroyed.",
        text[-1],
    ] and text[-1].startswith("Result: succeeded (4 done, 0 failed)")


def test_apply_output_names_each_failure(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = write(tmp_path, TENANTS)
    sandbox.faults({"path": "/v1/mgmt/tenant/create", "status": 400, "count": 1})
    result = cli("sync", str(path), "--apply", env={"DESCOPE_GITOPS_DESCOPE__MAX_CONCURRENCY": "1"})
    assert result.returncode == 4, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": Error: " in line]
    assert len(errors) == 1 and errors[0].startswith("acme: Error: ")
    assert "Apply incomplete! Resources: 2 added, 0 changed, 0 destroyed; 1 FAILED." in result.stdout
