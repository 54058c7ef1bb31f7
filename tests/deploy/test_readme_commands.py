"""The README's commands are the CLI's: every ``descope-gitops ...`` it shows parses, every flag it names
exists, and every command the CLI has is shown at least once. Reading the docs, a user never meets a
command that was renamed or removed, and never misses one that was added."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from controller.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMMAND = "descope-gitops"
SHELL_OPERATORS = {"&&", "||", ";", "|"}
REDIRECTIONS = {">", ">>", "<", "2>", "2>>"}  # the operator and the file after it are not arguments
# placeholders the README writes in CAPITALS where the CLI wants a number
PLACEHOLDERS = {"N": "3", "F": "0.1"}
SETUP_COMMANDS = ["pip install . && descope-gitops demo", "pip install -e '.[test]' && pytest"]
SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console"}

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`]+)`")


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _shell_lines(text: str) -> list[str]:
    """The lines of the README's shell code blocks, continuation lines joined."""
    lines: list[str] = []
    for language, body in FENCE.findall(text):
        if language.strip().lower() not in SHELL_LANGUAGES:
            continue
        pending = ""
        for line in body.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            lines.append((pending + line).strip())
            pending = ""
    return [line for line in lines if line]


def _inline_spans(text: str) -> list[str]:
    """Inline code outside fenced blocks, whitespace (line breaks in a paragraph) collapsed."""
    prose = FENCE.sub("", text)
    return [" ".join(span.split()) for span in INLINE.findall(prose)]


def _variants(command: str) -> list[str]:
    """``backup list [--tenant acme]`` stands for both ``backup list`` and ``backup list --tenant acme``."""
    if "[" not in command:
        return [command]
    return [re.sub(r"\[([^\]]*)\]", r"\1", command), re.sub(r"\s*\[[^\]]*\]", "", command)]


def _commands(line: str) -> list[list[str]]:
    """The argv (without ``descope-gitops``) of every descope-gitops command on one shell line."""
    found: list[list[str]] = []
    for variant in _variants(line):
        tokens = shlex.split(variant, comments=True)
        segment: list[str] = []
        redirected = False
        for token in [*tokens, ";"]:
            if redirected:
                redirected = False
                continue
            if token in REDIRECTIONS:
                redirected = True
            elif token in SHELL_OPERATORS:
                if segment and segment[0] == COMMAND:
                    found.append([PLACEHOLDERS.get(t, t) for t in segment[1:]])
                segment = []
            else:
                segment.append(token)
    return found


def readme_commands() -> list[list[str]]:
    text = _readme()
    commands = [argv for line in _shell_lines(text) for argv in _commands(line)]
    commands += [argv for span in _inline_spans(text) if span.startswith(f"{COMMAND} ") for argv in _commands(span)]
    return [argv for argv in commands if argv]  # a bare `descope-gitops` is the name, not a command


def _parse(argv: list[str]) -> argparse.Namespace:
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"README: `{COMMAND} {shlex.join(argv)}` does not parse: {errors.getvalue().strip()}")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_commands() -> set[tuple[str, ...]]:
    """Every command path of the CLI: ("run",), ("backup", "list"), ..."""
    paths: set[tuple[str, ...]] = set()
    for name, sub in _subparsers(build_parser()).items():
        nested = _subparsers(sub)
        paths |= {(name, action) for action in nested} if nested else {(name,)}
    return paths


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    options = {option for action in parser._actions for option in action.option_strings}
    for sub in _subparsers(parser).values():
        options |= _all_options(sub)
    return options


def _command_path(args: argparse.Namespace) -> tuple[str, ...]:
    nested = getattr(args, f"{args.command}_command", None)
    return (args.command, nested) if nested else (args.command,)


# ------------------------------------------------------------------------------------------- tests


def test_the_readme_shows_commands() -> None:
    commands = readme_commands()
    assert len(commands) >= 20, f"found only {len(commands)} commands: is the extraction broken?"
    assert ["restore", "--tenant", "acme", "--from", "20261122T0430"] in commands
    assert ["backup", "list"] in commands and ["backup", "list", "--tenant", "acme"] in commands  # [optional]
    assert ["sync", "tenants.yaml", "--apply", "--prune", "--allow-deletes", "3"] in commands  # inline, N → 3
    assert not any("#" in arg for argv in commands for arg in argv), "comments are not arguments"


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_every_readme_command_parses(argv: list[str]) -> None:
    assert _command_path(_parse(argv)) in _all_commands()


def test_every_cli_command_is_in_the_readme() -> None:
    shown = {_command_path(_parse(argv)) for argv in readme_commands()}
    missing = sorted(" ".join(path) for path in _all_commands() - shown)
    assert not missing, f"commands the README never shows: {missing}"


def test_every_flag_the_readme_names_exists() -> None:
    known = _all_options(build_parser())
    named = {span.split()[0] for span in _inline_spans(_readme()) if span.startswith("--")}
    named |= {arg.split("=")[0] for argv in readme_commands() for arg in argv if arg.startswith("--")}
    assert named, "no flags found: is the extraction broken?"
    assert named <= known, f"flags the CLI does not have: {sorted(named - known)}"


def test_readme_has_the_two_setup_commands_and_the_restore_job() -> None:
    lines = _shell_lines(_readme())
    for command in SETUP_COMMANDS:
        assert command in lines, f"README lost `{command}`"
    assert "deploy/kubernetes/restore-job.yaml" in _readme()
    assert (ROOT / "deploy" / "kubernetes" / "restore-job.yaml").is_file()


def test_the_extraction_itself() -> None:
    assert _commands('descope-gitops suspend --reason "incident"   # the daemon keeps measuring') == [
        ["suspend", "--reason", "incident"]
    ]
    assert _commands("pip install . && descope-gitops demo") == [["demo"]]
    assert _commands("descope-gitops schema > tenants.schema.json  # for the editor") == [["schema"]]
    assert _commands("descope-gitops status [--format json]") == [["status", "--format", "json"], ["status"]]
    assert _commands("export DESCOPE_PROJECT_ID=P2abc...        # your project") == []
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        _parse(["restore", "--no-such-flag"])
