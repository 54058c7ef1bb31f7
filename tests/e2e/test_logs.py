"""Logs as an SRE's pipeline and a CI job see them: real processes, their stderr read line by line.

The daemon off a terminal writes flat JSON (one object per line, bound fields at top level, secrets
masked); a one-shot command writes text unless asked for JSON; a reader that closes the pipe early
(``| head -1``) gets no traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controller.cli.exit_codes import ExitCode
from controller.engine.logs import FIXED_KEYS
from tests.e2e.conftest import BASE, MANAGEMENT_KEY, Run, Sandbox, World, live, wait_until

pytestmark = pytest.mark.e2e

INFO = {"DESCOPE_GITOPS_LOG__LEVEL": "INFO"}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as a JSON object; fails on the first line that is not one."""
    parsed = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"line {number} is not JSON: {line!r}\n{text}") from exc
        assert isinstance(value, dict), f"line {number} is not an object: {line!r}"
        assert set(FIXED_KEYS) <= set(value), f"line {number} lacks {set(FIXED_KEYS) - set(value)}: {line!r}"
        assert "record" not in value and "extra" not in value, f"line {number} is loguru's record: {line!r}"
        parsed.append(value)
    return parsed


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def test_the_daemon_off_a_terminal_writes_flat_json_with_bound_fields_and_secrets_masked(world: World) -> None:
    # the test config says format = "text"; the environment ranks above it, and "auto" is JSON for the daemon
    world.env.update(DESCOPE_GITOPS_LOG__FORMAT="auto", DESCOPE_GITOPS_RECONCILE__FLAPPING_REVERTS="2")
    sha = world.repo.commit({"tenants.yaml": BASE})
    daemon = world.daemon(interval=1)
    wait_until(lambda: "acme" in world.sandbox.tenants(), what="first apply\n" + daemon.log)

    def held() -> bool:
        return any(line["event"] == "flapping" for line in json_lines(daemon.log))

    # another writer keeps setting the plan to a secret-looking value: the daemon stops correcting it
    for _ in range(8):
        if held():
            break
        world.sandbox.api(
            "PATCH", "/v1/mgmt/tenant/patch", json={"id": "acme", "customAttributes": {"plan": MANAGEMENT_KEY}}
        ).raise_for_status()
        wait_until(
            lambda: held() or live(world.sandbox, "acme", "customAttributes")() == {"plan": "free"},
            what="corrected or held\n" + daemon.log,
        )
    wait_until(held, what="a flapping event\n" + daemon.log)
    daemon.stop()

    lines = json_lines(daemon.log)
    assert MANAGEMENT_KEY not in daemon.log
    (flapping,) = [line for line in lines if line["event"] == "flapping"]
    assert flapping["level"] == "warning" and flapping["tenant"] == "acme"
    assert flapping["field"] == "customAttributes.plan" and flapping["reverts"] == 2
    assert flapping["revision"] == sha and flapping["cycle"]
    assert flapping["logger"].startswith("controller.")
    assert "***" in flapping["msg"], flapping  # the foreign value is the management key: masked
    summaries = [line for line in lines if line["msg"].startswith("cycle ") and line["cycle"]]
    assert summaries and all(line["revision"] == sha for line in summaries)
    assert all(line["ts"].endswith("Z") and line["level"] == line["level"].lower() for line in lines)


