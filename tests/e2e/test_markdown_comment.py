"""``plan --format markdown`` as CI runs it: a checkout of the pull request, the real CLI, the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.e2e.conftest import PROJECT_ID, Run
from tests.support import GitRepo

pytestmark = pytest.mark.e2e

HOSTILE = "@octocat <img src=x onerror=alert(1)> #1 | `x` [a](javascript:alert(1))"


def test_the_pr_comment_names_project_and_commit_and_renders_a_hostile_name_inert(cli: Run, tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "checkout")
    repo.commit({"tenants.yaml": "tenants:\n  - id: acme\n    name: ACME Corp\n"})
    path = repo.path / "tenants.yaml"
    assert cli("sync", str(path), "--apply").returncode == 0
    sha = repo.commit(
        {"tenants.yaml": f"tenants:\n  - id: acme\n    name: '{HOSTILE}'\n  - id: globex\n    name: Globex\n"}
    )

    result = cli("plan", str(path), "--format", "markdown")
    assert result.returncode == 2, result.stderr
    comment = result.stdout
    lines = comment.split("\n")
    assert lines[0] == "### descope-gitops plan: 1 to create, 1 to update, 0 to delete"
    assert "**Changes to apply**" in lines[2] and "Exit code 2: changes to apply." in lines[2]
    assert lines[4].startswith(f"Project `{PROJECT_ID}` · commit `{sha}` ·")
    html = MarkdownIt("commonmark").enable("table").render(comment)
    assert "<img" not in html and "<a " not in html
    # the reviewer reads the new name exactly, inside code, where GitHub neither pings nor links
    assert f"<code>&quot;{HOSTILE.replace('<', '&lt;').replace('>', '&gt;')}&quot;</code>" in html
    assert '| `globex` | `name`: `"Globex"` | `' in comment

    given = cli("plan", str(path), "--format", "markdown", "--revision", "feedbeef")
    assert f"Project `{PROJECT_ID}` · commit `feedbeef` ·" in given.stdout and sha not in given.stdout
    path.write_text("tenants:\n  - id: acme\n    name: ACME Corp\n")
    dirty = cli("plan", str(path), "--format", "markdown")
    assert dirty.returncode == 0 and f"commit `{sha}` **with uncommitted changes**" in dirty.stdout
    assert ":white_check_mark: **No changes**: Descope matches tenants.yaml. Exit code 0: no changes." in dirty.stdout
