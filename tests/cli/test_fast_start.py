"""`validate` of a file and `--help` start without the libraries only other commands need.

They are what a developer runs by hand and pre-commit runs on every commit, so their start-up is
felt; the benchmark times it (BENCHMARKS.md, "issue 17"). These tests show it without timing: each
command runs in a fresh interpreter that then reports which modules it imported. A top-level import
of one of the libraries below in a CLI module, or on the validate path, fails them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

from controller import settings, testing
from controller.cli.common import DESCOPE_SETTINGS_ENV, SETTINGS_ENV_PREFIX
from controller.engine.log_options import LOG_FORMATS, LOG_LEVELS
from controller.testing import clean_env

# what the daemon, the Descope client, Git sources and the settings models bring in
HEAVY = ("httpx", "waitress", "apscheduler", "pydantic_settings", "pydantic", "git", "loguru", "prometheus_client")
# the log set-up, which only a command that logs needs (the parser lists the log formats without it)
LOG_SETUP = ("logging", "controller.engine.logs")

RUN_AND_REPORT = """
import atexit, json, sys
from controller.cli import run
def report():  # an exit hook: run() runs them too when it ends the process at once
    modules = {name for name, module in sys.modules.items() if module is not None}
    print("MODULES " + json.dumps(sorted(modules | {name.split(".")[0] for name in modules})), flush=True)
atexit.register(report)
sys.argv[0] = "descope-gitops"
run()
"""


def run(args: list[str], cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    marker = [line for line in result.stdout.splitlines() if line.startswith("MODULES ")]
    assert marker, result.stdout + result.stderr
    return result, set(json.loads(marker[-1].removeprefix("MODULES ")))


def one_tenant(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(f"tenants:\n  - id: acme\n    name: ACME\n{extra}", encoding="utf-8")
    return path


def test_validate_of_a_file_imports_no_heavy_library(tmp_path: Path) -> None:
    path = one_tenant(tmp_path)
    result, modules = run(["validate", str(path)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{path}: valid, 1 tenant" in result.stdout
    assert not modules & {*HEAVY, *LOG_SETUP}, sorted(modules & {*HEAVY, *LOG_SETUP})


def test_an_invalid_file_is_reported_the_same_on_the_fast_start(tmp_path: Path) -> None:
    path = one_tenant(tmp_path, "    nam: typo\n")
    result, modules = run(["validate", str(path), "--format", "json"], tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout.split("MODULES ")[0])
    assert report["valid"] is False
    assert [(p["line"], "unknown tenant key 'nam'" in p["message"]) for p in report["problems"]] == [(4, True)]
    assert not modules & set(HEAVY)


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    result, modules = run(["--help"], tmp_path)
    assert result.returncode == 0
    assert "validate" in result.stdout and "exit codes:" in result.stdout
    assert not modules & {*HEAVY, *LOG_SETUP}, sorted(modules & {*HEAVY, *LOG_SETUP})


def test_plan_imports_the_client_and_settings_but_not_the_daemon(tmp_path: Path) -> None:
    """`plan` needs Descope's client, the settings and logging; not the daemon's server, scheduler or metrics."""
    path = one_tenant(tmp_path)
    with testing.run_sandbox(project_id="Pfast", management_key="K-fast-start-key") as sandbox:
        result, modules = run(
            ["plan", str(path)],
            tmp_path,
            DESCOPE_PROJECT_ID="Pfast",
            DESCOPE_MANAGEMENT_KEY="K-fast-start-key",
            DESCOPE_BASE_URI=sandbox.url,
            DESCOPE_GITOPS_STORE__DIR=str(tmp_path / "store"),
        )
    assert result.returncode == 2, result.stderr  # changes to make
    assert "1 to create, 0 to update, 0 to delete" in result.stdout
    assert {"httpx", "pydantic_settings"} <= modules
    assert not modules & {"waitress", "apscheduler", "prometheus_client", "git", "watchfiles"}
    # nor what only `sync --apply` on a terminal, `--format markdown` or httpx's own CLI would use
    assert not modules & {"controller.cli.progress", "controller.cli.markdown", "rich", "click", "pygments"}


def test_validate_still_reads_settings_when_there_are_any(tmp_path: Path) -> None:
    """A catalogue of custom attributes set in the environment is applied: the fast start is skipped."""
    path = one_tenant(tmp_path, "    customAttributes: {plan: gold}\n")
    catalogue = tmp_path / "attributes.json"
    catalogue.write_text(json.dumps({"attributes": [{"name": "seats", "type": "number"}]}))

    without, _ = run(["validate", str(path)], tmp_path)
    assert without.returncode == 0, without.stderr

    result, modules = run(["validate", str(path)], tmp_path, DESCOPE_GITOPS_DESCOPE__ATTRIBUTES_FILE=str(catalogue))
    assert result.returncode == 1
    assert "plan" in result.stderr
    assert "pydantic_settings" in modules


def test_a_config_file_is_read_too(tmp_path: Path) -> None:
    path = one_tenant(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text("[descope]\nno_such_key = 1\n")
    result, _ = run(["validate", str(path), "--config", str(config)], tmp_path)
    assert result.returncode == 1
    assert "descope.no_such_key: unknown setting" in result.stderr


def test_the_fast_start_knows_every_variable_the_settings_read() -> None:
    """If settings.py reads a new variable, the check that there are no settings must know it too."""
    assert SETTINGS_ENV_PREFIX == settings.ENV_PREFIX
    assert set(DESCOPE_SETTINGS_ENV) == set(settings.DESCOPE_ENV)


def test_the_early_logging_knows_every_level_and_format_the_settings_take() -> None:
    """The log set-up before the settings are read checks the level and format as the settings do."""
    log = settings.LogSettings.model_fields
    assert set(get_args(log["level"].annotation)) == set(LOG_LEVELS)
    assert set(get_args(log["format"].annotation)) == set(LOG_FORMATS)
