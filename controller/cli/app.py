"""The ``descope-gitops`` command: argv → settings → one command → an exit code that means something.

The exit codes are ``ExitCode`` (controller/cli/exit_codes.py), printed in every ``--help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from controller import __version__
from controller.cli.commands import backup, demo, everyday, restore, sandbox
from controller.cli.common import epilog
from controller.cli.exit_codes import UNREACHABLE_ERRORS, ExitCode
from controller.errors import ConfigError, DescopeGitopsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="descope-gitops",
        description="Keep a Descope project's tenants equal to a tenants.yaml kept in Git.",
        **epilog(settings=True),
    )
    parser.add_argument("--version", action="version", version=f"descope-gitops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (everyday, backup, restore, sandbox, demo):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from controller.engine.logs import configure_logging

    configure_logging(os.environ.get("DESCOPE_GITOPS_LOG__LEVEL", "WARNING"), "text")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    except DescopeGitopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE if isinstance(exc, UNREACHABLE_ERRORS) else ExitCode.ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
