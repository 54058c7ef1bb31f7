"""The CI recipes' shape: the GitHub Action (deploy/github-action) and the GitLab job (deploy/gitlab).

What they do against the sandbox is in tests/e2e/test_ci_recipes.py. Here: action.yml is a composite action
whose inputs are all documented and all used, that passes inputs to shell steps only through ``env`` (an
input inside ``run:`` would be a script injection), pins the actions it uses, installs descope-gitops from
its own copy of the repository at the tested versions, and hands the script the variables the script reads,
under the names the settings model knows. The script's exit-code table and policy are descope-gitops' own.
The GitLab job parses, runs on merge requests only, and lets exit code 2 through as a warning.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from controller.cli.exit_codes import ExitCode
from controller.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
ACTION_DIR = ROOT / "deploy" / "github-action"
ACTION = ACTION_DIR / "action.yml"
SCRIPT = ACTION_DIR / "plan_comment.py"
GITLAB = ROOT / "deploy" / "gitlab" / "descope-gitops-plan.yml"
README = ROOT / "README.md"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def plan_comment() -> ModuleType:
    """deploy/github-action/plan_comment.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("plan_comment", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("plan_comment", module)
    spec.loader.exec_module(module)
    return module


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _action()["runs"]["steps"]
    return steps


def _plan_step() -> dict[str, Any]:
    (step,) = [s for s in _steps() if s.get("id") == "plan"]
    return step


def _setting_of(variable: str) -> str | None:
    section, _, key = variable[len(ENV_PREFIX) :].lower().partition("__")
    field = Settings.model_fields.get(section)
    annotation = field.annotation if field is not None else None
    if isinstance(annotation, type) and key in getattr(annotation, "model_fields", {}):
        return f"{section}.{key}"
    return None


# ================================================================================= action.yml


def test_action_is_a_composite_action_with_documented_inputs() -> None:
    action = _action()
    assert set(action) <= {"name", "description", "author", "branding", "inputs", "outputs", "runs"}
    assert action["name"] and len(action["description"]) > 40
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    for name, spec in inputs.items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), name
        assert set(spec) <= {"description", "required", "default", "deprecationMessage"}, name
        assert spec.get("description"), f"input {name} is not documented"
        assert isinstance(spec.get("required", False), bool), name
        assert spec.get("required") or "default" in spec, f"optional input {name} has no default"
    assert inputs["project-id"]["required"] and inputs["management-key"]["required"]
    assert inputs["path"]["default"] == "tenants.yaml"
    assert inputs["github-token"]["default"] == "${{ github.token }}"
    for name, spec in action["outputs"].items():
        assert spec.get("description") and spec["value"] == f"${{{{ steps.plan.outputs.{name} }}}}", name


def test_every_input_is_used_and_only_through_env() -> None:
    declared = set(_action()["inputs"])
    used: set[str] = set()
    for step in _steps():
        assert "run" not in step or step.get("shell") == "bash", "composite run steps must name their shell"
        for expression in EXPRESSION.findall(step.get("run", "")):
            pytest.fail(f"step {step.get('name')!r}: `${{{{ {expression} }}}}` inside run: is a script injection")
        for value in [*step.get("env", {}).values(), *step.get("with", {}).values()]:
            used |= set(re.findall(r"inputs\.([a-z0-9-]+)", str(value)))
    assert used == declared, f"unused inputs: {declared - used}; undeclared: {used - declared}"


def test_used_actions_are_pinned_to_a_commit() -> None:
    for step in _steps():
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), f"pin {step['uses']} to a SHA"
    assert "# v" in ACTION.read_text(encoding="utf-8"), "say which release the SHA is"


def test_the_action_installs_its_own_copy_at_the_tested_versions() -> None:
    (install,) = [s for s in _steps() if s.get("name") == "Install descope-gitops"]
    run = install["run"]
    assert "set -euo pipefail" in run
    assert '--constraint "$GITHUB_ACTION_PATH/../constraints.txt"' in run
    assert '"$GITHUB_ACTION_PATH/../.."' in run
    # those paths, from the action's directory, are this repository's constraints and package
    assert (ACTION_DIR / ".." / "constraints.txt").resolve() == ROOT / "deploy" / "constraints.txt"
    assert ((ACTION_DIR / ".." / "..").resolve() / "pyproject.toml").is_file()
    assert re.search(r"descope-gitops\"? --version", run), "the log shows which version planned"


def test_the_plan_step_passes_what_the_script_reads() -> None:
    step = _plan_step()
    env = step["env"]
    assert "plan_comment.py" in step["run"] and SCRIPT.is_file()
    assert "DESCOPE_GITOPS_COMMAND=" in step["run"]
    # the Descope settings under the names the settings model reads
    assert env["DESCOPE_GITOPS_DESCOPE__PROJECT_ID"] == "${{ inputs.project-id }}"
    assert env["DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY"] == "${{ inputs.management-key }}"
    for name in env:
        if name.startswith(ENV_PREFIX):
            assert _setting_of(name), f"{name} is not a descope-gitops setting"
    assert _setting_of("DESCOPE_GITOPS_DESCOPE__NOPE") is None  # the check itself can fail
    # every INPUT_* variable the script reads is given, and every one given is read
    source = SCRIPT.read_text(encoding="utf-8")
    read = set(re.findall(r"\bINPUT_[A-Z_]+", source)) - {"INPUT_GITHUB_TOKEN"}
    given = {name for name in env if name.startswith("INPUT_")}
    assert read == given, f"read but not given: {read - given}; given but not read: {given - read}"
    assert env["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_API_URL", "GITHUB_OUTPUT"):
        assert name in source, name


