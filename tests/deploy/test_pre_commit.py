"""The pre-commit hook, run by the real ``pre-commit`` in a scratch Git repository, offline.

Two ways a team can use it, both exercised: the README's ``repo: local`` snippet (what the fixed top level
of this repository leaves them), and deploy/pre-commit/.pre-commit-hooks.yaml at the root of a hook
repository (what a fork publishing the hook would do). The snippet must be the definition, key for key.
``language: system`` runs the descope-gitops of this virtualenv, put first on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.testing import clean_env
from tests.support import GitRepo

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "deploy" / "pre-commit" / ".pre-commit-hooks.yaml"
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

VALID = "tenants:\n  - id: acme\n    name: ACME\n"
INVALID = "tenants:\n  - id: acme\n    name: ACME\n    nam: typo\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not on PATH")


def definition() -> dict[str, Any]:
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hook, dict)
    return hook


def readme_config() -> dict[str, Any]:
    """The README's .pre-commit-config.yaml snippet (the yaml block with ``repo: local``)."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    (block,) = [b for b in blocks if "repo: local" in b]
    config = yaml.safe_load(block)
    assert isinstance(config, dict)
    return config


def run_pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PRE_COMMIT_HOME=str(home),
        PRE_COMMIT_COLOR="never",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return subprocess.run(
        [str(BIN / "pre-commit"), "run", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def consumer(tmp_path: Path, config: dict[str, Any]) -> GitRepo:
    repo = GitRepo(tmp_path / "team")
    (repo.path / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    repo.git("add", ".pre-commit-config.yaml")
    return repo


def check_valid_passes_and_invalid_fails(repo: GitRepo, home: Path) -> None:
    tenants = repo.path / "tenants.yaml"
    tenants.write_text(VALID, encoding="utf-8")
    (repo.path / "other.yaml").write_text("not: [a tenants file\n", encoding="utf-8")  # not matched by `files`
    repo.git("add", "tenants.yaml", "other.yaml")
    passed = run_pre_commit(repo.path, home, "--files", "tenants.yaml", "other.yaml")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "descope-gitops validate" in passed.stdout and "Passed" in passed.stdout

    tenants.write_text(INVALID, encoding="utf-8")
    failed = run_pre_commit(repo.path, home, "--all-files")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert "tenants.yaml:4: unknown tenant key 'nam'; did you mean 'name'?" in failed.stdout


def test_the_readme_snippet_is_the_hook_definition() -> None:
    (repo,) = readme_config()["repos"]
    assert repo["repo"] == "local"
    assert repo["hooks"] == [definition()]


def test_the_hook_matches_tenants_files_only() -> None:
    files = re.compile(definition()["files"])
    for name in ("tenants.yaml", "tenants.yml", "tenants-eu.yaml", "config/tenants.yaml"):
        assert files.search(name), name
    for name in ("attributes.yaml", "deploy/kubernetes/configmap.yaml", "tenants/acme.yaml", "tenants.yaml.bak"):
        assert not files.search(name), name


def test_the_local_hook_from_the_readme_validates_changed_tenants_files(tmp_path: Path) -> None:
    repo = consumer(tmp_path, readme_config())
    check_valid_passes_and_invalid_fails(repo, tmp_path / "pre-commit-home")


def test_the_hook_definition_works_from_the_root_of_a_hook_repository(tmp_path: Path) -> None:
    hooks = GitRepo(tmp_path / "hooks")
    rev = hooks.commit({".pre-commit-hooks.yaml": HOOKS.read_text(encoding="utf-8")}, "the hook")
    config = {"repos": [{"repo": str(hooks.path), "rev": rev, "hooks": [{"id": definition()["id"]}]}]}
    repo = consumer(tmp_path, config)
    check_valid_passes_and_invalid_fails(repo, tmp_path / "pre-commit-home")
