"""Issue 16's sub-resources on every plan surface, with the real CLI against the sandbox.

`sync --apply` prints the roles/SSO/password policy lines before its first write and one line per finished
sub-resource write; a saved plan pins them (a console edit of a role after `plan --out` refuses, naming the
role) and holds the OIDC secret's reference, never its value; the PR comment lists them; `plan` exits 2
for a sub-resource change alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.e2e.conftest import Run, Sandbox
from tests.e2e.test_tenant_config import SECRET, TENANTS

pytestmark = pytest.mark.e2e

ENV = {"ACME_GOOGLE_SECRET": SECRET}
REFERENCE = {"env": "ACME_GOOGLE_SECRET"}


def tenants_file(tmp_path: Path, text: str = TENANTS) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def edit_role(sandbox: Sandbox, name: str, description: str) -> None:
    """A console edit: Descope's own role update, as the console sends it."""
    body = {"name": name, "newName": name, "tenantId": "acme", "description": description}
    sandbox.api("POST", "/v1/mgmt/role/update", json=body).raise_for_status()


def test_sync_apply_prints_the_sub_resources_before_the_first_write(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tenants_file(tmp_path)
    applied = cli("sync", str(path), "--apply", env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    lines = applied.stdout.splitlines()
    first_write = next(i for i, line in enumerate(lines) if " complete" in line)
    assert lines[first_write].startswith("acme: Creation complete"), applied.stdout  # the tenant first
    plan = lines[:first_write]
    for shown in ("+ role acme/Tenant Admin", "+ role acme/Auditor", "+ sso acme/okta", "+ sso acme/google"):
        assert f"  {shown}" in plan, (shown, applied.stdout)
    # a tenant always has a password policy (its parent's or the project's): tenants.yaml's keys update it
    assert "  ~ password_policy acme minLength, lowercase, number, expiration, expirationWeeks" in plan
    assert "      # clientSecret {env: ACME_GOOGLE_SECRET} is sent: unknown: never written by this controller" in plan
    summary = [line for line in plan if line.startswith("Plan: ")]
    assert summary == [
        "Plan: 1 to create, 0 to update, 0 to delete; 0 in sync; roles/SSO/password policy: 5 to create, "
        "1 to update, 0 to delete."
    ]
    # then one line per finished write, the sub-resources after their tenant, roles before the SSO naming them
    done = lines[first_write:]
    assert "role acme/Tenant Admin: Creation complete" in done and "sso acme/okta: Creation complete" in done
    assert done.index("role acme/Tenant Admin: Creation complete") < done.index("sso acme/okta: Creation complete")
    assert "password_policy acme: Modifications complete (minLength, lowercase, number, expiration, " \
        "expirationWeeks)" in done  # fmt: skip
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed; roles/SSO/password policy: 5 added, " \
        "1 changed, 0 destroyed." in done  # fmt: skip
    assert next(line for line in done if line.startswith("Result: ")).startswith("Result: succeeded (7 done, 0 failed)")
    assert SECRET not in applied.stdout + applied.stderr

    # a console edit of a role alone is a change: `plan` exits 2 (as --detailed-exitcode would) and says which
    edit_role(sandbox, "Member", "edited in the console")
    planned = cli("plan", str(path), "--format", "json", env=ENV)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    report = json.loads(planned.stdout)
    assert report["summary"]["update"] == 0 and report["actions"] == []
    assert report["config"]["summary"] == {
        "create": 0,
        "update": 1,
        "delete": 0,
        "adopt": 0,
        "conflicts": 0,
        "orphaned": 0,
        "blocked": 0,
        "drifted": 1,
    }
    [action] = report["config"]["actions"]
    assert (action["kind"], action["key"], action["cause"]) == ("role", "Member", "drift")
    fixed = cli("sync", str(path), "--apply", "--format", "json", env=ENV)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    result = json.loads(fixed.stdout)["config"]
    assert result["summary"] == report["config"]["summary"]  # the same shape for plan and apply
    assert [(r["key"], r["ok"]) for r in result["results"]] == [("Member", True)]
    assert cli("plan", str(path), env=ENV).returncode == 0


def test_a_saved_plan_pins_the_sub_resources_and_refuses_after_a_console_edit_of_a_role(
    cli: Run, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tenants_file(tmp_path)
    out = tmp_path / "plan.json"
    planned = cli("plan", str(path), "--out", str(out), env=ENV)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    raw = out.read_text()
    assert SECRET not in raw
    saved = json.loads(raw)
    sub = {(a["kind"], a["key"]): a for a in saved["config_actions"]}
    assert set(sub) == {
        ("role", "Tenant Admin"),
        ("role", "Member"),
        ("role", "Auditor"),
        ("sso", "okta"),
        ("sso", "google"),
        ("password_policy", ""),
    }
    assert sub[("sso", "google")]["body"]["settings"]["clientSecret"] == REFERENCE
    applied = cli("sync", str(path), "--apply", "--plan", str(out), env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "role acme/Auditor: Creation complete" in applied.stdout

    # reviewed: a new description for Member; then, before the apply, someone edits roles in the console
    path.write_text(TENANTS.replace("A member of ACME", "A member of ACME Corp"))
    assert cli("plan", str(path), "--out", str(out), env=ENV).returncode == 2
    edit_role(sandbox, "Member", "console")
    edit_role(sandbox, "Auditor", "console")
    sandbox.reset_stats()
    refused = cli("sync", str(path), "--apply", "--plan", str(out), env=ENV)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert sandbox.stats()["writes"] == 0
    assert "nothing was written" in refused.stderr
    assert (
        '~ role acme/Member: changed: description "A member of ACME" → "A member of ACME Corp" when saved, '
        '"console" → "A member of ACME Corp" now'
    ) in refused.stderr
    assert "~ role acme/Auditor: planned now, not in the saved plan" in refused.stderr
    assert "tenants files changed" not in refused.stderr
    assert SECRET not in refused.stdout + refused.stderr


def test_the_pr_comment_of_the_issue_example_lists_the_sub_resources_and_no_secret(cli: Run, tmp_path: Path) -> None:
    path = tenants_file(tmp_path)
    result = cli("plan", str(path), "--format", "markdown", "--revision", "feedbeef", env=ENV)
    assert result.returncode == 2, result.stderr
    comment = result.stdout
    assert SECRET not in comment
    assert comment.splitlines()[0] == (
        "### descope-gitops plan: 1 to create, 0 to update, 0 to delete · roles/SSO/password policy: "
        "5 to create, 1 to update, 0 to delete"
    )
    assert "**Changes to apply**" in comment
    for label in ("role acme/Tenant Admin", "role acme/Member", "sso acme/okta", "sso acme/google"):
        assert f"| `{label}` | create |" in comment, label
    assert "| `password_policy acme` | update | `minLength`: `(unset)` → `12`<br>" in comment
    assert '`oidc.clientSecret`: `{"env": "ACME_GOOGLE_SECRET"}`' in comment
    assert "*note:* clientSecret \\{env: ACME\\_GOOGLE\\_SECRET\\} is sent" in comment
    html = MarkdownIt("commonmark").enable("table").render(comment)
    assert "<a " not in html and "<img" not in html