def test_the_script_uses_only_the_standard_library() -> None:
    imported = set(re.findall(r"^(?:import|from) ([\w.]+)", SCRIPT.read_text(encoding="utf-8"), re.MULTILINE))
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names) | {"__future__"}


# ================================================================================= the script's policy


def test_exit_code_meanings_are_descope_gitops_own() -> None:
    meanings = plan_comment().MEANINGS
    assert set(meanings) <= {int(code) for code in ExitCode}
    assert {0, 1, 2, 3} <= set(meanings)
    for code, meaning in meanings.items():
        words = set(re.findall(r"[a-z]+", meaning.lower()))
        official_meaning = {int(c): c.meaning for c in ExitCode}[code]
        official = set(re.findall(r"[a-z]+", official_meaning.lower()))
        assert len(words & official) >= min(2, len(words)), f"{code}: {meaning!r} vs {official_meaning!r}"


def test_changes_pass_and_failures_fail() -> None:
    verdict = plan_comment().verdict
    assert verdict(0, fail_on_changes=False) == 0
    assert verdict(2, fail_on_changes=False) == 0
    assert verdict(2, fail_on_changes=True) == 2
    for code in (1, 3, 4, 130):
        assert verdict(code, fail_on_changes=False) == code


def test_the_comment_never_exceeds_githubs_limit() -> None:
    module = plan_comment()
    marker, footer = "<!-- descope-gitops-plan -->", "<sub>run</sub>"
    small = module.comment_body(marker, "### plan\n", footer)
    assert small == f"{marker}\n### plan\n\n{footer}\n"
    huge = module.comment_body(marker, "| row |\n" * 20_000, footer)
    assert len(huge) <= module.COMMENT_LIMIT and huge.startswith(marker) and huge.endswith(f"{footer}\n")
    assert "cut to fit a GitHub comment" in huge
    exact = "x" * (module.COMMENT_LIMIT - len(marker) - len(footer) - 4)
    assert module.comment_body(marker, exact, footer) == f"{marker}\n{exact}\n\n{footer}\n"  # fits: not cut
    from controller.cli.markdown import BUDGET

    assert BUDGET + 1_000 < module.COMMENT_LIMIT, "room for the marker and the footer around the plan"


def test_the_failure_comment_fences_any_output() -> None:
    module = plan_comment()
    comment = module.failure_comment(1, "error: ```` @octocat\n\u202eevil\x1b[31m")
    assert comment.startswith("### descope-gitops plan: failed")
    assert "`````text\n" in comment, "the fence is longer than any backtick run inside"
    assert "\u202e" not in comment and "\x1b" not in comment
    assert "exited with code 1" in comment


def test_the_key_and_token_are_cut_out() -> None:
    redact = plan_comment().redact
    env = {"DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY": "K-secret-123", "GITHUB_TOKEN": "ghs_abcdef"}
    assert redact("key K-secret-123 token ghs_abcdef", env) == "key *** token ***"
    assert redact("nothing", {}) == "nothing"


# ================================================================================= GitLab


def _gitlab_job() -> dict[str, Any]:
    data = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and list(data) == ["descope-gitops-plan"], "one job, includable as it is"
    job: dict[str, Any] = data["descope-gitops-plan"]
    return job


def test_gitlab_job_has_the_expected_keys() -> None:
    job = _gitlab_job()
    assert set(job) == {"stage", "image", "rules", "variables", "before_script", "script", "allow_failure", "artifacts"}
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*", job["image"]), "descope-gitops needs Python 3.11+"
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["allow_failure"] == {"exit_codes": [int(ExitCode.CHANGES)]}, "changes: a warning, not a failure"
    assert job["variables"]["DESCOPE_GITOPS_PATH"] == "tenants.yaml"
    assert "DESCOPE_GITOPS_PACKAGE" not in job["variables"], "no default package: the user names the source"
    assert all(isinstance(line, str) for line in job["before_script"] + job["script"])
    (plan,) = [line for line in job["script"] if line.startswith("descope-gitops plan")]
    argv = shlex.split(plan.split(">")[0])
    assert argv[:3] == ["descope-gitops", "plan", "$DESCOPE_GITOPS_PATH"] and "--format" in argv
    assert argv[argv.index("--format") + 1] == "markdown"
    written = plan.split(">")[1].split("||")[0].strip()
    assert job["artifacts"]["paths"] == [written] and job["artifacts"]["when"] == "always"
    assert job["script"][-1] == 'exit "$status"', "the job's status is descope-gitops plan's"
    text = GITLAB.read_text(encoding="utf-8")
    for variable in ("DESCOPE_GITOPS_DESCOPE__PROJECT_ID", "DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY"):
        assert variable in text and _setting_of(variable), variable


# ================================================================================= README


def test_readme_documents_the_ci_recipes() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("\n## CI\n", 1)[1].split("\n## ", 1)[0]
    assert "deploy/github-action@" in section and "deploy/gitlab/descope-gitops-plan.yml" in section
    assert "pull-requests: write" in section
    for name in ("project-id", "management-key"):
        assert f"{name}:" in section, name
    for code in (0, 1, 2, 3):
        assert re.search(rf"^\| {code} \|", section, re.MULTILINE), f"exit code {code} is not in the table"