def test_a_one_shot_command_off_a_terminal_logs_text(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(BASE)
    result = cli("sync", "tenants.yaml", "--apply", env=INFO)
    assert result.returncode == ExitCode.OK, result.stderr
    logged = result.stderr.splitlines()
    assert any("planned 1 create" in line for line in logged), result.stderr
    assert not any(is_json_object(line) for line in logged), result.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--log-format", "json"], INFO),
        ([], {**INFO, "DESCOPE_GITOPS_LOG__FORMAT": "json"}),  # [log] format = "json" asks for it too
    ],
)
def test_a_one_shot_command_logs_json_when_asked(
    cli: Run, tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    (tmp_path / "tenants.yaml").write_text(BASE)
    result = cli("plan", "tenants.yaml", *args, env=env)
    assert result.returncode == ExitCode.CHANGES, result.stderr
    lines = json_lines(result.stderr)
    (planned,) = [line for line in lines if line["msg"].startswith("planned 1 create")]
    assert planned["cycle"] and planned["revision"].startswith("sha256:") and planned["level"] == "info"
    assert "+ create  acme" in result.stdout  # the report itself stays text on stdout


def test_log_format_text_wins_over_the_setting(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(BASE)
    result = cli("plan", "tenants.yaml", "--log-format", "text", env={**INFO, "DESCOPE_GITOPS_LOG__FORMAT": "json"})
    assert "planned 1 create" in result.stderr
    assert not any(is_json_object(line) for line in result.stderr.splitlines()), result.stderr


def test_the_level_is_read_in_any_case_as_the_settings_read_it(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(BASE)
    result = cli("plan", "tenants.yaml", env={"DESCOPE_GITOPS_LOG__LEVEL": "info"})
    assert result.returncode == ExitCode.CHANGES, result.stderr
    assert "planned 1 create" in result.stderr and "Traceback" not in result.stderr


def test_a_level_the_settings_refuse_is_one_line_naming_it(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(BASE)
    result = cli("plan", "tenants.yaml", env={"DESCOPE_GITOPS_LOG__LEVEL": "verbose"})
    assert result.returncode == ExitCode.ERROR
    assert "log.level" in result.stderr and "'verbose'" in result.stderr.lower() and "Traceback" not in result.stderr


def test_every_command_that_reads_settings_documents_log_format(cli: Run) -> None:
    for command in (["plan"], ["sync"], ["validate"], ["status"], ["run"], ["backup", "list"], ["restore"]):
        shown = cli(*command, "--help")
        assert "--log-format {auto,text,json}" in shown.stdout, command


def _piped_to_head(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """``descope-gitops COMMAND | head -1`` with two real processes: (writer's exit code, its stderr, head's output)."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "controller", *command],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert writer.stdout is not None and writer.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=writer.stdout, stdout=subprocess.PIPE)
    writer.stdout.close()  # head alone holds the read end: when it exits, the writer's pipe breaks
    shown, _ = head.communicate(timeout=60)
    stderr = writer.stderr.read()
    writer.stderr.close()
    return writer.wait(timeout=60), stderr.decode(), shown.decode()


def test_a_reader_that_stops_early_gets_no_traceback(cli_env: dict[str, str], sandbox: Sandbox, tmp_path: Path) -> None:
    # far more than a pipe's buffer (64 KiB), so the writer is still writing when head exits
    many = "tenants:\n" + "".join(f"  - id: t{i:05d}\n    name: Tenant {i:05d}\n" for i in range(3000))
    (tmp_path / "tenants.yaml").write_text(many)
    code, stderr, shown = _piped_to_head(["plan", "tenants.yaml"], cli_env, tmp_path)
    assert shown.startswith("Source: tenants.yaml")
    assert stderr == "", stderr
    assert code == ExitCode.BROKEN_PIPE and int(ExitCode.BROKEN_PIPE) == 128 + signal.SIGPIPE


def test_status_and_backup_list_piped_to_head_exit_quietly(cli: Run, cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text(BASE)
    assert cli("sync", "tenants.yaml", "--apply").returncode == ExitCode.OK
    assert cli("backup", "create").returncode == ExitCode.OK
    for command in ("status", "backup list"):
        shell = subprocess.run(
            ["sh", "-c", f'"$0" -m controller {command} | head -1', sys.executable],
            env=cli_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shell.returncode == 0 and shell.stdout.strip(), shell
        assert "Traceback" not in shell.stderr and "BrokenPipeError" not in shell.stderr, shell.stderr
