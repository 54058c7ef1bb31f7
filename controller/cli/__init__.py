"""The ``descope-gitops`` command: argv → settings → one command → an exit code that means something."""

from controller.cli.app import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
